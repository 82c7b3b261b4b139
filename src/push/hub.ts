// The push hub (src/push): held requests (Ping, Sync with Wait) listen here for hints that one
// of their folders may have changed. Hints come from the backend's watch (one watcher per user,
// however many devices and requests), from changes made through easd (any node, over the bus),
// and from the mail server's webhook. Bursts are coalesced; everything a listener holds is freed
// when its request ends. It also enforces one held request per device (MS-ASCMD 2.2.1.13: a
// newer Ping or Sync from the device ends the older one).
//
// It also remembers, per device and collection, what a look found nothing new in (quiet folders,
// below): while the store's watch runs without a gap and no hint names the folder, the next
// Ping's first look at it needs no store round trip — and so, on IMAP, no login.
//
// Tens of thousands of requests wait here at once, so what each keeps is small: a listener is its
// folder ids and a callback, released by the function listen() returns (no AbortSignal of its
// own; wait.ts releases it when the wait ends, whatever ended it).
import { randomUUID } from 'node:crypto';
import type { Account, Backend, ChangeHint } from '../backend/contract.js';
import type { PushBus } from './bus.js';

/** Backend folder ids that may have changed; absent means "any: look at all of them". */
export interface PushHint {
  folderIds?: string[];
  hierarchy?: boolean;
}

export interface PushHubOptions {
  backend: Backend;
  bus: PushBus;
  /** Hints within this window are merged into one wake-up (a burst of new mail). */
  coalesceMs?: number;
  /** Pace of the fallback check when the backend cannot watch (or its watch failed). */
  pollMs?: number;
  /** A hint naming more folders than this becomes "look at all" (overflow). */
  maxFoldersPerHint?: number;
  onError?: (err: unknown) => void;
  /** Told when requests are held and woken (metrics, `easd devices list`). */
  observer?: PushObserver;
  /**
   * How long a user's entry — its store watch and its quiet folders — stays after the user's
   * last held request ended (default 0: it goes at once). A phone sends its next Ping right
   * after the last one ended (and a Sync): an entry still there lets that Ping's first look skip
   * the folders nothing happened in. Only while the store watches (not when the hub polls).
   */
  lingerMs?: number;
}

export interface PushObserver {
  /** A held request claimed its device; the returned function runs when it lets go. */
  held(user: string, deviceId: string): () => void;
  /** Listeners of `user` were woken by hints whose first one arrived at `since` (epoch ms). */
  woke(user: string, since: number): void;
}

interface Listener {
  /** An array, not a Set: a listener watches a few folders and a Set costs ~200 bytes more. */
  folderIds: readonly string[];
  onHint: (hint: PushHint) => void;
}

interface UserEntry {
  account: Account;
  listeners: Set<Listener>;
  watched: Set<string>;
  watch?: AbortController;
  poll?: NodeJS.Timeout;
  unsubscribe?: Promise<() => Promise<void>>;
  pending?: PushHint;
  pendingSince?: number;
  flush?: NodeJS.Timeout;
  /** Set while the entry stays on with no listener (lingerMs). */
  linger?: NodeJS.Timeout;
  /**
   * Number (in the hub's hint order) of the last hint that named no folder, or of the (re)start
   * of the store's watch: nothing seen before it counts as quiet any more.
   */
  anyAt: number;
  /** Backend folder id → number of the last hint naming it. Made on the first such hint. */
  hinted?: Map<string, number>;
  /** `deviceId \n collectionId` → what a look found nothing new in. Made on the first. */
  quiet?: Map<string, Quiet>;
  /** Backend folder ids the store's watch cannot vouch for (`ChangeHint.blind`): never quiet. */
  blind?: Set<string>;
}

/** A look found nothing new for the device's collection at this sync key. */
interface Quiet {
  syncKey: string;
  folderId: string;
  /** The hint number when that look began: a hint after it may be news the look did not see. */
  at: number;
}

const userChannel = (user: string): string => `u:${encodeURIComponent(user.toLowerCase())}`;
const deviceChannel = (user: string, deviceId: string): string =>
  `d:${encodeURIComponent(user.toLowerCase())}/${encodeURIComponent(deviceId)}`;

export class PushHub {
  private readonly users = new Map<string, UserEntry>();
  private readonly coalesceMs: number;
  private readonly pollMs: number;
  private readonly maxFolders: number;
  private claims = 0;
  private closed = false;
  /** Hint order: every hint received (and every watch start) takes the next number. */
  private seq = 0;
  /** Claim tokens are this hub's id and a count, unique across nodes. (A randomUUID() per claim
   * is kept as a tree of ~12 string pieces, ~400 bytes per held request.) */
  private readonly tokenPrefix = `${randomUUID()}:`;
  private tokens = 0;

