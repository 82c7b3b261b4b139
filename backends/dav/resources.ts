// What the CardDAV and CalDAV backends do alike with a user's collections and resources: login
// discovery, ETags, conditional writes, moves, the sync-collection change feed, and the per-user
// map from item ids back to URLs. Each backend keeps its own formats (vCard, iCalendar) and says
// which label, media type and file extension its resources have.
import { randomUUID } from 'node:crypto';
import type { ChangeBatch, ItemChange, ItemStamp } from '../../src/backend/contract.js';
import { BackendError, isBackendError } from '../../src/backend/errors.js';
import { CALENDARSERVER, covers, ListingCache, type HeldListing, type ListedRow } from './listing.js';
import {
  buildXml,
  DAV,
  davFetch,
  el,
  hrefIn,
  idFor,
  isInvalidSyncToken,
  isPlainId,
  lastSegment,
  parseMultistatus,
  prop,
  statusError,
  textEl,
  textOf,
  type DavAnswer,
  type DavResponse,
  type XmlSpec,
} from './webdav.js';

/** One user's DAV credentials, kept only inside a backend (never on an Account). */
export interface DavSession {
  davUser: string;
  /** `Basic …`. */
  authorization: string;
}

export interface DavResourceOptions {
  label: 'CardDAV' | 'CalDAV';
  timeoutMs: number;
  /** Of the resources the backend writes: `text/vcard; charset=utf-8`, `text/calendar; charset=utf-8`. */
  contentType: string;
  /** File name extension of new resources: `.vcf`, `.ics`. */
  extension: string;
  /** Resources remembered from folder listings across all users (see listing.ts); 0 (default) turns it off. */
  listingRows?: number;
}

/** A resource as a backend's listing request found it. */
export interface ListedResource {
  url: string;
  version: string;
  /** getlastmodified in ms, 0 when unknown. */
  modified: number;
}

export const propfindBody = (...props: XmlSpec[]): string =>
  buildXml(el(DAV, 'propfind', el(DAV, 'prop', ...props)));

/** A listing's entry for one resource: its ETag and getlastmodified; undefined without an ETag. */
export function listedResource(r: DavResponse, url: string): ListedResource | undefined {
  const version = textOf(prop(r, DAV, 'getetag'));
  if (version === '') return undefined;
  const modified = Date.parse(textOf(prop(r, DAV, 'getlastmodified')));
  return { url, version, modified: Number.isNaN(modified) ? 0 : modified };
}

/** Newest first (the contract's order); the href breaks ties so the order is stable. */
const newer = (x: { modified: number; url: string }, y: { modified: number; url: string }): number =>
  y.modified - x.modified || (x.url < y.url ? -1 : x.url > y.url ? 1 : 0);

function newestFirst(found: ListedResource[]): ListedRow[] {
  return found.sort(newer).map((r) => ({ id: idFor(decodeURIComponent(lastSegment(r.url))), ...r }));
}

const written = (status: number): boolean => status === 200 || status === 201 || status === 204;

export class DavResources {
  /** Per DAV user, per folder id: item id → absolute URL (needed for hashed ids of long hrefs). */
  private readonly items = new Map<string, Map<string, Map<string, string>>>();
  /** The last full listing of each folder, with the collection version it was made at. */
  readonly listings: ListingCache;

