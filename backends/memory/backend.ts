// The reference backend: every capability of the contract, every class, kept in memory and
// persisted as JSON per account in a data directory. It is what easd serves with no
// configuration, what command tests run on, and the worked example of docs/backends.md.
//
// Layout of the data directory:
//   accounts.json         users (scrypt password hashes), see accounts.ts
//   mailboxes/<key>.json  one account's folders, items, change logs and OOF settings
//   outbox.jsonl          mail for addresses that are not local accounts, one JSON line each
import { createHash } from 'node:crypto';
import { appendFile, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { applyBodyPreferences, type BodySource } from '../../src/backend/body.js';
import type {
  Account,
  AttachmentContent,
  AttachmentSource,
  Backend,
  ChangeHint,
  ChangeLog,
  DirectoryEntry,
  Folder,
  FolderAdmin,
  ItemRecord,
  ItemStamp,
  MailboxQuery,
  MailTransport,
  OofStore,
  ReadOptions,
  Searcher,
  SearchHit,
  UserInformation,
  WriteOptions,
} from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import type {
  Attachment,
  AttachmentAdd,
  Body,
  BodyType,
  EmailItem,
  ItemClass,
  TypedItem,
} from '../../src/backend/model.js';
import { stripBcc } from '../../src/convert/mime-compose.js';
import { emailToMime } from '../../src/convert/mime-from-email.js';
import {
  attachmentAt,
  emailFromParsed,
  htmlToPlain,
  parseMime,
  plainToHtml,
  recipientsOf,
  type ParsedMime,
} from '../../src/convert/mime-to-email.js';
import { decoyHash, readAccounts, verifyPassword, type AccountRecord } from './accounts.js';
import {
  Mailbox,
  newAccountData,
  type AccountData,
  type MailFlags,
  type StoredEmail,
  type StoredFile,
  type StoredItem,
  type StoredOther,
} from './mailbox.js';
import { DebouncedWriter, encodeJson, readJsonFile, writeFileAtomic } from './persist.js';

export interface MemoryBackendOptions {
  dataDir: string;
  /** How long after a change the account's file is written (default 200 ms). */
  flushDelayMs?: number;
  /** Largest message `mail.send` and `createItem` accept (default 25 MiB). */
  maxMessageBytes?: number;
  /** Called when a background write fails (the data stays in memory and is retried). */
  onError?: (e: unknown) => void;
}

interface Handle {
  backend: 'memory';
  key: string;
}

interface Loaded {
  mailbox: Mailbox;
  writer: DebouncedWriter;
}

const encoder = new TextEncoder();

function keyOf(user: string): string {
  const lower = user.toLowerCase();
  // Readable and collision-free: the sanitised name plus a hash of the real one.
  return `${lower.replace(/[^a-z0-9._-]/g, '_').slice(0, 40)}-${createHash('sha256').update(lower).digest('hex').slice(0, 10)}`;
}

function textOf(data: string | Uint8Array | undefined): string {
  return data === undefined ? '' : typeof data === 'string' ? data : new TextDecoder().decode(data);
}

/** A stored (non-mail) Body as a BodySource: plain and HTML each derived from the other. */
function storedBodySource(body: Body): BodySource {
  const data = textOf(body.Data);
  const native: BodyType = body.Type === 2 || body.Type === 3 ? body.Type : 1;
  return {
    native,
    get: (t) => {
      if (t === native) return data;
      if (t === 1) return native === 2 ? htmlToPlain(data) : undefined;
      if (t === 2) return native === 1 ? plainToHtml(data) : undefined;
      return undefined;
    },
  };
}

/** Keeps only what a store should keep of a client's Body: the whole text, sized honestly. */
function normalizeBody(body: Body | undefined): Body | undefined {
  if (body === undefined || body.Data === undefined) return undefined;
  const data = textOf(body.Data);
  return {
    Type: body.Type === 4 ? 1 : body.Type,
    EstimatedDataSize: encoder.encode(data).byteLength,
    Data: data,
  };
}

/** Attachments a client adds to a calendar item (16.x); other classes have none. */
function filesFromAdds(item: TypedItem['item']): StoredFile[] {
  const adds: AttachmentAdd[] = 'AttachmentsAdd' in item ? (item.AttachmentsAdd ?? []) : [];
  return adds.map((a) => ({
    name: a.DisplayName,
    contentType: a.ContentType ?? 'application/octet-stream',
    content: a.Content,
    ...(a.ContentId !== undefined && { contentId: a.ContentId }),
    ...(a.IsInline === true && { inline: true }),
  }));
}

/** FileReference: "<item id>.<index>" — item ids are unique in an account. */
function fileReference(itemId: string, index: number): string {
  return `${itemId}.${index}`;
}

function parseFileReference(ref: string): { itemId: string; index: number } | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(ref);
  return m === null ? undefined : { itemId: m[1] ?? '', index: Number(m[2]) };
}

