// Cheap looks at unchanged DAV folders: the CardDAV and CalDAV backends ask the collection's
// DAV:sync-token / CS:getctag (one PROPFIND Depth 0) and answer from the folder's last listing
// while it is unchanged. On the stack's Radicale, behind the recording proxy of
// test/support/dav-proxy.ts, so each test counts the requests the backend made: an unchanged
// folder costs one Depth 0 PROPFIND and no listing; another client's change and easd's own
// writes are seen; a server without the tags (the proxy strips them) is listed every time.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openCalDavBackend, type CalDavBackend } from '../../backends/caldav/index.js';
import { openCardDavBackend, type CardDavBackend } from '../../backends/carddav/index.js';
import { ListingCache, type HeldListing } from '../../backends/dav/listing.js';
import type { Account, Folder, ItemStamp } from '../../src/backend/contract.js';
import { startSchedulingProxy, type SchedulingProxy, type SeenRequest } from '../support/dav-proxy.js';

const stack = inject('stack');
const [alice] = stack.users;
if (alice === undefined) throw new Error('the stack has no test users');
const signal = new AbortController().signal;
const tag = (): string => randomBytes(4).toString('hex');
/** The UIDs of this run's cards (a resource keeps its UID, RFC 6352 §5.1). */
const run = tag();
const authorization = `Basic ${Buffer.from(`${alice.user}:${alice.password}`).toString('base64')}`;

/** Another DAV client, straight to Radicale (not through the proxy). */
function raw(method: string, path: string, body?: string, type = 'text/vcard'): Promise<Response> {
  return fetch(new URL(path, stack.dav.url), {
    method,
    headers: { Authorization: authorization, ...(body !== undefined && { 'Content-Type': type }) },
    ...(body !== undefined && { body }),
  });
}

const card = (uid: string, name: string): string =>
  `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${name}\r\nN:${name};;;;\r\nEND:VCARD\r\n`;

const event = (uid: string, start: string): string =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//other client//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20260101T000000Z',
    `DTSTART:${start}`,
    'DURATION:PT1H',
    'SUMMARY:Other client',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

/** What the backend asked about the collection at `path` since `from`: "PROPFIND 0", "REPORT 1", … */
function asked(proxy: SchedulingProxy, path: string, from: number): string[] {
  return proxy.seen
    .slice(from)
    .filter((r: SeenRequest) => r.path === path)
    .map((r) => `${r.method} ${String(r.headers.depth ?? '')}`.trim());
}

