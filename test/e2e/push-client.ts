// For the Direct Push e2e tests (push-*.test.ts) and bench/push-latency.ts, so without vitest: easd
// composed on the IMAP backend (state and push on Redis, or SQLite and the local bus), and a
// scripted phone — provisioned, knows its folders by name, keeps each collection synced so a Ping
// has nothing old to report, and holds Pings (in-process or over a socket).
import { request } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { openImapBackend, type ImapBackend } from '../../backends/imap/index.js';
import type { ImapBackendOptions } from '../../backends/imap/options.js';
import { HeldRequests } from '../../src/admin/held.js';
import type { Account, Backend } from '../../src/backend/contract.js';
import { defaultPushSettings, type EngineDeps, type PushSettings } from '../../src/commands/deps.js';
import { createEngineGate, createHandlers } from '../../src/commands/index.js';
import type { WebhookEvent } from '../../src/http/webhook.js';
import type { EasdMetrics } from '../../src/metrics/index.js';
import { localBus, redisBus } from '../../src/push/bus.js';
import { PushHub } from '../../src/push/hub.js';
import { buildServer } from '../../src/server.js';
import { openStateStore } from '../../src/state/store.js';
import { testPolicy } from '../support/engine.js';
import type { TestUser } from '../stack/users.js';
import {
  EasTestClient,
  findAll,
  findText,
  type ClientOptions,
  type EasReply,
} from '../support/eas-client.js';

export const mail = (subject: string): string =>
  `From: Alice <alice@easd.test>\r\nTo: dana@easd.test\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@easd.test>\r\n\r\nhello\r\n`;

/** A provisioned phone that knows its folders and keeps each collection synced. */
export class Phone {
  readonly client: EasTestClient;
  folders = new Map<string, string>();
  private keys = new Map<string, string>();

  /** In-process (a Fastify instance) or over a socket (the base URL of a running easd). */
  constructor(target: FastifyInstance | string, user: TestUser, deviceId: string) {
    const opts = { user: user.user, password: user.password, deviceId, version: '14.1' };
    this.client = typeof target === 'string' ? httpClient(target, opts) : EasTestClient.inject(target, opts);
  }

  async setUp(): Promise<void> {
    await this.client.provision();
    await this.folderSync();
  }

  async folderSync(): Promise<void> {
    const res = await this.client.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    this.folders = new Map(
      findAll(res.doc, 'Add').map((a) => [findText(a, 'DisplayName')!, findText(a, 'ServerId')!]),
    );
    this.keys.clear();
  }

  id(name: string): string {
    const id = this.folders.get(name);
    if (id === undefined) throw new Error(`no folder ${name}`);
    return id;
  }

  /** Syncs the collection until nothing is left, so a Ping on it has nothing to report. */
  async syncAll(name: string): Promise<void> {
    const id = this.id(name);
    let key = this.keys.get(id) ?? '0';
    for (let i = 0; i < 20; i++) {
      const res = await this.client.command(
        'Sync',
        `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${id}</CollectionId>${key === '0' ? '' : '<GetChanges/><WindowSize>100</WindowSize>'}</Collection></Collections></Sync>`,
      );
      if (res.raw.length === 0) break; // nothing new (empty Sync response, MS-ASCMD 2.2.1.21)
      key = findText(res.doc, 'SyncKey') ?? key;
      this.keys.set(id, key);
      if (findAll(res.doc, 'MoreAvailable').length === 0 && i > 0) break;
    }
  }

  /** The top-level Status of a reply. */
  status(reply: EasReply): string | undefined {
    return findText(reply.doc, 'Status');
  }

  ping(names: string[] | null, heartbeat = 300): Promise<EasReply> {
    const body =
      names === null
        ? undefined
        : `<Ping xmlns="Ping:"><HeartbeatInterval>${heartbeat}</HeartbeatInterval><Folders>${names
            .map((n) => `<Folder><Id>${this.id(n)}</Id><Class>Email</Class></Folder>`)
            .join('')}</Folders></Ping>`;
    return this.client.command('Ping', body);
  }
}

