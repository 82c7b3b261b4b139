// The IMAP backend: mail on any IMAP4rev1 server, Email class only. See index.ts for the design
// (ids, versions, connections) and docs/backends.md for configuration.
import type { FetchMessageObject, ImapFlow, MailboxObject } from 'imapflow';
import type {
  Account,
  AttachmentContent,
  AttachmentSource,
  Backend,
  ChangeLog,
  Folder,
  FolderAdmin,
  ItemChange,
  ItemRecord,
  ItemStamp,
  MailboxQuery,
  MailTransport,
  ReadOptions,
  Searcher,
  SearchHit,
  UserInformation,
  WriteOptions,
} from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import type { EmailItem, ItemClass, TypedItem } from '../../src/backend/model.js';
import { emailToMime } from '../../src/convert/mime-from-email.js';
import { nonDeliveryReport } from '../../src/convert/mime-report.js';
import { attachmentAt, emailFromParsed, parseMime } from '../../src/convert/mime-to-email.js';
import { flagsForNew, flagsVersion, itemFlags, patchFlags } from './flags.js';
import { childPath, descendants, foldersFrom, mailboxesFrom, type MailboxInfo } from './folders.js';
import {
  addressOf,
  mapUser,
  parseServerUrl,
  type ImapBackendOptions,
  type ServerConfig,
  type SubmitFn,
} from './options.js';
import { attachmentParts } from './parts.js';
import { connector, UserPool, type Connector, type Lease } from './pool.js';
import { binarySize, storeFlags, storeFlagsUnchangedSince, uidExpunge, unselect } from './raw.js';
import { UserWatcher } from './watch.js';

interface Handle {
  backend: 'imap';
  login: string;
}

/** One user's state: the pool (which alone knows the password), the folder cache, the watcher. */
interface UserEntry {
  login: string;
  pool: UserPool;
  connect: Connector;
  boxes?: MailboxInfo[];
  boxesAt: number;
  dropTimer?: NodeJS.Timeout;
  watcher?: UserWatcher;
  /** What the last watcher saw per mailbox, so a restarted watcher can tell what changed meanwhile. */
  seen: Map<string, string>;
}

/** Message state needed for versions and writes. */
interface Current {
  uid: number;
  flags: Set<string>;
  modseq?: bigint;
  version: string;
}

const FOLDER_CACHE_MS = 30_000;
/** How long after a NOOP or SELECT a read of listed ids skips its own NOOP. */
const RECENT_SYNC_MS = 2_000;
const hasSource = (m: FetchMessageObject): boolean => m.source !== undefined && m.source.byteLength > 0;
/** When each connection last synced its selected mailbox (NOOP or SELECT). */
const synced = new WeakMap<ImapFlow, { path: string; at: number }>();
const BATCH = 500;

/** `${UIDVALIDITY}.${UID}`: a new UIDVALIDITY makes every old id unknown (deletes + adds). */
export function itemId(uidValidity: bigint, uid: number): string {
  return `${uidValidity.toString()}.${uid}`;
}

function parseItemId(id: string, uidValidity: bigint): number | undefined {
  const m = /^(\d{1,20})\.(\d{1,10})$/.exec(id);
  if (m === null || m[1] !== uidValidity.toString()) return undefined;
  const uid = Number(m[2]);
  return uid > 0 && uid <= 0xffffffff ? uid : undefined;
}

/** A compact UID set ("3,5:9") for a list of UIDs. */
export function uidSet(uids: readonly number[]): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

const timeOf = (d: Date | string | undefined): number =>
  d === undefined ? 0 : (d instanceof Date ? d : new Date(d)).getTime() || 0;

/** Maps what imapflow throws to a BackendError; BackendErrors pass through. */
export function toBackendError(e: unknown, what: string): BackendError {
  if (e instanceof BackendError) return e;
  const err = e as { serverResponseCode?: unknown; responseStatus?: unknown; code?: unknown } | null;
  const code = typeof err?.serverResponseCode === 'string' ? err.serverResponseCode.toUpperCase() : '';
  const kind =
    code === 'NONEXISTENT' || code === 'TRYCREATE'
      ? 'not-found'
      : code === 'ALREADYEXISTS'
        ? 'conflict'
        : code === 'OVERQUOTA' || code === 'NOPERM' || code === 'CANNOT' || code === 'LIMIT'
          ? 'denied'
          : code === 'TOOBIG'
            ? 'too-large'
            : code === 'AUTHENTICATIONFAILED' || code === 'AUTHORIZATIONFAILED'
              ? 'auth'
              : err?.responseStatus === 'NO'
                ? 'denied'
                : 'unavailable';
  return new BackendError(kind, `${what} failed${code === '' ? '' : ` (${code})`}`, { cause: e });
}

const draftFields: ReadonlyArray<keyof EmailItem> = [
  'To',
  'Cc',
  'Bcc',
  'ReplyTo',
  'Subject',
  'Body',
  'Importance',
  'AttachmentsAdd',
  'AttachmentsDelete',
];

export class ImapBackend implements Backend {
  readonly name = 'imap';
  readonly changes: ChangeLog;
  readonly folders: FolderAdmin;
  readonly search: Searcher;
  readonly mail?: MailTransport;
  readonly attachments: AttachmentSource;

  private readonly server: ServerConfig;
  private readonly domain: string;
  private readonly users = new Map<string, UserEntry>();
  private readonly poolSize: number;
  private readonly idleTimeoutMs: number;
  private readonly credentialTtlMs: number;
  private readonly maxMessageBytes: number;
  private closed = false;

  constructor(private readonly opts: ImapBackendOptions) {
    this.server = parseServerUrl(opts.url, opts.tls);
    this.domain = opts.domain ?? this.server.host;
    this.poolSize = Math.max(1, opts.poolSize ?? 3);
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    this.credentialTtlMs = opts.credentialTtlMs ?? 30 * 60_000;
    this.maxMessageBytes = opts.maxMessageBytes ?? 25 * 1024 * 1024;
    this.changes = {
      currentCursor: (a, f, s) => this.currentCursor(a, f, s),
      changesSince: (a, f, c, s) => this.changesSince(a, f, c, s),
    };
    this.folders = {
      createFolder: (a, p, n, c, s) => this.createFolder(a, p, n, c, s),
      updateFolder: (a, f, c, s) => this.updateFolder(a, f, c, s),
      deleteFolder: (a, f, s) => this.deleteFolder(a, f, s),
    };
    this.search = { mailbox: (a, q, s) => this.searchMailbox(a, q, s) };
    this.attachments = { getAttachment: (a, ref, s) => this.getAttachment(a, ref, s) };
    const submit = opts.submit;
    if (submit !== undefined) this.mail = { send: (a, mime, o, s) => this.send(submit, a, mime, o, s) };
  }

