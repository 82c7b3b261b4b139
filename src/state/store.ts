// The state store: keyv over embedded SQLite (default) or Redis (EASD_STATE_URL=redis://…).
// Nothing outside this file sees a raw key: callers get scoped accessors (store.device(user, id))
// that can only reach that device's records; the layout itself lives in keys.ts. Indexes (users
// with devices, devices of a user, collections and records of a device) are sets with one row or
// member per entry (a SQLite table, Redis sets), so adding a device costs the same whether its
// user has one device or 20,000: an index is never read or written whole on a request's path.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import KeyvRedis, { createClient } from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { decodeValue, encodeValue } from './codec.js';
import { stateKeys } from './keys.js';
import { holderIsGone, type LockBackend, type LockOptions, Locks } from './lock.js';

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
  await adapter.query(
    'CREATE TABLE IF NOT EXISTS easd_index(key TEXT NOT NULL, entry TEXT NOT NULL, PRIMARY KEY(key, entry)) WITHOUT ROWID',
  );
  const indexes: IndexBackend = {
    async add(key, entry) {
      await adapter.query('INSERT OR IGNORE INTO easd_index(key, entry) VALUES(?, ?)', key, entry);
    },
    async remove(key, entry, unlessAnyIn) {
      // One statement: atomic against a concurrent add to unlessAnyIn (see IndexBackend).
      if (unlessAnyIn === undefined)
        await adapter.query('DELETE FROM easd_index WHERE key = ? AND entry = ?', key, entry);
      else
        await adapter.query(
          'DELETE FROM easd_index WHERE key = ? AND entry = ? AND NOT EXISTS (SELECT 1 FROM easd_index WHERE key = ?)',
          key,
          entry,
          unlessAnyIn,
        );
    },
    async list(key) {
      const rows = (await adapter.query('SELECT entry FROM easd_index WHERE key = ?', key)) as Array<{
        entry: string;
      }>;
      // Sorted here, as on Redis, so both stores list in the same (UTF-16) order.
      return rows.map((r) => r.entry).sort();
    },
    async drop(keys) {
      await adapter.query(
        'DELETE FROM easd_index WHERE key IN (SELECT value FROM json_each(?))',
        JSON.stringify(keys),
      );
    },
    async legacyKeys(prefix) {
      // A range on the primary key, not LIKE (case-insensitive, so it would scan the table).
      const rows = (await adapter.query(
        'SELECT key FROM keyv WHERE key >= ? AND key < ?',
        prefix,
        prefix + '\uffff',
      )) as Array<{ key: string }>;
      return rows.map((r) => r.key);
    },
  };
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
      if (rows.length === 1) return true;
      // A SQLite file is only shared by processes of one machine, so a holder that was killed
      // (SIGKILL, OOM, power cut of a container) can be recognised and its lock taken at once
      // instead of stalling that device's requests until the lock expires.
      const held = (await adapter.query('SELECT token FROM easd_locks WHERE key = ?', key)) as Array<{
        token: string;
      }>;
      const holder = held[0]?.token;
      if (holder === undefined || !holderIsGone(holder)) return false;
      const taken = (await adapter.query(
        'UPDATE easd_locks SET token = ?, expires = ? WHERE key = ? AND token = ? RETURNING key',
        token,
        now + ttlMs,
        key,
        holder,
      )) as unknown[];
      return taken.length === 1;
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
  return KeyvStateStore.open('sqlite', makeKeyv(adapter), namespace, backend, indexes, () =>
    adapter.disconnect(),
  );
}

// Frees the lock only if this holder's token is still the value (MS-ASCMD has nothing to say here:
// it is the usual compare-and-delete that keeps an expired holder from freeing its successor's lock).
const releaseScript =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const renewScript =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
// Removes an index entry only while the guard set is empty, atomically (see IndexBackend.remove).
const removeUnlessScript =
  "if redis.call('SCARD', KEYS[2]) == 0 then return redis.call('SREM', KEYS[1], ARGV[1]) else return 0 end";

