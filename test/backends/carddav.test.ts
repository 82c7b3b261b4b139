// The CardDAV backend against the stack's Radicale: the conformance kit, then what only a DAV
// store shows — another client's edits, unknown vCard properties surviving a phone's edit, 3.0
// cards staying 3.0, stale ETags, odd hrefs, logins. Every collection this file makes has a
// random name (the Radicale is shared by all test files of a run).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openCardDavBackend, type CardDavBackend } from '../../backends/carddav/index.js';
import { describeBackendConformance, expectBackendError } from '../../backends/testkit/index.js';
import type { Account, Folder } from '../../src/backend/contract.js';
import type { ContactItem } from '../../src/backend/model.js';

const stack = inject('stack');
const [alice, bob] = stack.users;
if (alice === undefined || bob === undefined) throw new Error('the stack has no test users');
const signal = new AbortController().signal;
const tag = (): string => randomBytes(4).toString('hex');
const basic = (u: { user: string; password: string }): string =>
  `Basic ${Buffer.from(`${u.user}:${u.password}`).toString('base64')}`;

/** Another DAV client: raw requests with alice's credentials. */
async function raw(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(new URL(path, stack.dav.url), {
    method,
    headers: {
      Authorization: basic(alice!),
      ...(body !== undefined && { 'Content-Type': 'text/vcard; charset=utf-8' }),
      ...headers,
    },
    ...(body !== undefined && { body }),
  });
}

describeBackendConformance(
  'carddav',
  async () => {
    const backend = await openCardDavBackend({
      url: stack.dav.url,
      timeoutMs: 10_000,
      emailDomain: 'easd.test',
    });
    return {
      backend,
      credentials: alice,
      otherCredentials: bob,
      teardown: async () => undefined,
    };
  },
  { classes: ['Contacts'], capabilities: { changes: true, folders: true } },
);

