// What the push hub remembers of a look that found nothing (a quiet folder), so a device's next
// Ping need not read the store again: it holds only while the store's watch runs without a gap and
// no hint has named the folder since that look began, and only at the sync key it was found at.
import { afterEach, describe, expect, it } from 'vitest';
import type { Account, Backend, ChangeHint } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import { localBus } from '../../src/push/bus.js';
import { PushHub } from '../../src/push/hub.js';

const account = { user: 'Alice' } as Account;
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

/** A store whose watch the test drives: `change` hints, `drop` ends the subscription with an error. */
function watchingStore(): { backend: Backend; change(hint: ChangeHint): void; drop(): void } {
  const subs = new Set<{ onChange(h: ChangeHint): void; fail(e: Error): void }>();
  const backend = {
    watch: (_a: Account, _ids: readonly string[], onChange: (h: ChangeHint) => void, signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        const sub = { onChange, fail: reject };
        subs.add(sub);
        signal.addEventListener('abort', () => {
          subs.delete(sub);
          resolve();
        });
      }),
  } as unknown as Backend;
  return {
    backend,
    change: (h) => subs.forEach((s) => s.onChange(h)),
    drop: () => subs.forEach((s) => s.fail(new BackendError('unavailable', 'gone'))),
  };
}

let hubs: PushHub[] = [];
afterEach(async () => {
  for (const h of hubs) await h.close();
  hubs = [];
});
function hubOn(backend: Backend, lingerMs = 0): PushHub {
  const hub = new PushHub({ backend, bus: localBus(), coalesceMs: 1, pollMs: 600_000, lingerMs });
  hubs.push(hub);
  return hub;
}