  constructor(private readonly opts: PushHubOptions) {
    this.coalesceMs = opts.coalesceMs ?? 25;
    this.pollMs = opts.pollMs ?? 30_000;
    this.maxFolders = opts.maxFoldersPerHint ?? 64;
  }

  /** How many users, listeners and device claims are held now (metrics, tests of cleanup). */
  stats(): { users: number; listeners: number; claims: number; watchers: number; pollers: number } {
    let listeners = 0;
    let watchers = 0;
    let pollers = 0;
    for (const u of this.users.values()) {
      listeners += u.listeners.size;
      if (u.watch !== undefined) watchers++;
      if (u.poll !== undefined) pollers++;
    }
    return { users: this.users.size, listeners, claims: this.claims, watchers, pollers };
  }

  /**
   * Calls `onHint` for hints about `folderIds` (backend ids) until the returned function is
   * called; that releases everything taken for it. Hints may be spurious: the listener looks for
   * itself.
   */
  listen(account: Account, folderIds: readonly string[], onHint: (hint: PushHint) => void): () => void {
    if (this.closed) return () => {};
    const key = account.user.toLowerCase();
    let entry = this.users.get(key);
    if (entry !== undefined && entry.linger !== undefined) {
      clearTimeout(entry.linger);
      entry.linger = undefined;
    }
    if (entry === undefined) {
      entry = { account, listeners: new Set(), watched: new Set(), anyAt: ++this.seq };
      this.users.set(key, entry);
      const e = entry;
      entry.unsubscribe = this.opts.bus.subscribe(userChannel(account.user), (message) =>
        this.receive(e, message),
      );
      entry.unsubscribe.catch((err: unknown) => this.opts.onError?.(err));
    }
    // Kept as given, not copied (one array less per held request): callers do not change it.
    const listener: Listener = { folderIds, onHint };
    entry.listeners.add(listener);
    if (folderIds.some((id) => !entry.watched.has(id))) {
      for (const id of folderIds) entry.watched.add(id);
      this.startWatch(entry);
    }
    const e = entry;
    return () => this.leave(key, e, listener);
  }

  /** Where the hint order stands: taken before a look reads the store, for `noteQuiet`. */
  mark(): number {
    return this.seq;
  }

  /**
   * A look that began at `mark` found nothing new in the device's collection (backend folder
   * `folderId`) at `syncKey`. Kept while the user's entry lasts, and only while the store
   * watches: without a watch, silence says nothing.
   */
  noteQuiet(
    user: string,
    deviceId: string,
    collectionId: string,
    syncKey: string,
    folderId: string,
    mark: number,
  ): void {
    const entry = this.users.get(user.toLowerCase());
    if (entry?.watch === undefined || mark < entry.anyAt || entry.blind?.has(folderId) === true) return;
    (entry.quiet ??= new Map()).set(`${deviceId}\n${collectionId}`, { syncKey, folderId, at: mark });
  }

  /**
   * Whether the device's collection, at `syncKey`, is known to have nothing new: a look found
   * nothing at that key, the store's watch has run since without a gap (a reconnect is a hint
   * naming no folder), and no hint has named the folder since that look began. The contract
   * promises a watch misses no change, so the answer is the look's, without the store.
   */
  isQuiet(user: string, deviceId: string, collectionId: string, syncKey: string): boolean {
    const entry = this.users.get(user.toLowerCase());
    const q = entry?.quiet?.get(`${deviceId}\n${collectionId}`);
    if (entry?.watch === undefined || q === undefined || q.syncKey !== syncKey) return false;
    if (entry.blind?.has(q.folderId) === true) return false;
    return q.at >= entry.anyAt && (entry.hinted?.get(q.folderId) ?? 0) <= q.at;
  }

  /** A change made through easd (or reported by the mail server): wakes listeners on every node. */
  async notify(user: string, hint: PushHint): Promise<void> {
    await this.opts.bus.publish(userChannel(user), JSON.stringify(hint));
  }

