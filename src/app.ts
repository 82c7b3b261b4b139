// Composition: configuration in, a running easd out. Opens the state store and the backends,
// builds the handlers and the server, and closes everything in order on shutdown. The only
// module (with main.ts and cli.ts) that knows which backends exist.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { openCalDavBackend } from '../backends/caldav/index.js';
import { openCardDavBackend } from '../backends/carddav/index.js';
import { openGal, withDirectory } from '../backends/directory/index.js';
import { openImapBackend } from '../backends/imap/index.js';
import { ensureDemoAccount, openMemoryBackend } from '../backends/memory/index.js';
import { createSmtpSubmitter } from '../backends/smtp/index.js';
import type { Account, Backend } from './backend/contract.js';
import { BackendError } from './backend/errors.js';
import { BackendRouter, type Mount } from './backend/router.js';
import { MailCaError, mailTls } from './mail-tls.js';
import { httpErrorFor } from './backend/status.js';
import { defaultPushSettings, type EngineDeps } from './commands/deps.js';
import { createEngineGate, createHandlers } from './commands/index.js';
import { localBus, redisBus } from './push/bus.js';
import { PushHub } from './push/hub.js';
import type { Config } from './config.js';
import { renderTrace } from './http/trace.js';
import { HeldRequests } from './admin/held.js';
import { TraceSwitch } from './admin/trace.js';
import { EasdMetrics } from './metrics/index.js';
import { instrumentBackend } from './metrics/backend.js';
import { buildMetricsServer } from './metrics/server.js';
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
  metrics: EasdMetrics;
  /** The metrics listener's address (EASD_METRICS_LISTEN), listening already; null when off. */
  metricsAddress: string | null;
  trace: TraceSwitch;
  held: HeldRequests;
}

export class StartupError extends Error {}

/**
 * Passwords of recently signed-in users, for the stores that need them after login (SMTP
 * submission as the user). Kept in this closure only, never on an Account, dropped after `ttlMs`.
 */
class CredentialCache {
  private readonly entries = new Map<string, { password: string; until: number }>();
  constructor(private readonly ttlMs = 30 * 60_000) {}
  remember(user: string, password: string): void {
    this.entries.set(user.toLowerCase(), { password, until: Date.now() + this.ttlMs });
    if (this.entries.size > 10_000)
      for (const [k, v] of this.entries) if (v.until < Date.now()) this.entries.delete(k);
  }
  password(user: string): string | undefined {
    const e = this.entries.get(user.toLowerCase());
    return e !== undefined && e.until > Date.now() ? e.password : undefined;
  }
}

interface OpenedBackend {
  backend: Backend;
  demo: Easd['demo'];
  /** Wraps login so stores that need the password later can get it. */
  authenticate: (user: string, password: string, signal: AbortSignal) => Promise<Account | null>;
  close: () => Promise<void>;
}