describe('carddav backend on Radicale', () => {
  let backend: CardDavBackend;
  let a: Account;
  let book: Folder;
  /** Path of the test address book on the server, e.g. `/alice/<uuid>/`. */
  let bookPath: string;

  beforeAll(async () => {
    backend = await openCardDavBackend({ url: stack.dav.url, emailDomain: 'easd.test' });
    a = (await backend.authenticate(alice.user, alice.password, signal))!;
    book = await backend.folders.createFolder(a, null, `Test book ${tag()}`, 'Contacts', signal);
    bookPath = `/${alice.user}/${book.id}/`;
  });

  afterAll(async () => {
    await backend.folders.deleteFolder(a, book.id, signal).catch(() => undefined);
  });

  const read = async (id: string): Promise<ContactItem | undefined> =>
    (await backend.getItems(a, book.id, [id], { bodyPreferences: [{ Type: 1 }] }, signal))[0]?.item as
      ContactItem | undefined;

  it('lists each address book as its own Contacts folder, the default one first with role default', async () => {
    const folders = await backend.listFolders(a, signal);
    const defaults = folders.filter((f) => f.role === 'default');
    expect(defaults).toHaveLength(1);
    expect(folders.find((f) => f.id === book.id)).toMatchObject({
      class: 'Contacts',
      role: null,
      parentId: null,
    });
    expect(folders.every((f) => f.class === 'Contacts')).toBe(true);
  });

  it('sees a card another client PUT, changed and deleted, in stamps and in the change feed', async () => {
    const cursor = await backend.changes.currentCursor(a, book.id, signal);
    const name = `ext-${tag()}`;
    const card = (fn: string): string =>
      `BEGIN:VCARD\r\nVERSION:4.0\r\nUID:${name}\r\nFN:${fn}\r\nEND:VCARD\r\n`;
    expect(
      (await raw('PUT', `${bookPath}${name}.vcf`, card('Outside One'), { 'If-None-Match': '*' })).status,
    ).toBe(201);

    const stamps = await backend.listStamps(a, book.id, {}, signal);
    const mine = stamps.find((x) => x.id === `${name}.vcf`);
    expect(mine).toBeDefined();
    expect(await read(`${name}.vcf`)).toMatchObject({ FileAs: 'Outside One' });
    const first = await backend.changes.changesSince(a, book.id, cursor, signal);
    expect(first.changes).toContainEqual({ kind: 'upsert', id: `${name}.vcf`, version: mine!.version });

    expect(
      (await raw('PUT', `${bookPath}${name}.vcf`, card('Outside Two'), { 'If-Match': mine!.version })).status,
    ).toBe(201);
    const second = await backend.changes.changesSince(a, book.id, first.cursor, signal);
    const changed = second.changes.find((c) => c.id === `${name}.vcf`);
    expect(changed?.kind).toBe('upsert');
    expect(changed?.version).not.toBe(mine!.version);
    expect(
      (await backend.listStamps(a, book.id, {}, signal)).find((x) => x.id === `${name}.vcf`)?.version,
    ).toBe(changed?.version);

    expect((await raw('DELETE', `${bookPath}${name}.vcf`)).ok).toBe(true);
    const third = await backend.changes.changesSince(a, book.id, second.cursor, signal);
    expect(third.changes).toEqual([{ kind: 'delete', id: `${name}.vcf` }]);
  });

  it("a phone's edit keeps the vCard properties it never saw, and a 3.0 card stays 3.0", async () => {
    const name = `apple-${tag()}`;
    const apple = [
      'BEGIN:VCARD',
      'VERSION:3.0',
      'PRODID:-//Apple Inc.//iOS 17.2//EN',
      `UID:${name}`,
      'N:Lovelace;Ada;;;',
      'FN:Ada Lovelace',
      'item1.EMAIL;type=INTERNET;type=pref:ada@example.com',
      'item1.X-ABLabel:_$!<Other>!$_',
      'TEL;type=CELL;type=VOICE;type=pref:+44 7700 900123',
      'TEL;type=IPHONE;type=CELL;type=VOICE:+44 7700 900456',
      'X-SOCIALPROFILE;type=twitter:https://twitter.com/ada',
      'X-ABSHOWAS:PERSON',
      'END:VCARD',
      '',
    ].join('\r\n');
    expect((await raw('PUT', `${bookPath}${name}.vcf`, apple)).status).toBe(201);
    const id = `${name}.vcf`;
    const item = (await read(id))!;
    expect(item).toMatchObject({ MobilePhoneNumber: '+44 7700 900123', Email1Address: 'ada@example.com' });

    // the phone changes the mobile number and drops the e-mail
    const { Email1Address: _gone, ...rest } = item;
    await backend.updateItem(
      a,
      book.id,
      id,
      { class: 'Contacts', item: { ...rest, MobilePhoneNumber: '+44 7700 900999' } },
      {},
      signal,
    );

    const stored = await (await raw('GET', `${bookPath}${id}`)).text();
    const lines = stored.replace(/\r\n[ \t]/g, '').split(/\r?\n/);
    expect(lines).toContain('VERSION:3.0');
    // Radicale re-serialises what it stores (vobject): compare properties, not parameter spelling
    const has = (re: RegExp): boolean => lines.some((l) => re.test(l));
    expect(has(/^TEL;TYPE=CELL,VOICE,PREF:\+44 7700 900999$/i)).toBe(true);
    for (const kept of [
      /^PRODID:-\/\/Apple Inc\.\/\/iOS 17\.2\/\/EN$/,
      /^TEL;TYPE=IPHONE,CELL,VOICE:\+44 7700 900456$/i,
      /^X-SOCIALPROFILE;TYPE=twitter:https:\/\/twitter\.com\/ada$/i,
      /^X-ABSHOWAS:PERSON$/,
      new RegExp(`^UID:${name}$`),
    ])
      expect(has(kept), String(kept)).toBe(true);
    expect(stored).not.toContain('ada@example.com');
    expect(stored).not.toContain('item1.');
  });

  it('makes 3.0 cards where the address book does not say (Radicale), the photo stored whole', async () => {
    // a JPEG-like picture (FF D8 FF magic) longer than many folded lines
    const picture = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(6000)]).toString(
      'base64',
    );
    const stamp = await backend.createItem(
      a,
      book.id,
      {
        class: 'Contacts',
        item: {
          FileAs: 'New One',
          FirstName: 'New',
          Birthday: new Date('1990-03-04T22:00:00Z'),
          Picture: picture,
        },
      },
      signal,
    );
    const stored = await (await raw('GET', `${bookPath}${stamp.id}`)).text();
    expect(stored).toMatch(/^BEGIN:VCARD\r\nVERSION:3\.0\r\n/);
    expect(stored).toContain('BDAY:1990-03-05');
    const lines = stored.replace(/\r\n[ \t]/g, '').split('\r\n');
    // RFC 2426 §3.1.4: inline binary is ENCODING=b with the image TYPE
    expect(lines).toContain(`PHOTO;ENCODING=b;TYPE=JPEG:${picture}`);
    expect(stamp.id).toMatch(/^[0-9a-f-]{36}\.vcf$/);
    expect((await read(stamp.id))?.Picture).toBe(picture);
    await backend.deleteItem(a, book.id, stamp.id, {}, signal);
  });

  it("a picture set on another client's 4.0 card turns it into 3.0 (Radicale would cut the 4.0 photo), keeping what the phone never saw", async () => {
    const name = `four-${tag()}`;
    const four = [
      'BEGIN:VCARD',
      'VERSION:4.0',
      `UID:urn:uuid:${name}`,
      'FN:Grace Hopper',
      'N:Hopper;Grace;;;',
      'BDAY:19061209',
      'RELATED;VALUE=text;TYPE=spouse:Vincent',
      'X-OTHER-CLIENT:kept',
      'END:VCARD',
      '',
    ].join('\r\n');
    expect((await raw('PUT', `${bookPath}${name}.vcf`, four)).status).toBe(201);
    const id = `${name}.vcf`;
    // without a picture, an edit leaves it 4.0
    const item = (await read(id))!;
    await backend.updateItem(
      a,
      book.id,
      id,
      { class: 'Contacts', item: { ...item, JobTitle: 'Admiral' } },
      {},
      signal,
    );
    expect(await (await raw('GET', `${bookPath}${id}`)).text()).toMatch(/^BEGIN:VCARD\r\nVERSION:4\.0\r\n/);

    const picture = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(3000)]).toString(
      'base64',
    );
    await backend.updateItem(
      a,
      book.id,
      id,
      { class: 'Contacts', item: { ...item, JobTitle: 'Admiral', Picture: picture } },
      {},
      signal,
    );
    const lines = (await (await raw('GET', `${bookPath}${id}`)).text())
      .replace(/\r\n[ \t]/g, '')
      .split('\r\n');
    expect(lines).toContain('VERSION:3.0');
    expect(lines).toContain(`PHOTO;ENCODING=b;TYPE=JPEG:${picture}`);
    expect(lines).toContain('BDAY:1906-12-09');
    expect(lines).toContain('X-OTHER-CLIENT:kept');
    expect(lines).toContain('TITLE:Admiral');
    expect(await read(id)).toMatchObject({
      FileAs: 'Grace Hopper',
      Spouse: 'Vincent',
      Picture: picture,
      JobTitle: 'Admiral',
    });
    await backend.deleteItem(a, book.id, id, {}, signal);
  });

  it('makes 4.0 cards when configured so', async () => {
    const four = await openCardDavBackend({ url: stack.dav.url, vcardVersion: '4.0' });
    const acc = (await four.authenticate(alice.user, alice.password, signal))!;
    const stamp = await four.createItem(
      acc,
      book.id,
      { class: 'Contacts', item: { FileAs: 'Four' } },
      signal,
    );
    const stored = await (await raw('GET', `${bookPath}${stamp.id}`)).text();
    expect(stored).toMatch(/^BEGIN:VCARD\r\nVERSION:4\.0\r\n/);
    await four.deleteItem(acc, book.id, stamp.id, {}, signal);
  });

  it('refuses a write over a stale ETag, and merges an unconditional write onto the newer card', async () => {
    const stamp = await backend.createItem(
      a,
      book.id,
      { class: 'Contacts', item: { FileAs: 'Stale', JobTitle: 'One' } },
      signal,
    );
    const path = `${bookPath}${stamp.id}`;
    // another client adds a property the phone does not know
    const theirs = (await (await raw('GET', path)).text()).replace(
      'END:VCARD',
      'X-OTHER-CLIENT:kept\r\nEND:VCARD',
    );
    expect((await raw('PUT', path, theirs, { 'If-Match': stamp.version })).status).toBe(201);

    await expectBackendError(
      backend.updateItem(
        a,
        book.id,
        stamp.id,
        { class: 'Contacts', item: { FileAs: 'Stale', JobTitle: 'Two' } },
        { ifVersion: stamp.version },
        signal,
      ),
      'conflict',
    );
    await expectBackendError(
      backend.deleteItem(a, book.id, stamp.id, { ifVersion: stamp.version }, signal),
      'conflict',
    );
    expect(await (await raw('GET', path)).text()).toContain('TITLE:One');

    await backend.updateItem(
      a,
      book.id,
      stamp.id,
      { class: 'Contacts', item: { FileAs: 'Stale', JobTitle: 'Two' } },
      {},
      signal,
    );
    const stored = await (await raw('GET', path)).text();
    expect(stored).toContain('TITLE:Two');
    expect(stored).toContain('X-OTHER-CLIENT:kept');
    await backend.deleteItem(a, book.id, stamp.id, {}, signal);
  });

  it('gives short stable ids to long or odd hrefs, and reads, changes and deletes through them', async () => {
    for (const file of [`${'long-'.repeat(20)}${tag()}.vcf`, `odd name@${tag()}.vcf`]) {
      const card = `BEGIN:VCARD\r\nVERSION:4.0\r\nUID:${file}\r\nFN:Odd\r\nEND:VCARD\r\n`;
      expect((await raw('PUT', `${bookPath}${encodeURIComponent(file)}`, card)).status).toBe(201);
      const fresh = await openCardDavBackend({ url: stack.dav.url, emailDomain: 'easd.test' }); // empty cache
      const acc = (await fresh.authenticate(alice.user, alice.password, signal))!;
      const stamps = await fresh.listStamps(acc, book.id, {}, signal);
      const again = await fresh.listStamps(acc, book.id, {}, signal);
      expect(again).toEqual(stamps);
      for (const st of stamps) expect(st.id.length).toBeLessThanOrEqual(64);
      const other = await openCardDavBackend({ url: stack.dav.url, emailDomain: 'easd.test' });
      const acc2 = (await other.authenticate(alice.user, alice.password, signal))!;
      const found = (await other.listStamps(acc2, book.id, {}, signal)).map((x) => x.id);
      const id = stamps.find((st) => st.id.startsWith('h~'))?.id;
      expect(id, file).toBeDefined();
      expect(found).toContain(id);
      // a backend that has never listed the folder finds the hashed id by listing
      const third = await openCardDavBackend({ url: stack.dav.url, emailDomain: 'easd.test' });
      const acc3 = (await third.authenticate(alice.user, alice.password, signal))!;
      const got = await third.getItems(acc3, book.id, [id!], { bodyPreferences: [] }, signal);
      expect(got[0]?.item).toMatchObject({ FileAs: 'Odd' });
      await third.updateItem(
        acc3,
        book.id,
        id!,
        { class: 'Contacts', item: { FileAs: 'Odd 2' } },
        {},
        signal,
      );
      expect(await raw('GET', `${bookPath}${encodeURIComponent(file)}`).then((r) => r.text())).toContain(
        'FN:Odd 2',
      );
      await third.deleteItem(acc3, book.id, id!, {}, signal);
      expect((await raw('GET', `${bookPath}${encodeURIComponent(file)}`)).status).toBe(404);
    }
  });

  it('moves a card between address books with a new id there', async () => {
    const other = await backend.folders.createFolder(a, null, `Move target ${tag()}`, 'Contacts', signal);
    const stamp = await backend.createItem(
      a,
      book.id,
      { class: 'Contacts', item: { FileAs: 'Mover' } },
      signal,
    );
    const moved = await backend.moveItem(a, book.id, stamp.id, other.id, signal);
    expect(await backend.listStamps(a, other.id, {}, signal)).toContainEqual(moved);
    expect((await backend.listStamps(a, book.id, {}, signal)).map((x) => x.id)).not.toContain(stamp.id);
    await expectBackendError(backend.moveItem(a, book.id, stamp.id, other.id, signal), 'not-found');
    await backend.folders.deleteFolder(a, other.id, signal);
  });

  it('keeps a nested folder as a dead property (address books cannot nest, RFC 6352 §5.2)', async () => {
    const child = await backend.folders.createFolder(a, book.id, `Child ${tag()}`, 'Contacts', signal);
    const folders = await backend.listFolders(a, signal);
    expect(folders.find((f) => f.id === child.id)?.parentId).toBe(book.id);
    expect(folders.findIndex((f) => f.id === book.id)).toBeLessThan(
      folders.findIndex((f) => f.id === child.id),
    );
    await expectBackendError(
      backend.folders.updateFolder(a, book.id, { displayName: book.displayName, parentId: child.id }, signal),
      'conflict',
    );
    await backend.folders.deleteFolder(a, child.id, signal);
  });

  it('logs in with a real PROPFIND: wrong password null, server down unavailable, no password on the Account', async () => {
    expect(await backend.authenticate(alice.user, 'wrong', signal)).toBeNull();
    const down = await openCardDavBackend({ url: 'http://127.0.0.1:9/', timeoutMs: 2000 });
    await expectBackendError(down.authenticate(alice.user, alice.password, signal), 'unavailable');
    const json = JSON.stringify(a);
    expect(json).not.toContain(alice.password);
    expect(json).not.toContain(Buffer.from(`${alice.user}:${alice.password}`).toString('base64'));
    expect(a).toMatchObject({ user: alice.user, email: `${alice.user}@easd.test` });
    // an Account that is not one of this backend's sessions
    await expectBackendError(backend.listFolders({ user: alice.user, email: 'x@y' }, signal), 'auth');
  });

  it('maps logins to DAV users', async () => {
    const mapped = await openCardDavBackend({
      url: stack.dav.url,
      userMapping: { 'ada@easd.test': alice.user },
    });
    const acc = await mapped.authenticate('ada@easd.test', alice.password, signal);
    expect(acc).toMatchObject({ user: 'ada@easd.test', email: 'ada@easd.test' });
    expect((await mapped.listFolders(acc!, signal)).map((f) => f.id)).toContain(book.id);
  });
});
