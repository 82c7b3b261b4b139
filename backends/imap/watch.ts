// Push hints for one user, shared by every device and every concurrent `watch` call of that user:
// one dedicated connection, never more, whatever the number of devices and folders.
//
// Where the server offers NOTIFY (RFC 5465), that connection EXAMINEs INBOX, asks for events of
// every personal mailbox (notify.ts) and IDLEs (RFC 2177): INBOX news arrives as EXISTS/EXPUNGE/
// FETCH, other mailboxes' as STATUS, new, deleted and renamed mailboxes as LIST. Nothing is polled.
// Otherwise it IDLEs on INBOX and, every `pollMs`, leaves IDLE to check the other watched folders
// with STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ) and the folder list with LIST. Either
// way the watcher runs every command on its own connection (the folder list it reads refreshes
// the backend's cache) and logs in again only when the connection is lost. Changes made through
// this backend are hinted at once.
//
// The watcher starts with the first subscriber and stops — connection logged out, timer cleared
// — when the last one leaves (or `lingerMs` later, if no new one came). What it saw per mailbox is kept (in `seen`, owned by the user's
// entry), so a watcher started again for the next Ping hints at what changed in between.
import type { ImapFlow } from 'imapflow';
import type { ChangeHint } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import { mailboxesFrom, type MailboxInfo } from './folders.js';
import { notifySet, offersNotify, type NotifiedStatus } from './notify.js';
import type { ImapLogger } from './options.js';
import { logoutWithin } from './pool.js';

export interface WatcherDeps {
  /** A new logged-in connection, not from the pool. */
  connect(): Promise<ImapFlow>;
  /** The folder list the watcher read (LIST-STATUS): the backend keeps it as its folder cache. */
  folders(boxes: MailboxInfo[]): void;
  /** mailbox path → state signature, kept across watchers of the user. */
  seen: Map<string, string>;
  pollMs: number;
  /**
   * How long the connection stays after the last subscriber left (default 0: it goes at once). A
   * phone sends its next Ping right after it synced what the last one reported; a watcher still
   * there spares that Ping a login.
   */
  lingerMs?: number;
  /** Use NOTIFY where the server offers it (default true); false keeps IDLE + STATUS polls. */
  notify?: boolean;
  /**
   * Failed reconnects in a row logged as warnings (default 3); later ones of the same outage at
   * debug level, so a long outage does not flood the log.
   */
  connectAttempts?: number;
  /** First delay before reconnecting after the connection was lost (default 1 s); doubles per failure. */
  backoffMs?: number;
  /** Longest delay between reconnects (default 30 s). */
  reconnectMaxMs?: number;
  logger?: ImapLogger;
  onStop(): void;
}

interface Subscriber {
  folderIds: ReadonlySet<string>;
  onChange(hint: ChangeHint): void;
  fail(e: BackendError): void;
}

const HIERARCHY = '\u0000hierarchy';

/** How the current connection learns of changes: NOTIFY, or IDLE on INBOX + STATUS polls. */
export type WatchMode = 'notify' | 'idle';

export class UserWatcher {
  private readonly subs = new Set<Subscriber>();
  private client: ImapFlow | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private linger: NodeJS.Timeout | undefined;
  private readonly stopController = new AbortController();
  private boxes: MailboxInfo[] = [];
  /** A NOTIFY LIST arrived: the folder list is read again before the next IDLE. */
  private listChanged = false;
  /**
   * Set once the session's baseline is taken and every subscriber asked to look: a watched folder
   * STATUS sees for the first time after that (it joined the watch) is hinted at, since what
   * changed before that STATUS is in no baseline.
   */
  private baselined = false;
  /**
   * Whether the session's connection has CONDSTORE (undefined before it is known). Without it,
   * neither STATUS nor NOTIFY reports a flag change outside INBOX: such folders are not vouched for.
   */
  private condstore: boolean | undefined;
  private inboxPath = 'INBOX';
  /** Set once a connection is watching; undefined before. */
  mode: WatchMode | undefined;
  /** Logins of this watcher (the first, and one per lost connection). */
  logins = 0;
  /** Sessions of this watcher that reached their IDLE loop. */
  watching = 0;

