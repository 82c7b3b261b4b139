// The backend contract: what easd needs of a store, split by capability (after Stalwart's
// storage traits). A backend implements the required core — login, folders, item stamps,
// reads, writes — and offers the rest as optional properties; it never throws "not
// implemented". Backends never see WBXML, sync keys, device ids or Status numbers: they speak
// in folders, items (src/backend/model.ts) and BackendError kinds (src/backend/errors.ts).
//
// Every async method takes an AbortSignal (the request's): when it fires, stop work and reject
// (any error will do; the engine ignores results of aborted calls).
import type { BodyPreference, ItemClass, ItemByClass, TypedItem } from './model.js';

/** A signed-in user as a backend knows them. */
export interface Account {
  /** The login name, as typed by the user (or as the store canonicalises it). */
  user: string;
  /** Primary SMTP address. */
  email: string;
  displayName?: string;
  /** Whatever the backend needs per account (a connection key, a token); opaque to easd. */
  handle?: unknown;
}

/**
 * What a folder is for. `default` marks the default Calendar, Contacts, Tasks or Notes folder;
 * `null` a user-created folder. The engine turns class + role into FolderSync Type numbers
 * (src/backend/folder-types.ts).
 */
export type FolderRole = 'inbox' | 'drafts' | 'deleted' | 'sent' | 'outbox' | 'junk' | 'default';

export interface Folder {
  /** Stable for the folder's life, even across renames; at most 64 characters (MS-ASCMD 2.2.3.156.2). */
  id: string;
  /** null for a top-level folder. */
  parentId: string | null;
  displayName: string;
  class: ItemClass;
  role: FolderRole | null;
}

/**
 * An item's identity and version. `version` is opaque and MUST change whenever anything the
 * engine could send changes (content, read state, flags, categories); the generic differ
 * compares versions to find changes.
 */
export interface ItemStamp {
  /** Unique within its folder, at most 64 characters (MS-ASCMD 2.2.3.156.1 ServerId, minus the folder part). */
  id: string;
  version: string;
}

/** One entry of a change log: an item that appeared or changed, or one that went away. */
export interface ItemChange {
  kind: 'upsert' | 'delete';
  id: string;
  /** The new version, for upserts. */
  version?: string;
}

export interface ChangeBatch {
  changes: ItemChange[];
  /** Where the next `changesSince` call continues. */
  cursor: string;
}

/**
 * Optional cheaper change feed (IMAP CONDSTORE/QRESYNC, WebDAV sync-collection). Applying the
 * changes to the stamps at `cursor` MUST give the same result as a fresh `listStamps`. Either
 * method throws BackendError('cursor-expired') when it cannot answer; the engine then falls
 * back to `listStamps`.
 */
export interface ChangeLog {
  currentCursor(account: Account, folderId: string, signal: AbortSignal): Promise<string>;
  changesSince(account: Account, folderId: string, cursor: string, signal: AbortSignal): Promise<ChangeBatch>;
}

export interface ReadOptions {
  /** The client's preferences, in its order; empty means "the native body, whole". */
  bodyPreferences: BodyPreference[];
  /**
   * MS-ASCMD 2.2.3.110 MIMESupport: 0 never send MIME, 1 only for S/MIME messages, 2 always.
   * Absent means 0. `applyBodyPreferences` (src/backend/body.ts) honours it.
   */
  MIMESupport?: 0 | 1 | 2;
  /**
   * MS-ASAIRS 2.2.2.11 BodyPartPreference (14.1+, mail): give EmailItem.BodyPart, the message
   * without its quoted conversation (`bodyPartOf` in src/convert/mime-body-part.ts does it).
   */
  bodyPartPreferences?: BodyPreference[];
}

/** An item as read: identity, version and content. */
export type ItemRecord = TypedItem & ItemStamp;

export interface WriteOptions {
  /** Only write when the item still has this version; otherwise BackendError('conflict'). */
  ifVersion?: string;
}

/** Logging in. Pass-through: the backend checks the credentials against its store. */
export interface Authenticator {
  /** The account, or null for wrong credentials or an unknown user (never say which). */
  authenticate(user: string, password: string, signal: AbortSignal): Promise<Account | null>;
}

export interface FolderSource {
  /** Every folder of the account, parents before children. */
  listFolders(account: Account, signal: AbortSignal): Promise<Folder[]>;
}

export interface ItemSource {
  /**
   * Stamps of every item in the folder, newest first (a sync window then shows new mail first).
   * `since` limits to items received/modified on or after it (FilterType); backends may
   * return more, never fewer. Unknown folder: BackendError('not-found').
   */
  listStamps(
    account: Account,
    folderId: string,
    opts: { since?: Date },
    signal: AbortSignal,
  ): Promise<ItemStamp[]>;
  /**
   * The items asked for, in any order; ids that do not exist are simply absent. Bodies are
   * shaped by `opts` (use `applyBodyPreferences`).
   */
  getItems(
    account: Account,
    folderId: string,
    ids: readonly string[],
    opts: ReadOptions,
    signal: AbortSignal,
  ): Promise<ItemRecord[]>;
  changes?: ChangeLog;
}

