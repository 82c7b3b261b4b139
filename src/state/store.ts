// The state store: keyv over embedded SQLite (default) or Redis (EASD_STATE_URL=redis://…).
// Nothing outside this file sees a raw key: callers get scoped accessors (store.device(user, id))
// that can only reach that device's records; the layout itself lives in keys.ts. Indexes (users
// with devices, devices of a user, collections and records of a device) are plain records kept
// under a lock, so listing and removal work the same on both stores.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import KeyvRedis, { createClient } from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { decodeValue, encodeValue } from './codec.js';
import { stateKeys } from './keys.js';
import { type LockBackend, type LockOptions, Locks } from './lock.js';

export { StateKeyError } from './keys.js';
export { LockLostError, LockTimeoutError, type LockOptions } from './lock.js';

/** One record: read, write, delete. Values go through the codec (Date, Uint8Array, Map, Set kept). */
export interface Slot {
  get<T>(): Promise<T | undefined>;
  set(value: unknown): Promise<void>;
  delete(): Promise<void>;
}

/** Everything stored for one device of one user, and nothing else. */
export interface DeviceScope {
  readonly user: string;
  readonly deviceId: string;
  /** The DeviceRecord (devices.ts gives it its shape). Writing it lists the device for admins. */
  readonly record: Slot;
  /** FolderSync state (sync-state.ts). */
  readonly hierarchy: Slot;
  /** Sync state of one collection; writing it adds the collection to the device's index. */
  collection(collectionId: string): Slot;
  collectionIds(): Promise<string[]>;
  /** Other per-device records of the engine (folder id map, last Sync request, Ping parameters). */
  data(name: string): Slot;
  dataNames(): Promise<string[]>;
  /**
   * Serializes work on `name` for this device only: a collection id (Sync), "hierarchy"
   * (FolderSync, folder commands), "device" (the record; devices.ts). Not reentrant: never take
   * the same name again inside fn. Collection ids are FolderIdMap ServerIds (digits), so they
   * cannot collide with the two word names.
   */
  lock<T>(name: string, fn: (signal: AbortSignal) => Promise<T>, opts?: LockOptions): Promise<T>;
  /** Deletes every record of the device (record, hierarchy, collections, data) and its index entries. */
  removeAll(): Promise<void>;
}

export interface StateStore {
  readonly kind: 'sqlite' | 'redis';
  device(user: string, deviceId: string): DeviceScope;
  /** Users that have at least one device record. */
  users(): Promise<string[]>;
  /** Device ids of one user that have a record. */
  deviceIds(user: string): Promise<string[]>;
  /** A record of the whole deployment, not of a device (admin switches such as the trace). */
  global(name: string): Slot;
  /**
   * Runs fn while holding the named lock: in-process FIFO always, plus a lock shared by every
   * process on the same store (Redis SET NX PX; a row in the SQLite file). Name parts are escaped.
   */
  lock<T>(name: readonly string[], fn: (signal: AbortSignal) => Promise<T>, opts?: LockOptions): Promise<T>;
  close(): Promise<void>;
}

export interface StateStoreOptions {
  /** sqlite://<file> (relative to the working directory), sqlite://:memory:, redis://… or rediss://… */
  url?: string;
  /** Where the default store lives: <dataDir>/state.sqlite. */
  dataDir: string;
  /** Prefix of every key, so that several deployments (or test runs) can share one Redis. */
  namespace?: string;
}

export async function openStateStore(opts: StateStoreOptions): Promise<StateStore> {
  const namespace = opts.namespace ?? 'easd';
  if (!/^[A-Za-z0-9_.-]+$/.test(namespace))
    throw new Error(`state namespace must be [A-Za-z0-9_.-]+: ${namespace}`);
  const url = opts.url ?? '';
  if (url === '' || url.startsWith('sqlite:')) {
    let file = url.replace(/^sqlite:(\/\/)?/, '');
    if (file === '') {
      await mkdir(opts.dataDir, { recursive: true });
      file = path.join(opts.dataDir, 'state.sqlite');
    } else if (file !== ':memory:') {
      file = path.resolve(file);
      await mkdir(path.dirname(file), { recursive: true });
    }
    return openSqlite(file, namespace);
  }
  if (url.startsWith('redis:') || url.startsWith('rediss:')) return openRedis(url, namespace);
  throw new Error(`EASD_STATE_URL must start with sqlite:// or redis://`);
}