  /**
   * Marks this request as the device's held request. When a newer one claims the same device (on
   * any node), `onSuperseded` runs once. Resolves, once the claim is announced, to the function
   * that releases it; if the claim fails, nothing stays held.
   */
  async claim(user: string, deviceId: string, onSuperseded: () => void): Promise<() => void> {
    const token = this.tokenPrefix + String(++this.tokens);
    const channel = deviceChannel(user, deviceId);
    let superseded: (() => void) | undefined = onSuperseded; // cleared once it has run
    const unsubscribe = await this.opts.bus.subscribe(channel, (message) => {
      if (message === token || superseded === undefined) return;
      const run = superseded;
      superseded = undefined;
      run();
    });
    this.claims++;
    const observed = this.opts.observer?.held(user, deviceId);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      superseded = undefined;
      this.claims--;
      observed?.();
      unsubscribe().catch((err: unknown) => this.opts.onError?.(err));
    };
    try {
      await this.opts.bus.publish(channel, token);
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [key, entry] of this.users) this.stopUser(key, entry);
  }

  private receive(entry: UserEntry, message: string): void {
    let hint: PushHint;
    try {
      hint = JSON.parse(message) as PushHint;
    } catch {
      return;
    }
    this.queue(entry, hint);
  }

  /** Merges hints that arrive close together, then delivers them once. */
  private queue(entry: UserEntry, hint: PushHint): void {
    const n = ++this.seq;
    if (hint.folderIds === undefined) entry.anyAt = n;
    else for (const id of hint.folderIds) (entry.hinted ??= new Map()).set(id, n);
    const p = entry.pending;
    if (p === undefined) entry.pendingSince = Date.now();
    if (p === undefined)
      entry.pending = { ...hint, ...(hint.folderIds ? { folderIds: [...hint.folderIds] } : {}) };
    else {
      p.hierarchy = p.hierarchy === true || hint.hierarchy === true;
      if (p.folderIds === undefined || hint.folderIds === undefined) delete p.folderIds;
      else for (const id of hint.folderIds) if (!p.folderIds.includes(id)) p.folderIds.push(id);
      if (p.folderIds !== undefined && p.folderIds.length > this.maxFolders) delete p.folderIds;
    }
    if (entry.flush !== undefined) return;
    entry.flush = setTimeout(() => {
      entry.flush = undefined;
      const merged = entry.pending;
      entry.pending = undefined;
      if (merged === undefined) return;
      let woken = false;
      for (const l of [...entry.listeners]) {
        const wanted =
          merged.folderIds === undefined ||
          merged.hierarchy === true ||
          merged.folderIds.some((id) => l.folderIds.includes(id));
        if (wanted) l.onHint(merged);
        woken ||= wanted;
      }
      if (woken) this.opts.observer?.woke(entry.account.user, entry.pendingSince ?? Date.now());
    }, this.coalesceMs);
  }

  private startWatch(entry: UserEntry): void {
    entry.watch?.abort();
    entry.watch = undefined;
    // a new subscription (more folders): what happened before it is not vouched for
    entry.anyAt = ++this.seq;
    const backend = this.opts.backend;
    if (backend.watch === undefined) {
      this.startPolling(entry);
      return;
    }
    const controller = new AbortController();
    entry.watch = controller;
    const onChange = (h: ChangeHint): void => {
      // the watch says it cannot see every change of this folder: its silence is no evidence
      if (h.blind === true) {
        if (h.folderId !== undefined) (entry.blind ??= new Set()).add(h.folderId);
        return;
      }
      const hint: PushHint = {};
      if (h.folderId !== undefined) hint.folderIds = [h.folderId];
      if (h.hierarchy === true) hint.hierarchy = true;
      this.queue(entry, hint);
    };
    backend.watch(entry.account, [...entry.watched], onChange, controller.signal).then(
      () => {},
      (err: unknown) => {
        if (controller.signal.aborted) return;
        // The store dropped the subscription: keep the device informed by checking at a pace.
        // Whatever the watch still runs (the router's DAV polls beside a failed IMAP watch) ends.
        controller.abort();
        this.opts.onError?.(err);
        if (entry.watch === controller) entry.watch = undefined;
        entry.anyAt = ++this.seq;
        this.startPolling(entry);
      },
    );
  }

  private startPolling(entry: UserEntry): void {
    if (entry.poll !== undefined) return;
    entry.poll = setInterval(() => this.queue(entry, {}), this.pollMs);
  }

  private leave(key: string, entry: UserEntry, listener: Listener): void {
    entry.listeners.delete(listener);
    if (entry.listeners.size > 0 || this.users.get(key) !== entry || entry.linger !== undefined) return;
    const lingerMs = this.opts.lingerMs ?? 0;
    if (lingerMs <= 0 || entry.watch === undefined) return this.stopUser(key, entry);
    entry.linger = setTimeout(() => {
      entry.linger = undefined;
      if (entry.listeners.size === 0 && this.users.get(key) === entry) this.stopUser(key, entry);
    }, lingerMs);
    // a lingering entry alone does not keep the process alive; close() ends it
    entry.linger.unref();
  }

  private stopUser(key: string, entry: UserEntry): void {
    this.users.delete(key);
    if (entry.linger !== undefined) clearTimeout(entry.linger);
    entry.linger = undefined;
    entry.quiet = undefined;
    entry.hinted = undefined;
    entry.blind = undefined;
    entry.watch?.abort();
    entry.watch = undefined;
    if (entry.poll !== undefined) clearInterval(entry.poll);
    entry.poll = undefined;
    if (entry.flush !== undefined) clearTimeout(entry.flush);
    entry.flush = undefined;
    entry.listeners.clear();
    entry.unsubscribe?.then((u) => u()).catch((err: unknown) => this.opts.onError?.(err));
  }
}