  // ---- accounts and connections ---------------------------------------------------------

  async authenticate(user: string, password: string, signal: AbortSignal): Promise<Account | null> {
    signal.throwIfAborted();
    if (this.closed) throw new BackendError('unavailable', 'backend closed');
    const login = mapUser(user, this.opts.userMapping);
    if (login === '' || password === '') return null;
    const connect = connector(this.server, login, password);
    let client: ImapFlow;
    try {
      client = await connect();
    } catch (e) {
      if (e instanceof BackendError && e.kind === 'auth') return null;
      throw e;
    }
    let entry = this.users.get(login);
    if (entry === undefined) {
      entry = {
        login,
        connect,
        pool: new UserPool(connect, {
          size: this.poolSize,
          idleTimeoutMs: this.idleTimeoutMs,
          connectAttempts: this.opts.connectAttempts ?? 3,
          backoffMs: this.opts.backoffMs ?? 250,
          label: login,
          ...(this.opts.logger !== undefined && { logger: this.opts.logger }),
        }),
        boxesAt: 0,
        seen: new Map(),
      };
      this.users.set(login, entry);
    } else {
      entry.connect = connect;
      entry.pool.setConnector(connect);
    }
    if (!entry.pool.adopt(client)) void client.logout().catch(() => client.close());
    this.touch(entry);
    const handle: Handle = { backend: 'imap', login };
    return { user: user.trim(), email: addressOf(login, this.domain), handle };
  }

  /** Keeps the user's credentials for credentialTtlMs after their last use, then forgets them. */
  private touch(entry: UserEntry): void {
    clearTimeout(entry.dropTimer);
    entry.dropTimer = setTimeout(() => {
      if (entry.watcher !== undefined) return this.touch(entry);
      this.users.delete(entry.login);
      void entry.pool.close();
    }, this.credentialTtlMs);
    entry.dropTimer.unref();
  }

  private entryOf(account: Account): UserEntry {
    const h = account.handle as Handle | undefined;
    if (h?.backend !== 'imap' || typeof h.login !== 'string')
      throw new BackendError('auth', 'not an imap-backend account');
    if (this.closed) throw new BackendError('unavailable', 'backend closed');
    const entry = this.users.get(h.login);
    // the credentials were forgotten (idle too long): the client has to log in again
    if (entry === undefined) throw new BackendError('auth', 'session expired');
    this.touch(entry);
    return entry;
  }