describe('CardDAV: a look at an unchanged address book', () => {
  let proxy: SchedulingProxy;
  let backend: CardDavBackend;
  let a: Account;
  let book: Folder;
  let path: string;

  beforeAll(async () => {
    proxy = await startSchedulingProxy(stack.dav.url, {});
    backend = await openCardDavBackend({ url: proxy.url, emailDomain: 'easd.test' });
    a = (await backend.authenticate(alice.user, alice.password, signal))!;
    book = await backend.folders.createFolder(a, null, `Listing ${tag()}`, 'Contacts', signal);
    path = `/${alice.user}/${book.id}/`;
    for (const n of ['one', 'two', 'three'])
      expect((await raw('PUT', `${path}${n}.vcf`, card(`${n}-${run}`, n))).status).toBe(201);
  });

  afterAll(async () => {
    await backend.folders.deleteFolder(a, book.id, signal).catch(() => undefined);
    await proxy.close();
  });

  it('costs one PROPFIND Depth 0 and no listing, and answers the same stamps', async () => {
    const first = await backend.listStamps(a, book.id, {}, signal);
    expect(first.map((s) => s.id).sort()).toEqual(['one.vcf', 'three.vcf', 'two.vcf']);
    const mark = proxy.seen.length;
    const again = await backend.listStamps(a, book.id, {}, signal);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0']);
    expect(proxy.seen[mark]?.body).toContain('sync-token');
    expect(proxy.seen[mark]?.body).toContain('getctag');
    expect(again).toEqual(first);
    // a copy: what the caller does with it does not change the next answer
    again.pop();
    expect(await backend.listStamps(a, book.id, {}, signal)).toEqual(first);
  });

  /**
   * The folder as a backend holding nothing lists it now (PROPFIND Depth 1), by id: a patched
   * listing puts what changed first (Radicale's sync-collection has no getlastmodified).
   */
  async function fresh(): Promise<ItemStamp[]> {
    const b = await openCardDavBackend({ url: stack.dav.url, emailDomain: 'easd.test', listingRows: 0 });
    const ba = (await b.authenticate(alice!.user, alice!.password, signal))!;
    return byId(await b.listStamps(ba, book.id, {}, signal));
  }
  const byId = (stamps: ItemStamp[]): ItemStamp[] => [...stamps].sort((x, y) => (x.id < y.id ? -1 : 1));

  it("sees another client's PUT, change and DELETE at the next look, through sync-collection", async () => {
    await backend.listStamps(a, book.id, {}, signal);
    expect((await raw('PUT', `${path}four.vcf`, card(`four-${tag()}`, 'four'))).status).toBe(201);
    let mark = proxy.seen.length;
    let stamps = await backend.listStamps(a, book.id, {}, signal);
    // the held listing patched with the changes since its sync-token (RFC 6578), not listed again
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0', 'REPORT 0']);
    expect(proxy.seen.slice(mark).find((r) => r.method === 'REPORT')?.body).toContain('sync-collection');
    expect(stamps[0]?.id).toBe('four.vcf');
    expect(byId(stamps)).toEqual(await fresh());

    const before = stamps.find((s) => s.id === 'one.vcf')?.version;
    expect((await raw('PUT', `${path}one.vcf`, card(`one-${run}`, 'one changed'))).status).toBeLessThan(300);
    expect((await raw('DELETE', `${path}two.vcf`)).status).toBe(200);
    mark = proxy.seen.length;
    stamps = await backend.listStamps(a, book.id, {}, signal);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0', 'REPORT 0']);
    expect(stamps.map((s) => s.id).sort()).toEqual(['four.vcf', 'one.vcf', 'three.vcf']);
    expect(stamps.find((s) => s.id === 'one.vcf')?.version).not.toBe(before);
    expect(stamps[0]?.id).toBe('one.vcf');
    expect(byId(stamps)).toEqual(await fresh());
  });

  it("sees easd's own create, edit and delete at the next look", async () => {
    await backend.listStamps(a, book.id, {}, signal);
    const made = await backend.createItem(
      a,
      book.id,
      { class: 'Contacts', item: { FileAs: 'Made' } },
      signal,
    );
    let mark = proxy.seen.length;
    let stamps = await backend.listStamps(a, book.id, {}, signal);
    expect(stamps).toContainEqual(made);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0', 'REPORT 0']);
    const edited = await backend.updateItem(
      a,
      book.id,
      made.id,
      { class: 'Contacts', item: { FileAs: 'Edited' } },
      {},
      signal,
    );
    expect(edited.version).not.toBe(made.version);
    stamps = await backend.listStamps(a, book.id, {}, signal);
    expect(stamps).toContainEqual(edited);
    await backend.deleteItem(a, book.id, made.id, {}, signal);
    stamps = await backend.listStamps(a, book.id, {}, signal);
    expect(stamps.map((s) => s.id)).not.toContain(made.id);
    expect(byId(stamps)).toEqual(await fresh());
    // unchanged again: back to one Depth 0
    mark = proxy.seen.length;
    expect(await backend.listStamps(a, book.id, {}, signal)).toEqual(stamps);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0']);
  });

  it("lists again after easd's writes where the server's tag does not move", async () => {
    const frozen = await startSchedulingProxy(stack.dav.url, { collectionTags: 'freeze' });
    try {
      const b = await openCardDavBackend({ url: frozen.url, emailDomain: 'easd.test' });
      const fa = (await b.authenticate(alice.user, alice.password, signal))!;
      const first = await b.listStamps(fa, book.id, {}, signal);
      let mark = frozen.seen.length;
      expect(await b.listStamps(fa, book.id, {}, signal)).toEqual(first);
      expect(asked(frozen, path, mark)).toEqual(['PROPFIND 0']);
      const made = await b.createItem(fa, book.id, { class: 'Contacts', item: { FileAs: 'Frozen' } }, signal);
      mark = frozen.seen.length;
      const after = await b.listStamps(fa, book.id, {}, signal);
      // the tag did not move over easd's own write: listed again, not patched from it
      expect(asked(frozen, path, mark)).toEqual(['PROPFIND 0', 'PROPFIND 1']);
      expect(after).toContainEqual(made);
      await b.deleteItem(fa, book.id, made.id, {}, signal);
      expect((await b.listStamps(fa, book.id, {}, signal)).map((s) => s.id)).not.toContain(made.id);
    } finally {
      await frozen.close();
    }
  });

  it('lists a changed book where the server refuses the held sync-token', async () => {
    const refusing = await startSchedulingProxy(stack.dav.url, { refuseSyncTokens: true });
    try {
      const b = await openCardDavBackend({ url: refusing.url, emailDomain: 'easd.test' });
      const ra = (await b.authenticate(alice.user, alice.password, signal))!;
      await b.listStamps(ra, book.id, {}, signal);
      expect((await raw('PUT', `${path}six.vcf`, card(`six-${tag()}`, 'six'))).status).toBe(201);
      const mark = refusing.seen.length;
      const stamps = await b.listStamps(ra, book.id, {}, signal);
      expect(asked(refusing, path, mark)).toEqual(['PROPFIND 0', 'REPORT 0', 'PROPFIND 1']);
      expect(byId(stamps)).toEqual(await fresh());
      expect(stamps.map((s) => s.id)).toContain('six.vcf');
    } finally {
      await refusing.close();
    }
  });

  it('lists every time on a server without sync-token or ctag, asking for them once', async () => {
    const bare = await startSchedulingProxy(stack.dav.url, { collectionTags: 'strip' });
    try {
      const b = await openCardDavBackend({ url: bare.url, emailDomain: 'easd.test' });
      const ba = (await b.authenticate(alice.user, alice.password, signal))!;
      let mark = bare.seen.length;
      const first = await b.listStamps(ba, book.id, {}, signal);
      expect(asked(bare, path, mark)).toEqual(['PROPFIND 0', 'PROPFIND 1']);
      for (let i = 0; i < 2; i++) {
        mark = bare.seen.length;
        expect(await b.listStamps(ba, book.id, {}, signal)).toEqual(first);
        expect(asked(bare, path, mark)).toEqual(['PROPFIND 1']);
      }
      expect((await raw('PUT', `${path}five.vcf`, card(`five-${tag()}`, 'five'))).status).toBe(201);
      expect((await b.listStamps(ba, book.id, {}, signal)).map((s) => s.id)).toContain('five.vcf');
    } finally {
      await bare.close();
    }
  });

  it('holds nothing with listingRows 0: every look lists', async () => {
    const b = await openCardDavBackend({ url: proxy.url, emailDomain: 'easd.test', listingRows: 0 });
    const ba = (await b.authenticate(alice.user, alice.password, signal))!;
    await b.listStamps(ba, book.id, {}, signal);
    const mark = proxy.seen.length;
    await b.listStamps(ba, book.id, {}, signal);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0', 'PROPFIND 1']);
  });
});