export interface ItemWriter {
  /**
   * Adds an item to the folder and returns its stamp. The item's class must be the folder's
   * (else BackendError('unsupported')). An Email whose Body is Type 4 (MIME) with Data is stored
   * as that message, byte for byte.
   */
  createItem(account: Account, folderId: string, item: TypedItem, signal: AbortSignal): Promise<ItemStamp>;
  /**
   * Changes an item and returns its new stamp, whose id may differ when the store replaces the
   * item (an IMAP draft edit); the engine keeps the device's ServerId. For Calendar, Contacts,
   * Tasks and Notes the given properties replace the item's (the engine has merged ghosted
   * properties, MS-ASCMD 2.2.3.168.2 Supported). For Email, as in a Sync Change, only the
   * properties present are changed (Read, Flag, Categories …; a draft's content when IsDraft).
   */
  updateItem(
    account: Account,
    folderId: string,
    id: string,
    item: TypedItem,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<ItemStamp>;
  deleteItem(
    account: Account,
    folderId: string,
    id: string,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<void>;
  /** Moves an item to another folder of the same class; returns its stamp there (a new id). */
  moveItem(
    account: Account,
    folderId: string,
    id: string,
    toFolderId: string,
    signal: AbortSignal,
  ): Promise<ItemStamp>;
}

/** FolderCreate / FolderUpdate / FolderDelete. Folders with a role may be refused ('denied'). */
export interface FolderAdmin {
  createFolder(
    account: Account,
    parentId: string | null,
    displayName: string,
    cls: ItemClass,
    signal: AbortSignal,
  ): Promise<Folder>;
  /** Renames and/or moves a folder. A sibling with the same name: BackendError('conflict'). */
  updateFolder(
    account: Account,
    folderId: string,
    change: { displayName: string; parentId: string | null },
    signal: AbortSignal,
  ): Promise<Folder>;
  /** Deletes the folder, its items and its subfolders. */
  deleteFolder(account: Account, folderId: string, signal: AbortSignal): Promise<void>;
}

export interface AttachmentContent {
  contentType: string;
  /** Size in bytes. */
  length: number;
  /** The bytes, in chunks; stops when `signal` fires. */
  chunks(signal: AbortSignal): AsyncIterable<Uint8Array>;
}

export interface MailTransport {
  /**
   * Sends an RFC 5322 message (recipients from To, Cc and Bcc; Bcc is removed before
   * delivery). With `saveInSent`, a copy lands in the Sent folder. Rejects only when nothing was
   * sent (the phone keeps the message and may retry). When some recipients took it and others
   * were refused, it resolves — a retry would reach the first ones twice — and tells the user of
   * the refused ones itself, as a mail server does (the IMAP backend files a non-delivery report
   * in the Inbox).
   */
  send(account: Account, mime: Uint8Array, opts: { saveInSent: boolean }, signal: AbortSignal): Promise<void>;
}

/**
 * Attachment bytes by FileReference. Separate from sending: a read-only mail store serves
 * attachments without being able to send, and a store may send without holding attachments.
 */
export interface AttachmentSource {
  /**
   * An attachment by the FileReference the backend gave out (ItemOperations Fetch, forwarding an
   * original's attachments). Unknown or foreign references: BackendError('not-found').
   */
  getAttachment(account: Account, fileReference: string, signal: AbortSignal): Promise<AttachmentContent>;
}

/** A mailbox search (MS-ASCMD 2.2.1.16 Search store "Mailbox", 2.2.1.2 Find). */
export interface MailboxQuery {
  /** Words to look for in Subject, addresses and body (search:FreeText). */
  FreeText?: string;
  /** Folders to search; every mail folder when absent. */
  folderIds?: string[];
  /** Include subfolders of `folderIds` (search:DeepTraversal). */
  DeepTraversal?: boolean;
  /** Only items received after / before (search:GreaterThan / LessThan on DateReceived). */
  receivedAfter?: Date;
  receivedBefore?: Date;
  ConversationId?: Uint8Array;
  /** The most hits wanted. */
  limit: number;
}

export interface SearchHit {
  folderId: string;
  id: string;
}

/** A directory entry, with the gal: names of MS-ASCMD 2.2.3.* (Search store "GAL", ResolveRecipients). */
export interface DirectoryEntry {
  DisplayName: string;
  EmailAddress: string;
  Phone?: string;
  Office?: string;
  Title?: string;
  Company?: string;
  Alias?: string;
  FirstName?: string;
  LastName?: string;
  HomePhone?: string;
  MobilePhone?: string;
  /** The person's photo as stored (JPEG, PNG …), for gal:Picture / ResolveRecipients Picture (14.1+). */
  Picture?: Uint8Array;
  /** X.509 certificates (DER) for S/MIME; the engine decides which are valid (ResolveRecipients Certificates). */
  Certificates?: Uint8Array[];
}

export interface Searcher {
  /** Hits newest first, at most `query.limit`, and how many there are in all. */
  mailbox(
    account: Account,
    query: MailboxQuery,
    signal: AbortSignal,
  ): Promise<{ hits: SearchHit[]; total: number }>;
  /** People whose name or address contains `text` (the global address list, or the user's contacts). */
  directory?(account: Account, text: string, limit: number, signal: AbortSignal): Promise<DirectoryEntry[]>;
}

/** Busy time of a person, merged by the engine into ResolveRecipients' MergedFreeBusy (MS-ASCMD 2.2.3.107). */
export interface BusyPeriod {
  start: Date;
  end: Date;
  type: 'tentative' | 'busy' | 'oof';
}

export interface FreeBusySource {
  /**
   * The busy periods between `start` and `end` of each address the store can tell (the user's own
   * at least); an address it cannot answer for is left out of the map, and the engine says so.
   */
  freeBusy(
    account: Account,
    addresses: readonly string[],
    start: Date,
    end: Date,
    signal: AbortSignal,
  ): Promise<Map<string, BusyPeriod[]>>;
}

/** A hint that something changed; it carries no data, the engine looks for itself. */
export interface ChangeHint {
  /** The folder whose items changed; absent means "any of them, look at all". */
  folderId?: string;
  /** The folder list itself changed (FolderSync needed). */
  hierarchy?: boolean;
  /**
   * Not a change: the watch cannot see every change of `folderId` (an IMAP server without
   * CONDSTORE reports no flag change outside INBOX), so its silence says nothing about that folder.
   */
  blind?: boolean;
}

/** MS-ASCMD 2.2.3.119 OofMessage, one per audience. */
export interface OofMessage {
  AppliesTo: 'Internal' | 'ExternalKnown' | 'ExternalUnknown';
  Enabled: boolean;
  ReplyMessage?: string;
  BodyType?: 'Text' | 'HTML';
}

/** MS-ASCMD 2.2.3.118 Oof: 0 disabled, 1 global, 2 time-based. */
export interface OofSettings {
  OofState: 0 | 1 | 2;
  StartTime?: Date;
  EndTime?: Date;
  OofMessage: OofMessage[];
}

export interface OofStore {
  get(account: Account, signal: AbortSignal): Promise<OofSettings>;
  set(account: Account, settings: OofSettings, signal: AbortSignal): Promise<void>;
}

/** Settings UserInformation (MS-ASCMD 2.2.3.192). */
export interface UserInformation {
  UserDisplayName?: string;
  PrimarySmtpAddress: string;
  SMTPAddress: string[];
}

/**
 * A backend: the required core plus whichever optional capabilities it has. The engine checks
 * for a capability's presence (`backend.mail !== undefined`) and answers clients accordingly.
 */
export interface Backend extends Authenticator, FolderSource, ItemSource, ItemWriter {
  /** For logs: "memory", "imap", … */
  readonly name: string;
  folders?: FolderAdmin;
  mail?: MailTransport;
  attachments?: AttachmentSource;
  search?: Searcher;
  /** Free/busy for ResolveRecipients Availability (MS-ASCMD 2.2.3.16). */
  freeBusy?: FreeBusySource;
  /**
   * Calls `onChange` whenever items in `folderIds` (or the folder list) change — by this server,
   * another client of the store, or delivery — until `signal` fires; then resolves. Hints may be
   * spurious or coalesced, never missed. Rejects with BackendError('unavailable') if the store
   * drops the subscription (the engine falls back to polling).
   */
  watch?(
    account: Account,
    folderIds: readonly string[],
    onChange: (hint: ChangeHint) => void,
    signal: AbortSignal,
  ): Promise<void>;
  oof?: OofStore;
  /** ItemOperations EmptyFolderContents (MS-ASCMD 2.2.3.58). */
  emptyFolder?(
    account: Account,
    folderId: string,
    opts: { DeleteSubFolders: boolean },
    signal: AbortSignal,
  ): Promise<void>;
  userInformation?(account: Account, signal: AbortSignal): Promise<UserInformation>;
  /** Releases connections and flushes data; called once at shutdown. */
  close?(): Promise<void>;
}

/** The item type for a folder class, for code that already knows the class. */
export type ItemOf<C extends ItemClass> = ItemByClass[C];