async function openRedis(url: string, namespace: string): Promise<StateStore> {
  const client = createClient({ url });
  client.on('error', () => {}); // reconnects by itself; commands meanwhile reject or wait
  await client.connect();
  const adapter = new KeyvRedis(client, { throwOnErrors: true, throwOnConnectError: true });
  const keyv = makeKeyv(adapter);
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
  const indexes: IndexBackend = {
    async add(key, entry) {
      await client.sAdd(key, entry);
    },
    async remove(key, entry, unlessAnyIn) {
      if (unlessAnyIn === undefined) await client.sRem(key, entry);
      else await client.eval(removeUnlessScript, { keys: [key, unlessAnyIn], arguments: [entry] });
    },
    async list(key) {
      return (await client.sMembers(key)).sort();
    },
    async drop(keys) {
      if (keys.length > 0) await client.del(keys);
    },
    async legacyKeys(prefix) {
      // keyv-redis puts its own namespace ("keyv::") before the keys it is given.
      const raw = adapter.createKeyPrefix(prefix, adapter.namespace);
      const extra = raw.length - prefix.length;
      const found: string[] = [];
      const match = raw.replace(/[*?[\]\\]/g, '\\$&') + '*';
      for await (const keys of client.scanIterator({ MATCH: match, COUNT: 1000, TYPE: 'string' }))
        for (const k of keys) found.push(k.slice(extra));
      return found;
    },
  };
  return KeyvStateStore.open('redis', keyv, namespace, backend, indexes, async () => {
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

/**
 * Index storage: sets of strings under full (namespaced) keys. Entries are ids as escaped in
 * keys.ts's callers, never parsed.
 */
interface IndexBackend {
  add(key: string, entry: string): Promise<void>;
  /**
   * Removes an entry; with `unlessAnyIn`, only while that index is empty, in one atomic step, so
   * that "a user is listed while it has a device" survives a device being added meanwhile (the
   * adder writes the device's entry first, then the user's).
   */
  remove(key: string, entry: string, unlessAnyIn?: string): Promise<void>;
  /** The entries, sorted. */
  list(key: string): Promise<string[]>;
  drop(keys: string[]): Promise<void>;
  /** Keys of plain records starting with `prefix` (to find indexes of the old layout). */
  legacyKeys(prefix: string): Promise<string[]>;
}

/** Layout 2: indexes are sets (stores written before kept each as one record holding an array). */
const layoutVersion = 2;
const legacyIndexPattern = /^(users|u\/[^/]+\/devices|u\/[^/]+\/d\/[^/]+\/(collections|data))$/;

class KeyvStateStore implements StateStore {
  private readonly locks: Locks;
  private closed = false;

  static async open(
    kind: 'sqlite' | 'redis',
    keyv: Keyv,
    namespace: string,
    backend: LockBackend,
    indexes: IndexBackend,
    disconnect: () => Promise<void>,
  ): Promise<KeyvStateStore> {
    const store = new KeyvStateStore(kind, keyv, namespace, backend, indexes, disconnect);
    try {
      await store.upgradeLayout();
    } catch (err) {
      await disconnect().catch(() => {});
      throw err;
    }
    return store;
  }

  private constructor(
    readonly kind: 'sqlite' | 'redis',
    private readonly keyv: Keyv,
    private readonly namespace: string,
    backend: LockBackend,
    private readonly indexes: IndexBackend,
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

  readIndex(key: string): Promise<string[]> {
    return this.indexes.list(this.indexKey(key));
  }

  addToIndex(key: string, entry: string): Promise<void> {
    return this.indexes.add(this.indexKey(key), entry);
  }

  /** Removes an entry; with `unlessAnyIn`, only while that index is empty (atomically). */
  removeFromIndex(key: string, entry: string, unlessAnyIn?: string): Promise<void> {
    return this.indexes.remove(
      this.indexKey(key),
      entry,
      unlessAnyIn === undefined ? undefined : this.indexKey(unlessAnyIn),
    );
  }

  dropIndexes(keys: string[]): Promise<void> {
    return this.indexes.drop(keys.map((k) => this.indexKey(k)));
  }

  async deleteKeys(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.keyv.delete(keys.map((k) => this.full(k)));
  }

  private full(key: string): string {
    return `${this.namespace}:${key}`;
  }

  /** Index sets live apart from records (keys.ts: index/…), so no set shares a record's key. */
  private indexKey(key: string): string {
    return this.full(stateKeys.index(key));
  }

  /**
   * Stores written before indexes were sets kept each index as one record holding an array:
   * their entries move into the sets once, under a lock, so nodes starting together do it once.
   */
  private async upgradeLayout(): Promise<void> {
    const marker = this.full(stateKeys.layout());
    if ((await this.keyv.get(marker)) === layoutVersion) return;
    await this.lock(['layout'], async () => {
      if ((await this.keyv.get(marker)) === layoutVersion) return;
      const prefix = this.full('');
      const keys = await this.indexes.legacyKeys(prefix);
      for (const full of keys) {
        if (!legacyIndexPattern.test(full.slice(prefix.length))) continue;
        const entries: unknown = await this.keyv.get(full);
        const key = full.slice(prefix.length);
        if (Array.isArray(entries))
          for (const e of entries) if (typeof e === 'string') await this.addToIndex(key, e);
        await this.keyv.delete(full);
      }
      await this.keyv.set(marker, layoutVersion);
    });
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
      stateKeys.device(user, deviceId),
    ]);
    await store.dropIndexes([stateKeys.collections(user, deviceId), stateKeys.dataIndex(user, deviceId)]);
    this.indexed.clear();
    await store.removeFromIndex(stateKeys.userDevices(user), deviceId);
    // The user stays listed if another device appeared meanwhile.
    await store.removeFromIndex(stateKeys.users(), user, stateKeys.userDevices(user));
  }

  private async once(entry: string, add: () => Promise<void>): Promise<void> {
    if (this.indexed.has(entry)) return;
    await add();
    this.indexed.add(entry);
  }
}