async function openSqlite(file: string, namespace: string): Promise<StateStore> {
  const adapter = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 5000 });
  adapter.on('error', () => {}); // every failing call also rejects
  // WAL lets the admin CLI read while the server writes; the lock table backs cross-process locks.
  if (file !== ':memory:') {
    await adapter.query('PRAGMA journal_mode=WAL');
    // In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last commits, which a
    // device recovers from like any unknown sync key (Status 3, then a fresh sync). FULL would
    // fsync every lock and every commit, several per request.
    await adapter.query('PRAGMA synchronous=NORMAL');
  }
  await adapter.query(
    'CREATE TABLE IF NOT EXISTS easd_locks(key TEXT PRIMARY KEY, token TEXT NOT NULL, expires INTEGER NOT NULL)',
  );
  const backend: LockBackend = {
    async acquire(key, token, ttlMs) {
      const now = Date.now();
      const rows = (await adapter.query(
        `INSERT INTO easd_locks(key, token, expires) VALUES(?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET token = excluded.token, expires = excluded.expires
         WHERE easd_locks.expires <= ? RETURNING token`,
        key,
        token,
        now + ttlMs,
        now,
      )) as unknown[];
      return rows.length === 1;
    },
    async renew(key, token, ttlMs) {
      const rows = (await adapter.query(
        'UPDATE easd_locks SET expires = ? WHERE key = ? AND token = ? RETURNING key',
        Date.now() + ttlMs,
        key,
        token,
      )) as unknown[];
      return rows.length === 1;
    },
    async release(key, token) {
      await adapter.query('DELETE FROM easd_locks WHERE key = ? AND token = ?', key, token);
    },
  };
  return new KeyvStateStore('sqlite', makeKeyv(adapter), namespace, backend, () => adapter.disconnect());
}

// Frees the lock only if this holder's token is still the value (MS-ASCMD has nothing to say here:
// it is the usual compare-and-delete that keeps an expired holder from freeing its successor's lock).
const releaseScript =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const renewScript =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

async function openRedis(url: string, namespace: string): Promise<StateStore> {
  const client = createClient({ url });
  client.on('error', () => {}); // reconnects by itself; commands meanwhile reject or wait
  await client.connect();
  const adapter = new KeyvRedis(client, { throwOnErrors: true, throwOnConnectError: true });
  const backend: LockBackend = {
    async acquire(key, token, ttlMs) {
      return (
        (await client.set(key, token, { condition: 'NX', expiration: { type: 'PX', value: ttlMs } })) === 'OK'
      );
    },
    async renew(key, token, ttlMs) {
      return Number(await client.eval(renewScript, { keys: [key], arguments: [token, String(ttlMs)] })) === 1;
    },
    async release(key, token) {
      await client.eval(releaseScript, { keys: [key], arguments: [token] });
    },
  };
  return new KeyvStateStore('redis', makeKeyv(adapter), namespace, backend, async () => {
    client.destroy();
  });
}

function makeKeyv(store: KeyvSqlite | KeyvRedis<unknown>): Keyv {
  // Keys are prefixed here (namespace + layout), so keyv's own prefixing stays off.
  const keyv = new Keyv({
    store,
    useKeyPrefix: false,
    throwOnErrors: true,
    serialize: (data) => encodeValue(data),
    deserialize: (text) => decodeValue(text),
  });
  keyv.on('error', () => {});
  return keyv;
}

class KeyvStateStore implements StateStore {
  private readonly locks: Locks;
  private closed = false;

  constructor(
    readonly kind: 'sqlite' | 'redis',
    private readonly keyv: Keyv,
    private readonly namespace: string,
    backend: LockBackend,
    private readonly disconnect: () => Promise<void>,
  ) {
    this.locks = new Locks(backend);
  }

  device(user: string, deviceId: string): DeviceScope {
    // Validates both ids now, so a bad id fails at the call site rather than at first use.
    stateKeys.device(user, deviceId);
    return new KeyvDeviceScope(this, user, deviceId);
  }

  users(): Promise<string[]> {
    return this.readIndex(stateKeys.users());
  }

  deviceIds(user: string): Promise<string[]> {
    return this.readIndex(stateKeys.userDevices(user));
  }

  global(name: string): Slot {
    return this.slot(stateKeys.global(name));
  }

  lock<T>(name: readonly string[], fn: (signal: AbortSignal) => Promise<T>, opts?: LockOptions): Promise<T> {
    return this.locks.withLock(this.full(stateKeys.lock(name)), fn, opts);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.disconnect();
  }

  // The rest is for KeyvDeviceScope only.