  constructor(private readonly deps: WatcherDeps) {}

  /** Resolves when `signal` fires; rejects with 'unavailable' if the server cannot be watched. */
  subscribe(
    folderIds: readonly string[],
    onChange: (hint: ChangeHint) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const sub: Subscriber = {
        folderIds: new Set(folderIds),
        onChange: (hint) => {
          try {
            onChange(hint);
          } catch {
            // a subscriber's failure is not the watcher's
          }
        },
        fail: (e) => {
          this.remove(sub);
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = (): void => {
        this.remove(sub);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      clearTimeout(this.linger);
      this.linger = undefined;
      this.subs.add(sub);
      if (this.condstore === false) this.blind(sub);
      if (this.running === undefined) this.running = this.run();
      // a folder the poll has not looked at yet gets its baseline now rather than next poll;
      // NOTIFY already reports every mailbox
      else if (this.mode !== 'notify') this.poke();
    });
  }

  /** A change made through the backend itself. */
  hint(hint: ChangeHint): void {
    for (const sub of this.subs) {
      if (hint.hierarchy === true || hint.folderId === undefined || sub.folderIds.has(hint.folderId))
        sub.onChange(hint);
    }
  }

  private remove(sub: Subscriber): void {
    this.subs.delete(sub);
    if (this.subs.size > 0 || this.linger !== undefined) return;
    const lingerMs = this.deps.lingerMs ?? 0;
    if (lingerMs <= 0) {
      void this.stop();
      return;
    }
    this.linger = setTimeout(() => {
      this.linger = undefined;
      if (this.subs.size === 0) void this.stop();
    }, lingerMs);
    // a lingering watcher alone does not keep the process alive; close() stops it
    this.linger.unref();
  }

  /**
   * Tells the subscriber which of its folders this watch cannot vouch for: without CONDSTORE a
   * flag change outside INBOX reaches the watcher neither by STATUS nor by NOTIFY.
   */
  private blind(sub: Subscriber): void {
    const inbox = this.idsFor(this.inboxPath);
    for (const id of sub.folderIds) if (!inbox.has(id)) sub.onChange({ folderId: id, blind: true });
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      // a watch() from now on starts a new watcher instead of joining this one
      this.deps.onStop();
      this.stopController.abort();
      clearTimeout(this.linger);
      this.linger = undefined;
      clearTimeout(this.timer);
      this.timer = undefined;
      this.poke();
      const c = this.client;
      if (c !== undefined) {
        // LOGOUT ends IDLE too; a server that does not answer gets the socket closed
        await logoutWithin(c, 2000);
      }
    }
    await this.running?.catch(() => undefined);
  }

  /**
   * Sessions one after the other while anyone listens. A lost connection (server restarted,
   * network gone) is reconnected with a capped, jittered backoff for as long as requests are
   * held: giving up would leave held Pings deaf until their heartbeat. Each new session takes a
   * baseline and asks every waiting request to look once, so what changed during the outage is
   * reported. Only refused credentials (a changed password) end the watch: no retry helps then.
   */
  private async run(): Promise<void> {
    let failures = 0;
    const maxMs = this.deps.reconnectMaxMs ?? 30_000;
    while (!this.stopped) {
      const watchingBefore = this.watching;
      const started = Date.now();
      try {
        await this.session();
        failures = 0;
      } catch (e) {
        if (this.stopped) break;
        // A session that reached its IDLE loop (or lasted the longest delay) was a working watch:
        // this is a new outage. One that logged in and failed at once (INBOX refused, the server
        // closing) keeps backing off, or it would log in again every backoffMs.
        if (this.watching > watchingBefore || Date.now() - started >= maxMs) failures = 0;
        failures++;
        if (e instanceof BackendError && e.kind === 'auth') {
          for (const sub of [...this.subs]) sub.fail(e);
          await this.stop();
          return;
        }
        const delay = reconnectDelay(failures, this.deps.backoffMs ?? 1000, maxMs);
        const log = { failures, delay, err: e instanceof Error ? e.message : String(e) };
        if (failures <= (this.deps.connectAttempts ?? 3))
          this.deps.logger?.warn(log, 'imap: watch connection lost, reconnecting');
        else this.deps.logger?.debug?.(log, 'imap: watch still reconnecting');
        await sleep(delay, this.stopController.signal);
      }
    }
  }