/** Removes Bcc header lines before delivery; shared with the SMTP submitter. */
export { stripBcc };

export class MemoryBackend implements Backend {
  readonly name = 'memory';
  readonly changes: ChangeLog;
  readonly folders: FolderAdmin;
  readonly mail: MailTransport;
  readonly attachments: AttachmentSource;
  readonly search: Searcher;
  readonly oof: OofStore;

  private readonly dataDir: string;
  private readonly flushDelayMs: number;
  private readonly maxMessageBytes: number;
  private readonly onError: (e: unknown) => void;
  private readonly loaded = new Map<string, Promise<Loaded>>();
  private accounts: AccountRecord[] = [];
  private accountsMtime = -1;
  /** Parsed messages by item id + version; parsing is the costly part of reading mail. */
  private readonly parsedCache = new Map<string, Promise<ParsedMime>>();
  private readonly recordIdentity = new WeakMap<StoredEmail, number>();
  private recordCounter = 0;
  private closed = false;

  constructor(opts: MemoryBackendOptions) {
    this.dataDir = opts.dataDir;
    this.flushDelayMs = opts.flushDelayMs ?? 200;
    this.maxMessageBytes = opts.maxMessageBytes ?? 25 * 1024 * 1024;
    this.onError = opts.onError ?? ((e) => console.error('memory backend: write failed', e));
    this.changes = {
      currentCursor: async (account, folderId, signal) =>
        (await this.box(account, signal)).currentCursor(folderId),
      changesSince: async (account, folderId, cursor, signal) =>
        (await this.box(account, signal)).changesSince(folderId, cursor),
    };
    this.folders = {
      createFolder: (a, parentId, name, cls, signal) => this.createFolder(a, parentId, name, cls, signal),
      updateFolder: (a, id, change, signal) => this.updateFolder(a, id, change, signal),
      deleteFolder: (a, id, signal) => this.deleteFolder(a, id, signal),
    };
    this.mail = { send: (a, mime, o, signal) => this.send(a, mime, o, signal) };
    this.attachments = { getAttachment: (a, ref, signal) => this.getAttachment(a, ref, signal) };
    this.search = {
      mailbox: (a, q, signal) => this.searchMailbox(a, q, signal),
      directory: (a, text, limit, signal) => this.directory(a, text, limit, signal),
    };
    this.oof = {
      get: async (a, signal) => structuredClone((await this.box(a, signal)).data.oof),
      set: async (a, settings, signal) => {
        const box = await this.box(a, signal);
        box.data.oof = structuredClone(settings);
        box.markChanged();
      },
    };
  }

  // ---- accounts -------------------------------------------------------------------------

  async authenticate(user: string, password: string, signal: AbortSignal): Promise<Account | null> {
    signal.throwIfAborted();
    await this.refreshAccounts();
    const lower = user.toLowerCase();
    const rec = this.accounts.find((a) => a.user.toLowerCase() === lower || a.email === lower);
    // Unknown users cost a hash check too, so timing does not tell which users exist.
    const ok = await verifyPassword(password, rec?.passwordHash ?? (await decoyHash()));
    if (rec === undefined || !ok) return null;
    const handle: Handle = { backend: 'memory', key: keyOf(rec.user) };
    return {
      user: rec.user,
      email: rec.email,
      ...(rec.displayName !== undefined && { displayName: rec.displayName }),
      handle,
    };
  }

