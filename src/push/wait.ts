// Holding a request until something changes (Ping, Sync with Wait/HeartbeatInterval): listen
// first, then look once (so a change between the two is never missed), then look again on each
// hint, until a look finds changes, the heartbeat runs out, the device sends a newer request,
// or the request ends (client gone, shutdown). Everything is released on the way out.
import type { Account } from '../backend/contract.js';
import type { PushHint, PushHub } from './hub.js';

export type WaitOutcome<T> =
  { kind: 'changed'; value: T } | { kind: 'timeout' } | { kind: 'superseded' } | { kind: 'aborted' };

export interface WaitOptions<T> {
  hub: PushHub;
  account: Account;
  deviceId: string;
  /** Backend folder ids to listen on; kept (not copied) while the wait lasts. */
  folderIds: readonly string[];
  /** Looks for changes; `hint` is undefined for the first look. Undefined result: nothing yet. */
  check: (hint: PushHint | undefined, signal: AbortSignal) => Promise<T | undefined>;
  timeoutMs: number;
  signal: AbortSignal;
  /** Called when a look fails; the wait goes on (the next hint or the heartbeat ends it). */
  onError?: (err: unknown) => void;
}

export function waitForChange<T>(opts: WaitOptions<T>): Promise<WaitOutcome<T>> {
  // What a held request keeps while it waits is kept small on purpose (thousands wait at once):
  // the hub listener, the device claim and the heartbeat timer are released by hand in finish(),
  // and an AbortController exists only while a look runs, rather than one per wait for its whole
  // life (an AbortSignal and its listeners cost about 1 KiB).
  const { hub, account, deviceId, folderIds, check, timeoutMs, signal, onError } = opts;
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ kind: 'aborted' });
    let done = false;
    // Hints only arrive later (never during listen()), so `look` below is defined by then.
    const unlisten = hub.listen(account, folderIds, (hint) => void look(hint));
    let unclaim: (() => void) | undefined;
    let lookSignal: AbortController | undefined; // set while a look runs; aborted if the wait ends
    const finish = (outcome: WaitOutcome<T>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      unlisten();
      unclaim?.();
      lookSignal?.abort();
      resolve(outcome);
    };
    const onAbort = (): void => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });

    // Looks run one at a time; hints arriving meanwhile are merged into the next look.
    let queued: PushHint | null = null;
    const look = async (hint: PushHint | undefined): Promise<void> => {
      if (lookSignal !== undefined) {
        queued = queued === null ? (hint ?? {}) : mergeHints(queued, hint ?? {});
        return;
      }
      const controller = new AbortController();
      lookSignal = controller;
      try {
        let next: PushHint | undefined = hint;
        while (!done) {
          const found = await check(next, controller.signal);
          if (found !== undefined) return finish({ kind: 'changed', value: found });
          if (queued === null) break;
          next = queued;
          queued = null;
        }
      } catch (err) {
        if (!done) onError?.(err);
      } finally {
        lookSignal = undefined;
      }
    };

    hub
      .claim(account.user, deviceId, () => finish({ kind: 'superseded' }))
      .then(
        (release) => {
          // The wait may have ended while the claim was being announced.
          if (done) release();
          else unclaim = release;
          void look(undefined);
        },
        (err: unknown) => {
          onError?.(err);
          void look(undefined);
        },
      );
  });
}

function mergeHints(a: PushHint, b: PushHint): PushHint {
  const merged: PushHint = {};
  if (a.hierarchy === true || b.hierarchy === true) merged.hierarchy = true;
  if (a.folderIds !== undefined && b.folderIds !== undefined)
    merged.folderIds = [...new Set([...a.folderIds, ...b.folderIds])];
  return merged;
}
