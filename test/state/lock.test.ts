// Serialization of concurrent requests: in-process queue, and the lock shared between processes.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockLostError, LockTimeoutError, Locks, type LockBackend } from '../../src/state/lock.js';
import type { StateStore } from '../../src/state/store.js';
import { storeKinds, testStoreLocation, type TestStoreLocation } from './stores.js';

/** Runs `n` concurrent holders of `key` and records each one's [start, end] section. */
async function overlapProbe(
  run: (i: number, fn: () => Promise<void>) => Promise<void>,
  n: number,
  holdMs: number,
): Promise<number> {
  let inside = 0;
  let maxInside = 0;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      run(i, async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await sleep(holdMs);
        inside--;
      }),
    ),
  );
  return maxInside;
}

describe('Locks in process', () => {
  it('runs holders of one key one at a time, in arrival order', async () => {
    const locks = new Locks();
    const order: number[] = [];
    const max = await overlapProbe(
      (i, fn) =>
        locks.withLock('k', async () => {
          order.push(i);
          await fn();
        }),
      5,
      5,
    );
    expect(max).toBe(1);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(locks.activeKeys).toBe(0);
  });

  it('runs different keys in parallel', async () => {
    const locks = new Locks();
    const max = await overlapProbe((i, fn) => locks.withLock(`k${i}`, fn), 4, 30);
    expect(max).toBe(4);
  });

  it('passes the lock on when a holder throws', async () => {
    const locks = new Locks();
    const failing = locks.withLock('k', async () => {
      throw new Error('boom');
    });
    const next = locks.withLock('k', async () => 'ran');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
  });

  it('lets a waiter leave on abort without disturbing the queue', async () => {
    const locks = new Locks();
    let release!: () => void;
    const holder = locks.withLock('k', () => new Promise<void>((r) => (release = r)));
    const controller = new AbortController();
    const aborted = locks.withLock('k', async () => 'never', { signal: controller.signal });
    const third = locks.withLock('k', async () => 'third');
    controller.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    release();
    await holder;
    await expect(third).resolves.toBe('third');
    expect(locks.activeKeys).toBe(0);
  });

  it('refuses at once when the signal is already aborted', async () => {
    const locks = new Locks();
    await expect(
      locks.withLock('k', async () => 1, { signal: AbortSignal.abort(new Error('gone')) }),
    ).rejects.toThrow('gone');
  });

  it('gives up after waitMs with LockTimeoutError', async () => {
    const locks = new Locks();
    let release!: () => void;
    const holder = locks.withLock('k', () => new Promise<void>((r) => (release = r)));
    await expect(locks.withLock('k', async () => 1, { waitMs: 20 })).rejects.toThrow(LockTimeoutError);
    release();
    await holder;
  });

  it("aborts the holder's signal when the shared lock is lost", async () => {
    const backend: LockBackend = {
      acquire: async () => true,
      renew: async () => false,
      release: async () => {},
    };
    const locks = new Locks(backend);
    const reason = await locks.withLock(
      'k',
      (signal) =>
        new Promise<unknown>((resolve) => {
          signal.addEventListener('abort', () => resolve(signal.reason));
        }),
      { ttlMs: 30 },
    );
    expect(reason).toBeInstanceOf(LockLostError);
  });
});

describe.each(storeKinds)('shared lock on %s', (kind) => {
  let location: TestStoreLocation;
  let nodeA: StateStore;
  let nodeB: StateStore;

  beforeEach(async () => {
    location = await testStoreLocation(kind);
    nodeA = await location.open();
    nodeB = await location.open();
  });
  afterEach(async () => {
    await location.dispose();
  });

  it('never lets two stores (two easd nodes) hold one key together', async () => {
    const max = await overlapProbe(
      (i, fn) => (i % 2 === 0 ? nodeA : nodeB).lock(['dev', 'alice', 'D1', '5'], fn),
      6,
      15,
    );
    expect(max).toBe(1);
  });

  it('runs different keys of two stores in parallel', async () => {
    const max = await overlapProbe(
      (i, fn) => (i % 2 === 0 ? nodeA : nodeB).lock(['dev', 'alice', 'D1', `c${i}`], fn),
      4,
      40,
    );
    expect(max).toBe(4);
  });

  it("keeps a device's collection lock apart from another device's", async () => {
    const max = await overlapProbe((i, fn) => nodeA.device('alice', `D${i}`).lock('5', fn), 3, 40);
    expect(max).toBe(3);
  });

  it('renews a lock held longer than its ttl, so the other node keeps waiting', async () => {
    let bInside = false;
    let aDone = false;
    const a = nodeA.lock(
      ['long'],
      async () => {
        await sleep(250);
        aDone = true;
      },
      { ttlMs: 60 },
    );
    await sleep(20);
    const b = nodeB.lock(['long'], async () => {
      bInside = true;
      expect(aDone).toBe(true);
    });
    await Promise.all([a, b]);
    expect(bInside).toBe(true);
  });

  it('takes over a lock whose holder died (expired ttl)', async () => {
    // A holder that never releases: acquire directly through a lock with a short ttl, then make
    // its release and renewal impossible by closing its store while it holds the lock.
    const dying = await location.open();
    let started!: () => void;
    const holding = new Promise<void>((r) => (started = r));
    void dying
      .lock(
        ['orphan'],
        () => {
          started();
          return new Promise(() => {});
        },
        { ttlMs: 100 },
      )
      .catch(() => {});
    await holding;
    await dying.close();
    const t0 = Date.now();
    await nodeA.lock(['orphan'], async () => {}, { waitMs: 5000 });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('times out waiting for a lock held by the other node', async () => {
    let release!: () => void;
    const holder = nodeA.lock(['busy'], () => new Promise<void>((r) => (release = r)));
    await sleep(10);
    await expect(nodeB.lock(['busy'], async () => 1, { waitMs: 80 })).rejects.toThrow(LockTimeoutError);
    release();
    await holder;
  });

  it('stops waiting for the other node when the signal fires', async () => {
    let release!: () => void;
    const holder = nodeA.lock(['busy2'], () => new Promise<void>((r) => (release = r)));
    await sleep(10);
    const controller = new AbortController();
    const waiting = nodeB.lock(['busy2'], async () => 1, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutdown')), 40);
    await expect(waiting).rejects.toThrow('shutdown');
    release();
    await holder;
  });
});