  slot(key: string, onSet?: () => Promise<void>): Slot {
    const full = this.full(key);
    return {
      get: async <T>() => (await this.keyv.get(full)) as T | undefined,
      set: async (value: unknown) => {
        if (value === undefined) throw new TypeError('a state record cannot be undefined; delete it instead');
        await this.keyv.set(full, value);
        if (onSet !== undefined) await onSet();
      },
      delete: async () => {
        await this.keyv.delete(full);
      },
    };
  }

  async readIndex(key: string): Promise<string[]> {
    return ((await this.keyv.get(this.full(key))) as string[] | undefined) ?? [];
  }

  /** Adds an entry to an index unless present; the read-modify-write runs under the index's lock. */
  async addToIndex(key: string, entry: string): Promise<void> {
    if ((await this.readIndex(key)).includes(entry)) return;
    await this.lock(['index', key], async () => {
      const entries = await this.readIndex(key);
      if (entries.includes(entry)) return;
      entries.push(entry);
      entries.sort();
      await this.keyv.set(this.full(key), entries);
    });
  }

  /** Removes an entry; `keepIf` (run under the lock) can veto, as the users index does. */
  async removeFromIndex(key: string, entry: string, keepIf?: () => Promise<boolean>): Promise<void> {
    await this.lock(['index', key], async () => {
      if (keepIf !== undefined && (await keepIf())) return;
      const entries = await this.readIndex(key);
      const rest = entries.filter((e) => e !== entry);
      if (rest.length === entries.length) return;
      if (rest.length === 0) await this.keyv.delete(this.full(key));
      else await this.keyv.set(this.full(key), rest);
    });
  }

  async deleteKeys(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.keyv.delete(keys.map((k) => this.full(k)));
  }

  private full(key: string): string {
    return `${this.namespace}:${key}`;
  }
}

class KeyvDeviceScope implements DeviceScope {
  readonly record: Slot;
  readonly hierarchy: Slot;
  /** Index entries this scope has already seen, to skip re-reading the index on every commit. */
  private readonly indexed = new Set<string>();

  constructor(
    private readonly store: KeyvStateStore,
    readonly user: string,
    readonly deviceId: string,
  ) {
    this.record = store.slot(stateKeys.device(user, deviceId), () =>
      this.once('device', async () => {
        await store.addToIndex(stateKeys.userDevices(user), deviceId);
        await store.addToIndex(stateKeys.users(), user);
      }),
    );
    this.hierarchy = store.slot(stateKeys.hierarchy(user, deviceId));
  }

  collection(collectionId: string): Slot {
    return this.store.slot(stateKeys.collection(this.user, this.deviceId, collectionId), () =>
      this.once(`c/${collectionId}`, () =>
        this.store.addToIndex(stateKeys.collections(this.user, this.deviceId), collectionId),
      ),
    );
  }

  collectionIds(): Promise<string[]> {
    return this.store.readIndex(stateKeys.collections(this.user, this.deviceId));
  }

  data(name: string): Slot {
    return this.store.slot(stateKeys.data(this.user, this.deviceId, name), () =>
      this.once(`x/${name}`, () =>
        this.store.addToIndex(stateKeys.dataIndex(this.user, this.deviceId), name),
      ),
    );
  }

  dataNames(): Promise<string[]> {
    return this.store.readIndex(stateKeys.dataIndex(this.user, this.deviceId));
  }

  lock<T>(name: string, fn: (signal: AbortSignal) => Promise<T>, opts?: LockOptions): Promise<T> {
    return this.store.lock(['device', this.user, this.deviceId, name], fn, opts);
  }

  async removeAll(): Promise<void> {
    const { user, deviceId, store } = this;
    const collections = await this.collectionIds();
    const names = await this.dataNames();
    await store.deleteKeys([
      ...collections.map((c) => stateKeys.collection(user, deviceId, c)),
      ...names.map((n) => stateKeys.data(user, deviceId, n)),
      stateKeys.hierarchy(user, deviceId),
      stateKeys.collections(user, deviceId),
      stateKeys.dataIndex(user, deviceId),
      stateKeys.device(user, deviceId),
    ]);
    this.indexed.clear();
    await store.removeFromIndex(stateKeys.userDevices(user), deviceId);
    // The user stays listed if another device appeared meanwhile (checked under the index lock).
    await store.removeFromIndex(
      stateKeys.users(),
      user,
      async () => (await store.deviceIds(user)).length > 0,
    );
  }

  private async once(entry: string, add: () => Promise<void>): Promise<void> {
    if (this.indexed.has(entry)) return;
    await add();
    this.indexed.add(entry);
  }
}
