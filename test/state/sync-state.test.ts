// Replay semantics of sync keys (MS-ASCMD 2.2.3.166.4), on both stores.
import { beforeEach, describe, expect, it } from 'vitest';
import type { DeviceScope } from '../../src/state/store.js';
import {
  FolderIdMap,
  HierarchyStateStore,
  SyncStateConflictError,
  SyncStateStore,
  maxSyncKeyLength,
  nextSyncKey,
} from '../../src/state/sync-state.js';
import { storeKinds, useTestStore } from './stores.js';

interface State {
  seen: string[];
  clientIds?: Map<string, string>;
}

describe('nextSyncKey', () => {
  it('starts a lineage at 1 and counts up within it', () => {
    const first = nextSyncKey();
    expect(first).toMatch(/^[a-z0-9]{8}-1$/);
    const second = nextSyncKey(first);
    expect(second).toBe(`${first.slice(0, 8)}-2`);
    expect(nextSyncKey(second)).toBe(`${first.slice(0, 8)}-3`);
  });

  it('starts a new lineage after "0" or a key of another format', () => {
    expect(nextSyncKey('0')).toMatch(/-1$/);
    expect(nextSyncKey('{abc}7')).toMatch(/-1$/);
    const lineages = new Set(Array.from({ length: 50 }, () => nextSyncKey().slice(0, 8)));
    expect(lineages.size).toBe(50);
  });
});