  constructor(private readonly opts: DavResourceOptions) {
    this.listings = new ListingCache(opts.listingRows ?? 0);
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  request(
    s: Pick<DavSession, 'authorization'>,
    method: string,
    url: string,
    signal: AbortSignal,
    extra: { headers?: Record<string, string>; body?: string } = {},
  ): Promise<DavAnswer> {
    return davFetch({
      method,
      url,
      authorization: s.authorization,
      signal,
      timeoutMs: this.opts.timeoutMs,
      label: this.opts.label,
      ...extra,
    });
  }

  error(answer: DavAnswer, what: string): BackendError {
    return statusError(answer, `${this.opts.label} ${what}`);
  }

  async multistatus(
    s: Pick<DavSession, 'authorization'>,
    method: 'PROPFIND' | 'REPORT',
    url: string,
    depth: '0' | '1',
    body: string,
    signal: AbortSignal,
  ): Promise<{ answer: DavAnswer; responses: DavResponse[]; syncToken?: string }> {
    const answer = await this.request(s, method, url, signal, { headers: { Depth: depth }, body });
    if (answer.status !== 207) throw this.error(answer, `${method} ${new URL(url).pathname}`);
    return { answer, ...parseMultistatus(answer.text) };
  }

  // -------------------------------------------------------------------------------------------
  // Login: RFC 6764 §6 (the URL, then /.well-known/<service>), RFC 5397 current-user-principal,
  // then the home set property of the principal (CardDAV addressbook-home-set, CalDAV
  // calendar-home-set).

  /** The principal, its home collection and display name; null when the credentials are refused. */
  async discover(
    s: Pick<DavSession, 'authorization'>,
    url: string,
    wellKnown: string,
    homeSet: XmlSpec,
    signal: AbortSignal,
  ): Promise<{ principal: string; home: string; displayName?: string } | null> {
    const ask = propfindBody(el(DAV, 'current-user-principal'), el(DAV, 'displayname'));
    let principal: string | undefined;
    for (const start of [url, new URL(wellKnown, url).href]) {
      const answer = await this.request(s, 'PROPFIND', start, signal, { headers: { Depth: '0' }, body: ask });
      if (answer.status === 401) return null; // wrong password and unknown user alike
      if (answer.status !== 207) {
        if (answer.status >= 500) throw this.error(answer, 'PROPFIND (login)');
        continue;
      }
      const r = parseMultistatus(answer.text).responses[0];
      const href = hrefIn(r === undefined ? undefined : prop(r, DAV, 'current-user-principal'));
      if (href !== undefined) {
        principal = new URL(href, answer.url).href;
        break;
      }
    }
    if (principal === undefined)
      throw new BackendError('unavailable', `${this.opts.label}: no current-user-principal`);
    const homeAsk = propfindBody(homeSet, el(DAV, 'displayname'));
    const { answer, responses } = await this.multistatus(s, 'PROPFIND', principal, '0', homeAsk, signal);
    const r = responses[0];
    const homeHref = hrefIn(r === undefined ? undefined : prop(r, homeSet.ns, homeSet.name));
    const name = textOf(r === undefined ? undefined : prop(r, DAV, 'displayname'));
    return {
      principal,
      home: new URL(homeHref ?? principal, answer.url).href,
      ...(name !== '' && { displayName: name }),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Item ids ↔ URLs

  itemMap(s: Pick<DavSession, 'davUser'>, folderId: string): Map<string, string> {
    let user = this.items.get(s.davUser);
    if (user === undefined) {
      user = new Map();
      this.items.set(s.davUser, user);
    }
    let m = user.get(folderId);
    if (m === undefined) {
      m = new Map();
      user.set(folderId, m);
    }
    return m;
  }

  forgetFolder(s: Pick<DavSession, 'davUser'>, folderId: string): void {
    this.items.get(s.davUser)?.delete(folderId);
    this.listings.forget(s.davUser, folderId);
  }

  remember(s: Pick<DavSession, 'davUser'>, folderId: string, url: string): string {
    const id = idFor(decodeURIComponent(lastSegment(url)));
    this.itemMap(s, folderId).set(id, url);
    return id;
  }

  /**
   * The URL of an item: from the map, or rebuilt from a plain id, or found by `list` (which
   * remembers what it sees).
   */
  async itemUrl(
    s: Pick<DavSession, 'davUser'>,
    folder: { id: string; url: string },
    id: string,
    list: () => Promise<unknown>,
  ): Promise<string> {
    const known = this.itemMap(s, folder.id).get(id);
    if (known !== undefined) return known;
    if (isPlainId(id)) return new URL(id, folder.url).href;
    await list();
    const found = this.itemMap(s, folder.id).get(id);
    if (found === undefined) throw new BackendError('not-found', 'no such item');
    return found;
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  /** ETag of one resource, when a write's answer did not carry it (RFC 7232 §2.3). */
  async etagOf(s: DavSession, url: string, signal: AbortSignal): Promise<string> {
    const res = await this.multistatus(s, 'PROPFIND', url, '0', propfindBody(el(DAV, 'getetag')), signal);
    const etag = textOf(res.responses[0] === undefined ? undefined : prop(res.responses[0], DAV, 'getetag'));
    if (etag === '')
      throw new BackendError('unavailable', `${this.opts.label}: no ETag for a stored resource`);
    return etag;
  }

  async put(
    s: DavSession,
    url: string,
    text: string,
    condition: Record<string, string>,
    signal: AbortSignal,
  ): Promise<DavAnswer> {
    try {
      return await this.request(s, 'PUT', url, signal, {
        headers: { 'Content-Type': this.opts.contentType, ...condition },
        body: text,
      });
    } finally {
      this.touched(s, url);
    }
  }

  /**
   * A write through easd changed the collection of `url`: its held listings are stale, whatever
   * the answer (a write that timed out may still have happened). The collection's new sync-token
   * or ctag would tell the next look anyway; this also covers a server that is slow to move it.
   */
  private touched(s: Pick<DavSession, 'davUser'>, url: string): void {
    this.listings.staleCollection(s.davUser, new URL('./', url).href);
  }

  /**
   * A new resource `<uuid><extension>` in the collection, never over an existing one
   * (If-None-Match: *, RFC 7232 §3.2); `text` gets the uuid (for the UID).
   */
  async create(
    s: DavSession,
    folder: { id: string; url: string },
    text: (uuid: string) => string,
    signal: AbortSignal,
  ): Promise<{ id: string; version: string }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const uuid = randomUUID();
      const url = new URL(`${uuid}${this.opts.extension}`, folder.url).href;
      const answer = await this.put(s, url, text(uuid), { 'If-None-Match': '*' }, signal);
      if (answer.status === 412) continue;
      if (!written(answer.status)) throw this.error(answer, 'PUT (new resource)');
      const id = this.remember(s, folder.id, url);
      return { id, version: answer.headers.get('etag') ?? (await this.etagOf(s, url, signal)) };
    }
    throw new BackendError('conflict', `${this.opts.label}: no free name for a new resource`);
  }

  /**
   * Rewrites a stored resource: GET it, `rewrite` its text, PUT with If-Match (RFC 7232 §3.1) on
   * the version read. A stale `ifVersion` or a 412 with it is `conflict`; without it a 412
   * (someone wrote in between) is retried on their version. Returns the new ETag.
   */
  async rewrite(
    s: DavSession,
    url: string,
    ifVersion: string | undefined,
    rewrite: (current: string) => string,
    signal: AbortSignal,
  ): Promise<string> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.request(s, 'GET', url, signal);
      if (current.status !== 200) throw this.error(current, 'GET');
      const etag = current.headers.get('etag') ?? (await this.etagOf(s, url, signal));
      if (ifVersion !== undefined && ifVersion !== etag)
        throw new BackendError('conflict', 'the item changed');
      const answer = await this.put(s, url, rewrite(current.text), { 'If-Match': ifVersion ?? etag }, signal);
      if (answer.status === 412) {
        if (ifVersion !== undefined) throw new BackendError('conflict', 'the item changed');
        continue;
      }
      if (!written(answer.status)) throw this.error(answer, 'PUT');
      return answer.headers.get('etag') ?? (await this.etagOf(s, url, signal));
    }
    throw new BackendError('conflict', 'the item keeps changing');
  }