describe('CalDAV: a look at an unchanged calendar', () => {
  let proxy: SchedulingProxy;
  let backend: CalDavBackend;
  let a: Account;
  let cal: Folder;
  let path: string;
  const day = 86_400_000;

  beforeAll(async () => {
    proxy = await startSchedulingProxy(stack.dav.url, {});
    backend = await openCalDavBackend({ url: proxy.url, emailDomain: 'easd.test' });
    a = (await backend.authenticate(alice.user, alice.password, signal))!;
    cal = await backend.folders.createFolder(a, null, `Listing ${tag()}`, 'Calendar', signal);
    path = `/${alice.user}/${cal.id}/`;
    const soon = new Date(Date.now() + 2 * day)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    expect((await raw('PUT', `${path}soon.ics`, event(`soon-${tag()}`, soon), 'text/calendar')).status).toBe(
      201,
    );
    expect(
      (await raw('PUT', `${path}old.ics`, event(`old-${tag()}`, '20200101T100000Z'), 'text/calendar')).status,
    ).toBe(201);
  });

  afterAll(async () => {
    await backend.folders.deleteFolder(a, cal.id, signal).catch(() => undefined);
    await proxy.close();
  });

  it('costs one PROPFIND Depth 0 and no calendar-query, unfiltered and filtered', async () => {
    const all = await backend.listStamps(a, cal.id, {}, signal);
    expect(all.map((s) => s.id).sort()).toEqual(['old.ics', 'soon.ics']);
    let mark = proxy.seen.length;
    expect(await backend.listStamps(a, cal.id, {}, signal)).toEqual(all);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0']);

    // FilterType: a listing from a window start answers later starts (it lists more, which
    // listStamps allows), never an earlier one
    const since = new Date(Date.now() - 7 * day);
    mark = proxy.seen.length;
    const week = await backend.listStamps(a, cal.id, { since }, signal);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0', 'REPORT 1']);
    expect(week.map((s) => s.id)).toEqual(['soon.ics']);
    mark = proxy.seen.length;
    expect(
      await backend.listStamps(a, cal.id, { since: new Date(since.getTime() + 60_000) }, signal),
    ).toEqual(week);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0']);
    mark = proxy.seen.length;
    const wider = await backend.listStamps(a, cal.id, { since: new Date(Date.now() - 10_000 * day) }, signal);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0', 'REPORT 1']);
    expect(wider.map((s) => s.id).sort()).toEqual(['old.ics', 'soon.ics']);
  });

  it("sees another client's PUT and easd's own writes at the next look", async () => {
    await backend.listStamps(a, cal.id, {}, signal);
    expect(
      (await raw('PUT', `${path}other.ics`, event(`other-${tag()}`, '20300101T100000Z'), 'text/calendar'))
        .status,
    ).toBe(201);
    const mark = proxy.seen.length;
    const stamps = await backend.listStamps(a, cal.id, {}, signal);
    expect(asked(proxy, path, mark)).toEqual(['PROPFIND 0', 'REPORT 1']);
    expect(stamps.map((s) => s.id)).toContain('other.ics');

    const made = await backend.createItem(
      a,
      cal.id,
      {
        class: 'Calendar',
        item: {
          Subject: 'Made',
          StartTime: new Date('2030-02-01T10:00:00Z'),
          EndTime: new Date('2030-02-01T11:00:00Z'),
        },
      },
      signal,
    );
    expect(await backend.listStamps(a, cal.id, {}, signal)).toContainEqual(made);
    await backend.deleteItem(a, cal.id, made.id, {}, signal);
    expect((await backend.listStamps(a, cal.id, {}, signal)).map((s) => s.id)).not.toContain(made.id);
  });

  it('lists every time on a server without sync-token or ctag', async () => {
    const bare = await startSchedulingProxy(stack.dav.url, { collectionTags: 'strip' });
    try {
      const b = await openCalDavBackend({ url: bare.url, emailDomain: 'easd.test' });
      const ba = (await b.authenticate(alice.user, alice.password, signal))!;
      const first = await b.listStamps(ba, cal.id, {}, signal);
      for (let i = 0; i < 2; i++) {
        const mark = bare.seen.length;
        expect(await b.listStamps(ba, cal.id, {}, signal)).toEqual(first);
        expect(asked(bare, path, mark)).toEqual(['REPORT 1']);
      }
    } finally {
      await bare.close();
    }
  });
});

