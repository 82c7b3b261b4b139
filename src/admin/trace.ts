// The debug trace switched at run time: `easd trace on alice[/DEVICE]` writes the pattern into
// the state store's "trace" record; every node re-reads that one record every few seconds on a
// timer, so no request waits for it (nor sees a stale answer because it came first) and a switch
// reaches every node sharing the store without a restart. Patterns from EASD_TRACE_DEVICES are always on.
import { traceMatcher } from '../http/trace.js';
import type { StateStore } from '../state/store.js';

export interface TraceRecord {
  /** "user/deviceId", "user" (all of the user's devices) or "*" patterns. */
  patterns: string[];
  changedAt: Date;
}

/** How often a node re-reads the trace record. */
export const traceRefreshMs = 5000;

export class TraceSwitch {
  private match: (user: string, deviceId: string) => boolean;
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;

  constructor(
    private readonly state: StateStore,
    private readonly fixed: string[],
    private readonly onError: (err: unknown) => void = () => {},
    private readonly refreshMs = traceRefreshMs,
  ) {
    this.match = traceMatcher(fixed);
  }

  /** Reads the record now (at start, and in tests). */
  async refresh(): Promise<void> {
    const record = await this.state.global('trace').get<TraceRecord>();
    this.match = traceMatcher([...this.fixed, ...(record?.patterns ?? [])]);
  }

  /** Re-reads every `refreshMs` until stop(); the timer never keeps the process alive. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (this.refreshing) return;
      this.refreshing = true;
      this.refresh()
        .catch(this.onError)
        .finally(() => (this.refreshing = false));
    }, this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Synchronous and cheap: a match against the patterns last read. */
  traced(user: string, deviceId: string): boolean {
    return this.match(user, deviceId);
  }
}

/** Why a pattern is unusable, or undefined: patterns are user, user/device or "*". */
export function checkTracePattern(p: string): string | undefined {
  if (p === '' || p.includes(',') || /\s/.test(p)) return 'a trace pattern is user, user/device or *';
  const slash = p.indexOf('/');
  if (slash === 0 || slash === p.length - 1) return 'a trace pattern is user, user/device or *';
  return undefined;
}

/** Adds or removes a pattern under the store's lock; returns the patterns now in force. */
export async function switchTrace(
  state: StateStore,
  change: { on: string } | { off: string } | { off: '--all' },
): Promise<string[]> {
  return state.lock(['trace'], async () => {
    const slot = state.global('trace');
    const patterns = (await slot.get<TraceRecord>())?.patterns ?? [];
    let next: string[];
    if ('on' in change) next = patterns.includes(change.on) ? patterns : [...patterns, change.on];
    else if (change.off === '--all') next = [];
    else next = patterns.filter((p) => p !== change.off);
    if (next.length === 0) await slot.delete();
    else await slot.set({ patterns: next, changedAt: new Date() } satisfies TraceRecord);
    return next;
  });
}

export async function tracePatterns(state: StateStore): Promise<string[]> {
  return (await state.global('trace').get<TraceRecord>())?.patterns ?? [];
}
