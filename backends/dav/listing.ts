// What the CardDAV and CalDAV backends remember of a folder's last full listing, so that a look at
// an unchanged folder (each Sync, each EASD_DAV_POLL look of a held Ping) costs one PROPFIND
// Depth 0 of the collection's DAV:sync-token (RFC 6578 §4) or CS:getctag instead of listing every
// resource's ETag again; and, where the value is a sync-token and the collection has
// sync-collection (RFC 6578), a changed folder is brought up to date from the changes since that
// token rather than listed again. The listings of all users of one backend share one
// least-recently-used cap counted in resources, so a 2,000-card book costs 2,000 rows however
// many devices look.

/** Apple's collection tag (calendarserver.org), for servers without a sync-token. */
export const CALENDARSERVER = 'http://calendarserver.org/ns/';

/** A resource as a listing reads it. */
export interface ListedRow {
  id: string;
  version: string;
  url: string;
  /** getlastmodified in ms, 0 when unknown: the order of a listing patched by changes. */
  modified: number;
}

export interface HeldListing {
  /** The sync-token, else the ctag, the collection had before it was listed; '' for neither. */
  version: string;
  /** `version` is a sync-token, from which sync-collection can tell what changed since. */
  syncToken: boolean;
  /**
   * easd wrote to the collection since: not an answer by itself however the tag reads (a server
   * may be slow to move it), still a base to patch from the sync-token on.
   */
  stale?: boolean;
  /** The listing's FilterType start (ms), undefined for an unfiltered listing. */
  since: number | undefined;
  /** When it was listed (ms); a filtered listing is reused for a day at most. */
  at: number;
  /** Newest first, as listStamps answers. */
  rows: ListedRow[];
}

/** How long a filtered (time-range) listing stands in for a later window start. */
const FILTERED_REUSE_MS = 86_400_000;

/**
 * Whether `held`, listed at the same collection version, answers a listing from `since`. A listing
 * from an earlier start lists more, which listStamps allows ("may return more, never fewer"); for
 * at most a day, so events that left the window leave the phone within a day of it.
 */
export function covers(held: HeldListing, since: number | undefined, now: number): boolean {
  if (held.since === undefined) return since === undefined;
  if (since === undefined) return false;
  return held.since <= since && now - held.at < FILTERED_REUSE_MS;
}

/** Listings per DAV user and folder, capped by the number of rows held across all of them. */
export class ListingCache {
  private readonly held = new Map<string, HeldListing & { user: string; path: string }>();
  private rows = 0;

  constructor(private readonly maxRows: number) {}

  private static key(user: string, folderId: string): string {
    return `${user}\n${folderId}`;
  }

  /** The listing held for the folder, now the most recently used. */
  get(user: string, folderId: string): HeldListing | undefined {
    const key = ListingCache.key(user, folderId);
    const h = this.held.get(key);
    if (h === undefined) return undefined;
    this.held.delete(key);
    this.held.set(key, h);
    return h;
  }

  set(user: string, folder: { id: string; url: string }, listing: HeldListing): void {
    const key = ListingCache.key(user, folder.id);
    this.drop(key);
    // a listing larger than the whole cap is not held (the next look lists again)
    if (listing.rows.length > this.maxRows) return;
    this.held.set(key, { ...listing, user, path: new URL(folder.url).pathname });
    this.rows += listing.rows.length;
    for (const k of this.held.keys()) {
      if (this.rows <= this.maxRows) break;
      this.drop(k);
    }
  }

  /** Marks the listings of the collection at `collectionUrl` stale (both folders of a mixed one). */
  staleCollection(user: string, collectionUrl: string): void {
    const path = new URL(collectionUrl).pathname;
    for (const h of this.held.values()) if (h.user === user && h.path === path) h.stale = true;
  }

  forget(user: string, folderId: string): void {
    this.drop(ListingCache.key(user, folderId));
  }

  /** Rows held across every listing (for tests and the docs' cost figures). */
  get size(): number {
    return this.rows;
  }

  private drop(key: string): void {
    const h = this.held.get(key);
    if (h === undefined) return;
    this.held.delete(key);
    this.rows -= h.rows.length;
  }
}
