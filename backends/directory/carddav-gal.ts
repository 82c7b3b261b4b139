// The global address list from a CardDAV address book the organisation shares (RFC 6352): every
// card a directory entry (entry.ts), looked up by prefix (match.ts). The book is held in memory
// and kept fresh by asking the server whether it changed — one PROPFIND of its sync-token / ctag
// — at most every `refreshMs`; a change is fetched through sync-collection (RFC 6578) and
// addressbook-multiget of the changed cards only, or, where the server has no sync-collection, by
// comparing ETags. So a lookup is never a full PROPFIND + GET of the book.
//
// The book is read with a service account (one copy for everyone) or with each user's own
// credentials (one copy per user, so a user sees only what the DAV server lets them read).
import type { Account, DirectoryEntry } from '../../src/backend/contract.js';
import { BackendError, isBackendError } from '../../src/backend/errors.js';
import { DavResources, propfindBody, type DavSession } from '../dav/resources.js';
import { buildXml, CARDDAV, childKeys, DAV, el, prop, textOf } from '../dav/webdav.js';
import { entryFromVcard } from './entry.js';
import { byDisplayName, indexEntry, lookup, type Indexed } from './match.js';

/** Apple's collection tag (draft-daboo-webdav-sync's predecessor), for servers without sync-token. */
const CALENDARSERVER = 'http://calendarserver.org/ns/';
/** Cards per addressbook-multiget. */
const multigetBatch = 200;

export interface CardDavGalOptions {
  /** The address book collection itself (not a home or principal). */
  url: string;
  /** A service account that may read the book; without one, each user reads it as themself. */
  service?: { user: string; password: string };
  /** Each signed-in user's password, for reading the book as them (no service account). */
  userPassword?: (account: Account) => string | undefined;
  /** How long the held book is trusted before asking the server again (default 60 s). */
  refreshMs?: number;
  /** Per DAV request (default 15 s). */
  timeoutMs?: number;
  /** Books held at once in per-user mode; the least recently used goes first (default 100). */
  maxBooks?: number;
}

/** One reader's copy of the book. */
interface Book {
  /** The sync-token, or else the ctag, the copy was read at ('' when the server has neither). */
  version: string;
  /** The sync-token for an incremental read, when the server has sync-collection. */
  syncToken?: string;
  /** Card id (from its href) → ETag and entry (undefined: a card that is not an entry). */
  cards: Map<string, { etag: string; indexed?: Indexed }>;
  sorted: Indexed[];
  /** When the server was last asked; 0 before the first read. */
  checkedAt: number;
  refreshing?: Promise<void>;
}

export class CardDavGal {
  private readonly dav: DavResources;
  private readonly books = new Map<string, Book>();
  private readonly url: string;
  private readonly closed = new AbortController();

  constructor(private readonly opts: CardDavGalOptions) {
    if (opts.service === undefined && opts.userPassword === undefined)
      throw new Error('a CardDAV GAL needs a service account or the users’ passwords');
    this.url = opts.url.endsWith('/') ? opts.url : `${opts.url}/`;
    this.dav = new DavResources({
      label: 'CardDAV',
      timeoutMs: opts.timeoutMs ?? 15_000,
      contentType: 'text/vcard; charset=utf-8',
      extension: '.vcf',
    });
  }

  /** Searcher.directory: entries `text` finds, in display-name order, at most `limit`. */
  async directory(
    account: Account,
    text: string,
    limit: number,
    signal: AbortSignal,
  ): Promise<DirectoryEntry[]> {
    const session = this.session(account);
    const book = await this.fresh(session, signal);
    return lookup(book.sorted, text, limit);
  }

  close(): void {
    this.closed.abort();
    this.books.clear();
  }