async function openBackend(config: Config, log: Logger): Promise<OpenedBackend> {
  if (config.imapUrl === undefined) {
    if (config.smtpUrl !== undefined || config.carddavUrl !== undefined || config.caldavUrl !== undefined) {
      throw new StartupError(
        "EASD_SMTP_URL, EASD_CARDDAV_URL and EASD_CALDAV_URL need EASD_IMAP_URL: accounts are the mail server's accounts",
      );
    }
    const dataDir = path.join(config.dataDir, 'memory');
    const memory = await openMemoryBackend({ dataDir });
    const demo = await ensureDemoAccount(dataDir);
    const { backend, closeGal } = withGal(config, memory, undefined);
    return {
      backend,
      demo,
      authenticate: (u, p, s) => backend.authenticate(u, p, s),
      close: async () => {
        closeGal();
        await memory.close();
      },
    };
  }

  // Real stores: mail on IMAP (its accounts are easd's accounts), sending through SMTP as the
  // user (or a relay when EASD_SMTP_URL carries credentials), contacts on CardDAV, calendars and
  // tasks on CalDAV.
  const credentials = new CredentialCache();
  let tls;
  try {
    tls = await mailTls(config);
  } catch (err) {
    if (err instanceof MailCaError) throw new StartupError(err.message);
    throw err;
  }
  let smtp: ReturnType<typeof createSmtpSubmitter> | undefined;
  if (config.smtpUrl !== undefined) {
    const url = new URL(config.smtpUrl);
    const relay =
      url.username !== ''
        ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
        : undefined;
    url.username = '';
    url.password = '';
    smtp = createSmtpSubmitter({
      url: url.toString(),
      auth: relay ?? 'user',
      credentials: (account) => {
        const pass = credentials.password(account.user);
        if (pass === undefined) throw new BackendError('auth', 'sign in again to send');
        // the IMAP login the typed name mapped to (DOMAIN\user → user), which SMTP knows too
        return { user: (account as Account & { login?: string }).login ?? account.user, pass };
      },
      pool: true,
      ...(tls !== undefined && { tls }),
    });
  }
  const submitter = smtp;
  const imap = await openImapBackend({
    url: config.imapUrl,
    logger: log,
    ...(tls !== undefined && { tls }),
    ...(config.mailDomain !== undefined && { domain: config.mailDomain }),
    ...(config.loginMap !== undefined && { userMapping: config.loginMap }),
    // a phone's next Ping follows its Sync within seconds: the user's watch connection waits for it
    watchLingerMs: 60_000,
    ...(submitter === undefined
      ? {}
      : { submit: (account, mime, signal) => submitter.submit(account as Account, mime, signal) }),
  });
  const mounts: Mount[] = [{ prefix: 'm', backend: imap, classes: ['Email'] }];
  let carddav: Backend | undefined;
  if (config.carddavUrl !== undefined) {
    carddav = await openCardDavBackend({ url: config.carddavUrl });
    mounts.push({
      prefix: 'c',
      backend: carddav,
      classes: ['Contacts'],
      pollMs: config.davPollSeconds * 1000,
    });
  }
  if (config.caldavUrl !== undefined) {
    // notes as VJOURNAL memo lists (docs/backends.md); the account's address as the IMAP backend
    // forms it, so the user is recognised as ORGANIZER/ATTENDEE in what easd writes
    const caldav = await openCalDavBackend({
      url: config.caldavUrl,
      notes: true,
      emailDomain: config.mailDomain ?? new URL(config.imapUrl).hostname,
    });
    mounts.push({
      prefix: 'k',
      backend: caldav,
      classes: ['Calendar', 'Tasks', 'Notes'],
      pollMs: config.davPollSeconds * 1000,
    });
  }
  const { backend, closeGal } = withGal(
    config,
    mounts.length === 1 ? imap : new BackendRouter(mounts),
    credentials,
  );
  return {
    backend,
    demo: null,
    authenticate: async (user, password, signal) => {
      let account: Account | null;
      try {
        account = await backend.authenticate(user, password, signal);
      } catch (err) {
        // The mail server is down or its certificate is not trusted: 503 with Retry-After (and
        // the reason in the log), never a 500.
        const answer = err instanceof BackendError ? httpErrorFor(err) : undefined;
        if (answer === undefined) throw err;
        log.warn({ user, err }, `mail login failed: ${(err as Error).message}`);
        throw answer;
      }
      if (account !== null) credentials.remember(account.user, password);
      return account;
    },
    close: async () => {
      closeGal();
      await backend.close?.();
      await smtp?.close();
    },
  };
}

/**
 * EASD_GAL_URL: the organisation's address book as the directory of Search GAL, Find and
 * ResolveRecipients, read with the service account or, without one, as each signed-in user.
 */
function withGal(
  config: Config,
  backend: Backend,
  credentials: CredentialCache | undefined,
): { backend: Backend; closeGal: () => void } {
  const gal = config.gal;
  if (gal === undefined) return { backend, closeGal: () => undefined };
  const ldap = /^ldaps?:/i.test(gal.url);
  if (!ldap && gal.user === undefined && credentials === undefined)
    throw new StartupError(
      "EASD_GAL_URL with the built-in store needs EASD_GAL_USER and EASD_GAL_PASSWORD: its users' passwords are not the address book's",
    );
  const { lookup, close } = openGal(
    gal,
    credentials === undefined ? undefined : (a: Account) => credentials.password(a.user),
  );
  return { backend: withDirectory(backend, lookup), closeGal: close };
}