describe('ListingCache', () => {
  const listing = (n: number): HeldListing => ({
    version: 'v',
    syncToken: true,
    since: undefined,
    at: 0,
    rows: Array.from({ length: n }, (_, i) => ({
      id: `${i}`,
      version: `"${i}"`,
      url: `http://dav/u/b/${i}.vcf`,
      modified: 0,
    })),
  });

  it('drops the least recently used listings past its row cap, and never holds one larger than it', () => {
    const c = new ListingCache(10);
    c.set('u', { id: 'a', url: 'http://dav/u/a/' }, listing(4));
    c.set('u', { id: 'b', url: 'http://dav/u/b/' }, listing(4));
    expect(c.get('u', 'a')).toBeDefined(); // a is now the most recent
    c.set('v', { id: 'c', url: 'http://dav/v/c/' }, listing(4));
    expect(c.get('u', 'b')).toBeUndefined();
    expect(c.get('u', 'a')?.rows).toHaveLength(4);
    expect(c.size).toBe(8);
    c.set('u', { id: 'big', url: 'http://dav/u/big/' }, listing(11));
    expect(c.get('u', 'big')).toBeUndefined();
    expect(c.size).toBe(8);
  });

  it("marks a collection's listings stale for its user only, under both folder ids of a mixed one", () => {
    const c = new ListingCache(100);
    c.set('u', { id: 'cal', url: 'http://dav/u/mixed/' }, listing(1));
    c.set('u', { id: 'tasks', url: 'http://dav/u/mixed/' }, listing(1));
    c.set('w', { id: 'cal', url: 'http://dav/u/mixed/' }, listing(1));
    c.staleCollection('u', 'http://dav/u/mixed/');
    expect(c.get('u', 'cal')?.stale).toBe(true);
    expect(c.get('u', 'tasks')?.stale).toBe(true);
    expect(c.get('w', 'cal')?.stale).toBeUndefined();
  });
});
