// The state store's contract, run on embedded SQLite and on the test stack's Redis alike.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import KeyvRedis from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { decodeValue, encodeValue } from '../../src/state/codec.js';
import { StateKeyError, openStateStore } from '../../src/state/store.js';
import { storeKinds, useTestStore } from './stores.js';

describe.each(storeKinds)('state store on %s', (kind) => {
  const t = useTestStore(kind);

  it('reports its kind', () => {
    expect(t.store.kind).toBe(kind);
  });

  it('round-trips Date, Uint8Array and Map values faithfully', async () => {
    const value = {
      at: new Date('2025-01-02T03:04:05.006Z'),
      bytes: new Uint8Array([0, 255, 10]),
      ids: new Map([['c1', 's1']]),
    };
    const slot = t.store.device('alice', 'DEV1').data('blob');
    await slot.set(value);
    const back = await slot.get<typeof value>();
    expect(back).toEqual(value);
    expect(back?.at).toBeInstanceOf(Date);
    expect(back?.bytes).toBeInstanceOf(Uint8Array);
    await slot.delete();
    expect(await slot.get()).toBeUndefined();
  });

  // Ids an attacker controls (user name at login, DeviceId in the query string, CollectionId in
  // the body) must never reach another user's or device's records.
  const crafted = [
    'a:b',
    'a/b',
    '../x',
    'a%2Fb',
    'u/alice/d/DEV1',
    'ÄÖü-用户-🙂',
    'a b',
    'alice/d',
    '*',
    'alice ',
  ];

  it.each(crafted)('keeps user %j apart from every other id', async (evil) => {
    await t.store.device('alice', 'DEV1').record.set({ owner: 'alice' });
    await t.store.device('alice', 'DEV1').collection('1').set({ owner: 'alice' });
    await t.store.device(evil, 'DEV1').record.set({ owner: evil });
    await t.store.device(evil, 'DEV1').collection('1').set({ owner: evil });
    await t.store
      .device('alice', evil)
      .collection(evil)
      .set({ owner: `alice/${evil}` });

    expect(await t.store.device('alice', 'DEV1').record.get()).toEqual({ owner: 'alice' });
    expect(await t.store.device('alice', 'DEV1').collection('1').get()).toEqual({ owner: 'alice' });
    expect(await t.store.device(evil, 'DEV1').collection('1').get()).toEqual({ owner: evil });
    expect(await t.store.device('alice', evil).collection(evil).get()).toEqual({ owner: `alice/${evil}` });
    expect(await t.store.deviceIds('alice')).toEqual(['DEV1']);
    expect(await t.store.deviceIds(evil)).toEqual(['DEV1']);
    expect((await t.store.users()).sort()).toEqual(['alice', evil].sort());
  });

  it('does not confuse a device id that looks like a key path with a collection', async () => {
    await t.store.device('bob', 'X').collection('c/Y').set(1);
    await t.store.device('bob', 'X/c/Y').record.set(2);
    expect(await t.store.device('bob', 'X').collection('c/Y').get()).toBe(1);
    expect(await t.store.device('bob', 'X/c/Y').record.get()).toBe(2);
    expect(await t.store.device('bob', 'X').collectionIds()).toEqual(['c/Y']);
  });

  it('rejects empty, oversized and malformed ids', () => {
    expect(() => t.store.device('', 'D')).toThrow(StateKeyError);
    expect(() => t.store.device('u', '')).toThrow(StateKeyError);
    expect(() => t.store.device('u', 'x'.repeat(513))).toThrow(/longer than/);
    expect(() => t.store.device('u\uD800', 'D')).toThrow(/well-formed/);
    expect(() => t.store.device('u', 'D').collection('')).toThrow(StateKeyError);
  });

  it('indexes users, devices, collections and records as they are written', async () => {
    expect(await t.store.users()).toEqual([]);
    await t.store.device('carol', 'B').record.set({});
    await t.store.device('carol', 'A').record.set({});
    await t.store.device('dave', 'Z').record.set({});
    const a = t.store.device('carol', 'A');
    await a.collection('7').set({});
    await a.collection('3').set({});
    await a.collection('7').set({ again: true });
    await a.data('folder-ids').set({});
    expect(await t.store.users()).toEqual(['carol', 'dave']);
    expect(await t.store.deviceIds('carol')).toEqual(['A', 'B']);
    expect(await a.collectionIds()).toEqual(['3', '7']);
    expect(await a.dataNames()).toEqual(['folder-ids']);
    // Another scope object (another request) sees the same indexes.
    expect(await t.store.device('carol', 'A').collectionIds()).toEqual(['3', '7']);
  });

  it('removes every record of one device and nothing of the others', async () => {
    const a = t.store.device('erin', 'A');
    const b = t.store.device('erin', 'B');
    for (const s of [a, b]) {
      await s.record.set({ id: s.deviceId });
      await s.hierarchy.set({ h: 1 });
      await s.collection('1').set({ c: 1 });
      await s.data('x').set({ x: 1 });
    }
    await a.removeAll();
    expect(await a.record.get()).toBeUndefined();
    expect(await a.hierarchy.get()).toBeUndefined();
    expect(await a.collection('1').get()).toBeUndefined();
    expect(await a.data('x').get()).toBeUndefined();
    expect(await a.collectionIds()).toEqual([]);
    expect(await b.record.get()).toEqual({ id: 'B' });
    expect(await b.collection('1').get()).toEqual({ c: 1 });
    expect(await t.store.deviceIds('erin')).toEqual(['B']);
    expect(await t.store.users()).toEqual(['erin']);

    await b.removeAll();
    expect(await t.store.users()).toEqual([]);
    // Written again after removal, the device is listed again.
    await a.record.set({ back: true });
    expect(await t.store.deviceIds('erin')).toEqual(['A']);
  });

  it('loses no index entry when two nodes add devices of one user at once', async () => {
    const other = await t.location.open();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? t.store : other).device('gina', `D${String(i).padStart(2, '0')}`).record.set({ i }),
      ),
    );
    const ids = await other.deviceIds('gina');
    expect(ids).toHaveLength(40);
    expect(ids).toEqual([...ids].sort());
    expect(await t.store.users()).toEqual(['gina']);
  });

  it('keeps a user listed exactly while it has devices, when its last device goes as another comes', async () => {
    const other = await t.location.open();
    for (let round = 0; round < 10; round++) {
      const user = `hank${round}`;
      const old = t.store.device(user, 'OLD');
      await old.record.set({});
      await Promise.all([old.removeAll(), other.device(user, 'NEW').record.set({})]);
      expect(await t.store.deviceIds(user)).toEqual(['NEW']);
      expect(await t.store.users()).toContain(user);
      await other.device(user, 'NEW').removeAll();
      expect(await t.store.users()).not.toContain(user);
    }
  });

  it('shares data between two stores opened on the same location', async () => {
    const other = await t.location.open();
    await t.store.device('frank', 'P').record.set({ n: 1 });
    expect(await other.device('frank', 'P').record.get()).toEqual({ n: 1 });
    expect(await other.users()).toEqual(['frank']);
  });
});