  private session(account: Account): DavSession {
    const basic = (user: string, pass: string): string =>
      `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    const service = this.opts.service;
    if (service !== undefined) return { davUser: '', authorization: basic(service.user, service.password) };
    const pass = this.opts.userPassword?.(account);
    if (pass === undefined) throw new BackendError('denied', 'sign in again to search the address list');
    return { davUser: account.user, authorization: basic(account.user, pass) };
  }

  /** The reader's book, read or brought up to date when it is older than refreshMs. */
  private async fresh(s: DavSession, signal: AbortSignal): Promise<Book> {
    let book = this.books.get(s.davUser);
    if (book === undefined) {
      book = { version: '', cards: new Map(), sorted: [], checkedAt: 0 };
      this.books.set(s.davUser, book);
      this.evict();
    } else {
      // Map order is use order: the least recently used reader is first.
      this.books.delete(s.davUser);
      this.books.set(s.davUser, book);
    }
    if (book.checkedAt !== 0 && Date.now() - book.checkedAt < (this.opts.refreshMs ?? 60_000)) return book;
    // One refresh at a time per book; everyone waiting shares it. It runs on its own signal so a
    // caller that goes away does not break it for the others.
    const b = book;
    b.refreshing ??= this.refresh(s, b, this.closed.signal).finally(() => {
      b.refreshing = undefined;
    });
    try {
      await abortable(b.refreshing, signal);
    } catch (err) {
      // A server that cannot answer now: the copy read before is still the best answer.
      if (!(isBackendError(err) && err.kind === 'unavailable' && b.checkedAt !== 0)) throw err;
    }
    return b;
  }

  private evict(): void {
    const max = this.opts.maxBooks ?? 100;
    for (const reader of this.books.keys()) {
      if (this.books.size <= max) break;
      this.books.delete(reader);
    }
  }

  private async refresh(s: DavSession, book: Book, signal: AbortSignal): Promise<void> {
    const head = await this.dav
      .multistatus(
        s,
        'PROPFIND',
        this.url,
        '0',
        propfindBody(el(DAV, 'resourcetype'), el(DAV, 'sync-token'), el(CALENDARSERVER, 'getctag')),
        signal,
      )
      .catch((err: unknown) => {
        throw readError(err);
      });
    const r = head.responses[0];
    // A home or principal URL would list collections, not cards: an empty GAL that says nothing.
    const type = r === undefined ? undefined : prop(r, DAV, 'resourcetype');
    if (type !== undefined && !childKeys(type).has(`${CARDDAV}|addressbook`))
      throw new BackendError(
        'denied',
        'the GAL URL is not an address book collection (a home or principal?)',
      );
    const syncToken = textOf(r === undefined ? undefined : prop(r, DAV, 'sync-token'));
    const version = syncToken || textOf(r === undefined ? undefined : prop(r, CALENDARSERVER, 'getctag'));
    if (version === '' || version !== book.version) {
      let done = false;
      if (book.syncToken !== undefined && syncToken !== '') done = await this.readChanges(s, book, signal);
      if (!done) await this.readAll(s, book, signal);
      book.sorted = [...book.cards.values()].flatMap((c) => (c.indexed === undefined ? [] : [c.indexed]));
      book.sorted.sort(byDisplayName);
      // A server with neither token nor ctag is listed at each refresh (its ETags spare the GETs).
      book.version = version;
      if (syncToken !== '') book.syncToken = syncToken;
      else delete book.syncToken;
    }
    book.checkedAt = Date.now();
  }

  /**
   * RFC 6578 from the held token; false when the server no longer knows it or the report fails
   * in any way (then the ETag listing decides, and a server really down fails there).
   */
  private async readChanges(s: DavSession, book: Book, signal: AbortSignal): Promise<boolean> {
    let batch;
    try {
      batch = await this.dav.changesSince(s, { id: 'gal', url: this.url }, book.syncToken ?? '', signal);
    } catch (err) {
      // A 501 or a network failure reads alike here; the listing that follows tells them apart.
      if (signal.aborted) throw err;
      return false;
    }
    const wanted: string[] = [];
    for (const c of batch.changes) {
      if (c.kind === 'delete') book.cards.delete(c.id);
      else if (book.cards.get(c.id)?.etag !== c.version && !this.adopt(book, c.id, c.version ?? ''))
        wanted.push(c.id);
    }
    await this.fetch(s, book, wanted, signal);
    return true;
  }

  /** Every card's ETag (PROPFIND Depth 1), then the new and changed cards; gone ones dropped. */
  private async readAll(s: DavSession, book: Book, signal: AbortSignal): Promise<void> {
    const list = await this.dav
      .multistatus(s, 'PROPFIND', this.url, '1', propfindBody(el(DAV, 'getetag')), signal)
      .catch((err: unknown) => {
        throw readError(err);
      });
    const seen = new Set<string>();
    const wanted: string[] = [];
    const self = new URL(this.url).pathname;
    for (const r of list.responses) {
      const url = new URL(r.href, list.answer.url).href;
      if (new URL(url).pathname === self || r.href.endsWith('/')) continue;
      const id = this.dav.remember(s, 'gal', url);
      seen.add(id);
      const etag = textOf(prop(r, DAV, 'getetag'));
      if (etag === '' || (book.cards.get(id)?.etag !== etag && !this.adopt(book, id, etag))) wanted.push(id);
    }
    for (const id of book.cards.keys()) if (!seen.has(id)) book.cards.delete(id);
    await this.fetch(s, book, wanted, signal);
  }

  /**
   * Takes the card from another reader's copy when that copy holds the same resource at the same
   * ETag: this reader's own listing just showed it may read that version, and one version of a
   * resource has one content (RFC 7232 §2.3), so per-user copies share entries instead of each
   * downloading the whole book.
   */
  private adopt(book: Book, id: string, etag: string): boolean {
    if (etag === '') return false;
    for (const other of this.books.values()) {
      const c = other === book ? undefined : other.cards.get(id);
      if (c !== undefined && c.etag === etag) {
        book.cards.set(id, c);
        return true;
      }
    }
    return false;
  }

  /** RFC 6352 §8.7 addressbook-multiget of the cards `ids`, in batches. */
  private async fetch(s: DavSession, book: Book, ids: string[], signal: AbortSignal): Promise<void> {
    const urls = this.dav.itemMap(s, 'gal');
    for (let i = 0; i < ids.length; i += multigetBatch) {
      const hrefs = ids.slice(i, i + multigetBatch).flatMap((id) => {
        const u = urls.get(id);
        return u === undefined ? [] : [new URL(u).pathname];
      });
      if (hrefs.length === 0) continue;
      const body = buildXml(
        el(
          CARDDAV,
          'addressbook-multiget',
          el(DAV, 'prop', el(DAV, 'getetag'), el(CARDDAV, 'address-data')),
          ...hrefs.map((h) => ({ ns: DAV, name: 'href', text: h })),
        ),
      );
      const got = await this.dav
        .multistatus(s, 'REPORT', this.url, '1', body, signal)
        .catch((err: unknown) => {
          throw readError(err);
        });
      for (const r of got.responses) {
        if (r.status !== undefined && r.status !== 200) continue;
        const id = this.dav.remember(s, 'gal', new URL(r.href, got.answer.url).href);
        const text = textOf(prop(r, CARDDAV, 'address-data'));
        if (text === '') continue;
        let entry: DirectoryEntry | undefined;
        try {
          entry = entryFromVcard(text);
        } catch {
          entry = undefined; // a broken card is no entry; the rest of the book still serves
        }
        book.cards.set(id, {
          etag: textOf(prop(r, DAV, 'getetag')),
          ...(entry !== undefined && { indexed: indexEntry(entry) }),
        });
      }
    }
  }
}

/**
 * A refused read is 'denied', whoever's credentials were used: a 401 here is about the address
 * book, not the phone's login, and must not send the phone back to its password prompt.
 */
function readError(err: unknown): unknown {
  if (isBackendError(err) && (err.kind === 'auth' || err.kind === 'denied' || err.kind === 'not-found'))
    return new BackendError('denied', `the address list cannot be read: ${err.message}`);
  return err;
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
