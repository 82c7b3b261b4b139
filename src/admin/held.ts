// Which devices have a request held open now (Ping, Sync with Wait), for `easd devices list`
// and for metrics. The push hub says when a request is actually held (its device claim) and when
// a change woke it; server.ts says which command the device's request is and when it was
// answered. Each held request writes its device's "held" record when it is held, so the CLI sees
// every node's held requests through the shared state; nothing is written per hint. The "let go"
// write waits a few seconds and is dropped when the device holds again meanwhile — the usual Ping
// loop (answer, maybe a Sync, next Ping) costs one write per Ping, not two writes and two reads.
import { hostname } from 'node:os';
import type { EasdMetrics } from '../metrics/index.js';
import type { PushObserver } from '../push/hub.js';
import type { StateStore } from '../state/store.js';

/** The device's "held" record. */
export interface HeldRecord {
  command: string;
  since: Date;
  /** When the request was let go; absent while it is held. */
  ended?: Date;
  /** hostname/pid of the node holding it. */
  node: string;
  /** This hold among the node's; the release is written only over its own record. */
  id: number;
}

/** A record older than the longest heartbeat (MS-ASCMD 2.2.3.79.2: 3540 s) plus a margin is stale. */
export const heldRecordMaxAgeMs = 3660_000;

interface InFlight {
  command: string;
  token: number;
  began: number;
  held: boolean;
  /** When the first hint of the latest batch that woke this request arrived. */
  wokeAt?: number;
}

export interface HeldRequestsOptions {
  state?: StateStore;
  /** How long a "let go" write waits for the device's next hold (default 15 s). */
  releaseDelayMs?: number;
  metrics?: EasdMetrics;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export class HeldRequests {
  /** In-flight Ping/Sync requests by user (lower case), then device id. */
  private readonly inflight = new Map<string, Map<string, InFlight>>();
  private tokens = 0;
  private holds = 0;
  private readonly node = `${hostname()}/${process.pid}`;
  private readonly now: () => number;
  /** Deferred "let go" writes by user (lower case) + device id. */
  private readonly releases = new Map<string, { timer: NodeJS.Timeout; write: () => Promise<void> }>();
  private readonly writes = new Set<Promise<void>>();

  constructor(private readonly opts: HeldRequestsOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** server.ts: a Ping or Sync of this device starts; the token ends it. */
  begin(user: string, deviceId: string, command: string): number {
    const key = user.toLowerCase();
    let devices = this.inflight.get(key);
    if (devices === undefined) this.inflight.set(key, (devices = new Map()));
    const token = ++this.tokens;
    devices.set(deviceId, { command, token, began: this.now(), held: false });
    return token;
  }

  /**
   * server.ts: the request was answered (or failed). `changed` says the answer carries changes
   * (Ping Status 2, a non-empty Sync): then the wake latency is recorded.
   */
  end(user: string, deviceId: string, token: number, changed: boolean): void {
    const key = user.toLowerCase();
    const devices = this.inflight.get(key);
    const entry = devices?.get(deviceId);
    if (devices === undefined || entry === undefined || entry.token !== token) return;
    if (changed && entry.wokeAt !== undefined && entry.wokeAt >= entry.began)
      this.opts.metrics?.woke((this.now() - entry.wokeAt) / 1000);
    devices.delete(deviceId);
    if (devices.size === 0) this.inflight.delete(key);
  }

  /** The push hub's observer. */
  readonly observer: PushObserver = {
    held: (user, deviceId) => {
      const entry = this.inflight.get(user.toLowerCase())?.get(deviceId);
      if (entry !== undefined) entry.held = true;
      const command = entry?.command ?? 'unknown';
      const record: HeldRecord = { command, since: new Date(this.now()), node: this.node, id: ++this.holds };
      this.opts.metrics?.holdStarted(command);
      const key = `${user.toLowerCase()}\n${deviceId}`;
      const pending = this.releases.get(key);
      if (pending !== undefined) {
        clearTimeout(pending.timer);
        this.releases.delete(key);
      }
      this.track(this.write(user, deviceId, record));
      return () => {
        if (entry !== undefined) entry.held = false;
        this.opts.metrics?.holdEnded(command);
        const write = (): Promise<void> =>
          this.write(user, deviceId, { ...record, ended: new Date(this.now()) }, record);
        const timer = setTimeout(() => {
          this.releases.delete(key);
          this.track(write());
        }, this.opts.releaseDelayMs ?? 15_000);
        timer.unref();
        this.releases.set(key, { timer, write });
      };
    },
    woke: (user, since) => {
      const devices = this.inflight.get(user.toLowerCase());
      if (devices === undefined) return;
      for (const entry of devices.values()) if (entry.held) entry.wokeAt = since;
    },
  };

  /** Writes the deferred "let go" records now and waits for every write (shutdown, tests). */
  async flush(): Promise<void> {
    for (const { timer, write } of this.releases.values()) {
      clearTimeout(timer);
      this.track(write());
    }
    this.releases.clear();
    await Promise.all([...this.writes]);
  }

  private track(write: Promise<void>): void {
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  /**
   * Not locked: the record is advisory. A release is written only while the record is still its
   * own: the device's newer request (maybe on another node) wrote its hold first. Never rejects.
   */
  private async write(user: string, deviceId: string, record: HeldRecord, over?: HeldRecord): Promise<void> {
    const state = this.opts.state;
    if (state === undefined) return;
    try {
      const slot = state.device(user, deviceId).data('held');
      if (over !== undefined) {
        const current = await slot.get<HeldRecord>();
        if (current?.node !== over.node || current.id !== over.id) return;
      }
      await slot.set(record);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }
}

/** "Ping held since 09:01Z (node)" / "-" for the `devices` commands. */
export function heldText(r: HeldRecord | undefined, now = Date.now()): string {
  if (r === undefined || r.ended !== undefined || now - r.since.getTime() > heldRecordMaxAgeMs) return '-';
  return `${r.command} since ${r.since.toISOString().slice(11, 16)}Z`;
}