export const HELD = Symbol('held');
/** The reply if the request was answered within `ms`, else HELD. */
export async function within(p: Promise<EasReply>, ms: number): Promise<EasReply | typeof HELD> {
  return Promise.race([p, new Promise<typeof HELD>((r) => setTimeout(() => r(HELD), ms))]);
}

export interface PushEasd {
  app: FastifyInstance;
  backend: ImapBackend;
  hub: PushHub;
  close(): Promise<void>;
}

export interface PushEasdOptions {
  imap: { host: string; port: number };
  /** Backend options besides the URL and domain. */
  backend?: Partial<ImapBackendOptions>;
  /** false: the backend does not watch, the hub polls every ten minutes (webhook tests). */
  watch?: boolean;
  /** redis://… (push over Redis pub/sub too) or sqlite://:memory: (the local bus). */
  stateUrl: string;
  dataDir: string;
  /** Keeps this easd's state keys and push channels apart from other tests'. */
  namespace: string;
  webhook?: { secret: string; onEvent?: (event: WebhookEvent) => void };
  /** Request and push warnings (a failed look, a lost watch connection); none by default. */
  logger?: Logger;
  /** Ping bounds other than the defaults (a short HeartbeatInterval in tests). */
  pushSettings?: Partial<PushSettings>;
  /** How long the hub keeps a user's entry after the last held request (default 0). */
  hubLingerMs?: number;
  /** Held requests and wake latency recorded here, as app.ts wires them. */
  metrics?: EasdMetrics;
}

/** easd on the IMAP backend, state and push on Redis, as app.ts composes it (not listening). */
export async function startPushEasd(opts: PushEasdOptions): Promise<PushEasd> {
  const backend = await openImapBackend({
    ...opts.backend,
    ...(opts.logger !== undefined && { logger: opts.logger }),
    url: `imap://${opts.imap.host}:${opts.imap.port}?starttls=never`,
    domain: 'easd.test',
  });
  const served: Backend =
    opts.watch === false ? (Object.create(backend, { watch: { value: undefined } }) as Backend) : backend;
  const state = await openStateStore({
    url: opts.stateUrl,
    dataDir: opts.dataDir,
    namespace: opts.namespace,
  });
  const bus = opts.stateUrl.startsWith('redis')
    ? await redisBus(opts.stateUrl, `easd-${opts.namespace}`)
    : localBus();
  const log = opts.logger;
  const held = opts.metrics === undefined ? undefined : new HeldRequests({ metrics: opts.metrics });
  const hub = new PushHub({
    backend: served,
    bus,
    coalesceMs: 5,
    pollMs: 600_000,
    ...(opts.hubLingerMs !== undefined && { lingerMs: opts.hubLingerMs }),
    ...(held !== undefined && { observer: held.observer }),
    ...(log !== undefined && { onError: (err: unknown) => log.warn({ err }, 'push') }),
  });
  const deps: EngineDeps = {
    backend: served,
    state,
    policy: testPolicy,
    push: { hub, settings: { ...defaultPushSettings, ...opts.pushSettings } },
  };
  const hook = opts.webhook;
  const app = await buildServer<Account>({
    logger: opts.logger ?? false,
    authenticate: (u, p, s) => served.authenticate(u, p, s),
    handlers: createHandlers(deps),
    gate: createEngineGate(deps),
    ...(held !== undefined && { held }),
    ...(hook !== undefined && {
      webhook: {
        secret: hook.secret,
        onEvent: async (e: WebhookEvent) => {
          hook.onEvent?.(e);
          await hub.notify(e.user, {});
        },
      },
    }),
  });
  return {
    app,
    backend,
    hub,
    close: async () => {
      await app.close();
      await hub.close();
      await bus.close();
      await backend.close();
      await state.close();
    },
  };
}

/** An EasTestClient speaking HTTP to `base` (http://host:port). */
export function httpClient(base: string, opts: ClientOptions): EasTestClient {
  return new EasTestClient(
    (req) =>
      new Promise((resolve, reject) => {
        const r = request(new URL(req.url, base), { method: req.method, headers: req.headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        });
        r.on('error', reject);
        r.end(req.payload);
      }),
    opts,
  );
}
