// Opens a state store of either kind for a test: SQLite in a fresh temporary directory, or the
// test stack's Redis under a namespace of its own, so tests never see each other's keys.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, inject } from 'vitest';
import { openStateStore, type StateStore } from '../../src/state/store.js';

export const storeKinds = ['sqlite', 'redis'] as const;
export type StoreKind = (typeof storeKinds)[number];

/** Where a test's store lives; open it twice to get two "nodes" on the same data. */
export interface TestStoreLocation {
  kind: StoreKind;
  open(): Promise<StateStore>;
  /** Closes every store opened here and removes the SQLite directory. */
  dispose(): Promise<void>;
}

export async function testStoreLocation(kind: StoreKind): Promise<TestStoreLocation> {
  const opened: StateStore[] = [];
  const namespace = `t${randomUUID().replaceAll('-', '')}`;
  const dataDir = kind === 'sqlite' ? await mkdtemp(path.join(tmpdir(), 'easd-state-')) : '/nonexistent';
  const url = kind === 'redis' ? inject('stack').redis.url : undefined;
  return {
    kind,
    async open() {
      const store = await openStateStore({ url, dataDir, namespace });
      opened.push(store);
      return store;
    },
    async dispose() {
      await Promise.all(opened.map((s) => s.close()));
      if (kind === 'sqlite') await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Registers beforeEach/afterEach that open a fresh store of `kind` for every test; read
 * `ctx.store` and `ctx.location` inside the tests.
 */
export function useTestStore(kind: StoreKind): {
  readonly store: StateStore;
  readonly location: TestStoreLocation;
} {
  const ctx: { store?: StateStore; location?: TestStoreLocation } = {};
  beforeEach(async () => {
    ctx.location = await testStoreLocation(kind);
    ctx.store = await ctx.location.open();
  });
  afterEach(async () => {
    await ctx.location?.dispose();
  });
  return {
    get store(): StateStore {
      if (ctx.store === undefined) throw new Error('store used outside a test');
      return ctx.store;
    },
    get location(): TestStoreLocation {
      if (ctx.location === undefined) throw new Error('store used outside a test');
      return ctx.location;
    },
  };
}