  /** Re-reads accounts.json when it changed, so accounts added while running can log in. */
  private async refreshAccounts(): Promise<void> {
    let mtime = 0;
    try {
      mtime = (await stat(path.join(this.dataDir, 'accounts.json'))).mtimeMs;
    } catch {
      mtime = 0;
    }
    if (mtime === this.accountsMtime) return;
    this.accounts = await readAccounts(this.dataDir);
    this.accountsMtime = mtime;
  }

  private keyOfAccount(account: Account): string {
    const h = account.handle as Handle | undefined;
    if (h?.backend !== 'memory' || typeof h.key !== 'string')
      throw new BackendError('auth', 'not a memory-backend account');
    return h.key;
  }

  private file(key: string): string {
    return path.join(this.dataDir, 'mailboxes', `${key}.json`);
  }

  private load(key: string): Promise<Loaded> {
    let p = this.loaded.get(key);
    if (p === undefined) {
      p = (async () => {
        const stored = (await readJsonFile(this.file(key))) as AccountData | undefined;
        const data = stored ?? newAccountData();
        if (data.format !== 1) throw new BackendError('unavailable', 'unknown mailbox file format');
        const writer = new DebouncedWriter(
          () => writeFileAtomic(this.file(key), encodeJson(data)),
          this.flushDelayMs,
          this.onError,
        );
        const mailbox = new Mailbox(data, () => writer.schedule());
        if (stored === undefined) writer.schedule();
        return { mailbox, writer };
      })();
      this.loaded.set(key, p);
      p.catch(() => this.loaded.delete(key));
    }
    return p;
  }