  /**
   * Runs `fn` on a leased connection; protocol and socket failures become BackendErrors. A read
   * (`retry`) whose connection died under it — a server restart, a BYE — runs once more.
   */
  private async withLease<T>(
    entry: UserEntry,
    signal: AbortSignal,
    path: string | undefined,
    fn: (client: ImapFlow) => Promise<T>,
    what: string,
    retry = false,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const lease: Lease = await entry.pool.acquire(signal, path);
      try {
        const r = await fn(lease.client);
        lease.release();
        return r;
      } catch (e) {
        const dead = !lease.client.usable;
        lease.release(dead || !(e instanceof BackendError) || e.kind === 'unavailable');
        if (dead && retry && attempt === 1 && !signal.aborted) continue;
        throw toBackendError(e, what);
      }
    }
  }

  /**
   * Runs `fn` with the folder's mailbox selected. `fresh` re-selects even when the connection has
   * it selected already (for an up-to-date HIGHESTMODSEQ); `recent` skips the NOOP when the
   * connection synced the mailbox a moment ago (reads of ids just listed).
   */
  private async withMailbox<T>(
    account: Account,
    folderId: string,
    signal: AbortSignal,
    fn: (client: ImapFlow, mb: MailboxObject, box: MailboxInfo, entry: UserEntry) => Promise<T>,
    opts: { fresh?: boolean; recent?: boolean; what: string; retry?: boolean },
  ): Promise<T> {
    const entry = this.entryOf(account);
    const box = await this.resolve(entry, folderId, signal);
    if (box.noSelect) throw new BackendError('denied', 'the folder holds no messages');
    return this.withLease(
      entry,
      signal,
      box.path,
      async (client) => {
        const mb = await this.select(entry, client, box, opts.fresh === true, opts.recent === true);
        signal.throwIfAborted();
        return fn(client, mb, box, entry);
      },
      opts.what,
      opts.retry === true,
    );
  }

  private async select(
    entry: UserEntry,
    client: ImapFlow,
    box: MailboxInfo,
    fresh: boolean,
    recent = false,
  ): Promise<MailboxObject> {
    const current = client.mailbox;
    if (!fresh && current !== false && current.path === box.path) {
      const last = synced.get(client);
      // the listing of this Sync window synced it a moment ago: reading what it listed needs no
      // second NOOP (getItems checks what went missing); one round trip less per window
      if (recent && last?.path === box.path && Date.now() - last.at < RECENT_SYNC_MS) return current;
      // NOOP is the sync point: mail other clients added since the last command becomes visible
      // (a FETCH or SEARCH alone need not show it, RFC 3501 7.4.1)
      await client.noop();
      if (client.mailbox !== false && client.mailbox.path === box.path) {
        synced.set(client, { path: box.path, at: Date.now() });
        return client.mailbox;
      }
    }
    try {
      const mb = await client.mailboxOpen(box.path);
      synced.set(client, { path: box.path, at: Date.now() });
      return mb;
    } catch (e) {
      if ((e as { mailboxMissing?: unknown }).mailboxMissing === true) {
        entry.boxesAt = 0;
        throw new BackendError('not-found', 'no such folder', { cause: e });
      }
      throw e;
    }
  }

  // ---- folders --------------------------------------------------------------------------

  private async mailboxes(entry: UserEntry, signal: AbortSignal, fresh = false): Promise<MailboxInfo[]> {
    if (!fresh && entry.boxes !== undefined && Date.now() - entry.boxesAt < FOLDER_CACHE_MS)
      return entry.boxes;
    const list = await this.withLease(
      entry,
      signal,
      undefined,
      // LIST-STATUS (RFC 5819) where offered: one round trip for names, attributes and UIDVALIDITY
      async (client) => {
        // STATUS of the mailbox a connection has selected can describe a mailbox another client
        // deleted and created again meanwhile: ask with nothing selected
        if (!(await unselect(client))) throw new BackendError('unavailable', 'no UNSELECT: reconnect');
        return client.list({ statusQuery: { uidValidity: true } });
      },
      'LIST',
      true,
    );
    entry.boxes = mailboxesFrom(list);
    entry.boxesAt = Date.now();
    return entry.boxes;
  }

  private async resolve(entry: UserEntry, folderId: string, signal: AbortSignal): Promise<MailboxInfo> {
    const cached = entry.boxes?.find((b) => b.id === folderId);
    if (cached !== undefined && Date.now() - entry.boxesAt < FOLDER_CACHE_MS) return cached;
    const box = (await this.mailboxes(entry, signal, true)).find((b) => b.id === folderId);
    if (box === undefined) throw new BackendError('not-found', 'no such folder');
    return box;
  }

  async listFolders(account: Account, signal: AbortSignal): Promise<Folder[]> {
    return foldersFrom(await this.mailboxes(this.entryOf(account), signal, true));
  }

  private async createFolder(
    account: Account,
    parentId: string | null,
    displayName: string,
    cls: ItemClass,
    signal: AbortSignal,
  ): Promise<Folder> {
    const entry = this.entryOf(account);
    if (cls !== 'Email') throw new BackendError('unsupported', 'an IMAP store holds mail folders only');
    const boxes = await this.mailboxes(entry, signal, true);
    const parent = parentId === null ? null : await this.resolve(entry, parentId, signal);
    const path = this.newPath(boxes, parent, displayName);
    const created = await this.withLease(entry, signal, undefined, (c) => c.mailboxCreate(path), 'CREATE');
    if (!created.created) throw new BackendError('conflict', 'a folder with that name exists');
    this.hierarchyChanged(entry);
    return this.folderAt(entry, path, signal);
  }

  /** The path for `name` under `parent`, refusing bad names and names taken by a sibling. */
  private newPath(
    boxes: readonly MailboxInfo[],
    parent: MailboxInfo | null,
    name: string,
    except?: string,
  ): string {
    const trimmed = name.trim();
    const delimiter = parent?.delimiter || boxes.find((b) => b.delimiter !== '')?.delimiter || '/';
    if (trimmed === '' || trimmed.length > 256 || trimmed.includes(delimiter))
      throw new BackendError('denied', `folder names are 1–256 characters without "${delimiter}"`);
    const path = childPath(parent, trimmed, delimiter);
    const clash = boxes.some((b) => b.path.toLowerCase() === path.toLowerCase() && b.path !== except);
    if (clash || (parent === null && trimmed.toUpperCase() === 'INBOX'))
      throw new BackendError('conflict', 'a folder with that name exists');
    return path;
  }

  private async folderAt(entry: UserEntry, path: string, signal: AbortSignal): Promise<Folder> {
    const boxes = await this.mailboxes(entry, signal, true);
    const folder = foldersFrom(boxes).find((f) => boxes.find((b) => b.id === f.id)?.path === path);
    if (folder === undefined) throw new BackendError('unavailable', 'the folder did not appear in LIST');
    return folder;
  }

  private async updateFolder(
    account: Account,
    folderId: string,
    change: { displayName: string; parentId: string | null },
    signal: AbortSignal,
  ): Promise<Folder> {
    const entry = this.entryOf(account);
    const box = await this.resolve(entry, folderId, signal);
    if (box.role !== null) throw new BackendError('denied', 'special folders cannot be changed');
    const boxes = await this.mailboxes(entry, signal);
    const parent = change.parentId === null ? null : await this.resolve(entry, change.parentId, signal);
    if (parent !== null && (parent.path === box.path || descendants(boxes, box).includes(parent)))
      throw new BackendError('denied', 'a folder cannot move into itself');
    const path = this.newPath(boxes, parent, change.displayName, box.path);
    if (path !== box.path)
      await this.withLease(entry, signal, undefined, (c) => c.mailboxRename(box.path, path), 'RENAME');
    this.hierarchyChanged(entry);
    return this.folderAt(entry, path, signal);
  }

  private async deleteFolder(account: Account, folderId: string, signal: AbortSignal): Promise<void> {
    const entry = this.entryOf(account);
    const box = await this.resolve(entry, folderId, signal);
    if (box.role !== null) throw new BackendError('denied', 'special folders cannot be deleted');
    await this.deleteMailboxes(
      entry,
      [...descendants(await this.mailboxes(entry, signal), box), box],
      signal,
    );
  }

  /** DELETE of mailboxes, children first (a parent's DELETE leaves its children on some servers). */
  private async deleteMailboxes(
    entry: UserEntry,
    doomed: readonly MailboxInfo[],
    signal: AbortSignal,
  ): Promise<void> {
    if (doomed.length === 0) return;
    await this.withLease(
      entry,
      signal,
      undefined,
      async (c) => {
        // a selected mailbox cannot be deleted cleanly on every server
        if (!(await unselect(c))) throw new BackendError('unavailable', 'no UNSELECT: reconnect');
        for (const b of doomed) await c.mailboxDelete(b.path);
      },
      'DELETE',
    );
    this.hierarchyChanged(entry);
  }

  private hierarchyChanged(entry: UserEntry): void {
    entry.boxesAt = 0;
    entry.watcher?.hint({ hierarchy: true });
  }

  // ---- stamps and changes ---------------------------------------------------------------

  private usesModseq(client: ImapFlow, mb: MailboxObject): boolean {
    return client.enabled.has('CONDSTORE') && mb.noModseq !== true;
  }

  private versionOf(msg: FetchMessageObject, modseq: boolean): string {
    return modseq && msg.modseq !== undefined ? msg.modseq.toString() : flagsVersion(msg.flags ?? new Set());
  }

  async listStamps(
    account: Account,
    folderId: string,
    opts: { since?: Date },
    signal: AbortSignal,
  ): Promise<ItemStamp[]> {
    const entry = this.entryOf(account);
    const box = await this.resolve(entry, folderId, signal);
    if (box.noSelect) return [];
    return this.withMailbox(
      account,
      folderId,
      signal,
      async (client, mb) => {
        if (mb.exists === 0) return [];
        // UID 1:* is valid on an empty mailbox, where a stale EXISTS would make 1:* a BAD
        let range = '1:*';
        if (opts.since !== undefined) {
          // SINCE compares dates without time in the server's zone: ask from a day earlier
          // (more is allowed, fewer is not); with WITHIN imapflow sends YOUNGER instead.
          const since = Math.min(opts.since.getTime() - 86_400_000, Date.now() - 86_400_000);
          const uids = await this.searchUids(client, { since: new Date(since) });
          if (uids === '') return [];
          range = uids;
        }
        const modseq = this.usesModseq(client, mb);
        // never bodies: UID, MODSEQ (or FLAGS) and INTERNALDATE for the order, in one FETCH
        const msgs = await client.fetchAll(
          range,
          { uid: true, internalDate: true, flags: !modseq },
          { uid: true },
        );
        signal.throwIfAborted();
        msgs.sort((a, b) => timeOf(b.internalDate) - timeOf(a.internalDate) || b.uid - a.uid);
        return msgs.map((m) => ({ id: itemId(mb.uidValidity, m.uid), version: this.versionOf(m, modseq) }));
      },
      { what: 'listing', retry: true },
    );
  }

  /** UID SEARCH as a compact set string (ESEARCH when offered, RFC 4731). */
  private async searchUids(client: ImapFlow, query: Parameters<ImapFlow['search']>[0]): Promise<string> {
    const r = await client.search(query, { uid: true, returnOptions: ['ALL'] });
    if (r === false || r === undefined) throw new BackendError('unavailable', 'SEARCH failed');
    if (Array.isArray(r)) return uidSet(r);
    return r.all ?? '';
  }

  private async currentCursor(account: Account, folderId: string, signal: AbortSignal): Promise<string> {
    return this.withMailbox(
      account,
      folderId,
      signal,
      async (client, mb) => {
        if (!client.enabled.has('QRESYNC') || mb.noModseq === true || mb.highestModseq === undefined)
          throw new BackendError('cursor-expired', 'the server keeps no change log (QRESYNC)');
        return `${mb.uidValidity.toString()}.${mb.highestModseq.toString()}`;
      },
      { fresh: true, what: 'SELECT', retry: true },
    );
  }

  /** RFC 7162 3.1.4 CHANGEDSINCE with 3.2.6 VANISHED: what changed and what went since `cursor`. */
  private async changesSince(
    account: Account,
    folderId: string,
    cursor: string,
    signal: AbortSignal,
  ): Promise<{ changes: ItemChange[]; cursor: string }> {
    const m = /^(\d{1,20})\.(\d{1,20})$/.exec(cursor);
    if (m === null) throw new BackendError('cursor-expired', 'not a cursor of this backend');
    const since = BigInt(m[2] ?? '0');
    return this.withMailbox(
      account,
      folderId,
      signal,
      async (client, mb) => {
        if (!client.enabled.has('QRESYNC') || mb.noModseq === true || mb.highestModseq === undefined)
          throw new BackendError('cursor-expired', 'the server keeps no change log (QRESYNC)');
        if (mb.uidValidity.toString() !== m[1])
          throw new BackendError('cursor-expired', 'UIDVALIDITY changed');
        const next = `${mb.uidValidity.toString()}.${mb.highestModseq.toString()}`;
        if (mb.highestModseq <= since) return { changes: [], cursor: next };
        const vanished = new Set<number>();
        const onExpunge = (e: { uid?: number; vanished: boolean }): void => {
          if (e.vanished && e.uid !== undefined) vanished.add(e.uid);
        };
        client.on('expunge', onExpunge);
        let msgs: FetchMessageObject[];
        try {
          msgs = await client.fetchAll('1:*', { uid: true }, { uid: true, changedSince: since });
        } finally {
          client.off('expunge', onExpunge);
        }
        const changes: ItemChange[] = [];
        for (const msg of msgs) {
          if (vanished.has(msg.uid)) continue;
          changes.push({
            kind: 'upsert',
            id: itemId(mb.uidValidity, msg.uid),
            version: this.versionOf(msg, true),
          });
        }
        for (const uid of vanished) changes.push({ kind: 'delete', id: itemId(mb.uidValidity, uid) });
        return { changes, cursor: next };
      },
      { fresh: true, what: 'FETCH CHANGEDSINCE', retry: true },
    );
  }

  // ---- reading --------------------------------------------------------------------------

  async getItems(
    account: Account,
    folderId: string,
    ids: readonly string[],
    opts: ReadOptions,
    signal: AbortSignal,
  ): Promise<ItemRecord[]> {
    const started = Date.now();
    return this.withMailbox(
      account,
      folderId,
      signal,
      async (client, mb, box) => {
        const uids = ids.flatMap((id) => {
          const uid = parseItemId(id, mb.uidValidity);
          return uid === undefined ? [] : [uid];
        });
        const modseq = this.usesModseq(client, mb);
        const out: ItemRecord[] = [];
        const query = {
          uid: true,
          flags: true,
          internalDate: true,
          bodyStructure: true,
          source: true,
        } as const;
        const syncNow = async (): Promise<void> => {
          await client.noop();
          synced.set(client, { path: box.path, at: Date.now() });
        };
        const fetch = async (set: readonly number[]): Promise<FetchMessageObject[]> => {
          const got = await client.fetchAll(uidSet(set), query, { uid: true }).catch(async () => {
            // a message expunged by another client since this connection's last sync
            // (EXPUNGEISSUED): sync, then ask again
            await syncNow();
            return client.fetchAll(uidSet(set), query, { uid: true });
          });
          // Dovecot answers for a message expunged since this connection's last sync with an empty
          // body (no message is empty: it has a header at least)
          const whole = got.filter(hasSource);
          const have = new Set(whole.map((m) => m.uid));
          const missing = set.filter((u) => !have.has(u));
          // only when the NOOP was skipped: otherwise they are simply gone
          if (missing.length === 0 || (synced.get(client)?.at ?? 0) >= started) return whole;
          // added or expunged since this connection last synced: NOOP shows it as it is
          await syncNow();
          return [
            ...whole,
            ...(await client.fetchAll(uidSet(missing), query, { uid: true })).filter(hasSource),
          ];
        };
        for (let i = 0; i < uids.length; i += BATCH) {
          const msgs = await fetch(uids.slice(i, i + BATCH));
          for (const msg of msgs) {
            signal.throwIfAborted();
            const id = itemId(mb.uidValidity, msg.uid);
            const parsed = await parseMime(new Uint8Array(msg.source ?? Buffer.alloc(0)));
            const parts = attachmentParts(parsed.email.attachments, msg.bodyStructure);
            const item = emailFromParsed(parsed, {
              bodyPreferences: opts.bodyPreferences,
              ...(opts.MIMESupport !== undefined && { MIMESupport: opts.MIMESupport }),
              ...(opts.bodyPartPreferences !== undefined && {
                bodyPartPreferences: opts.bodyPartPreferences,
              }),
              fileReference: (index) =>
                fileReference(box.id, mb.uidValidity, msg.uid, parts[index] ?? `#${index}`),
              ...(msg.internalDate !== undefined && { receivedAt: new Date(msg.internalDate) }),
            });
            Object.assign(item, itemFlags(msg.flags ?? new Set()));
            if (box.role === 'drafts') item.IsDraft = true;
            out.push({ id, version: this.versionOf(msg, modseq), class: 'Email', item });
          }
        }
        return out;
      },
      { what: 'FETCH', retry: true, recent: true },
    );
  }

  /** The flags and version of one message, or undefined when it is gone. */
  private async current(client: ImapFlow, mb: MailboxObject, uid: number): Promise<Current | undefined> {
    const msg = (await client.fetchAll(String(uid), { uid: true, flags: true }, { uid: true })).find(
      (m) => m.uid === uid,
    );
    if (msg === undefined) return undefined;
    return {
      uid,
      flags: msg.flags ?? new Set(),
      ...(msg.modseq !== undefined && { modseq: msg.modseq }),
      version: this.versionOf(msg, this.usesModseq(client, mb)),
    };
  }

  private async existing(
    client: ImapFlow,
    mb: MailboxObject,
    id: string,
    ifVersion: string | undefined,
  ): Promise<Current> {
    const uid = parseItemId(id, mb.uidValidity);
    const cur = uid === undefined ? undefined : await this.current(client, mb, uid);
    if (cur === undefined) throw new BackendError('not-found', 'no such item');
    if (ifVersion !== undefined && ifVersion !== cur.version)
      throw new BackendError('conflict', 'the item changed');
    return cur;
  }

  // ---- writing --------------------------------------------------------------------------

  private checkEmail(item: TypedItem): EmailItem {
    if (item.class !== 'Email') throw new BackendError('unsupported', 'an IMAP folder holds mail only');
    return item.item;
  }

  async createItem(
    account: Account,
    folderId: string,
    typed: TypedItem,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const entry = this.entryOf(account);
    const box = await this.resolve(entry, folderId, signal);
    const item = this.checkEmail(typed);
    if (box.noSelect) throw new BackendError('denied', 'the folder holds no messages');
    const mime = await emailToMime(item, { defaultFrom: account.email });
    const draft = box.role === 'drafts';
    const flags = flagsForNew(item, { draft, read: draft || box.role === 'sent' });
    const stamp = await this.append(entry, box, mime, flags, item.DateReceived ?? new Date(), signal);
    entry.watcher?.hint({ folderId });
    return stamp;
  }

  /** APPEND (byte for byte) and the new message's stamp, from APPENDUID (RFC 4315 3). */
  private async append(
    entry: UserEntry,
    box: MailboxInfo,
    mime: Uint8Array,
    flags: string[],
    date: Date,
    signal: AbortSignal,
    client?: ImapFlow,
  ): Promise<ItemStamp> {
    if (mime.byteLength > this.maxMessageBytes) throw new BackendError('too-large', 'message too large');
    const run = async (c: ImapFlow): Promise<ItemStamp> => {
      const res = await c.append(box.path, Buffer.from(mime), flags, date);
      if (res === false) throw new BackendError('denied', 'APPEND refused');
      const mb = await this.select(entry, c, box, false);
      let uid = res.uid;
      if (uid === undefined || res.uidValidity !== mb.uidValidity) {
        // no UIDPLUS: the newest message is ours unless someone appended at the same moment
        const all = await c.search({ all: true }, { uid: true });
        uid = Array.isArray(all) ? Math.max(0, ...all) : 0;
      }
      const cur = await this.current(c, mb, uid);
      if (cur === undefined) throw new BackendError('unavailable', 'the appended message is not there');
      return { id: itemId(mb.uidValidity, uid), version: cur.version };
    };
    return client !== undefined ? run(client) : this.withLease(entry, signal, box.path, run, 'APPEND');
  }

  async updateItem(
    account: Account,
    folderId: string,
    id: string,
    typed: TypedItem,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const item = this.checkEmail(typed);
    const stamp = await this.withMailbox(
      account,
      folderId,
      signal,
      async (client, mb, box, entry) => {
        const cur = await this.existing(client, mb, id, opts.ifVersion);
        const isDraft = box.role === 'drafts' || [...cur.flags].some((f) => f.toLowerCase() === '\\draft');
        if (isDraft && draftFields.some((k) => item[k] !== undefined))
          return this.rewriteDraft(client, mb, box, entry, cur, item, account, signal);
        const next = patchFlags(cur.flags, item);
        if (next === undefined) return { id, version: cur.version };
        await this.setFlags(client, mb, cur, [...next], opts.ifVersion !== undefined);
        const after = await this.current(client, mb, cur.uid);
        if (after === undefined) throw new BackendError('not-found', 'the item went away');
        return { id, version: after.version };
      },
      { what: 'STORE' },
    );
    this.entryOf(account).watcher?.hint({ folderId });
    return stamp;
  }

  /**
   * Replaces the flags. With CONDSTORE the STORE is conditional (UNCHANGEDSINCE, RFC 7162 3.1.3):
   * a change by someone else in between is a conflict when the caller gave a version, else the
   * patch is applied again to the new flags.
   */
  private async setFlags(
    client: ImapFlow,
    mb: MailboxObject,
    cur: Current,
    flags: string[],
    strict: boolean,
  ): Promise<void> {
    if (!this.usesModseq(client, mb) || cur.modseq === undefined) {
      await storeFlags(client, cur.uid, flags);
      return;
    }
    if (await storeFlagsUnchangedSince(client, cur.uid, cur.modseq, flags)) return;
    if (strict) throw new BackendError('conflict', 'the item changed');
    const again = await this.current(client, mb, cur.uid);
    if (again === undefined) throw new BackendError('not-found', 'the item went away');
    const merged = new Set([...again.flags, ...flags]);
    await storeFlags(
      client,
      cur.uid,
      [...merged].filter((f) => f.toLowerCase() !== '\\recent'),
    );
  }

  /** A 16.x draft edit: APPEND the edited message, then remove the old one (a new id). */
  private async rewriteDraft(
    client: ImapFlow,
    mb: MailboxObject,
    box: MailboxInfo,
    entry: UserEntry,
    cur: Current,
    change: EmailItem,
    account: Account,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const msg = (
      await client.fetchAll(String(cur.uid), { uid: true, source: true, bodyStructure: true }, { uid: true })
    )[0];
    if (msg?.source === undefined) throw new BackendError('not-found', 'no such item');
    const parsed = await parseMime(new Uint8Array(msg.source));
    const parts = attachmentParts(parsed.email.attachments, msg.bodyStructure);
    // the FileReferences getItems gave out, which is what a client deletes by
    const refOf = (i: number): string => fileReference(box.id, mb.uidValidity, cur.uid, parts[i] ?? `#${i}`);
    const current = emailFromParsed(parsed, {
      bodyPreferences: [{ Type: parsed.email.html !== undefined ? 2 : 1 }],
      fileReference: refOf,
    });
    const deleted = new Set(change.AttachmentsDelete ?? []);
    const refs = parsed.email.attachments.map((_, i) => refOf(i));
    const keptAttachments = (current.Attachments ?? []).flatMap((a) => {
      const part = attachmentAt(parsed, refs.indexOf(a.FileReference));
      if (part === undefined || deleted.has(a.FileReference)) return [];
      return [
        {
          filename: part.filename,
          contentType: part.contentType,
          content: part.content,
          ...(a.ContentId !== undefined && { contentId: a.ContentId }),
          ...(a.IsInline === true && { inline: true }),
        },
      ];
    });
    const merged: EmailItem = { ...current, ...change };
    delete merged.Attachments;
    delete merged.AttachmentsDelete;
    const mime = await emailToMime(merged, { defaultFrom: account.email, keptAttachments });
    const flags = [...(patchFlags(cur.flags, change) ?? cur.flags)].filter(
      (f) => f.toLowerCase() !== '\\recent',
    );
    const stamp = await this.append(entry, box, mime, flags, new Date(), signal, client);
    await this.select(entry, client, box, false);
    await client.messageFlagsAdd(String(cur.uid), ['\\Deleted'], { uid: true, silent: true });
    await this.expunge(client, cur.uid);
    return stamp;
  }

  private async expunge(client: ImapFlow, uid: number): Promise<void> {
    // UID EXPUNGE removes only this message; plain EXPUNGE would take every \Deleted one
    if (client.capabilities.has('UIDPLUS')) await uidExpunge(client, String(uid));
    else await client.messageDelete(String(uid), { uid: true });
  }

  async deleteItem(
    account: Account,
    folderId: string,
    id: string,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<void> {
    await this.withMailbox(
      account,
      folderId,
      signal,
      async (client, mb) => {
        const cur = await this.existing(client, mb, id, opts.ifVersion);
        const flags = [...cur.flags, '\\Deleted'].filter((f) => f.toLowerCase() !== '\\recent');
        await this.setFlags(client, mb, cur, flags, opts.ifVersion !== undefined);
        await this.expunge(client, cur.uid);
      },
      { what: 'EXPUNGE' },
    );
    this.entryOf(account).watcher?.hint({ folderId });
  }

  async moveItem(
    account: Account,
    folderId: string,
    id: string,
    toFolderId: string,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const entry = this.entryOf(account);
    const to = await this.resolve(entry, toFolderId, signal);
    if (to.noSelect) throw new BackendError('denied', 'the folder holds no messages');
    const stamp = await this.withMailbox(
      account,
      folderId,
      signal,
      async (client, mb, from) => {
        const cur = await this.existing(client, mb, id, undefined);
        if (from.path === to.path) return { id, version: cur.version };
        // UID MOVE (RFC 6851) where offered, else COPY + \Deleted + EXPUNGE; COPYUID gives the new UID
        const res = await client.messageMove(String(cur.uid), to.path, { uid: true });
        if (res === false) throw new BackendError('denied', 'MOVE refused');
        const target = await this.select(entry, client, to, false);
        let uid = res.uidMap?.get(cur.uid);
        if (uid === undefined || (res.uidValidity !== undefined && res.uidValidity !== target.uidValidity)) {
          const all = await client.search({ all: true }, { uid: true });
          uid = Array.isArray(all) ? Math.max(0, ...all) : 0;
        }
        const moved = await this.current(client, target, uid);
        if (moved === undefined) throw new BackendError('unavailable', 'the moved message is not there');
        return { id: itemId(target.uidValidity, uid), version: moved.version };
      },
      { what: 'MOVE' },
    );
    entry.watcher?.hint({ folderId });
    entry.watcher?.hint({ folderId: toFolderId });
    return stamp;
  }

  async emptyFolder(
    account: Account,
    folderId: string,
    opts: { DeleteSubFolders: boolean },
    signal: AbortSignal,
  ): Promise<void> {
    const entry = this.entryOf(account);
    await this.withMailbox(
      account,
      folderId,
      signal,
      async (client, mb) => {
        if (mb.exists > 0) await client.messageDelete('1:*');
      },
      { fresh: true, what: 'EXPUNGE' },
    );
    entry.watcher?.hint({ folderId });
    if (opts.DeleteSubFolders) {
      const box = await this.resolve(entry, folderId, signal);
      await this.deleteMailboxes(entry, descendants(await this.mailboxes(entry, signal, true), box), signal);
    }
  }

  // ---- attachments and sending ----------------------------------------------------------

  private async getAttachment(
    account: Account,
    ref: string,
    signal: AbortSignal,
  ): Promise<AttachmentContent> {
    const r = parseFileReference(ref);
    if (r === undefined) throw new BackendError('not-found', 'unknown attachment');
    const entry = this.entryOf(account);
    const box = await this.resolve(entry, r.folderId, signal);
    const open = async (client: ImapFlow): Promise<MailboxObject> => {
      const mb = await this.select(entry, client, box, false);
      if (mb.uidValidity.toString() !== r.uidValidity)
        throw new BackendError('not-found', 'unknown attachment');
      return mb;
    };
    if (r.part.startsWith('#')) {
      // no body part was matched for sure: parse the whole message (buffered)
      const index = Number(r.part.slice(1));
      const part = await this.withLease(
        entry,
        signal,
        box.path,
        async (client) => {
          await open(client);
          const msg = (await client.fetchAll(String(r.uid), { uid: true, source: true }, { uid: true }))[0];
          return msg?.source === undefined
            ? undefined
            : attachmentAt(await parseMime(new Uint8Array(msg.source)), index);
        },
        'FETCH',
      );
      if (part === undefined) throw new BackendError('not-found', 'unknown attachment');
      return bufferedContent(part.contentType, part.content);
    }
    const meta = await this.withLease(
      entry,
      signal,
      box.path,
      async (client) => {
        await open(client);
        const msg = (
          await client.fetchAll(String(r.uid), { uid: true, bodyStructure: true }, { uid: true })
        )[0];
        const node = msg?.bodyStructure === undefined ? undefined : findPart(msg.bodyStructure, r.part);
        if (node === undefined) return undefined;
        const size = client.capabilities.has('BINARY') ? await binarySize(client, r.uid, r.part) : undefined;
        return { contentType: node.type.toLowerCase(), size };
      },
      'FETCH',
    );
    if (meta === undefined) throw new BackendError('not-found', 'unknown attachment');
    if (meta.size === undefined) {
      // no BINARY (RFC 3516): the decoded size is only known after decoding, so the part is buffered
      const content = await this.withLease(
        entry,
        signal,
        box.path,
        async (client) => {
          await open(client);
          const dl = await client.download(String(r.uid), r.part, { uid: true });
          if (dl.content === undefined) throw new BackendError('not-found', 'unknown attachment');
          const chunks: Buffer[] = [];
          for await (const c of dl.content) chunks.push(c as Buffer);
          return new Uint8Array(Buffer.concat(chunks));
        },
        'FETCH',
      );
      return bufferedContent(meta.contentType, content);
    }
    const length = meta.size;
    return {
      contentType: meta.contentType,
      length,
      // BINARY.PEEK[part]<offset.64k> windows: the server decodes, nothing is buffered whole
      chunks: (chunkSignal: AbortSignal) =>
        this.streamPart(entry, box, r.uid, r.part, length, chunkSignal, open),
    };
  }

  private async *streamPart(
    entry: UserEntry,
    box: MailboxInfo,
    uid: number,
    part: string,
    length: number,
    signal: AbortSignal,
    open: (client: ImapFlow) => Promise<MailboxObject>,
  ): AsyncGenerator<Uint8Array> {
    const window = 64 * 1024;
    const lease = await entry.pool.acquire(signal, box.path);
    let broken = true;
    try {
      await open(lease.client);
      for (let at = 0; at < length;) {
        signal.throwIfAborted();
        const msg = await lease.client.fetchOne(
          String(uid),
          { uid: true, bodyParts: [{ key: part, start: at, maxLength: window }] },
          { uid: true, binary: true },
        );
        const chunk = msg === false || msg === undefined ? undefined : msg.bodyParts?.get(part);
        if (chunk === undefined || chunk.byteLength === 0) break;
        at += chunk.byteLength;
        yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
      broken = false;
    } catch (e) {
      throw toBackendError(e, 'FETCH BINARY');
    } finally {
      lease.release(broken);
    }
  }

  private async send(
    submit: SubmitFn,
    account: Account,
    mime: Uint8Array,
    opts: { saveInSent: boolean },
    signal: AbortSignal,
  ): Promise<void> {
    const entry = this.entryOf(account);
    if (mime.byteLength > this.maxMessageBytes) throw new BackendError('too-large', 'message too large');
    const result = await submit(
      { user: account.user, email: account.email, login: entry.login },
      mime,
      signal,
    );
    const boxes = await this.mailboxes(entry, signal);
    const sent = boxes.find((b) => b.role === 'sent');
    if (opts.saveInSent && sent !== undefined) {
      await this.append(entry, sent, mime, ['\\Seen'], new Date(), signal);
      entry.watcher?.hint({ folderId: sent.id });
    }
    const refused = result?.refused ?? [];
    const inbox = boxes.find((b) => b.role === 'inbox');
    if (refused.length === 0 || inbox === undefined) return;
    // sent to the others: the phone must not send it again, so the user hears of the refused
    // recipients the way mail servers tell them, with a non-delivery report in the Inbox
    const report = await nonDeliveryReport({
      original: mime,
      refused,
      to: account.email,
      domain: account.email.slice(account.email.lastIndexOf('@') + 1) || this.domain,
    });
    await this.append(entry, inbox, report, [], new Date(), signal);
    entry.watcher?.hint({ folderId: inbox.id });
  }

  // ---- search, user information, watch, close -------------------------------------------

  private async searchMailbox(
    account: Account,
    q: MailboxQuery,
    signal: AbortSignal,
  ): Promise<{ hits: SearchHit[]; total: number }> {
    const entry = this.entryOf(account);
    const boxes = await this.mailboxes(entry, signal, true);
    let targets: MailboxInfo[];
    if (q.folderIds === undefined) targets = boxes;
    else {
      targets = [];
      for (const id of q.folderIds) {
        const box = boxes.find((b) => b.id === id);
        if (box === undefined) throw new BackendError('not-found', 'no such folder');
        targets.push(box, ...(q.DeepTraversal === true ? descendants(boxes, box) : []));
      }
    }
    targets = [...new Set(targets)].filter((b) => !b.noSelect);
    const words = (q.FreeText ?? '').split(/\s+/).filter((w) => w !== '');
    // every word must occur (IMAP ANDs criteria; imapflow has no AND, a one-element OR nests one)
    let query: Record<string, unknown> = { all: true };
    for (const w of [...words].reverse()) query = { text: w, ...(query.all === true ? {} : { or: [query] }) };
    // with WITHIN imapflow sends these as YOUNGER/OLDER seconds, which must be positive: a bound
    // in the future is left to the exact check below
    const past = (d: Date): boolean => d.getTime() < Date.now() - 1000;
    if (q.receivedAfter !== undefined && past(q.receivedAfter)) query.since = q.receivedAfter;
    const before =
      q.receivedBefore === undefined ? undefined : new Date(q.receivedBefore.getTime() + 86_400_000);
    if (before !== undefined && past(before)) query.before = before;
    const found: Array<{ hit: SearchHit; time: number; uid: number }> = [];
    for (const box of targets) {
      await this.withLease(
        entry,
        signal,
        box.path,
        async (client) => {
          const mb = await this.select(entry, client, box, false);
          if (mb.exists === 0) return;
          const uids = await this.searchUids(client, query);
          if (uids === '') return;
          const wantConversation = q.ConversationId;
          const msgs = await client.fetchAll(
            uids,
            {
              uid: true,
              internalDate: true,
              ...(wantConversation !== undefined && { headers: ['message-id', 'references', 'in-reply-to'] }),
            },
            { uid: true },
          );
          for (const msg of msgs) {
            if (wantConversation !== undefined) {
              // the converter derives ConversationId from these three headers; so does this filter
              const parsed = await parseMime(
                new Uint8Array(Buffer.concat([msg.headers ?? Buffer.alloc(0), Buffer.from('\r\n')])),
              );
              const id = emailFromParsed(parsed, {
                bodyPreferences: [],
                fileReference: () => '',
              }).ConversationId;
              if (id === undefined || Buffer.compare(Buffer.from(id), Buffer.from(wantConversation)) !== 0)
                continue;
            }
            const time = timeOf(msg.internalDate);
            // SINCE/BEFORE are whole days: the exact bounds are checked here
            if (q.receivedAfter !== undefined && time <= q.receivedAfter.getTime()) continue;
            if (q.receivedBefore !== undefined && time >= q.receivedBefore.getTime()) continue;
            found.push({
              hit: { folderId: box.id, id: itemId(mb.uidValidity, msg.uid) },
              time,
              uid: msg.uid,
            });
          }
        },
        'SEARCH',
      );
      signal.throwIfAborted();
    }
    found.sort((a, b) => b.time - a.time || b.uid - a.uid);
    return { total: found.length, hits: found.slice(0, Math.max(0, q.limit)).map((f) => f.hit) };
  }

  async userInformation(account: Account, signal: AbortSignal): Promise<UserInformation> {
    signal.throwIfAborted();
    this.entryOf(account);
    return {
      ...(account.displayName !== undefined && { UserDisplayName: account.displayName }),
      PrimarySmtpAddress: account.email,
      SMTPAddress: [account.email],
    };
  }

  async watch(
    account: Account,
    folderIds: readonly string[],
    onChange: (hint: { folderId?: string; hierarchy?: boolean }) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const entry = this.entryOf(account);
    if (signal.aborted) return;
    if (entry.watcher === undefined) {
      const watcher = new UserWatcher({
        connect: () => entry.connect(),
        folders: (boxes) => {
          entry.boxes = boxes;
          entry.boxesAt = Date.now();
        },
        seen: entry.seen,
        pollMs: this.opts.watchPollMs ?? 20_000,
        ...(this.opts.watchNotify !== undefined && { notify: this.opts.watchNotify }),
        ...(this.opts.watchLingerMs !== undefined && { lingerMs: this.opts.watchLingerMs }),
        connectAttempts: this.opts.connectAttempts ?? 3,
        backoffMs: this.opts.backoffMs ?? 250,
        ...(this.opts.logger !== undefined && { logger: this.opts.logger }),
        onStop: () => {
          if (entry.watcher === watcher) delete entry.watcher;
        },
      });
      entry.watcher = watcher;
    }
    await entry.watcher.subscribe(folderIds, onChange, signal);
  }

  /** Connections and watchers per user, for tests and diagnostics (no credentials). */
  inspect(): Array<{
    login: string;
    connections: number;
    leased: number;
    opened: number;
    watching: boolean;
    /** How the watcher learns of changes (NOTIFY or IDLE + STATUS polls), once it is connected. */
    watchMode?: 'notify' | 'idle';
    /** Logins of the current watcher: one, plus one per lost connection. */
    watchLogins?: number;
  }> {
    return [...this.users.values()].map((e) => ({
      login: e.login,
      connections: e.pool.size,
      leased: e.pool.leased,
      opened: e.pool.opened,
      watching: e.watcher !== undefined,
      ...(e.watcher?.mode !== undefined && { watchMode: e.watcher.mode, watchLogins: e.watcher.logins }),
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.users.values()];
    this.users.clear();
    await Promise.all(
      entries.map(async (e) => {
        clearTimeout(e.dropTimer);
        await e.watcher?.stop();
        await e.pool.close();
      }),
    );
  }
}

// ---- FileReferences ---------------------------------------------------------------------

/** `<folder id>/<UIDVALIDITY>.<UID>/<part>`: part is an IMAP part number, or `#n` for postal-mime's n-th attachment. */
export function fileReference(folderId: string, uidValidity: bigint, uid: number, part: string): string {
  return `${folderId}/${uidValidity.toString()}.${uid}/${part}`;
}

function parseFileReference(
  ref: string,
): { folderId: string; uidValidity: string; uid: number; part: string } | undefined {
  const m = /^([A-Za-z0-9_-]{1,64})\/(\d{1,20})\.(\d{1,10})\/(\d+(?:\.\d+)*|#\d+)$/.exec(ref);
  if (m === null) return undefined;
  return { folderId: m[1] ?? '', uidValidity: m[2] ?? '', uid: Number(m[3]), part: m[4] ?? '' };
}

function findPart(
  node: import('imapflow').MessageStructureObject,
  part: string,
): import('imapflow').MessageStructureObject | undefined {
  if ((node.part ?? (node.childNodes === undefined ? '1' : '')) === part) return node;
  for (const child of node.childNodes ?? []) {
    const found = findPart(child, part);
    if (found !== undefined) return found;
  }
  return undefined;
}

function bufferedContent(contentType: string, content: Uint8Array): AttachmentContent {
  return {
    contentType,
    length: content.byteLength,
    chunks: async function* (signal: AbortSignal) {
      for (let at = 0; at < content.byteLength; at += 64 * 1024) {
        signal.throwIfAborted();
        yield content.subarray(at, at + 64 * 1024);
      }
    },
  };
}
