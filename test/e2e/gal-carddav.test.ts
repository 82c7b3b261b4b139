// The GAL on a shared CardDAV address book, against the real Radicale of the test stack: carol's
// "directory" book (carol is the service account) is filled through DAV, easd is configured with
// EASD_GAL_* and driven by a phone with real WBXML (Search Store=GAL, ResolveRecipients), every
// response schema-checked. Also: changes on the server show on the next lookup, another user's
// and carol's other books are never searched, a user who may not read the book finds no one, and
// the number of DAV requests a lookup costs once the book is held.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { WbxmlElement } from '../../wbxml/index.js';
import { CardDavGal } from '../../backends/directory/index.js';
import { openEasd, type Easd } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { testCertificate } from '../support/certs.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';
import { testPhoto } from '../support/gal.js';
import { validateEasResponse } from '../support/schema.js';

const stack = inject('stack');
const user = (name: string): (typeof stack.users)[number] => stack.users.find((u) => u.user === name)!;
const alice = user('alice');
const bob = user('bob');
const carol = user('carol');
const run = Date.now().toString(36);
const book = `${stack.dav.url}carol/gal-${run}/`;
const annaCert = testCertificate('anna.berg@corp.example');
const photo = testPhoto(2000);
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

async function dav(
  who: { user: string; password: string },
  method: string,
  url: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(url, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${who.user}:${who.password}`).toString('base64')}`,
      ...headers,
    },
    ...(body !== undefined && { body }),
  });
  await res.text();
  return res.status;
}

/** RFC 5689 extended MKCOL of an address book. */
async function makeBook(who: { user: string; password: string }, url: string): Promise<void> {
  const status = await dav(
    who,
    'MKCOL',
    url,
    '<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>',
    { 'Content-Type': 'application/xml' },
  );
  expect(status).toBe(201);
}

async function putCard(who: { user: string; password: string }, url: string, lines: string[]): Promise<void> {
  const text = ['BEGIN:VCARD', ...lines, 'END:VCARD', ''].join('\r\n');
  const status = await dav(who, 'PUT', url, text, { 'Content-Type': 'text/vcard; charset=utf-8' });
  expect([201, 204]).toContain(status);
}

// vCard 3.0 inline binary: Radicale's vobject cuts a 4.0 `data:` URI at its comma (see docs).
const anna = [
  'VERSION:3.0',
  `UID:anna-${run}`,
  'FN:Anna Berg',
  'N:Berg;Anna;;;',
  'ORG:Corp Example;Sales',
  'TITLE:Head of Sales',
  'TEL;TYPE=work:+49 30 1234',
  'TEL;TYPE=cell:+49 170 5555',
  'EMAIL:anna.berg@corp.example',
  `PHOTO;ENCODING=b;TYPE=JPEG:${b64(photo)}`,
  `KEY;ENCODING=b;TYPE=X509:${b64(annaCert)}`,
];
const anton = [
  'VERSION:3.0',
  `UID:anton-${run}`,
  'FN:Anton Bauer',
  'N:Bauer;Anton;;;',
  'EMAIL:anton@corp.example',
];

let dataDir: string;
const opened: Easd[] = [];

async function easdWith(env: Record<string, string>): Promise<Easd> {
  const easd = await openEasd(
    loadConfig({
      EASD_DATA_DIR: dataDir,
      EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
      EASD_GAL_URL: book,
      EASD_GAL_REFRESH: '0',
      ...env,
    }),
    pino({ level: 'silent' }),
  );
  opened.push(easd);
  return easd;
}

async function phone(
  easd: Easd,
  who: { user: string; password: string },
  version = '14.1',
): Promise<EasTestClient> {
  const c = EasTestClient.inject(easd.app, {
    user: who.user,
    password: who.password,
    deviceId: `GAL${run}${opened.length}${who.user}${version.replace('.', '')}`,
    version,
  });
  await c.provision();
  return c;
}

