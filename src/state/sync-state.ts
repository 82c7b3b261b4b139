// Replayable sync state (MS-ASCMD 2.2.3.166.4 SyncKey; 2.2.3.166.3 for FolderSync): the server
// keeps exactly two generations per collection, the current key's and the previous key's. A client
// that lost a response repeats its request with the previous key and gets the same answer again;
// any other key is invalid (the engine answers Status 3 / FolderSync Status 9 and the client
// starts over from "0"). Nothing is lost or duplicated: the engine can resend the stored response
// byte for byte, or rebuild it from the previous state and the `next` state (whose ClientId map
// tells which Adds already exist).
//
// Sync keys are issued by nextSyncKey: "<lineage>-<counter>", e.g. "k7f3q9ab-12". The lineage is
// random per initial sync, so after a reset or a removal a stale key from an older lineage can
// never match a new state, even at the same counter. Clients treat the key as opaque; "0" means
// initial and is never stored.
import { randomBytes } from 'node:crypto';
import type { DeviceScope, Slot } from './store.js';

/** MS-ASCMD 2.2.3.166.4: a SyncKey is at most 64 characters. */
export const maxSyncKeyLength = 64;

export class SyncStateConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyncStateConflictError';
  }
}

interface Generation<S, R> {
  key: string;
  state: S;
  at: Date;
  /** The response given to the request that carried this key (only on the previous generation). */
  response?: R;
}

interface ReplayableRecord<S, R> {
  current: Generation<S, R>;
  previous?: Generation<S, R>;
}

export interface LoadResult<S, R> {
  state: S;
  /** True when the key is the previous one: the client repeats a request whose answer it lost. */
  replay: boolean;
  /** On replay: the response sent the first time, when the engine stored one at commit. */
  response?: R;
  /** On replay: the key and state that first answer produced. */
  next?: { key: string; state: S };
}

export interface CommitOptions<R> {
  /** The response that carries the new key; kept so that a repeat of this request replays it. */
  response?: R;
  /**
   * The key the client sent. "0" starts a new lineage (no previous generation); the previous key
   * replaces the current generation (the engine rebuilt a replayed answer); the current key (or
   * undefined) shifts current to previous. Any other key means the state moved under the caller:
   * SyncStateConflictError.
   */
  fromKey?: string;
}

/** A new key: the next counter of `previousKey`'s lineage, or a fresh lineage. */
export function nextSyncKey(previousKey?: string): string {
  const match = previousKey === undefined ? null : /^([a-z0-9]{8})-(\d{1,15})$/.exec(previousKey);
  if (match !== null && match[1] !== undefined && match[2] !== undefined)
    return `${match[1]}-${Number(match[2]) + 1}`;
  const lineage = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0').slice(-8);
  return `${lineage}-1`;
}

/** The two-generation logic over one record. */
class Replayable<S, R> {
  constructor(private readonly slot: Slot) {}

  async load(syncKey: string): Promise<LoadResult<S, R> | null> {
    if (syncKey === '0' || syncKey === '') return null;
    const record = await this.slot.get<ReplayableRecord<S, R>>();
    if (record === undefined) return null;
    if (record.current.key === syncKey) return { state: record.current.state, replay: false };
    const prev = record.previous;
    if (prev !== undefined && prev.key === syncKey) {
      const result: LoadResult<S, R> = {
        state: prev.state,
        replay: true,
        next: { key: record.current.key, state: record.current.state },
      };
      if (prev.response !== undefined) result.response = prev.response;
      return result;
    }
    return null;
  }

  async current(): Promise<{ key: string; state: S; at: Date } | undefined> {
    const record = await this.slot.get<ReplayableRecord<S, R>>();
    return record === undefined
      ? undefined
      : { key: record.current.key, state: record.current.state, at: record.current.at };
  }

  async commit(newKey: string, state: S, opts: CommitOptions<R> = {}): Promise<void> {
    if (newKey === '' || newKey === '0' || newKey.length > maxSyncKeyLength) {
      throw new SyncStateConflictError(
        `sync key must be 1–${maxSyncKeyLength} characters and not "0": ${JSON.stringify(newKey)}`,
      );
    }
    const record = await this.slot.get<ReplayableRecord<S, R>>();
    const now = new Date();
    const fresh: Generation<S, R> = { key: newKey, state, at: now };
    const withResponse = (g: Generation<S, R>): Generation<S, R> => {
      const { response: _old, ...rest } = g;
      return opts.response === undefined ? rest : { ...rest, response: opts.response };
    };
    const from = opts.fromKey;
    let next: ReplayableRecord<S, R>;
    if (from === '0') {
      next = { current: fresh };
    } else if (record === undefined) {
      if (from !== undefined) throw new SyncStateConflictError(`no state for key ${from} (reset meanwhile)`);
      next = { current: fresh };
    } else if (from === undefined || from === record.current.key) {
      next = { current: fresh, previous: withResponse(record.current) };
    } else if (record.previous !== undefined && from === record.previous.key) {
      next = { current: fresh, previous: withResponse(record.previous) };
    } else {
      throw new SyncStateConflictError(`key ${from} is neither the current nor the previous key`);
    }
    if (next.previous !== undefined && next.previous.key === newKey) {
      throw new SyncStateConflictError(`new key ${newKey} equals the key it replaces`);
    }
    await this.slot.set(next);
  }

