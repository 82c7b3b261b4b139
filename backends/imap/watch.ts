// Push hints for one user, shared by every device and every concurrent `watch` call of that user.
// One dedicated connection IDLEs on INBOX (RFC 2177) — new mail lands there — and, every
// `pollMs`, leaves IDLE to check the other watched folders with STATUS (MESSAGES UIDNEXT
// UIDVALIDITY HIGHESTMODSEQ) and the folder list with LIST. Changes made through this backend
// are hinted at once, without waiting for the poll. NOTIFY (RFC 5465) is not used yet.
//
// The watcher starts with the first subscriber and stops — connection logged out, timer cleared
// — when the last one leaves. What it saw per mailbox is kept (in `seen`, owned by the user's
// entry), so a watcher started again for the next Ping hints at what changed in between.
import type { ImapFlow } from 'imapflow';
import type { ChangeHint } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import type { MailboxInfo } from './folders.js';
import type { ImapLogger } from './options.js';
import { logoutWithin } from './pool.js';

export interface WatcherDeps {
  /** A new logged-in connection, not from the pool. */
  connect(): Promise<ImapFlow>;
  mailboxes(signal: AbortSignal): Promise<MailboxInfo[]>;
  /** mailbox path → state signature, kept across watchers of the user. */
  seen: Map<string, string>;
  pollMs: number;
  connectAttempts: number;
  backoffMs: number;
  logger?: ImapLogger;
  onStop(): void;
}

interface Subscriber {
  folderIds: ReadonlySet<string>;
  onChange(hint: ChangeHint): void;
  fail(e: BackendError): void;
}

const HIERARCHY = '\u0000hierarchy';

export class UserWatcher {
  private readonly subs = new Set<Subscriber>();
  private client: ImapFlow | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly stopController = new AbortController();

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
      this.subs.add(sub);
      if (this.running === undefined) this.running = this.run();
      // a folder the watcher has not looked at yet gets its baseline now rather than next poll
      else this.poke();
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
    if (this.subs.size === 0) void this.stop();
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

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.session();
        failures = 0;
      } catch (e) {
        if (this.stopped) break;
        failures++;
        if (failures >= this.deps.connectAttempts) {
          const err =
            e instanceof BackendError
              ? e
              : new BackendError('unavailable', 'IMAP watch failed', { cause: e });
          for (const sub of [...this.subs])
            sub.fail(
              err.kind === 'unavailable' ? err : new BackendError('unavailable', err.message, { cause: err }),
            );
          await this.stop();
          return;
        }
        this.deps.logger?.warn({ failures }, 'imap: watch connection lost, reconnecting');
        await sleep(this.deps.backoffMs * 2 ** (failures - 1), this.stopController.signal);
      }
    }
  }

  /** One connection's life: baseline, then IDLE on INBOX and STATUS polls until stopped. */
  private async session(): Promise<void> {
    const client = await this.deps.connect();
    if (this.stopped) {
      client.close();
      return;
    }
    this.client = client;
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
    try {
      const mb = await client.mailboxOpen('INBOX', { readOnly: true });
      inboxPath = mb.path;
      let inboxMoved = this.compare(
        inboxPath,
        signature(mb.uidValidity, mb.uidNext, mb.exists, mb.highestModseq),
      );
      while (!this.stopped) {
        await this.poll(client, inboxPath);
        // INBOX changed while nobody watched (between two Pings): say so once the ids are known
        if (inboxMoved) inboxChanged();
        inboxMoved = false;
        if (this.stopped) break;
        const woken = new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, this.deps.pollMs);
        });
        // idle() returns when a command breaks IDLE or the server ends it
        const idling = client.idle().catch(() => undefined);
        await Promise.race([woken, closed]);
        clearTimeout(this.timer);
        this.timer = undefined;
        this.wake = undefined;
        if (!client.usable) throw new BackendError('unavailable', 'IMAP watch connection closed');
        if (this.stopped) break;
        // the next command (a NOOP) ends IDLE (DONE); INBOX news arrives as events meanwhile
        await client.noop();
        await idling;
      }
    } finally {
      client.off('exists', inboxChanged);
      client.off('expunge', inboxChanged);
      client.off('flags', inboxChanged);
      if (this.client === client) this.client = undefined;
      if (!this.stopped) client.close();
    }
  }

  private boxes: MailboxInfo[] = [];

  private idsFor(path: string): Set<string> {
    return new Set(this.boxes.filter((b) => b.path === path).map((b) => b.id));
  }

  /** STATUS of every watched folder but INBOX, and LIST for the hierarchy. */
  private async poll(client: ImapFlow, inboxPath: string): Promise<void> {
    const list = await client.list({ statusQuery: { uidValidity: true } });
    this.boxes = await this.deps.mailboxes(this.stopController.signal);
    const names = list
      .map((l) => `${l.path}\u0001${l.status?.uidValidity?.toString() ?? ''}`)
      .sort()
      .join('\u0000');
    if (this.compare(HIERARCHY, names)) for (const sub of this.subs) sub.onChange({ hierarchy: true });
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
      if (this.compare(box.path, signature(st.uidValidity, st.uidNext, st.messages, st.highestModseq))) {
        for (const sub of this.subs) if (sub.folderIds.has(box.id)) sub.onChange({ folderId: box.id });
      }
    }
  }

  /** Records a mailbox's state; true when it differs from what was seen before (not on first sight). */
  private compare(key: string, sig: string): boolean {
    const before = this.deps.seen.get(key);
    this.deps.seen.set(key, sig);
    return before !== undefined && before !== sig;
  }
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