  /**
   * One connection's life: baseline (INBOX, folder list, STATUS of the watched folders), then
   * NOTIFY + IDLE, or IDLE on INBOX with STATUS polls, until stopped.
   */
  private async session(): Promise<void> {
    const client = await this.deps.connect();
    this.logins++;
    if (this.stopped) {
      client.close();
      return;
    }
    this.client = client;
    this.baselined = false;
    this.condstore = undefined;
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    let inboxPath = 'INBOX';
    const inboxChanged = (): void => {
      for (const sub of this.subs) {
        const hit = [...sub.folderIds].some((id) => this.idsFor(inboxPath).has(id));
        if (hit) sub.onChange({ folderId: [...this.idsFor(inboxPath)][0] ?? 'inbox' });
      }
    };
    client.on('exists', inboxChanged);
    client.on('expunge', inboxChanged);
    client.on('flags', inboxChanged);
    let unnotify: (() => void) | undefined;
    try {
      const mb = await client.mailboxOpen('INBOX', { readOnly: true });
      inboxPath = mb.path;
      this.inboxPath = inboxPath;
      const inboxMoved = this.compare(
        inboxPath,
        signature(mb.uidValidity, mb.uidNext, mb.exists, mb.highestModseq),
      );
      // NOTIFY before the baseline: a change after the baseline's STATUS of a mailbox is then
      // reported, not lost in between
      if (this.deps.notify !== false && offersNotify(client) && !this.stopped) {
        unnotify = await notifySet(client, {
          status: (path, st) => this.notified(path, st, inboxPath),
          mailboxName: () => {
            this.listChanged = true;
            this.poke();
          },
          // the server no longer reports anything: a new connection starts over (baseline, a
          // look at everything, NOTIFY again)
          overflow: () => {
            this.deps.logger?.warn({}, 'imap: NOTIFY overflow, reconnecting the watch');
            client.close();
          },
        });
        if (unnotify === undefined) this.deps.logger?.info?.({}, 'imap: NOTIFY refused, watching with IDLE');
      }
      this.mode = unnotify === undefined ? 'idle' : 'notify';
      await this.poll(client, inboxPath);
      // INBOX changed while nobody watched (between two Pings): say so once the ids are known
      if (inboxMoved) inboxChanged();
      this.condstore = client.enabled.has('CONDSTORE');
      if (!this.condstore) for (const sub of this.subs) this.blind(sub);
      // A change between a subscriber's own first look and this point (the watcher was still
      // logging in) is in no baseline: one look at everything now closes that gap.
      for (const sub of this.subs) sub.onChange({});
      this.baselined = true;
      this.watching++;
      while (!this.stopped) {
        const started = Date.now();
        const woken = new Promise<void>((resolve) => {
          this.wake = resolve;
          // with NOTIFY nothing is polled: the server reports every mailbox
          if (unnotify === undefined) this.timer = setTimeout(resolve, this.deps.pollMs);
        });
        // idle() returns when a command breaks IDLE or the server ends it (or, when IDLE runs
        // quiet past the socket timeout, imapflow's keepalive NOOP does)
        let idleEnded = false;
        const idling = client
          .idle()
          .catch(() => undefined)
          .finally(() => (idleEnded = true));
        await Promise.race([woken, closed, idling]);
        clearTimeout(this.timer);
        this.timer = undefined;
        this.wake = undefined;
        if (!client.usable) throw new BackendError('unavailable', 'IMAP watch connection closed');
        if (this.stopped) break;
        // the next command (a NOOP) ends IDLE (DONE); INBOX news arrives as events meanwhile
        if (!idleEnded) await client.noop();
        await idling;
        if (unnotify === undefined) await this.poll(client, inboxPath);
        else if (this.listChanged) {
          await this.poll(client, inboxPath, false);
          // a NOTIFY STATUS arriving during that LIST was taken as part of its answer: look once
          for (const sub of this.subs) sub.onChange({});
        }
        // an IDLE the server keeps ending at once must not turn into a busy loop
        else if (idleEnded && Date.now() - started < 1000) await sleep(1000, this.stopController.signal);
      }
    } finally {
      unnotify?.();
      client.off('exists', inboxChanged);
      client.off('expunge', inboxChanged);
      client.off('flags', inboxChanged);
      if (this.client === client) this.client = undefined;
      if (!this.stopped) client.close();
    }
  }