describe.each(storeKinds)('sync state on %s', (kind) => {
  const t = useTestStore(kind);
  let scope: DeviceScope;
  let states: SyncStateStore<State>;

  beforeEach(() => {
    scope = t.store.device('alice', 'DEV1');
    states = new SyncStateStore<State>(scope);
  });

  it('answers the current key, replays the previous one, and refuses older or unknown keys', async () => {
    await states.commit('5', 'k-1', { seen: ['a'] }, { fromKey: '0' });
    await states.commit(
      '5',
      'k-2',
      { seen: ['a', 'b'] },
      { fromKey: 'k-1', response: new Uint8Array([1, 2]) },
    );
    await states.commit(
      '5',
      'k-3',
      { seen: ['a', 'b', 'c'] },
      { fromKey: 'k-2', response: new Uint8Array([3]) },
    );

    expect(await states.load('5', 'k-3')).toEqual({ state: { seen: ['a', 'b', 'c'] }, replay: false });
    expect(await states.load('5', 'k-2')).toEqual({
      state: { seen: ['a', 'b'] },
      replay: true,
      response: new Uint8Array([3]),
      next: { key: 'k-3', state: { seen: ['a', 'b', 'c'] } },
    });
    expect(await states.load('5', 'k-1')).toBeNull();
    expect(await states.load('5', 'nope')).toBeNull();
    expect(await states.load('5', '0')).toBeNull();
    expect(await states.load('6', 'k-3')).toBeNull();
  });

  it('gives a repeated request the same answer with nothing lost or duplicated', async () => {
    // Request 1 (key k-1) adds a client item; its response (new key k-2) is lost.
    await states.commit('5', 'k-1', { seen: [] }, { fromKey: '0' });
    const first = await states.load('5', 'k-1');
    expect(first?.replay).toBe(false);
    const added = new Map([['client-1', 'srv-1']]);
    await states.commit(
      '5',
      'k-2',
      { seen: ['srv-1'], clientIds: added },
      { fromKey: 'k-1', response: new Uint8Array([42]) },
    );

    // The client repeats request 1 with k-1: the engine sees a replay, the stored answer, and the
    // ClientId already mapped, so it adds nothing twice.
    const again = await states.load('5', 'k-1');
    expect(again?.replay).toBe(true);
    expect(again?.response).toEqual(new Uint8Array([42]));
    expect(again?.next?.state.clientIds?.get('client-1')).toBe('srv-1');

    // Rebuilding instead of resending: committing from the previous key replaces the current
    // generation and keeps the previous one, so k-1 stays replayable and the old k-2 is gone.
    await states.commit(
      '5',
      'k-2b',
      { seen: ['srv-1'], clientIds: added },
      { fromKey: 'k-1', response: new Uint8Array([43]) },
    );
    expect(await states.load('5', 'k-2')).toBeNull();
    expect((await states.load('5', 'k-2b'))?.replay).toBe(false);
    expect((await states.load('5', 'k-1'))?.response).toEqual(new Uint8Array([43]));

    // The client moves on with the new key: k-1 is now too old.
    await states.commit('5', 'k-3', { seen: ['srv-1'] }, { fromKey: 'k-2b' });
    expect(await states.load('5', 'k-1')).toBeNull();
    expect((await states.load('5', 'k-2b'))?.replay).toBe(true);
  });

  it('keeps no previous generation across an initial sync ("0")', async () => {
    await states.commit('5', 'a-1', { seen: [] }, { fromKey: '0' });
    await states.commit('5', 'a-2', { seen: [] }, { fromKey: 'a-1' });
    await states.commit('5', 'b-1', { seen: [] }, { fromKey: '0' });
    expect(await states.load('5', 'a-2')).toBeNull();
    expect(await states.load('5', 'a-1')).toBeNull();
    expect((await states.load('5', 'b-1'))?.replay).toBe(false);
  });

  it('refuses a commit from a key that is neither current nor previous', async () => {
    await states.commit('5', 'k-1', { seen: [] }, { fromKey: '0' });
    await states.commit('5', 'k-2', { seen: [] }, { fromKey: 'k-1' });
    await states.commit('5', 'k-3', { seen: [] }, { fromKey: 'k-2' });
    await expect(states.commit('5', 'k-4', { seen: [] }, { fromKey: 'k-1' })).rejects.toThrow(
      SyncStateConflictError,
    );
    await states.reset('5');
    await expect(states.commit('5', 'k-4', { seen: [] }, { fromKey: 'k-3' })).rejects.toThrow(
      /reset meanwhile/,
    );
  });

  it('refuses malformed new keys', async () => {
    await expect(states.commit('5', '0', { seen: [] })).rejects.toThrow(SyncStateConflictError);
    await expect(states.commit('5', '', { seen: [] })).rejects.toThrow(SyncStateConflictError);
    await expect(states.commit('5', 'x'.repeat(maxSyncKeyLength + 1), { seen: [] })).rejects.toThrow(
      SyncStateConflictError,
    );
    await states.commit('5', 'k-1', { seen: [] });
    await expect(states.commit('5', 'k-1', { seen: [] })).rejects.toThrow(/equals/);
  });

  it('resets one collection only', async () => {
    await states.commit('5', 'k-1', { seen: [] });
    await states.commit('6', 'k-1', { seen: ['x'] });
    await states.reset('5');
    expect(await states.load('5', 'k-1')).toBeNull();
    expect((await states.current('6'))?.state).toEqual({ seen: ['x'] });
    expect((await states.current('6'))?.at).toBeInstanceOf(Date);
  });

  it('keeps each device and user to its own states', async () => {
    await states.commit('5', 'k-1', { seen: ['alice'] });
    const other = new SyncStateStore<State>(t.store.device('alice', 'DEV2'));
    const mallory = new SyncStateStore<State>(t.store.device('alice:DEV1', '5'));
    expect(await other.load('5', 'k-1')).toBeNull();
    expect(await mallory.load('5', 'k-1')).toBeNull();
  });

  it('applies the same rule to the folder hierarchy', async () => {
    const hierarchy = new HierarchyStateStore(scope);
    const v1 = { folders: [{ ServerId: '1', ParentId: '0', DisplayName: 'Inbox', Type: 2 }] };
    const v2 = {
      folders: [...v1.folders, { ServerId: '2', ParentId: '0', DisplayName: 'Sent Items', Type: 5 }],
    };
    await hierarchy.commit('h-1', v1, { fromKey: '0' });
    await hierarchy.commit('h-2', v2, { fromKey: 'h-1', response: new Uint8Array([9]) });
    expect(await hierarchy.load('h-2')).toEqual({ state: v2, replay: false });
    expect(await hierarchy.load('h-1')).toMatchObject({
      state: v1,
      replay: true,
      response: new Uint8Array([9]),
    });
    expect((await hierarchy.current())?.key).toBe('h-2');
    await hierarchy.reset();
    expect(await hierarchy.load('h-2')).toBeNull();
  });

  it('gives folders stable short ServerIds that survive reloads and are never reused', async () => {
    const map = await FolderIdMap.load(scope);
    expect(map.assign('INBOX')).toBe('1');
    expect(map.assign('Sent')).toBe('2');
    expect(map.assign('INBOX')).toBe('1');
    await map.save();
    const again = await FolderIdMap.load(scope);
    expect(again.serverId('Sent')).toBe('2');
    expect(again.backendId('1')).toBe('INBOX');
    expect(again.assign('Drafts')).toBe('3');
    expect(again.backendId('9')).toBeUndefined();
    // Another device numbers its folders on its own.
    const other = await FolderIdMap.load(t.store.device('alice', 'DEV2'));
    expect(other.assign('Sent')).toBe('1');
  });
});
