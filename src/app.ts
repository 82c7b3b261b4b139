// Composition: configuration in, a running easd out. Opens the state store and the backends,
// builds the handlers and the server, and closes everything in order on shutdown. The only
// module (with main.ts and cli.ts) that knows which backends exist.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ensureDemoAccount, openMemoryBackend } from '../backends/memory/index.js';
import type { Account, Backend } from './backend/contract.js';
import { defaultPushSettings, type EngineDeps } from './commands/deps.js';
import { createEngineGate, createHandlers } from './commands/index.js';
import { localBus, redisBus } from './push/bus.js';
import { PushHub } from './push/hub.js';
import type { Config } from './config.js';
import { renderTrace, traceMatcher } from './http/trace.js';
import type { WebhookEvent } from './http/webhook.js';
import { loadPolicy } from './provision/policy.js';
import { policyProvider } from './provision/provider.js';
import { buildServer } from './server.js';
import { openStateStore, type StateStore } from './state/store.js';

export interface Easd {
  app: FastifyInstance;
  hub: PushHub;
  backend: Backend;
  state: StateStore;
  /** Credentials of the demo account created on a first start with the built-in store. */
  demo: { user: string; password: string } | null;
}

export class StartupError extends Error {}

async function openBackend(config: Config): Promise<{ backend: Backend; demo: Easd['demo'] }> {
  const external = [
    ['EASD_IMAP_URL', config.imapUrl],
    ['EASD_SMTP_URL', config.smtpUrl],
    ['EASD_CALDAV_URL', config.caldavUrl],
    ['EASD_CARDDAV_URL', config.carddavUrl],
  ].filter(([, v]) => v !== undefined);
  if (external.length > 0) {
    // Said plainly rather than silently serving the built-in store instead of the user's mail.
    throw new StartupError(
      `${external.map(([k]) => k).join(', ')} set, but the IMAP/SMTP/DAV backends are not part of this build yet; unset them to use the built-in store`,
    );
  }
  const dataDir = path.join(config.dataDir, 'memory');
  const backend = await openMemoryBackend({ dataDir });
  const demo = await ensureDemoAccount(dataDir);
  return { backend, demo };
}

export async function openEasd(config: Config, log: Logger): Promise<Easd> {
  const policy = policyProvider(await loadPolicy(config.policyFile));
  const { backend, demo } = await openBackend(config);
  const state = await openStateStore({ url: config.stateUrl, dataDir: config.dataDir });
  // Several nodes share Redis for state; push signals then travel over the same Redis.
  const shared = config.stateUrl?.startsWith('redis') === true;
  const bus = shared ? await redisBus(config.stateUrl as string) : localBus();
  const hub = new PushHub({ backend, bus, onError: (err) => log.warn({ err }, 'push') });
  const deps: EngineDeps = { backend, state, policy, push: { hub, settings: defaultPushSettings } };
  const traced = traceMatcher(config.traceDevices);
  const https = config.tls && {
    cert: await readFile(config.tls.certFile),
    key: await readFile(config.tls.keyFile),
  };
  const app = await buildServer<Account>({
    logger: log,
    authenticate: (user, password, signal) => backend.authenticate(user, password, signal),
    handlers: createHandlers(deps),
    gate: createEngineGate(deps),
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
    limits: config.maxBodyBytes === undefined ? {} : { maxBodyBytes: config.maxBodyBytes },
    ...(https ? { https } : {}),
    ...(config.webhookSecret === undefined
      ? {}
      : {
          webhook: {
            secret: config.webhookSecret,
            // The mail server names the mailbox in its own terms; waking every held request of
            // the user is cheap (each looks at its own folders) and needs no name mapping.
            onEvent: (event: WebhookEvent) => hub.notify(event.user, {}),
          },
        }),
    trace: (who, direction, doc) => {
      if (traced(who.user, who.deviceId))
        log.info({ user: who.user, device: who.deviceId, direction, xml: renderTrace(doc) }, 'trace');
    },
  });
  // Held requests end in preClose; then the store and the backend are closed, state flushed.
  app.addHook('onClose', async () => {
    await hub.close();
    await bus.close();
    await backend.close?.();
    await state.close();
  });
  return { app, hub, backend, state, demo };
}
