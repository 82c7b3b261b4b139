// The Adds a Sync request has applied so far, written as each one lands. The new sync key (with
// the ClientId → item map) is only stored once the whole request is done; a process killed in
// between would otherwise let the phone's repeated request (same SyncKey, same ClientIds) add the
// items a second time. One record per collection, for the sync key the request started from.
import type { ItemStamp } from '../backend/contract.js';
import type { DeviceScope } from '../state/store.js';
import type { CollectionState } from './collection.js';

interface JournalRecord {
  fromKey: string;
  added: Array<[clientId: string, id: string, version: string]>;
}

export class AddJournal {
  private record: JournalRecord | undefined;

  constructor(
    private readonly scope: DeviceScope,
    private readonly collectionId: string,
    private readonly fromKey: string,
  ) {}

  private get slot() {
    return this.scope.data(`adds.${this.collectionId}`);
  }

  /** The Adds an earlier, unfinished try of this request (same sync key) applied. */
  async read(): Promise<Map<string, ItemStamp> | undefined> {
    const stored = await this.slot.get<JournalRecord>();
    if (stored === undefined || stored.fromKey !== this.fromKey) return undefined;
    this.record = stored;
    return new Map(stored.added.map(([clientId, id, version]) => [clientId, { id, version }]));
  }

  async add(clientId: string, stamp: ItemStamp): Promise<void> {
    this.record ??= { fromKey: this.fromKey, added: [] };
    this.record.added.push([clientId, stamp.id, stamp.version]);
    await this.slot.set(this.record);
  }

  /** Forgets the Adds once the new sync key (which holds them) is stored. */
  async clear(): Promise<void> {
    if (this.record !== undefined) await this.slot.delete();
  }
}

/** The Adds a committed state recorded, for a replay of the request that produced it. */
export function addsOf(state: CollectionState | undefined): Map<string, ItemStamp> | undefined {
  if (state?.clientIds === undefined) return undefined;
  return new Map(
    [...state.clientIds].map(([clientId, id]) => [clientId, { id, version: state.known.get(id) ?? '' }]),
  );
}