  private idsFor(path: string): Set<string> {
    return new Set(this.boxes.filter((b) => b.path === path).map((b) => b.id));
  }

  /** A NOTIFY STATUS: hint the subscribers of that mailbox and remember what it looks like now. */
  private notified(path: string, st: NotifiedStatus, inboxPath: string): void {
    const box = this.boxes.find((b) => b.path === path);
    // a mailbox the folder list does not have yet comes with a LIST of its own
    if (box === undefined || path === inboxPath) return;
    const known = box.uidValidity ?? st.uidValidity;
    if (st.uidNext !== undefined && st.messages !== undefined && known !== undefined)
      this.deps.seen.set(path, signature(st.uidValidity ?? known, st.uidNext, st.messages, st.highestModseq));
    // without every part the next baseline cannot compare: it takes a new one
    else this.deps.seen.delete(path);
    for (const sub of this.subs) if (sub.folderIds.has(box.id)) sub.onChange({ folderId: box.id });
  }

  /**
   * LIST for the hierarchy, then (unless `statuses` is false: NOTIFY reports those) STATUS of
   * every watched folder but INBOX.
   */
  private async poll(client: ImapFlow, inboxPath: string, statuses = true): Promise<void> {
    this.listChanged = false;
    const list = await client.list({ statusQuery: { uidValidity: true } });
    this.boxes = mailboxesFrom(list);
    this.deps.folders(this.boxes);
    const names = list
      .map((l) => `${l.path}\u0001${l.status?.uidValidity?.toString() ?? ''}`)
      .sort()
      .join('\u0000');
    if (this.compare(HIERARCHY, names)) for (const sub of this.subs) sub.onChange({ hierarchy: true });
    if (!statuses) return;
    const watched = new Set([...this.subs].flatMap((s) => [...s.folderIds]));
    for (const box of this.boxes) {
      if (!watched.has(box.id) || box.path === inboxPath || box.noSelect || this.stopped) continue;
      const st = await client.status(box.path, {
        messages: true,
        uidNext: true,
        uidValidity: true,
        ...(client.enabled.has('CONDSTORE') && { highestModseq: true }),
      });
      if (st === false) continue;
      const sig = signature(st.uidValidity, st.uidNext, st.messages, st.highestModseq);
      // First seen after the baseline: the folder joined the watch. A change between the joining
      // request's own look and this STATUS is in no baseline but this one: hint it once.
      if (this.compare(box.path, sig, this.baselined)) {
        for (const sub of this.subs) if (sub.folderIds.has(box.id)) sub.onChange({ folderId: box.id });
      }
    }
  }

  /** Records a mailbox's state; true when it differs from what was seen before (on first sight: `first`). */
  private compare(key: string, sig: string, first = false): boolean {
    const before = this.deps.seen.get(key);
    this.deps.seen.set(key, sig);
    return before === undefined ? first : before !== sig;
  }
}

/**
 * The wait before reconnect attempt `failures` (1, 2, …): `firstMs` doubled per failure up to
 * `maxMs`, then a random half of it taken off, so the watchers of many users that lost the same
 * server do not all come back in the same instant.
 */
export function reconnectDelay(
  failures: number,
  firstMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, firstMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(ceiling * (1 - random() / 2));
}

function signature(...parts: Array<bigint | number | undefined>): string {
  return parts.map((p) => (p === undefined ? '' : p.toString())).join(':');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