describe.each(storeKinds)('a %s store written before indexes were sets', (kind) => {
  // Layout 1 kept each index as one keyv record holding an array, written through keyv like any
  // record; opening the store moves the entries into sets once.
  it('lists the same users, devices, collections and records after opening', async () => {
    const namespace = `t${randomUUID().replaceAll('-', '')}`;
    const dataDir = await mkdtemp(path.join(tmpdir(), 'easd-state-'));
    const url = kind === 'redis' ? inject('stack').redis.url : undefined;
    const adapter =
      kind === 'redis'
        ? new KeyvRedis(url as string)
        : new KeyvSqlite({ uri: `sqlite://${path.join(dataDir, 'state.sqlite')}` });
    const old = new Keyv({
      store: adapter,
      useKeyPrefix: false,
      serialize: encodeValue,
      deserialize: decodeValue,
    });
    const put = (key: string, value: unknown): Promise<boolean> => old.set(`${namespace}:${key}`, value);
    await put('users', ['ann', 'bo']);
    await put('u/ann/devices', ['P1', 'P2']);
    await put('u/bo/devices', ['T%2F1']);
    await put('u/ann/d/P1/device', { deviceId: 'P1' });
    await put('u/ann/d/P1/collections', ['3', '9']);
    await put('u/ann/d/P1/data', ['devices', 'folder-ids']);
    // A record that happens to be named like an index is data, and stays.
    await put('u/ann/d/P1/x/devices', ['not', 'an', 'index']);
    await old.disconnect();
    const open = () => openStateStore({ url, dataDir, namespace });
    const [first, second] = await Promise.all([open(), open()]); // two nodes starting together
    try {
      for (const store of [first, second]) {
        expect(await store.users()).toEqual(['ann', 'bo']);
        expect(await store.deviceIds('ann')).toEqual(['P1', 'P2']);
        expect(await store.deviceIds('bo')).toEqual(['T%2F1']);
        const p1 = store.device('ann', 'P1');
        expect(await p1.collectionIds()).toEqual(['3', '9']);
        expect(await p1.dataNames()).toEqual(['devices', 'folder-ids']);
        expect(await p1.data('devices').get()).toEqual(['not', 'an', 'index']);
        expect(await p1.record.get()).toEqual({ deviceId: 'P1' });
      }
      await first.device('ann', 'P1').removeAll();
      await first.device('ann', 'P2').removeAll();
      expect(await second.users()).toEqual(['bo']);
    } finally {
      await Promise.all([first.close(), second.close()]);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('openStateStore', () => {
  it('refuses an unknown URL scheme and a bad namespace', async () => {
    await expect(openStateStore({ url: 'mysql://x', dataDir: '/tmp' })).rejects.toThrow(
      /sqlite:\/\/ or redis:\/\//,
    );
    await expect(
      openStateStore({ url: 'sqlite://:memory:', dataDir: '/tmp', namespace: 'a:b' }),
    ).rejects.toThrow(/namespace/);
  });

  it('defaults to <dataDir>/state.sqlite and keeps data across reopening', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'easd-state-'));
    try {
      const first = await openStateStore({ dataDir: path.join(dataDir, 'new') });
      await first.device('u', 'd').record.set({ kept: new Date(7) });
      await first.close();
      expect(existsSync(path.join(dataDir, 'new', 'state.sqlite'))).toBe(true);
      const second = await openStateStore({
        url: `sqlite://${path.join(dataDir, 'new', 'state.sqlite')}`,
        dataDir: '/x',
      });
      expect(await second.device('u', 'd').record.get()).toEqual({ kept: new Date(7) });
      expect(await second.users()).toEqual(['u']);
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('opens an in-memory SQLite store from sqlite://:memory:', async () => {
    const store = await openStateStore({ url: 'sqlite://:memory:', dataDir: '/nonexistent' });
    try {
      await store.device('u', 'd').record.set(1);
      expect(await store.device('u', 'd').record.get()).toBe(1);
    } finally {
      await store.close();
    }
  });
});
