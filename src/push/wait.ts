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
  /** Backend folder ids to listen on. */
  folderIds: readonly string[];
  /** Looks for changes; `hint` is undefined for the first look. Undefined result: nothing yet. */
  check: (hint: PushHint | undefined, signal: AbortSignal) => Promise<T | undefined>;
  timeoutMs: number;
  signal: AbortSignal;
  /** Called when a look fails; the wait goes on (the next hint or the heartbeat ends it). */
  onError?: (err: unknown) => void;
}

export function waitForChange<T>(opts: WaitOptions<T>): Promise<WaitOutcome<T>> {
  return new Promise((resolve) => {
    const held = new AbortController();
    let done = false;
    const finish = (outcome: WaitOutcome<T>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      held.abort();
      resolve(outcome);
    };
    const onAbort = (): void => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), opts.timeoutMs);
    if (opts.signal.aborted) return finish({ kind: 'aborted' });
    opts.signal.addEventListener('abort', onAbort, { once: true });

    // Looks run one at a time; hints arriving meanwhile are merged into the next look.
    let looking = false;
    let queued: PushHint | null = null;
    const look = async (hint: PushHint | undefined): Promise<void> => {
      if (looking) {
        queued = queued === null ? (hint ?? {}) : mergeHints(queued, hint ?? {});
        return;
      }
      looking = true;
      try {
        let next: PushHint | undefined = hint;
        while (!done) {
          const found = await opts.check(next, held.signal);
          if (found !== undefined) return finish({ kind: 'changed', value: found });
          if (queued === null) break;
          next = queued;
          queued = null;
        }
      } catch (err) {
        if (!done) opts.onError?.(err);
      } finally {
        looking = false;
      }
    };

    opts.hub.listen(opts.account, opts.folderIds, (hint) => void look(hint), held.signal);
    opts.hub
      .claim(opts.account.user, opts.deviceId, () => finish({ kind: 'superseded' }), held.signal)
      .then(() => look(undefined))
      .catch((err: unknown) => {
        opts.onError?.(err);
        void look(undefined);
      });
  });
}

function mergeHints(a: PushHint, b: PushHint): PushHint {
  const merged: PushHint = {};
  if (a.hierarchy === true || b.hierarchy === true) merged.hierarchy = true;
  if (a.folderIds !== undefined && b.folderIds !== undefined)
    merged.folderIds = [...new Set([...a.folderIds, ...b.folderIds])];
  return merged;
}
