// An in-process easd for command tests: the real server, the real memory backend on a temporary
// data directory, a real state store (SQLite in memory unless a URL is given), and a policy
// that requires provisioning. Clients come provisioned.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { el } from '../../wbxml/index.js';
import { createAccount, openMemoryBackend, type MemoryBackend } from '../../backends/memory/index.js';
import type { Account } from '../../src/backend/contract.js';
import { defaultPushSettings, type EngineDeps, type PushSettings } from '../../src/commands/deps.js';
import { createEngineGate, createHandlers } from '../../src/commands/index.js';
import type { CommandHandler, CommandName } from '../../src/commands/types.js';
import type { PolicyProvider } from '../../src/provision/provider.js';
import { localBus, redisBus } from '../../src/push/bus.js';
import { PushHub } from '../../src/push/hub.js';
import { buildServer } from '../../src/server.js';
import { openStateStore, type StateStore } from '../../src/state/store.js';
import { EasTestClient, type ClientOptions } from './eas-client.js';

export const testPolicy: PolicyProvider = {
  required: true,
  hash: 'test-policy',
  allowPartialCompliance: true,
  provisionDoc: () => el('Provision', 'EASProvisionDoc', el('Provision', 'DevicePasswordEnabled', '0')),
  access: () => 'allowed',
};

export interface TestEngine {
  app: FastifyInstance;
  hub: PushHub;
  backend: MemoryBackend;
  state: StateStore;
  dataDir: string;
  /** A provisioned client for a user (alice, bob) on a fresh device id unless one is given. */
  client(user?: string, opts?: Partial<ClientOptions>): Promise<EasTestClient>;
  /** Signs in on the backend directly, to arrange or inspect the store behind easd's back. */
  account(user?: string): Promise<Account>;
  close(): Promise<void>;
}

let devices = 0;

export interface TestEngineOptions {
  stateUrl?: string;
  /** Pace of the push hub's fallback polling (backends without watch). */
  pollMs?: number;
  /** Ping bounds; tests use a short heartbeat. */
  pushSettings?: Partial<PushSettings>;
  /** Handlers served besides (or instead of) createHandlers' ones: commands not wired up yet. */
  extraHandlers?: (deps: EngineDeps) => Partial<Record<CommandName, CommandHandler<Account>>>;
}

export async function startTestEngine(opts: TestEngineOptions = {}): Promise<TestEngine> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'easd-engine-'));
  for (const user of ['alice', 'bob'])
    await createAccount(dataDir, { user, password: `${user}-password`, displayName: user });
  const backend = await openMemoryBackend({ dataDir, flushDelayMs: 10 });
  const state = await openStateStore({
    url: opts.stateUrl ?? 'sqlite://:memory:',
    dataDir,
    namespace: `t${process.pid}x${Date.now()}`,
  });
  // Push as in production: a local bus, or Redis pub/sub when the state lives in Redis.
  const bus = opts.stateUrl?.startsWith('redis') === true ? await redisBus(opts.stateUrl) : localBus();
  const hub = new PushHub({ backend, bus, coalesceMs: 5, pollMs: opts.pollMs ?? 30_000 });
  const deps: EngineDeps = {
    backend,
    state,
    policy: testPolicy,
    push: { hub, settings: { ...defaultPushSettings, ...opts.pushSettings } },
  };
  const app = await buildServer<Account>({
    logger: false,
    authenticate: (u, p, s) => backend.authenticate(u, p, s),
    handlers: { ...createHandlers(deps), ...opts.extraHandlers?.(deps) },
    gate: createEngineGate(deps),
  });
  return {
    app,
    hub,
    backend,
    state,
    dataDir,
    async client(user = 'alice', extra = {}) {
      const c = EasTestClient.inject(app, {
        user,
        password: `${user}-password`,
        deviceId: `TESTDEV${process.pid}x${++devices}`,
        ...extra,
      });
      await c.provision();
      return c;
    },
    async account(user = 'alice') {
      const a = await backend.authenticate(user, `${user}-password`, AbortSignal.timeout(5000));
      if (a === null) throw new Error(`no test account ${user}`);
      return a;
    },
    async close() {
      await app.close();
      await hub.close();
      await bus.close();
      await backend.close?.();
      await state.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