describe('quiet folders', () => {
  it('is quiet at the same sync key until a hint names the folder or no folder', async () => {
    const store = watchingStore();
    const hub = hubOn(store.backend);
    const stop = hub.listen(account, ['inbox', 'work'], () => {});
    const mark = hub.mark();
    hub.noteQuiet('alice', 'D1', '1', 'k-1', 'inbox', mark);
    hub.noteQuiet('alice', 'D1', '2', 'k-7', 'work', mark);
    expect(hub.isQuiet('ALICE', 'D1', '1', 'k-1')).toBe(true);
    // another key (the device synced), device or collection: nothing known
    expect(hub.isQuiet('alice', 'D1', '1', 'k-2')).toBe(false);
    expect(hub.isQuiet('alice', 'D2', '1', 'k-1')).toBe(false);
    expect(hub.isQuiet('alice', 'D1', '3', 'k-1')).toBe(false);

    store.change({ folderId: 'work' });
    expect(hub.isQuiet('alice', 'D1', '1', 'k-1')).toBe(true);
    expect(hub.isQuiet('alice', 'D1', '2', 'k-7')).toBe(false);

    store.change({}); // a reconnected watch asks for a look at everything
    expect(hub.isQuiet('alice', 'D1', '1', 'k-1')).toBe(false);
    stop();
  });

  it('does not take a look as quiet when a hint arrived while it ran', () => {
    const store = watchingStore();
    const hub = hubOn(store.backend);
    const stop = hub.listen(account, ['inbox'], () => {});
    const mark = hub.mark(); // the look begins …
    store.change({ folderId: 'inbox' }); // … news arrives while it reads the store …
    hub.noteQuiet('alice', 'D1', '1', 'k-1', 'inbox', mark); // … and it found nothing
    expect(hub.isQuiet('alice', 'D1', '1', 'k-1')).toBe(false);
    stop();
  });

  it('vouches for nothing while the hub polls (no watch, or the watch failed)', async () => {
    const blind = hubOn({ watch: undefined } as unknown as Backend);
    const stopBlind = blind.listen(account, ['inbox'], () => {});
    blind.noteQuiet('alice', 'D1', '1', 'k-1', 'inbox', blind.mark());
    expect(blind.isQuiet('alice', 'D1', '1', 'k-1')).toBe(false);
    stopBlind();

    const store = watchingStore();
    const hub = hubOn(store.backend);
    const stop = hub.listen(account, ['inbox'], () => {});
    hub.noteQuiet('alice', 'D1', '1', 'k-1', 'inbox', hub.mark());
    expect(hub.isQuiet('alice', 'D1', '1', 'k-1')).toBe(true);
    store.drop();
    await settle();
    expect(hub.stats()).toMatchObject({ watchers: 0, pollers: 1 });
    expect(hub.isQuiet('alice', 'D1', '1', 'k-1')).toBe(false);
    stop();
  });

  it('forgets with the user entry; a lingering entry keeps watching and remembering, then goes', async () => {
    const store = watchingStore();
    const hub = hubOn(store.backend);
    let stop = hub.listen(account, ['inbox'], () => {});
    hub.noteQuiet('alice', 'D1', '1', 'k-1', 'inbox', hub.mark());
    stop();
    expect(hub.stats()).toMatchObject({ users: 0, watchers: 0 });
    stop = hub.listen(account, ['inbox'], () => {});
    expect(hub.isQuiet('alice', 'D1', '1', 'k-1')).toBe(false);
    stop();

    const lingering = hubOn(store.backend, 50);
    stop = lingering.listen(account, ['inbox'], () => {});
    lingering.noteQuiet('alice', 'D1', '1', 'k-1', 'inbox', lingering.mark());
    stop();
    // between two Pings: the watch stays, a hint still counts
    expect(lingering.stats()).toMatchObject({ users: 1, listeners: 0, watchers: 1 });
    stop = lingering.listen(account, ['inbox'], () => {});
    expect(lingering.isQuiet('alice', 'D1', '1', 'k-1')).toBe(true);
    stop();
    store.change({ folderId: 'inbox' });
    stop = lingering.listen(account, ['inbox'], () => {});
    expect(lingering.isQuiet('alice', 'D1', '1', 'k-1')).toBe(false);
    stop();
    await new Promise((r) => setTimeout(r, 80));
    expect(lingering.stats()).toEqual({ users: 0, listeners: 0, claims: 0, watchers: 0, pollers: 0 });
  });

  it('vouches for nothing before a newly watched folder was watched', () => {
    const store = watchingStore();
    const hub = hubOn(store.backend);
    const a = hub.listen(account, ['inbox'], () => {});
    const mark = hub.mark();
    // a second device watches one more folder: the store's subscription starts again
    const b = hub.listen(account, ['inbox', 'work'], () => {});
    hub.noteQuiet('alice', 'D1', '1', 'k-1', 'inbox', mark);
    expect(hub.isQuiet('alice', 'D1', '1', 'k-1')).toBe(false);
    a();
    b();
  });

  it('never vouches for a folder the watch says it cannot see every change of', async () => {
    const store = watchingStore();
    const hub = hubOn(store.backend);
    let hints = 0;
    const stop = hub.listen(account, ['inbox', 'work'], () => hints++);
    // an IMAP server without CONDSTORE: flag changes outside INBOX reach no watcher
    store.change({ folderId: 'work', blind: true });
    const mark = hub.mark();
    hub.noteQuiet('alice', 'D1', '1', 'k-1', 'inbox', mark);
    hub.noteQuiet('alice', 'D1', '2', 'k-7', 'work', mark);
    expect(hub.isQuiet('alice', 'D1', '1', 'k-1')).toBe(true);
    expect(hub.isQuiet('alice', 'D1', '2', 'k-7')).toBe(false);
    // the notice is no change: nobody was asked to look, and it did not end INBOX's quiet
    await settle();
    expect(hints).toBe(0);
    // said after a look was noted quiet, it withdraws that too
    const other = hub.mark();
    hub.noteQuiet('alice', 'D2', '3', 'k-3', 'archive', other);
    expect(hub.isQuiet('alice', 'D2', '3', 'k-3')).toBe(true);
    store.change({ folderId: 'archive', blind: true });
    expect(hub.isQuiet('alice', 'D2', '3', 'k-3')).toBe(false);
    stop();
  });
});
