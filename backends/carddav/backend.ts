// The CardDAV backend (RFC 6352): every address book of the user is a Contacts folder, every
// vCard an item. Ids come from hrefs, versions are ETags, the change feed is sync-collection
// (RFC 6578), reads are addressbook-multiget, writes are conditional PUTs that rewrite the stored
// card through src/convert/vcard.ts so properties a phone never saw survive its edits.
import { randomUUID } from 'node:crypto';
import type {
  Account,
  Backend,
  ChangeBatch,
  ChangeLog,
  Folder,
  FolderAdmin,
  ItemRecord,
  ItemStamp,
  ReadOptions,
  WriteOptions,
} from '../../src/backend/contract.js';
import { applyBodyPreferences } from '../../src/backend/body.js';
import { BackendError, isBackendError } from '../../src/backend/errors.js';
import type { ContactItem, ItemClass, TypedItem } from '../../src/backend/model.js';
import { plainToHtml } from '../../src/convert/mime-to-email.js';
import { contactToVcard, readVcard, VcardSyntaxError } from '../../src/convert/vcard.js';
import {
  buildXml,
  CARDDAV,
  childKeys,
  DAV,
  EASD,
  el,
  parseMultistatus,
  prop,
  statusError,
  textEl,
  textOf,
  type DavAnswer,
  type DavResponse,
  type XmlSpec,
} from './dav.js';
import {
  DavResources,
  parentsFirst,
  propfindBody,
  listedResource,
  type ListedResource,
} from '../dav/resources.js';
import { idFor, lastSegment } from '../dav/webdav.js';

export { idFor };

export interface CardDavOptions {
  /** Where discovery starts: the server root, a principal URL or a /.well-known/carddav URL (RFC 6764). */
  url: string;
  /**
   * The DAV user name for an EAS login (a table or a function); default: the login itself. The
   * account's address is the login when it has an `@`, else `user@emailDomain`.
   */
  userMapping?: Record<string, string> | ((login: string) => string);
  /** For logins without `@` (default: the server's host name). */
  emailDomain?: string;
  /** Per DAV request (default 15 s); past it the call fails with 'unavailable'. */
  timeoutMs?: number;
  /**
   * Resources remembered from folder listings, across all users (default 100,000; 0: none). A
   * look at a folder whose sync-token/ctag is that of its last listing answers from it (see
   * backends/dav/listing.ts); the least recently used listings go first.
   */
  listingRows?: number;
  /**
   * The vCard version of new cards when an address book does not say (CARDDAV:supported-address-data,
   * RFC 6352 §6.2.2). Default 3.0: servers that say nothing are often built on vobject (Radicale
   * 3.1), which cuts a 4.0 PHOTO data: URI at its comma; ENCODING=b in 3.0 is stored whole. An
   * existing card keeps its version whatever this says.
   */
  vcardVersion?: '3.0' | '4.0';
  /** Created in the home when the user has no address book at all (default: `contacts`, "Contacts"). */
  defaultAddressBook?: { segment: string; displayName: string } | false;
}

/** Account.handle: which session the account belongs to. Holds no credentials. */
export class CardDavHandle {
  constructor(readonly davUser: string) {}
  toJSON(): { backend: string; user: string } {
    return { backend: 'carddav', user: this.davUser };
  }
}

interface FolderInfo extends Folder {
  /** Absolute URL of the collection, ending in `/`. */
  url: string;
  version: '3.0' | '4.0';
  /** The address book listed the versions it takes (supported-address-data). */
  advertised: boolean;
  syncCollection: boolean;
}

/** What the backend knows of one DAV user; rebuilt from the server whenever it misses. */
interface UserCache {
  home?: string;
  folders?: Map<string, FolderInfo>;
}

interface Session {
  davUser: string;
  /** The Basic credentials, only here: in a WeakMap keyed by the Account's handle. */
  authorization: string;
}

const MULTIGET_BATCH = 100;

export class CardDavBackend implements Backend {
  readonly name = 'carddav';
  readonly changes: ChangeLog;
  readonly folders: FolderAdmin;