async function galSearch(c: EasTestClient, query: string, options = ''): Promise<WbxmlElement> {
  const res = await c.command(
    'Search',
    `<Search xmlns="Search:"><Store><Name>GAL</Name><Query>${query}</Query>${options && `<Options>${options}</Options>`}</Store></Search>`,
  );
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, 'Search');
  return res.doc!;
}

async function resolveRecipients(c: EasTestClient, to: string[], options = ''): Promise<WbxmlElement> {
  const res = await c.command(
    'ResolveRecipients',
    `<ResolveRecipients xmlns="ResolveRecipients:">${to.map((t) => `<To>${t}</To>`).join('')}${options && `<Options>${options}</Options>`}</ResolveRecipients>`,
  );
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, 'ResolveRecipients');
  return res.doc!;
}

const storeStatus = (doc: WbxmlElement): string | undefined => findText(findAll(doc, 'Store')[0], 'Status');
const names = (doc: WbxmlElement): Array<string | undefined> =>
  findAll(doc, 'Result').map((r) => findText(r, 'DisplayName'));

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'easd-gal-'));
  await makeBook(carol, book);
  await putCard(carol, `${book}anna.vcf`, anna);
  await putCard(carol, `${book}anton.vcf`, anton);
  await putCard(carol, `${book}sales.vcf`, [
    'VERSION:4.0',
    `UID:sales-${run}`,
    'KIND:group',
    'FN:Anything Sales',
  ]);
  // Private books the GAL must never show: bob's own, and carol's other one.
  await makeBook(bob, `${stack.dav.url}bob/private-${run}/`);
  await putCard(bob, `${stack.dav.url}bob/private-${run}/s.vcf`, [
    'VERSION:3.0',
    `UID:secret-${run}`,
    'FN:Secret Sauerbraun',
    'N:Sauerbraun;Secret;;;',
    'EMAIL:secret@private.example',
  ]);
  await makeBook(carol, `${stack.dav.url}carol/own-${run}/`);
  await putCard(carol, `${stack.dav.url}carol/own-${run}/p.vcf`, [
    'VERSION:3.0',
    `UID:privy-${run}`,
    'FN:Privy Counsel',
    'N:Counsel;Privy;;;',
    'EMAIL:privy@private.example',
  ]);
});
afterAll(async () => {
  for (const e of opened) await e.app.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('GAL on a shared Radicale address book (service account)', () => {
  let easd: Easd;
  let c: EasTestClient;
  beforeAll(async () => {
    easd = await easdWith({ EASD_GAL_USER: carol.user, EASD_GAL_PASSWORD: carol.password });
    c = await phone(easd, alice);
  });

  it('Search GAL: entries by prefix with their gal: fields and photos (14.1); a group card is none', async () => {
    const doc = await galSearch(c, 'An', '<Range>0-9</Range><Picture/>');
    expect([storeStatus(doc), findText(doc, 'Total'), findText(doc, 'Range'), names(doc)]).toEqual([
      '1',
      '2',
      '0-1',
      ['Anna Berg', 'Anton Bauer'],
    ]);
    const [a, b] = findAll(doc, 'Result');
    const fields = ['FirstName', 'LastName', 'Company', 'Title', 'Phone', 'MobilePhone', 'EmailAddress'];
    expect(fields.map((f) => findText(a, f))).toEqual([
      'Anna',
      'Berg',
      'Corp Example',
      'Head of Sales',
      '+49 30 1234',
      '+49 170 5555',
      'anna.berg@corp.example',
    ]);
    const pa = findAll(a, 'Picture')[0];
    const pb = findAll(b, 'Picture')[0];
    expect([findText(pa, 'Status'), findText(pa, 'Data'), findText(pb, 'Status')]).toEqual([
      '1',
      b64(photo),
      '173',
    ]);
  });

  it('Search GAL: MaxSize below the photo is 174', async () => {
    const doc = await galSearch(c, 'berg', '<Picture><MaxSize>1000</MaxSize></Picture>');
    expect(findText(findAll(doc, 'Picture')[0], 'Status')).toBe('174');
  });

  it('Find (16.1) GAL criterion: the entry and its photo', async () => {
    const c16 = await phone(easd, alice, '16.1');
    const res = await c16.command(
      'Find',
      `<Find xmlns="Find:"><SearchId>${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}</SearchId><ExecuteSearch><GalSearchCriterion><Query><FreeText>anna</FreeText></Query><Options><Range>0-9</Range><Picture><MaxPictures>1</MaxPictures></Picture></Options></GalSearchCriterion></ExecuteSearch></Find>`,
    );
    await validateEasResponse(res.doc!, 'Find');
    const r = findAll(res.doc, 'Result')[0];
    expect([findText(r, 'DisplayName'), findText(findAll(r, 'Picture')[0], 'Data')]).toEqual([
      'Anna Berg',
      b64(photo),
    ]);
  });

  it('ResolveRecipients: a GAL entry (Type 1) with its certificate and photo', async () => {
    const doc = await resolveRecipients(
      c,
      ['Anna Berg &lt;anna.berg@corp.example&gt;'],
      '<CertificateRetrieval>2</CertificateRetrieval><Picture><MaxPictures>1</MaxPictures></Picture>',
    );
    const r = findAll(doc, 'Recipient')[0];
    const certs = findAll(r, 'Certificates')[0];
    expect([
      findText(findAll(doc, 'Response')[0], 'Status'),
      findText(r, 'Type'),
      findText(r, 'DisplayName'),
      findText(certs, 'Status'),
      findText(certs, 'CertificateCount'),
      findText(certs, 'Certificate'),
      findText(findAll(r, 'Picture')[0], 'Data'),
    ]).toEqual(['1', '1', 'Anna Berg', '1', '1', b64(annaCert), b64(photo)]);
  });

  it('ResolveRecipients: "an" is ambiguous (2) with both suggestions; Anton has no certificate (7)', async () => {
    const doc = await resolveRecipients(
      c,
      ['an', 'anton@corp.example'],
      '<CertificateRetrieval>2</CertificateRetrieval>',
    );
    const [amb, one] = findAll(doc, 'Response');
    expect([
      findText(amb, 'Status'),
      findText(amb, 'RecipientCount'),
      findAll(amb, 'Recipient').map((r) => findText(r, 'EmailAddress')),
      findText(one, 'Status'),
      findText(findAll(one, 'Certificates')[0], 'Status'),
    ]).toEqual(['2', '2', ['anna.berg@corp.example', 'anton@corp.example'], '1', '7']);
  });

  it("never shows another user's or the service account's other address books", async () => {
    for (const q of ['secret', 'privy', 'Sauerbraun']) expect(names(await galSearch(c, q))).toEqual([]);
    const doc = await resolveRecipients(c, ['secret@private.example', 'privy@private.example']);
    expect(findAll(doc, 'Response').map((r) => findText(r, 'Status'))).toEqual(['4', '4']);
  });

  it('a card added, changed and removed on the server shows on the next lookup', async () => {
    await putCard(carol, `${book}annika.vcf`, [
      'VERSION:4.0',
      `UID:annika-${run}`,
      'FN:Annika Aalto',
      'EMAIL:annika@corp.example',
    ]);
    await putCard(carol, `${book}anton.vcf`, [
      ...anton.filter((l) => !l.startsWith('FN')),
      'FN:Anton Bauer-Klein',
    ]);
    expect([200, 204]).toContain(await dav(carol, 'DELETE', `${book}anna.vcf`));
    expect(names(await galSearch(c, 'an'))).toEqual(['Annika Aalto', 'Anton Bauer-Klein']);
    await putCard(carol, `${book}anna.vcf`, anna); // as it was, for the other tests
    expect(names(await galSearch(c, 'anna'))).toEqual(['Anna Berg']);
  });
});

describe("GAL read with each user's own credentials", () => {
  let easd: Easd;
  beforeAll(async () => {
    easd = await easdWith({});
  });

  it('a user the DAV server does not let read the book finds no one: Search 5, ResolveRecipients 4', async () => {
    const c = await phone(easd, alice);
    expect(storeStatus(await galSearch(c, 'anna'))).toBe('5');
    const doc = await resolveRecipients(c, ['anna.berg@corp.example']);
    expect([findText(doc, 'Status'), findText(findAll(doc, 'Response')[0], 'Status')]).toEqual(['1', '4']);
  });

  it('a user who may read it (its owner here) finds the entries', async () => {
    const c = await phone(easd, carol);
    expect(names(await galSearch(c, 'anna'))).toEqual(['Anna Berg']);
  });
});

describe('what a lookup costs on the DAV server', () => {
  it('one PROPFIND while nothing changed; a change costs a sync-collection and a multiget of that card', async () => {
    const gal = new CardDavGal({
      url: book,
      service: { user: carol.user, password: carol.password },
      refreshMs: 0,
    });
    const account = { user: 'alice', email: alice.email };
    const signal = AbortSignal.timeout(10_000);
    const spy = vi.spyOn(globalThis, 'fetch');
    const requests = (): string[] =>
      spy.mock.calls.map(([, init]) => {
        const body = String(init?.body ?? '');
        const report = /<[a-z]+:(sync-collection|addressbook-multiget)/.exec(body)?.[1];
        const depth = (init?.headers as Record<string, string> | undefined)?.['Depth'];
        return `${init?.method ?? 'GET'}${report === undefined ? '' : ` ${report}`} ${depth ?? ''}`.trim();
      });
    try {
      expect((await gal.directory(account, 'anna', 10, signal)).map((e) => e.DisplayName)).toEqual([
        'Anna Berg',
      ]);
      expect(requests()).toEqual(['PROPFIND 0', 'PROPFIND 1', 'REPORT addressbook-multiget 1']);
      spy.mockClear();
      await gal.directory(account, 'anton', 10, signal);
      await gal.directory(account, 'annika', 10, signal);
      expect(requests()).toEqual(['PROPFIND 0', 'PROPFIND 0']);
      spy.mockClear();
      await putCard(carol, `${book}cost.vcf`, [
        'VERSION:4.0',
        `UID:cost-${run}`,
        'FN:Costa Cost',
        'EMAIL:costa@corp.example',
      ]);
      spy.mockClear();
      expect((await gal.directory(account, 'costa', 10, signal)).map((e) => e.EmailAddress)).toEqual([
        'costa@corp.example',
      ]);
      expect(requests()).toEqual(['PROPFIND 0', 'REPORT sync-collection 0', 'REPORT addressbook-multiget 1']);
      const multiget = String(spy.mock.calls[2]?.[1]?.body);
      expect(multiget.match(/<d:href\b/g)?.length).toBe(1);
    } finally {
      spy.mockRestore();
      gal.close();
    }
  });

  it('a URL that is not an address book (the home) is refused, not an empty GAL', async () => {
    const gal = new CardDavGal({
      url: `${stack.dav.url}carol/`,
      service: { user: carol.user, password: carol.password },
    });
    await expect(
      gal.directory({ user: 'alice', email: alice.email }, 'anna', 10, AbortSignal.timeout(10_000)),
    ).rejects.toMatchObject({ kind: 'denied', message: expect.stringContaining('not an address book') });
  });

  it('no request at all while the held book is younger than refreshMs', async () => {
    const gal = new CardDavGal({
      url: book,
      service: { user: carol.user, password: carol.password },
      refreshMs: 60_000,
    });
    const account = { user: 'alice', email: alice.email };
    await gal.directory(account, 'anna', 10, AbortSignal.timeout(10_000));
    const spy = vi.spyOn(globalThis, 'fetch');
    try {
      expect((await gal.directory(account, 'anton', 10, AbortSignal.timeout(10_000))).length).toBe(1);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
      gal.close();
    }
  });
});