  async update(fn: (state: S) => S): Promise<boolean> {
    const record = await this.slot.get<ReplayableRecord<S, R>>();
    if (record === undefined) return false;
    await this.slot.set({ ...record, current: { ...record.current, state: fn(record.current.state) } });
    return true;
  }

  reset(): Promise<void> {
    return this.slot.delete();
  }
}

/**
 * Per-collection sync state of one device. S is the engine's state blob (any codec value: the
 * differ's stamps, the ClientId → ServerId map of the last Adds, window position); R the stored
 * response (the encoded WBXML bytes, typically). Callers hold scope.lock(collectionId) around a
 * load … commit sequence.
 */
export class SyncStateStore<S, R = Uint8Array> {
  constructor(private readonly scope: DeviceScope) {}

  load(collectionId: string, syncKey: string): Promise<LoadResult<S, R> | null> {
    return this.of(collectionId).load(syncKey);
  }

  current(collectionId: string): Promise<{ key: string; state: S; at: Date } | undefined> {
    return this.of(collectionId).current();
  }

  commit(collectionId: string, newKey: string, state: S, opts?: CommitOptions<R>): Promise<void> {
    return this.of(collectionId).commit(newKey, state, opts);
  }

  /**
   * Rewrites the current generation's state in place: same key, previous generation untouched. For
   * a change the device already knows of (MoveItems), which must not come back to it as a server
   * change. False when the collection has no state. Callers hold scope.lock(collectionId).
   */
  update(collectionId: string, fn: (state: S) => S): Promise<boolean> {
    return this.of(collectionId).update(fn);
  }

  /** Forgets the collection's state: its keys become invalid and the client resyncs from "0". */
  reset(collectionId: string): Promise<void> {
    return this.of(collectionId).reset();
  }

  private of(collectionId: string): Replayable<S, R> {
    return new Replayable<S, R>(this.scope.collection(collectionId));
  }
}

/** One folder as the last FolderSync reported it. */
export interface FolderSnapshot {
  ServerId: string;
  ParentId: string;
  DisplayName: string;
  Type: number;
  /** Change detector from the backend (a version, a hash of name + parent). */
  stamp?: string;
}

/** The FolderSync state blob: what the client was last told. */
export interface HierarchyState {
  folders: FolderSnapshot[];
}

/** FolderSync state of one device, with the same two-generation replay rule. Lock "hierarchy". */
export class HierarchyStateStore<S = HierarchyState, R = Uint8Array> {
  private readonly replayable: Replayable<S, R>;

  constructor(scope: DeviceScope) {
    this.replayable = new Replayable<S, R>(scope.hierarchy);
  }

  load(syncKey: string): Promise<LoadResult<S, R> | null> {
    return this.replayable.load(syncKey);
  }

  current(): Promise<{ key: string; state: S; at: Date } | undefined> {
    return this.replayable.current();
  }

  commit(newKey: string, state: S, opts?: CommitOptions<R>): Promise<void> {
    return this.replayable.commit(newKey, state, opts);
  }

  reset(): Promise<void> {
    return this.replayable.reset();
  }
}

interface FolderIdRecord {
  next: number;
  /** backend folder id → ServerId */
  ids: Map<string, string>;
}

/**
 * Backend folder id ↔ short ServerId ("1", "2", …) of one device. Outside the replayable state on
 * purpose: a folder keeps its ServerId through replays and hierarchy resets, so collection states
 * stay attached and no ServerId is ever reused for another folder. Assign under the device's
 * "hierarchy" lock, then save().
 */
export class FolderIdMap {
  private readonly byServerId = new Map<string, string>();
  private dirty = false;

  private constructor(
    private readonly slot: Slot,
    private readonly record: FolderIdRecord,
  ) {
    for (const [backendId, serverId] of record.ids) this.byServerId.set(serverId, backendId);
  }

  static async load(scope: DeviceScope): Promise<FolderIdMap> {
    const slot = scope.data('folder-ids');
    const record = (await slot.get<FolderIdRecord>()) ?? { next: 1, ids: new Map<string, string>() };
    return new FolderIdMap(slot, record);
  }

  serverId(backendId: string): string | undefined {
    return this.record.ids.get(backendId);
  }

  backendId(serverId: string): string | undefined {
    return this.byServerId.get(serverId);
  }

  /** The folder's ServerId, assigning the next one when the folder is new. */
  assign(backendId: string): string {
    const known = this.record.ids.get(backendId);
    if (known !== undefined) return known;
    const serverId = String(this.record.next++);
    this.record.ids.set(backendId, serverId);
    this.byServerId.set(serverId, backendId);
    this.dirty = true;
    return serverId;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await this.slot.set(this.record);
    this.dirty = false;
  }
}