  private readonly opts: Required<Omit<CardDavOptions, 'userMapping' | 'emailDomain'>> &
    Pick<CardDavOptions, 'userMapping' | 'emailDomain'>;
  private readonly sessions = new WeakMap<CardDavHandle, Session>();
  private readonly caches = new Map<string, UserCache>();
  private readonly dav: DavResources;

  constructor(opts: CardDavOptions) {
    this.opts = {
      timeoutMs: 15_000,
      listingRows: 100_000,
      vcardVersion: '3.0',
      defaultAddressBook: { segment: 'contacts', displayName: 'Contacts' },
      ...opts,
      url: opts.url,
    };
    this.dav = new DavResources({
      label: 'CardDAV',
      timeoutMs: this.opts.timeoutMs,
      listingRows: this.opts.listingRows,
      contentType: 'text/vcard; charset=utf-8',
      extension: '.vcf',
    });
    this.changes = {
      currentCursor: (a, f, s) => this.currentCursor(a, f, s),
      changesSince: (a, f, c, s) => this.changesSince(a, f, c, s),
    };
    this.folders = {
      createFolder: (a, p, n, c, s) => this.createFolder(a, p, n, c, s),
      updateFolder: (a, f, c, s) => this.updateFolder(a, f, c, s),
      deleteFolder: (a, f, s) => this.deleteFolder(a, f, s),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  private session(account: Account): Session {
    const s = account.handle instanceof CardDavHandle ? this.sessions.get(account.handle) : undefined;
    if (s === undefined) throw new BackendError('auth', 'not a CardDAV session of this server');
    return s;
  }

  private cache(s: Session): UserCache {
    let c = this.caches.get(s.davUser);
    if (c === undefined) {
      c = {};
      this.caches.set(s.davUser, c);
    }
    return c;
  }

  private multistatus(
    s: Pick<Session, 'authorization'>,
    method: 'PROPFIND' | 'REPORT',
    url: string,
    depth: '0' | '1',
    body: string,
    signal: AbortSignal,
  ): Promise<{ answer: DavAnswer; responses: DavResponse[]; syncToken?: string }> {
    return this.dav.multistatus(s, method, url, depth, body, signal);
  }

  // -------------------------------------------------------------------------------------------
  // Login and discovery (RFC 6764 §6, RFC 5397 current-user-principal, RFC 6352 §7.1.1)

  async authenticate(user: string, password: string, signal: AbortSignal): Promise<Account | null> {
    const map = this.opts.userMapping;
    const davUser = typeof map === 'function' ? map(user) : (map?.[user] ?? user);
    const authorization = `Basic ${Buffer.from(`${davUser}:${password}`, 'utf8').toString('base64')}`;
    const found = await this.dav.discover(
      { authorization },
      this.opts.url,
      '/.well-known/carddav',
      el(CARDDAV, 'addressbook-home-set'),
      signal,
    );
    if (found === null) return null;
    const handle = new CardDavHandle(davUser);
    this.sessions.set(handle, { davUser, authorization });
    const cache = this.cache({ davUser, authorization });
    if (cache.home !== found.home) {
      cache.home = found.home;
      delete cache.folders;
    }
    const email = user.includes('@')
      ? user
      : `${user}@${this.opts.emailDomain ?? new URL(this.opts.url).hostname}`;
    return {
      user,
      email,
      ...(found.displayName !== undefined && { displayName: found.displayName }),
      handle,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Folders: the address books of the home set

  private async loadFolders(s: Session, signal: AbortSignal): Promise<Map<string, FolderInfo>> {
    const cache = this.cache(s);
    const home = cache.home;
    if (home === undefined) throw new BackendError('auth', 'CardDAV session without a home');
    const body = propfindBody(
      el(DAV, 'resourcetype'),
      el(DAV, 'displayname'),
      el(DAV, 'supported-report-set'),
      el(CARDDAV, 'supported-address-data'),
      el(EASD, 'parent'),
    );
    let { answer, responses } = await this.multistatus(s, 'PROPFIND', home, '1', body, signal);
    let books = responses.filter((r) =>
      childKeys(prop(r, DAV, 'resourcetype')).has(`${CARDDAV}|addressbook`),
    );
    const def = this.opts.defaultAddressBook;
    if (books.length === 0 && def !== false) {
      // a new user has no address book; phones expect a default Contacts folder (MS-ASCMD 2.2.3.186.3 type 9)
      const made = await this.mkcol(
        s,
        new URL(`${encodeURIComponent(def.segment)}/`, home).href,
        def.displayName,
        null,
        signal,
      );
      if (made.status !== 201 && made.status !== 405) throw statusError(made, 'MKCOL (default address book)');
      ({ answer, responses } = await this.multistatus(s, 'PROPFIND', home, '1', body, signal));
      books = responses.filter((r) => childKeys(prop(r, DAV, 'resourcetype')).has(`${CARDDAV}|addressbook`));
    }

    const infos: FolderInfo[] = books.map((r) => {
      const url = new URL(r.href, answer.url).href;
      const segment = decodeURIComponent(lastSegment(url));
      const versions = [
        ...(prop(r, CARDDAV, 'supported-address-data')?.getElementsByTagNameNS(
          CARDDAV,
          'address-data-type',
        ) ?? []),
      ].map((e) => e.getAttribute('version'));
      const reports = prop(r, DAV, 'supported-report-set');
      return {
        id: idFor(segment),
        url: url.endsWith('/') ? url : `${url}/`,
        parentId: textOf(prop(r, EASD, 'parent')) || null,
        displayName: textOf(prop(r, DAV, 'displayname')) || segment,
        class: 'Contacts' as const,
        role: null,
        version: versions.includes('4.0') ? '4.0' : versions.includes('3.0') ? '3.0' : this.opts.vcardVersion,
        advertised: versions.length > 0,
        // without a supported-report-set, try it: a refusal is cursor-expired, and easd lists
        syncCollection:
          reports === undefined || reports.getElementsByTagNameNS(DAV, 'sync-collection').length > 0,
      };
    });
    // the default address book: one named so (Google "default", Nextcloud "contacts", iCloud
    // "card"), else one easd did not make, else the first by href — stable across listings
    const named = (f: FolderInfo): boolean => {
      const seg = decodeURIComponent(lastSegment(f.url)).toLowerCase();
      const dn = f.displayName.toLowerCase();
      return ['default', 'contacts', 'addressbook', 'card'].some((n) => seg === n || dn === n);
    };
    const sorted = [...infos].sort((x, y) => (x.url < y.url ? -1 : x.url > y.url ? 1 : 0));
    const dflt = sorted.find(named) ?? sorted.find((f) => f.parentId === null) ?? sorted[0];
    if (dflt !== undefined) {
      dflt.role = 'default';
      dflt.parentId = null;
    }
    const ids = new Set(infos.map((f) => f.id));
    for (const f of infos)
      if (f.parentId !== null && (!ids.has(f.parentId) || f.parentId === f.id)) f.parentId = null;
    const map = new Map(parentsFirst(sorted).map((f) => [f.id, f]));
    cache.folders = map;
    return map;
  }

  async listFolders(account: Account, signal: AbortSignal): Promise<Folder[]> {
    const map = await this.loadFolders(this.session(account), signal);
    return [...map.values()].map(({ id, parentId, displayName, class: cls, role }) => ({
      id,
      parentId,
      displayName,
      class: cls,
      role,
    }));
  }

  private async folder(s: Session, folderId: string, signal: AbortSignal): Promise<FolderInfo> {
    const cached = this.cache(s).folders?.get(folderId);
    if (cached !== undefined) return cached;
    const f = (await this.loadFolders(s, signal)).get(folderId);
    if (f === undefined) throw new BackendError('not-found', 'no such address book');
    return f;
  }

  private mkcol(
    s: Session,
    url: string,
    displayName: string,
    parentId: string | null,
    signal: AbortSignal,
  ): Promise<DavAnswer> {
    // RFC 5689 extended MKCOL, RFC 6352 §6.3.1
    const props: XmlSpec[] = [
      el(DAV, 'resourcetype', el(DAV, 'collection'), el(CARDDAV, 'addressbook')),
      textEl(DAV, 'displayname', displayName),
    ];
    if (parentId !== null) props.push(textEl(EASD, 'parent', parentId));
    return this.dav.request(s, 'MKCOL', url, signal, {
      body: buildXml(el(DAV, 'mkcol', el(DAV, 'set', el(DAV, 'prop', ...props)))),
    });
  }

  private async createFolder(
    account: Account,
    parentId: string | null,
    displayName: string,
    cls: ItemClass,
    signal: AbortSignal,
  ): Promise<Folder> {
    const s = this.session(account);
    if (cls !== 'Contacts') throw new BackendError('unsupported', 'CardDAV keeps contacts only');
    const folders = await this.loadFolders(s, signal);
    if (parentId !== null && !folders.has(parentId))
      throw new BackendError('not-found', 'no such parent folder');
    this.refuseDuplicate(folders, parentId, displayName, undefined);
    // address books cannot nest (RFC 6352 §5.2): all live in the home; the EAS parent is a dead property
    const segment = randomUUID();
    const url = new URL(`${segment}/`, this.cache(s).home).href;
    const answer = await this.mkcol(s, url, displayName, parentId, signal);
    if (answer.status === 405) throw new BackendError('conflict', 'the collection exists');
    if (answer.status !== 201) throw statusError(answer, 'MKCOL');
    delete this.cache(s).folders;
    return { id: idFor(segment), parentId, displayName, class: 'Contacts', role: null };
  }

  private refuseDuplicate(
    folders: Map<string, FolderInfo>,
    parentId: string | null,
    name: string,
    self: string | undefined,
  ): void {
    for (const f of folders.values())
      if (f.id !== self && f.parentId === parentId && f.displayName.toLowerCase() === name.toLowerCase())
        throw new BackendError('conflict', 'a sibling folder has this name');
  }

  private async updateFolder(
    account: Account,
    folderId: string,
    change: { displayName: string; parentId: string | null },
    signal: AbortSignal,
  ): Promise<Folder> {
    const s = this.session(account);
    const folders = await this.loadFolders(s, signal);
    const f = folders.get(folderId);
    if (f === undefined) throw new BackendError('not-found', 'no such address book');
    const parentId = change.parentId;
    if (parentId !== null) {
      if (!folders.has(parentId)) throw new BackendError('not-found', 'no such parent folder');
      // no cycles: the new parent may not be the folder or below it
      for (let p: string | null = parentId; p !== null; p = folders.get(p)?.parentId ?? null)
        if (p === folderId) throw new BackendError('conflict', 'a folder cannot move below itself');
    }
    if (f.role === 'default' && parentId !== null)
      throw new BackendError('denied', 'the default address book stays on top');
    this.refuseDuplicate(folders, parentId, change.displayName, folderId);
    const set = el(
      DAV,
      'set',
      el(
        DAV,
        'prop',
        textEl(DAV, 'displayname', change.displayName),
        ...(parentId !== null ? [textEl(EASD, 'parent', parentId)] : []),
      ),
    );
    const remove = el(DAV, 'remove', el(DAV, 'prop', el(EASD, 'parent')));
    const body = buildXml(el(DAV, 'propertyupdate', set, ...(parentId === null ? [remove] : [])));
    const answer = await this.dav.request(s, 'PROPPATCH', f.url, signal, { body });
    if (answer.status !== 207 && answer.status !== 200) throw statusError(answer, 'PROPPATCH');
    // RFC 4918 §9.2.1: a 207 lists per property whether it was set; the name must have been
    const r = answer.status === 207 ? parseMultistatus(answer.text).responses[0] : undefined;
    if (answer.status === 207 && (r === undefined || prop(r, DAV, 'displayname') === undefined))
      throw new BackendError('denied', 'CardDAV PROPPATCH: the server refused the new name');
    delete this.cache(s).folders;
    return { id: f.id, parentId, displayName: change.displayName, class: 'Contacts', role: f.role };
  }

  private async deleteFolder(account: Account, folderId: string, signal: AbortSignal): Promise<void> {
    const s = this.session(account);
    const folders = await this.loadFolders(s, signal);
    const f = folders.get(folderId);
    if (f === undefined) throw new BackendError('not-found', 'no such address book');
    if (f.role !== null) throw new BackendError('denied', 'the default address book cannot be deleted');
    // subfolders first (they are separate collections, see createFolder)
    for (const child of folders.values())
      if (child.parentId === folderId) await this.deleteFolder(account, child.id, signal);
    const answer = await this.dav.request(s, 'DELETE', f.url, signal);
    if (answer.status !== 204 && answer.status !== 200 && answer.status !== 404)
      throw statusError(answer, 'DELETE (address book)');
    this.dav.forgetFolder(s, folderId);
    delete this.cache(s).folders;
  }

  // -------------------------------------------------------------------------------------------
  // Items

  private itemUrl(s: Session, f: FolderInfo, id: string, signal: AbortSignal): Promise<string> {
    return this.dav.itemUrl(s, f, id, () => this.listStampsOf(s, f, signal));
  }

  private async listStampsOf(s: Session, f: FolderInfo, signal: AbortSignal): Promise<ItemStamp[]> {
    try {
      // a changed book is patched through sync-collection where the server has it
      return await this.dav.listStamps(
        s,
        f,
        { since: undefined, feed: f.syncCollection },
        () => this.listEtags(s, f, signal),
        signal,
      );
    } catch (e) {
      if (isBackendError(e, 'not-found')) delete this.cache(s).folders;
      throw e;
    }
  }

  /** Every card's ETag: PROPFIND Depth 1 on the address book. */
  private async listEtags(s: Session, f: FolderInfo, signal: AbortSignal): Promise<ListedResource[]> {
    const res = await this.multistatus(
      s,
      'PROPFIND',
      f.url,
      '1',
      propfindBody(el(DAV, 'getetag'), el(DAV, 'getlastmodified'), el(DAV, 'resourcetype')),
      signal,
    );
    const rows: ListedResource[] = [];
    for (const r of res.responses) {
      const url = new URL(r.href, res.answer.url).href;
      if (url.replace(/\/$/, '') === f.url.replace(/\/$/, '')) continue;
      if (childKeys(prop(r, DAV, 'resourcetype')).has(`${DAV}|collection`)) continue;
      const row = listedResource(r, url);
      if (row !== undefined) rows.push(row);
    }
    return rows;
  }

  async listStamps(
    account: Account,
    folderId: string,
    _opts: { since?: Date },
    signal: AbortSignal,
  ): Promise<ItemStamp[]> {
    // FilterType does not apply to contacts (MS-ASCMD 2.2.3.67.1): every card is listed
    const s = this.session(account);
    return this.listStampsOf(s, await this.folder(s, folderId, signal), signal);
  }

  async getItems(
    account: Account,
    folderId: string,
    ids: readonly string[],
    opts: ReadOptions,
    signal: AbortSignal,
  ): Promise<ItemRecord[]> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    const urls: string[] = [];
    for (const id of ids) {
      try {
        urls.push(await this.itemUrl(s, f, id, signal));
      } catch (e) {
        if (!isBackendError(e, 'not-found')) throw e;
      }
    }
    const out: ItemRecord[] = [];
    for (let i = 0; i < urls.length; i += MULTIGET_BATCH) {
      const batch = urls.slice(i, i + MULTIGET_BATCH);
      // RFC 6352 §8.7 addressbook-multiget
      const body = buildXml(
        el(
          CARDDAV,
          'addressbook-multiget',
          el(DAV, 'prop', el(DAV, 'getetag'), el(CARDDAV, 'address-data')),
          ...batch.map((u) => textEl(DAV, 'href', new URL(u).pathname)),
        ),
      );
      const res = await this.multistatus(s, 'REPORT', f.url, '1', body, signal);
      for (const r of res.responses) {
        if (r.status !== undefined && r.status !== 200) continue;
        const data = prop(r, CARDDAV, 'address-data')?.textContent ?? undefined;
        const version = textOf(prop(r, DAV, 'getetag'));
        if (data === undefined || version === '') continue;
        const id = this.dav.remember(s, f.id, new URL(r.href, res.answer.url).href);
        if (!ids.includes(id)) continue;
        out.push({ id, version, class: 'Contacts', item: this.shape(contactOf(data), opts) });
      }
    }
    return out;
  }

  private shape(item: ContactItem, opts: ReadOptions): ContactItem {
    const text = item.Body?.Data;
    if (typeof text !== 'string') return item;
    const body = applyBodyPreferences(
      { native: 1, get: (t) => (t === 1 ? text : t === 2 ? plainToHtml(text) : undefined) },
      opts.bodyPreferences,
      opts.MIMESupport ?? 0,
    );
    const { Body: _old, ...rest } = item;
    return body === undefined ? rest : { ...rest, Body: body };
  }

  async createItem(
    account: Account,
    folderId: string,
    typed: TypedItem,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    if (typed.class !== 'Contacts')
      throw new BackendError('unsupported', 'an address book holds contacts only');
    // RFC 6352 §6.3.2: If-None-Match: * so nothing is overwritten
    return this.dav.create(
      s,
      f,
      (uid) =>
        contactToVcard(typed.item, {
          version: f.version,
          uid: f.version === '4.0' ? `urn:uuid:${uid}` : uid,
        }),
      signal,
    );
  }

  async updateItem(
    account: Account,
    folderId: string,
    id: string,
    typed: TypedItem,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    if (typed.class !== 'Contacts')
      throw new BackendError('unsupported', 'an address book holds contacts only');
    const url = await this.itemUrl(s, f, id, signal);
    const version = await this.dav.rewrite(
      s,
      url,
      opts.ifVersion,
      (current) => {
        try {
          // the stored card is the base: what the phone does not map survives (src/convert/vcard.ts).
          // A 4.0 card with a picture where the book does not say it takes 4.0 becomes the
          // configured 3.0: such a server (Radicale 3.1) cuts a 4.0 data: URI (see vcardVersion)
          const asVersion =
            !f.advertised &&
            f.version === '3.0' &&
            typed.item.Picture !== undefined &&
            readVcard(current).version === '4.0'
              ? ('3.0' as const)
              : undefined;
          return contactToVcard(typed.item, { base: current, ...(asVersion !== undefined && { asVersion }) });
        } catch (e) {
          if (e instanceof VcardSyntaxError)
            throw new BackendError('denied', 'the stored card cannot be read; not overwriting it', {
              cause: e,
            });
          throw e;
        }
      },
      signal,
    );
    return { id, version };
  }

  async deleteItem(
    account: Account,
    folderId: string,
    id: string,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<void> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    await this.dav.delete(s, await this.itemUrl(s, f, id, signal), opts.ifVersion, signal);
    this.dav.itemMap(s, f.id).delete(id);
  }

  async moveItem(
    account: Account,
    folderId: string,
    id: string,
    toFolderId: string,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const s = this.session(account);
    const from = await this.folder(s, folderId, signal);
    const to = await this.folder(s, toFolderId, signal);
    if (to.class !== from.class)
      throw new BackendError('unsupported', 'a contact moves between address books only');
    const url = await this.itemUrl(s, from, id, signal);
    if (from.id === to.id) return { id, version: await this.dav.etagOf(s, url, signal) };
    return this.dav.move(s, from, id, url, to, signal);
  }

  // -------------------------------------------------------------------------------------------
  // Change feed: WebDAV sync-collection (RFC 6578)

  private async currentCursor(account: Account, folderId: string, signal: AbortSignal): Promise<string> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    if (!f.syncCollection) throw new BackendError('cursor-expired', 'the server has no sync-collection');
    return this.dav.syncToken(s, f.url, signal);
  }

  private async changesSince(
    account: Account,
    folderId: string,
    cursor: string,
    signal: AbortSignal,
  ): Promise<ChangeBatch> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    if (!f.syncCollection) throw new BackendError('cursor-expired', 'the server has no sync-collection');
    return this.dav.changesSince(s, f, cursor, signal);
  }
}

/** A stored card as a contact; a card that cannot be parsed still shows as something to delete. */
function contactOf(text: string): ContactItem {
  try {
    return readVcard(text).item;
  } catch (e) {
    if (!(e instanceof VcardSyntaxError)) throw e;
    const fn = /^FN[;:][^\r\n]*?:?([^\r\n:]*)$/m.exec(text)?.[1]?.trim();
    return { FileAs: fn !== undefined && fn !== '' ? fn : '(unreadable contact)' };
  }
}

/** Opens the backend; nothing is fetched until the first login. */
export async function openCardDavBackend(opts: CardDavOptions): Promise<CardDavBackend> {
  if (!/^https?:\/\//.test(opts.url)) throw new Error('CardDAV url must be http(s)');
  return new CardDavBackend(opts);
}