export async function openEasd(config: Config, log: Logger): Promise<Easd> {
  const policy = policyProvider(await loadPolicy(config.policyFile));
  const metrics = new EasdMetrics({ processMetrics: true });
  const opened = await openBackend(config, log);
  const { demo, close: closeBackend } = opened;
  const observeBackend = metrics.backendCall.bind(metrics);
  const backend = instrumentBackend(opened.backend, observeBackend);
  const authenticate = instrumentBackend({ authenticate: opened.authenticate }, observeBackend).authenticate;
  const state = await openStateStore({ url: config.stateUrl, dataDir: config.dataDir });
  const held = new HeldRequests({ state, metrics, onError: (err) => log.debug({ err }, 'held record') });
  // Several nodes share Redis for state; push signals then travel over the same Redis.
  const shared = config.stateUrl?.startsWith('redis') === true;
  const bus = shared ? await redisBus(config.stateUrl as string) : localBus();
  const hub = new PushHub({
    backend,
    bus,
    onError: (err) => log.warn({ err }, 'push'),
    observer: held.observer,
    // a phone's next Ping follows its last within seconds: the user's entry (its store watch and
    // quiet folders) waits for it, so that Ping's first look needs no IMAP login (docs/push.md)
    lingerMs: 60_000,
  });
  const deps: EngineDeps = {
    backend,
    state,
    policy,
    push: {
      hub,
      settings: {
        ...defaultPushSettings,
        ...(config.pingHeartbeat !== undefined && {
          heartbeatMin: config.pingHeartbeat.min,
          heartbeatMax: config.pingHeartbeat.max,
        }),
      },
    },
  };
  const trace = new TraceSwitch(state, config.traceDevices, (err) => log.warn({ err }, 'trace switch'));
  await trace.refresh();
  trace.start();
  const https = config.tls && {
    cert: await readFile(config.tls.certFile),
    key: await readFile(config.tls.keyFile),
  };
  const app = await buildServer<Account>({
    logger: log,
    authenticate,
    handlers: createHandlers(deps),
    gate: createEngineGate(deps),
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
    limits: {
      authCacheMs: config.authCacheSeconds * 1000,
      ...(config.maxBodyBytes !== undefined && { maxBodyBytes: config.maxBodyBytes }),
    },
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
    metrics,
    held,
    trace: (who, direction, doc) => {
      if (trace.traced(who.user, who.deviceId))
        log.info({ user: who.user, device: who.deviceId, direction, xml: renderTrace(doc) }, 'trace');
    },
  });
  let metricsApp: FastifyInstance | undefined;
  let metricsAddress: string | null = null;
  if (config.metricsListen !== undefined) {
    metricsApp = await buildMetricsServer({
      metrics,
      ...(config.metricsToken === undefined ? {} : { token: config.metricsToken }),
    });
    try {
      metricsAddress = await metricsApp.listen(config.metricsListen);
    } catch (err) {
      throw new StartupError(
        `EASD_METRICS_LISTEN=${config.metricsListen.host}:${config.metricsListen.port}: ${(err as Error).message}`,
      );
    }
    log.info({ address: metricsAddress, token: config.metricsToken !== undefined }, 'metrics listening');
  }
  // Held requests end in preClose; then the store and the backend are closed, state flushed.
  app.addHook('onClose', async () => {
    trace.stop();
    // Held requests were answered in preClose; their "let go" records are written before the store closes.
    await held.flush();
    await metricsApp?.close();
    await hub.close();
    await bus.close();
    await closeBackend();
    await state.close();
  });
  return { app, hub, backend, state, demo, metrics, metricsAddress, trace, held };
}