  private async box(account: Account, signal: AbortSignal): Promise<Mailbox> {
    signal.throwIfAborted();
    if (this.closed) throw new BackendError('unavailable', 'backend closed');
    return (await this.load(this.keyOfAccount(account))).mailbox;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = await Promise.allSettled([...this.loaded.values()]);
    await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.writer.flush() : undefined)));
  }

  // ---- folders --------------------------------------------------------------------------

  async listFolders(account: Account, signal: AbortSignal): Promise<Folder[]> {
    const box = await this.box(account, signal);
    // parents before children: a folder's depth orders it
    const depth = (f: Folder): number => (f.parentId === null ? 0 : 1 + depth(box.folder(f.parentId)));
    return box.data.folders.map((f) => ({ ...f })).sort((a, b) => depth(a) - depth(b));
  }

  private checkName(box: Mailbox, parentId: string | null, name: string, except?: string): void {
    const trimmed = name.trim();
    if (trimmed === '' || trimmed.length > 256)
      throw new BackendError('denied', 'folder names are 1–256 characters');
    const clash = box.data.folders.some(
      (f) =>
        f.parentId === parentId && f.id !== except && f.displayName.toLowerCase() === trimmed.toLowerCase(),
    );
    if (clash) throw new BackendError('conflict', 'a folder with that name exists');
  }

  private async createFolder(
    account: Account,
    parentId: string | null,
    displayName: string,
    cls: ItemClass,
    signal: AbortSignal,
  ): Promise<Folder> {
    const box = await this.box(account, signal);
    if (parentId !== null) box.folder(parentId);
    this.checkName(box, parentId, displayName);
    const folder: Folder = {
      id: box.newId(),
      parentId,
      displayName: displayName.trim(),
      class: cls,
      role: null,
    };
    box.addFolder(folder);
    return { ...folder };
  }

  private async updateFolder(
    account: Account,
    folderId: string,
    change: { displayName: string; parentId: string | null },
    signal: AbortSignal,
  ): Promise<Folder> {
    const box = await this.box(account, signal);
    const folder = box.folder(folderId);
    if (folder.role !== null) throw new BackendError('denied', 'special folders cannot be changed');
    if (change.parentId !== null) {
      // a folder cannot move under itself or its descendants
      for (let p: string | null = change.parentId; p !== null; p = box.folder(p).parentId) {
        if (p === folderId) throw new BackendError('denied', 'a folder cannot move into itself');
      }
    }
    this.checkName(box, change.parentId, change.displayName, folderId);
    folder.displayName = change.displayName.trim();
    folder.parentId = change.parentId;
    box.hierarchyChanged();
    return { ...folder };
  }

  private async deleteFolder(account: Account, folderId: string, signal: AbortSignal): Promise<void> {
    const box = await this.box(account, signal);
    const folder = box.folder(folderId);
    if (folder.role !== null) throw new BackendError('denied', 'special folders cannot be deleted');
    const doomed = [folderId];
    for (let i = 0; i < doomed.length; i++)
      for (const f of box.data.folders) if (f.parentId === doomed[i]) doomed.push(f.id);
    for (const id of doomed) box.dropFolder(id);
    box.hierarchyChanged();
  }

  // ---- items ----------------------------------------------------------------------------

  async listStamps(
    account: Account,
    folderId: string,
    opts: { since?: Date },
    signal: AbortSignal,
  ): Promise<ItemStamp[]> {
    const box = await this.box(account, signal);
    const since = opts.since?.getTime();
    const recs = Object.values(box.items(folderId)).filter((r) => since === undefined || !isBefore(r, since));
    recs.sort((a, b) => sortTime(b) - sortTime(a) || Number(b.id) - Number(a.id));
    return recs.map((r) => ({ id: r.id, version: r.version }));
  }

  async getItems(
    account: Account,
    folderId: string,
    ids: readonly string[],
    opts: ReadOptions,
    signal: AbortSignal,
  ): Promise<ItemRecord[]> {
    const box = await this.box(account, signal);
    const folder = box.folder(folderId);
    const items = box.items(folderId);
    const out: ItemRecord[] = [];
    for (const id of ids) {
      const rec = items[id];
      if (rec === undefined) continue;
      if (rec.class === 'Email') {
        const item = emailFromParsed(await this.parsed(rec), {
          bodyPreferences: opts.bodyPreferences,
          ...(opts.MIMESupport !== undefined && { MIMESupport: opts.MIMESupport }),
          ...(opts.bodyPartPreferences !== undefined && { bodyPartPreferences: opts.bodyPartPreferences }),
          fileReference: (i) => fileReference(rec.id, i),
          receivedAt: rec.received,
        });
        Object.assign(item, mailFlagsToItem(rec.flags));
        if (rec.draft || folder.role === 'drafts') item.IsDraft = true;
        out.push({ id, version: rec.version, class: 'Email', item });
      } else {
        out.push({ id, version: rec.version, ...readOther(rec, opts) });
      }
      signal.throwIfAborted();
    }
    return out;
  }

  private parsed(rec: StoredEmail): Promise<ParsedMime> {
    // Item ids and versions are counted per account, so they alone would let one account's
    // read hit another account's cached message: key by the stored record's own identity.
    let identity = this.recordIdentity.get(rec);
    if (identity === undefined) {
      identity = ++this.recordCounter;
      this.recordIdentity.set(rec, identity);
    }
    const key = `${identity}:${rec.version}`;
    let p = this.parsedCache.get(key);
    if (p === undefined) {
      p = parseMime(rec.mime);
      this.parsedCache.set(key, p);
      // a small LRU: drop the oldest entries
      while (this.parsedCache.size > 256) {
        const oldest = this.parsedCache.keys().next().value;
        if (oldest === undefined) break;
        this.parsedCache.delete(oldest);
      }
    }
    return p;
  }

  private checkClass(folder: Folder, typed: TypedItem): void {
    if (folder.class !== typed.class)
      throw new BackendError('unsupported', `a ${typed.class} item cannot go in a ${folder.class} folder`);
  }

  async createItem(
    account: Account,
    folderId: string,
    typed: TypedItem,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const box = await this.box(account, signal);
    const folder = box.folder(folderId);
    this.checkClass(folder, typed);
    const now = new Date();
    let rec: StoredItem;
    if (typed.class === 'Email') {
      const mime = await emailToMime(typed.item, { defaultFrom: account.email });
      if (mime.byteLength > this.maxMessageBytes) throw new BackendError('too-large', 'message too large');
      const draft = folder.role === 'drafts' || typed.item.IsDraft === true;
      const flags = {
        ...mailFlagsFrom(typed.item),
        Read: typed.item.Read ?? (draft || folder.role === 'sent'),
      };
      rec = newEmail(box, mime, flags, typed.item.DateReceived ?? now, draft);
    } else {
      rec = {
        class: typed.class,
        id: box.newId(),
        version: box.nextVersion(),
        modified: now,
        item: cleanOther(typed),
        files: filesFromAdds(typed.item),
      };
    }
    box.put(folderId, rec);
    return { id: rec.id, version: rec.version };
  }

  async updateItem(
    account: Account,
    folderId: string,
    id: string,
    typed: TypedItem,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const box = await this.box(account, signal);
    const folder = box.folder(folderId);
    this.checkClass(folder, typed);
    const old = box.item(folderId, id);
    if (opts.ifVersion !== undefined && opts.ifVersion !== old.version)
      throw new BackendError('conflict', 'the item changed');
    let rec: StoredItem;
    if (old.class === 'Email' && typed.class === 'Email') {
      const flags: MailFlags = { ...old.flags, ...mailFlagsFrom(typed.item) };
      // An empty Flag clears the flag (MS-ASEMAIL 2.2.2.34).
      if (typed.item.Flag !== undefined && Object.keys(typed.item.Flag).length === 0) delete flags.Flag;
      let mime = old.mime;
      if (old.draft && touchesDraftContent(typed.item))
        mime = await this.rewriteDraft(old, typed.item, account.email);
      rec = { ...old, version: box.nextVersion(), modified: new Date(), flags, mime };
    } else if (old.class !== 'Email' && typed.class !== 'Email') {
      const deleted = new Set('AttachmentsDelete' in typed.item ? (typed.item.AttachmentsDelete ?? []) : []);
      const kept = old.files.filter((_, i) => !deleted.has(fileReference(old.id, i)));
      rec = {
        ...old,
        version: box.nextVersion(),
        modified: new Date(),
        item: cleanOther(typed),
        files: [...kept, ...filesFromAdds(typed.item)],
      };
    } else {
      throw new BackendError('unsupported', 'class mismatch');
    }
    box.put(folderId, rec);
    return { id, version: rec.version };
  }

  /** A draft edit: the stored message with the client's changes, attachments kept unless deleted. */
  private async rewriteDraft(old: StoredEmail, change: EmailItem, from: string): Promise<Uint8Array> {
    const parsed = await this.parsed(old);
    const current = emailFromParsed(parsed, {
      bodyPreferences: [{ Type: parsed.email.html !== undefined ? 2 : 1 }],
      fileReference: (i) => fileReference(old.id, i),
    });
    const deleted = new Set(change.AttachmentsDelete ?? []);
    const keptAttachments = (current.Attachments ?? []).flatMap((a: Attachment) => {
      if (deleted.has(a.FileReference)) return [];
      const ref = parseFileReference(a.FileReference);
      const part = ref === undefined ? undefined : attachmentAt(parsed, ref.index);
      return part === undefined
        ? []
        : [
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
    const mime = await emailToMime(merged, { defaultFrom: from, keptAttachments });
    if (mime.byteLength > this.maxMessageBytes) throw new BackendError('too-large', 'message too large');
    return mime;
  }

  async deleteItem(
    account: Account,
    folderId: string,
    id: string,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<void> {
    const box = await this.box(account, signal);
    const old = box.item(folderId, id);
    if (opts.ifVersion !== undefined && opts.ifVersion !== old.version)
      throw new BackendError('conflict', 'the item changed');
    box.remove(folderId, id);
  }

  async moveItem(
    account: Account,
    folderId: string,
    id: string,
    toFolderId: string,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const box = await this.box(account, signal);
    const from = box.folder(folderId);
    const to = box.folder(toFolderId);
    const old = box.item(folderId, id);
    if (from.class !== to.class)
      throw new BackendError('unsupported', 'items move only between folders of one class');
    if (folderId === toFolderId) return { id, version: old.version };
    box.remove(folderId, id);
    const moved: StoredItem = { ...old, id: box.newId(), version: box.nextVersion(), modified: new Date() };
    if (moved.class === 'Email') moved.draft = to.role === 'drafts';
    box.put(toFolderId, moved);
    return { id: moved.id, version: moved.version };
  }

  async emptyFolder(
    account: Account,
    folderId: string,
    opts: { DeleteSubFolders: boolean },
    signal: AbortSignal,
  ): Promise<void> {
    const box = await this.box(account, signal);
    box.folder(folderId);
    for (const id of Object.keys(box.items(folderId))) box.remove(folderId, id);
    if (opts.DeleteSubFolders) {
      const doomed = box.data.folders.filter((f) => f.parentId === folderId).map((f) => f.id);
      for (let i = 0; i < doomed.length; i++)
        for (const f of box.data.folders) if (f.parentId === doomed[i]) doomed.push(f.id);
      for (const id of doomed) box.dropFolder(id);
      if (doomed.length > 0) box.hierarchyChanged();
    }
  }

  async watch(
    account: Account,
    folderIds: readonly string[],
    onChange: (hint: ChangeHint) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const box = await this.box(account, signal);
    await box.watch(folderIds, onChange, signal);
  }

  async userInformation(account: Account, signal: AbortSignal): Promise<UserInformation> {
    signal.throwIfAborted();
    return {
      ...(account.displayName !== undefined && { UserDisplayName: account.displayName }),
      PrimarySmtpAddress: account.email,
      SMTPAddress: [account.email],
    };
  }

  // ---- mail -----------------------------------------------------------------------------

  private async send(
    account: Account,
    mime: Uint8Array,
    opts: { saveInSent: boolean },
    signal: AbortSignal,
  ): Promise<void> {
    const box = await this.box(account, signal);
    if (mime.byteLength > this.maxMessageBytes) throw new BackendError('too-large', 'message too large');
    const parsed = await parseMime(mime);
    const recipients = recipientsOf(parsed);
    if (recipients.length === 0) throw new BackendError('denied', 'the message has no recipients');
    // Safe default: an account sends as itself, never as a colleague.
    const from = parsed.email.from?.address?.toLowerCase();
    if (from !== undefined && from !== account.email.toLowerCase()) {
      throw new BackendError('denied', 'From is not the account address');
    }
    await this.refreshAccounts();
    const delivered = stripBcc(mime);
    const remote: string[] = [];
    const now = new Date();
    for (const address of recipients) {
      const local = this.accounts.find((a) => a.email === address);
      if (local === undefined) {
        remote.push(address);
        continue;
      }
      const target = (await this.load(keyOf(local.user))).mailbox;
      target.put(target.byRole('inbox').id, newEmail(target, delivered, { Read: false }, now));
    }
    if (remote.length > 0) {
      // No relay here: mail for other domains is recorded, one JSON line per message.
      const line = JSON.stringify({
        at: now.toISOString(),
        from: account.email,
        to: remote,
        mime: Buffer.from(delivered).toString('base64'),
      });
      await mkdir(this.dataDir, { recursive: true });
      await appendFile(path.join(this.dataDir, 'outbox.jsonl'), `${line}\n`, { mode: 0o600 });
    }
    if (opts.saveInSent) {
      box.put(box.byRole('sent').id, newEmail(box, mime, { Read: true }, now));
    }
  }

  private async getAttachment(
    account: Account,
    ref: string,
    signal: AbortSignal,
  ): Promise<AttachmentContent> {
    const box = await this.box(account, signal);
    const parsedRef = parseFileReference(ref);
    const rec = parsedRef === undefined ? undefined : box.locate(parsedRef.itemId);
    if (parsedRef === undefined || rec === undefined)
      throw new BackendError('not-found', 'unknown attachment');
    let part: { contentType: string; content: Uint8Array } | undefined;
    if (rec.class === 'Email') part = attachmentAt(await this.parsed(rec), parsedRef.index);
    else {
      const f = rec.files[parsedRef.index];
      part = f === undefined ? undefined : { contentType: f.contentType, content: f.content };
    }
    if (part === undefined) throw new BackendError('not-found', 'unknown attachment');
    const { content, contentType } = part;
    return {
      contentType,
      length: content.byteLength,
      chunks: async function* (chunkSignal: AbortSignal) {
        for (let at = 0; at < content.byteLength; at += 64 * 1024) {
          chunkSignal.throwIfAborted();
          yield content.subarray(at, at + 64 * 1024);
        }
      },
    };
  }

  // ---- search ---------------------------------------------------------------------------

  private async searchMailbox(
    account: Account,
    q: MailboxQuery,
    signal: AbortSignal,
  ): Promise<{ hits: SearchHit[]; total: number }> {
    const box = await this.box(account, signal);
    let folders =
      q.folderIds === undefined
        ? box.data.folders.filter((f) => f.class === 'Email').map((f) => f.id)
        : [...q.folderIds];
    for (const id of folders) box.folder(id);
    if (q.DeepTraversal === true && q.folderIds !== undefined) {
      for (let i = 0; i < folders.length; i++)
        for (const f of box.data.folders)
          if (f.parentId === folders[i] && !folders.includes(f.id)) folders.push(f.id);
    }
    folders = folders.filter((id) => box.folder(id).class === 'Email');
    const words = (q.FreeText ?? '')
      .toLowerCase()
      .split(/\s+/)
      .filter((w) => w !== '');
    const matches: Array<{ hit: SearchHit; time: number; order: number }> = [];
    for (const folderId of folders) {
      for (const rec of Object.values(box.items(folderId))) {
        if (rec.class !== 'Email') continue;
        const t = rec.received.getTime();
        if (q.receivedAfter !== undefined && t <= q.receivedAfter.getTime()) continue;
        if (q.receivedBefore !== undefined && t >= q.receivedBefore.getTime()) continue;
        const p = await this.parsed(rec);
        if (q.ConversationId !== undefined) {
          const item = emailFromParsed(p, { bodyPreferences: [], fileReference: () => '' });
          if (
            item.ConversationId === undefined ||
            Buffer.compare(Buffer.from(item.ConversationId), Buffer.from(q.ConversationId)) !== 0
          )
            continue;
        }
        if (words.length > 0) {
          const e = p.email;
          const hay = [
            e.subject,
            e.text ?? (e.html !== undefined ? htmlToPlain(e.html) : ''),
            JSON.stringify([e.from, e.to, e.cc]),
          ]
            .join('\n')
            .toLowerCase();
          if (!words.every((w) => hay.includes(w))) continue;
        }
        matches.push({ hit: { folderId, id: rec.id }, time: t, order: Number(rec.id) });
      }
      signal.throwIfAborted();
    }
    // newest first; among messages of the same instant, the one stored last
    matches.sort((a, b) => b.time - a.time || b.order - a.order);
    return { total: matches.length, hits: matches.slice(0, Math.max(0, q.limit)).map((m) => m.hit) };
  }

  private async directory(
    account: Account,
    text: string,
    limit: number,
    signal: AbortSignal,
  ): Promise<DirectoryEntry[]> {
    signal.throwIfAborted();
    await this.refreshAccounts();
    const needle = text.trim().toLowerCase();
    if (needle === '') return [];
    return this.accounts
      .filter((a) => [a.user, a.email, a.displayName ?? ''].some((s) => s.toLowerCase().includes(needle)))
      .slice(0, Math.max(0, limit))
      .map((a) => ({ DisplayName: a.displayName ?? a.user, EmailAddress: a.email, Alias: a.user }));
  }
}

function newEmail(
  box: Mailbox,
  mime: Uint8Array,
  flags: MailFlags,
  received: Date,
  draft = false,
): StoredEmail {
  return {
    class: 'Email',
    id: box.newId(),
    version: box.nextVersion(),
    modified: new Date(),
    received,
    mime,
    flags,
    draft,
  };
}

function mailFlagsFrom(item: EmailItem): Partial<MailFlags> {
  const f: Partial<MailFlags> = {};
  if (item.Read !== undefined) f.Read = item.Read;
  if (item.Flag !== undefined && Object.keys(item.Flag).length > 0) f.Flag = item.Flag;
  if (item.Categories !== undefined) f.Categories = item.Categories;
  if (item.LastVerbExecuted !== undefined) f.LastVerbExecuted = item.LastVerbExecuted;
  if (item.LastVerbExecutionTime !== undefined) f.LastVerbExecutionTime = item.LastVerbExecutionTime;
  return f;
}

function mailFlagsToItem(flags: MailFlags): Partial<EmailItem> {
  return {
    ...flags,
    ...(flags.Flag === undefined ? {} : { Flag: structuredClone(flags.Flag) }),
    ...(flags.Categories && { Categories: [...flags.Categories] }),
  };
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

function touchesDraftContent(item: EmailItem): boolean {
  return draftFields.some((k) => item[k] !== undefined);
}

/** A non-mail item as stored: the client's properties, Body normalised, write-only fields dropped. */
function cleanOther(typed: Exclude<TypedItem, { class: 'Email' }>): StoredOther['item'] {
  const item = structuredClone(typed.item) as StoredOther['item'] & {
    AttachmentsAdd?: unknown;
    AttachmentsDelete?: unknown;
    Attachments?: unknown;
  };
  delete item.AttachmentsAdd;
  delete item.AttachmentsDelete;
  delete item.Attachments;
  const body = normalizeBody(item.Body);
  if (body === undefined) delete item.Body;
  else item.Body = body;
  return item;
}

function readOther(rec: StoredOther, opts: ReadOptions): TypedItem {
  const item = structuredClone(rec.item) as StoredOther['item'] & { Attachments?: Attachment[] };
  if (item.Body !== undefined) {
    const body = applyBodyPreferences(
      storedBodySource(item.Body),
      opts.bodyPreferences,
      opts.MIMESupport ?? 0,
    );
    if (body === undefined) delete item.Body;
    else item.Body = body;
  }
  if (rec.files.length > 0) {
    item.Attachments = rec.files.map((f, i) => ({
      DisplayName: f.name,
      FileReference: fileReference(rec.id, i),
      Method: 1,
      EstimatedDataSize: f.content.byteLength,
      ContentType: f.contentType,
      ...(f.contentId !== undefined && { ContentId: f.contentId }),
      ...(f.inline === true && { IsInline: true }),
    }));
  }
  return { class: rec.class, item } as TypedItem;
}

/** The time a listing sorts and filters by: received for mail, start/due for the rest. */
function sortTime(r: StoredItem): number {
  if (r.class === 'Email') return r.received.getTime();
  const i = r.item as { StartTime?: Date; DueDate?: Date };
  return (i.StartTime ?? i.DueDate ?? r.modified).getTime();
}

/** FilterType: mail received before `since`, events that ended before it (recurring ones never do). */
function isBefore(r: StoredItem, since: number): boolean {
  if (r.class === 'Email') return r.received.getTime() < since;
  if (r.class === 'Calendar') {
    const c = r.item as { EndTime?: Date; Recurrence?: unknown };
    return c.Recurrence === undefined && c.EndTime !== undefined && c.EndTime.getTime() < since;
  }
  return false;
}

/** Opens the memory backend on a data directory (created if missing). */
export async function openMemoryBackend(opts: MemoryBackendOptions): Promise<MemoryBackend> {
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  return new MemoryBackend(opts);
}
