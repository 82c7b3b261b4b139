// The push hub and the wait on it release everything a held request took, however the wait ends:
// after many listeners and device claims come and go, the hub's counts and the bus's
// subscriptions are back to zero (tens of thousands of Pings are held at once; a leak per
// request would grow without bound).
import { describe, expect, it } from 'vitest';
import type { Account, Backend } from '../../src/backend/contract.js';
import { localBus, type PushBus } from '../../src/push/bus.js';
import { PushHub } from '../../src/push/hub.js';
import { waitForChange, type WaitOutcome } from '../../src/push/wait.js';

/** A local bus that counts live subscriptions. */
function countingBus(): PushBus & { live(): number } {
  const bus = localBus();
  let live = 0;
  return {
    publish: (channel, message) => bus.publish(channel, message),
    async subscribe(channel, handler) {
      const unsubscribe = await bus.subscribe(channel, handler);
      live++;
      return async () => {
        live--;
        await unsubscribe();
      };
    },
    close: () => bus.close(),
    live: () => live,
  };
}

// A store that cannot watch, polled rarely: only notify() wakes listeners.
const blind = { watch: undefined } as unknown as Backend;
const account = { user: 'alice' } as Account;
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

function setup(): { hub: PushHub; bus: ReturnType<typeof countingBus> } {
  const bus = countingBus();
  return { bus, hub: new PushHub({ backend: blind, bus, coalesceMs: 1, pollMs: 600_000 }) };
}

/** Nothing left: no user entry, listener, claim, watcher or poller, no bus subscription. */
async function expectReleased(hub: PushHub, bus: ReturnType<typeof countingBus>): Promise<void> {
  await settle();
  expect(hub.stats()).toEqual({ users: 0, listeners: 0, claims: 0, watchers: 0, pollers: 0 });
  expect(bus.live()).toBe(0);
}

describe('push hub cleanup', () => {
  it('is back to zero after many listeners and claims come and go', async () => {
    const { hub, bus } = setup();
    for (let round = 0; round < 3; round++) {
      const unlisten = Array.from({ length: 200 }, (_, i) => hub.listen(account, [`f${i % 7}`], () => {}));
      const releases = await Promise.all(
        Array.from({ length: 200 }, (_, i) => hub.claim('alice', `DEV${i}`, () => {})),
      );
      expect(hub.stats()).toMatchObject({ users: 1, listeners: 200, claims: 200, pollers: 1 });
      unlisten.forEach((u) => u());
      releases.forEach((r) => r());
      releases.forEach((r) => r()); // releasing twice is harmless
      await expectReleased(hub, bus);
    }
    await hub.close();
  });

  it('releases listener, claim and timer whichever way a wait ends', async () => {
    const { hub, bus } = setup();
    const wait = (
      deviceId: string,
      signal: AbortSignal,
      check: () => Promise<string | undefined> = async () => undefined,
      timeoutMs = 60_000,
    ): Promise<WaitOutcome<string>> =>
      waitForChange({ hub, account, deviceId, folderIds: ['inbox'], check, timeoutMs, signal });

    // Heartbeat runs out.
    expect((await wait('A', new AbortController().signal, undefined, 30)).kind).toBe('timeout');
    // The request ends (client gone, shutdown).
    const gone = new AbortController();
    const aborted = wait('B', gone.signal);
    await settle();
    gone.abort();
    expect((await aborted).kind).toBe('aborted');
    // A newer request of the same device.
    const older = wait('C', new AbortController().signal);
    await settle();
    const newer = new AbortController();
    const second = wait('C', newer.signal);
    expect((await older).kind).toBe('superseded');
    newer.abort();
    expect((await second).kind).toBe('aborted');
    // A hint, and the look it starts finds something.
    let looks = 0;
    const changed = wait('D', new AbortController().signal, async () => {
      looks++;
      return looks > 1 ? 'found' : undefined;
    });
    await settle();
    await hub.notify('alice', { folderIds: ['inbox'] });
    const outcome = await changed;
    expect(outcome).toEqual({ kind: 'changed', value: 'found' });
    // An already aborted request waits for nothing.
    const pre = new AbortController();
    pre.abort();
    let looked = false;
    const check = async (): Promise<undefined> => {
      looked = true;
      return undefined;
    };
    expect(
      (
        await waitForChange({
          hub,
          account,
          deviceId: 'E',
          folderIds: [],
          check,
          timeoutMs: 10,
          signal: pre.signal,
        })
      ).kind,
    ).toBe('aborted');
    expect(looked).toBe(false);

    await expectReleased(hub, bus);
    await hub.close();
  });

  it('aborts a running look when the wait ends meanwhile', async () => {
    const { hub, bus } = setup();
    const ended = new AbortController();
    let seen: AbortSignal | undefined;
    const outcome = waitForChange({
      hub,
      account,
      deviceId: 'F',
      folderIds: ['inbox'],
      timeoutMs: 60_000,
      signal: ended.signal,
      check: (_hint, signal) => {
        seen = signal;
        return new Promise<undefined>(() => {}); // a look that never finishes by itself
      },
    });
    await settle();
    expect(seen?.aborted).toBe(false);
    ended.abort();
    expect((await outcome).kind).toBe('aborted');
    expect(seen?.aborted).toBe(true);
    await expectReleased(hub, bus);
    await hub.close();
  });
});