  /** DELETE, with If-Match when `ifVersion` is given, and any `headers`. */
  async delete(
    s: DavSession,
    url: string,
    ifVersion: string | undefined,
    signal: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<void> {
    const answer = await this.request(s, 'DELETE', url, signal, {
      headers: { ...headers, ...(ifVersion !== undefined && { 'If-Match': ifVersion }) },
    }).finally(() => this.touched(s, url));
    if (answer.status !== 204 && answer.status !== 200) throw this.error(answer, 'DELETE');
  }

  /**
   * Moves a resource to another collection: MOVE without overwriting (RFC 4918 §9.9); where
   * MOVE is refused or the name is taken, PUT under a new name and DELETE the original.
   */
  async move(
    s: DavSession,
    from: { id: string },
    id: string,
    url: string,
    to: { id: string; url: string },
    signal: AbortSignal,
  ): Promise<{ id: string; version: string }> {
    const target = new URL(lastSegment(url), to.url).href;
    const answer = await this.request(s, 'MOVE', url, signal, {
      headers: { Destination: target, Overwrite: 'F' },
    }).finally(() => {
      this.touched(s, url);
      this.touched(s, target);
    });
    if (answer.status === 201 || answer.status === 204) {
      this.itemMap(s, from.id).delete(id);
      const newId = this.remember(s, to.id, target);
      return { id: newId, version: answer.headers.get('etag') ?? (await this.etagOf(s, target, signal)) };
    }
    if (answer.status === 404) throw new BackendError('not-found', 'no such item');
    if (![403, 405, 409, 412, 501, 502].includes(answer.status)) throw this.error(answer, 'MOVE');
    const current = await this.request(s, 'GET', url, signal);
    if (current.status !== 200) throw this.error(current, 'GET (moved resource)');
    const newUrl = new URL(`${randomUUID()}${this.opts.extension}`, to.url).href;
    const put = await this.put(s, newUrl, current.text, { 'If-None-Match': '*' }, signal);
    if (!written(put.status)) throw this.error(put, 'PUT (moved resource)');
    const etag = current.headers.get('etag');
    const del = await this.request(s, 'DELETE', url, signal, {
      ...(etag !== null && { headers: { 'If-Match': etag } }),
    }).finally(() => this.touched(s, url));
    if (del.status !== 204 && del.status !== 200 && del.status !== 404)
      throw this.error(del, 'DELETE (moved resource)');
    this.itemMap(s, from.id).delete(id);
    return {
      id: this.remember(s, to.id, newUrl),
      version: put.headers.get('etag') ?? (await this.etagOf(s, newUrl, signal)),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Listings, answered from the last one while the collection's version is unchanged

  /**
   * The collection's DAV:sync-token (RFC 6578 §4), else its CS:getctag: one PROPFIND Depth 0.
   * '' when it has neither, or refuses the question (then it is listed each time, as before).
   */
  async collectionVersion(
    s: DavSession,
    url: string,
    signal: AbortSignal,
  ): Promise<{ version: string; syncToken: boolean }> {
    let res;
    try {
      res = await this.multistatus(
        s,
        'PROPFIND',
        url,
        '0',
        propfindBody(el(DAV, 'sync-token'), el(CALENDARSERVER, 'getctag')),
        signal,
      );
    } catch (e) {
      // a 400/403/405 to the question only: the listing that follows says whether the folder works
      if (isBackendError(e, 'unsupported') || isBackendError(e, 'denied'))
        return { version: '', syncToken: false };
      throw e;
    }
    const r = res.responses[0];
    const token = textOf(r === undefined ? undefined : prop(r, DAV, 'sync-token'));
    if (token !== '') return { version: token, syncToken: true };
    return {
      version: textOf(r === undefined ? undefined : prop(r, CALENDARSERVER, 'getctag')),
      syncToken: false,
    };
  }

  /**
   * The folder's stamps, newest first, from `list` (the backend's listing request) — or, when the
   * collection's version equals the one of the folder's last listing (and that listing covers
   * `since`), from a copy of that listing without asking for it again; or, when it moved from a
   * sync-token and `feed` says the folder has sync-collection, from that listing patched with the
   * changes since the token (unfiltered looks only; a refused token lists). A server that had
   * neither sync-token nor ctag is not asked again while its folder is held: it is listed each
   * time. A listing without `since` replaces what is known of the folder's ids.
   */
  async listStamps(
    s: DavSession,
    folder: { id: string; url: string },
    opts: { since: Date | undefined; feed: boolean },
    list: () => Promise<ListedResource[]>,
    signal: AbortSignal,
  ): Promise<ItemStamp[]> {
    const held = this.listings.get(s.davUser, folder.id);
    const from = opts.since?.getTime();
    const now = Date.now();
    const head =
      held?.version === ''
        ? { version: '', syncToken: false }
        : await this.collectionVersion(s, folder.url, signal);
    let rows: ListedRow[];
    if (
      held !== undefined &&
      head.version !== '' &&
      held.version === head.version &&
      held.stale !== true &&
      covers(held, from, now)
    )
      rows = held.rows;
    else {
      // a token that did not move despite easd's write (a lagging server) is listed, not patched
      const patchable =
        opts.feed &&
        held?.syncToken === true &&
        held.version !== head.version &&
        held.since === undefined &&
        from === undefined &&
        head.syncToken;
      rows =
        (patchable ? await this.patched(s, folder, held, signal) : undefined) ?? newestFirst(await list());
      if ((this.opts.listingRows ?? 0) > 0)
        this.listings.set(s.davUser, folder, {
          ...head,
          since: from,
          at: now,
          rows: head.version === '' ? [] : rows,
        });
    }
    const map = this.itemMap(s, folder.id);
    if (from === undefined) map.clear();
    for (const r of rows) map.set(r.id, r.url);
    return rows.map(({ id, version }) => ({ id, version }));
  }

  /**
   * `held` brought up to date by sync-collection from its token (RFC 6578 §3.2); undefined when
   * the server refuses the token or the report, and then the folder is listed.
   */
  private async patched(
    s: DavSession,
    folder: { id: string; url: string },
    held: HeldListing,
    signal: AbortSignal,
  ): Promise<ListedRow[] | undefined> {
    let changed;
    try {
      ({ changed } = await this.syncCollection(s, folder, held.version, signal));
    } catch (e) {
      if (signal.aborted || !(e instanceof BackendError)) throw e;
      return undefined;
    }
    const byId = new Map(held.rows.map((r) => [r.id, r]));
    // what changed since is newer than all held; servers that leave getlastmodified out of the
    // report (Radicale 3.1) would otherwise put it last
    const after = held.rows.reduce((m, r) => Math.max(m, r.modified), 0) + 1;
    for (const [id, c] of changed) {
      const row = c.gone ? undefined : listedResource(c.response, c.url);
      if (row === undefined) byId.delete(id);
      else byId.set(id, { id, ...row, modified: Math.max(row.modified, after) });
    }
    return [...byId.values()].sort(newer);
  }

  // -------------------------------------------------------------------------------------------
  // Change feed: WebDAV sync-collection (RFC 6578)

  async syncToken(s: DavSession, url: string, signal: AbortSignal): Promise<string> {
    const res = await this.multistatus(s, 'PROPFIND', url, '0', propfindBody(el(DAV, 'sync-token')), signal);
    const token = textOf(
      res.responses[0] === undefined ? undefined : prop(res.responses[0], DAV, 'sync-token'),
    );
    if (token === '') throw new BackendError('cursor-expired', 'the collection has no sync-token');
    return token;
  }

  async changesSince(
    s: DavSession,
    folder: { id: string; url: string },
    cursor: string,
    signal: AbortSignal,
  ): Promise<ChangeBatch> {
    const { changed, token } = await this.syncCollection(s, folder, cursor, signal);
    const changes: ItemChange[] = [];
    for (const [id, c] of changed) {
      if (c.gone) changes.push({ kind: 'delete', id });
      else {
        const version = textOf(prop(c.response, DAV, 'getetag'));
        if (version !== '') changes.push({ kind: 'upsert', id, version });
      }
    }
    return { changes, cursor: token };
  }

  /** The resources changed since `cursor`, by id (the last word on each), and the new token. */
  private async syncCollection(
    s: DavSession,
    folder: { id: string; url: string },
    cursor: string,
    signal: AbortSignal,
  ): Promise<{ changed: Map<string, { url: string; gone: boolean; response: DavResponse }>; token: string }> {
    const changed = new Map<string, { url: string; gone: boolean; response: DavResponse }>();
    let token = cursor;
    // RFC 6578 §3.6: a 507 on the collection means "more": ask again from the token given
    for (let round = 0; round < 100; round++) {
      const body = buildXml(
        el(
          DAV,
          'sync-collection',
          textEl(DAV, 'sync-token', token),
          textEl(DAV, 'sync-level', '1'),
          el(DAV, 'prop', el(DAV, 'getetag'), el(DAV, 'getlastmodified')),
        ),
      );
      const answer = await this.request(s, 'REPORT', folder.url, signal, { headers: { Depth: '0' }, body });
      if (isInvalidSyncToken(answer))
        throw new BackendError('cursor-expired', 'the server no longer knows this sync-token');
      if (answer.status !== 207) throw this.error(answer, 'REPORT sync-collection');
      const ms = parseMultistatus(answer.text);
      let truncated = false;
      for (const r of ms.responses) {
        const url = new URL(r.href, answer.url).href;
        if (url.replace(/\/$/, '') === folder.url.replace(/\/$/, '')) {
          if (r.status === 507) truncated = true;
          continue;
        }
        if (r.href.endsWith('/')) continue; // a child collection, not a resource
        const id = this.remember(s, folder.id, url);
        changed.delete(id); // the last word goes last
        changed.set(id, { url, gone: r.status === 404, response: r });
      }
      if (ms.syncToken === undefined || ms.syncToken === '')
        throw new BackendError('cursor-expired', 'no new sync-token');
      token = ms.syncToken;
      if (!truncated) return { changed, token };
    }
    throw new BackendError('cursor-expired', 'too many sync-collection rounds');
  }
}

/** Parents before children; what cannot be placed (a cycle) goes to the top. */
export function parentsFirst<F extends { id: string; parentId: string | null }>(folders: F[]): F[] {
  const ordered: F[] = [];
  const placed = new Set<string>();
  let rest = folders;
  while (rest.length > 0) {
    const ready = rest.filter((f) => f.parentId === null || placed.has(f.parentId));
    if (ready.length === 0) {
      for (const f of rest) f.parentId = null;
      continue;
    }
    for (const f of ready) {
      ordered.push(f);
      placed.add(f.id);
    }
    rest = rest.filter((f) => !placed.has(f.id));
  }
  return ordered;
}
