// The GAL's pure parts: vCard → directory entry (backends/directory/entry.ts), lookup by prefix
// (match.ts), and which S/MIME certificates count as valid (src/commands/resolve-recipients.ts);
// then CardDavGal's refresh paths Radicale never takes (a server with only a ctag, one refusing
// sync-collection, one gone down) against a small scripted DAV server. Against Radicale:
// test/e2e/gal-carddav.test.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DirectoryEntry } from '../../src/backend/contract.js';
import { CardDavGal, entryFromVcard, indexEntry, lookup } from '../../backends/directory/index.js';
import { byDisplayName } from '../../backends/directory/match.js';
import { validCertificates } from '../../src/commands/resolve-recipients.js';
import { testCertificate } from '../support/certs.js';

const photo = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 0xff, 0xd9]);
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const card = (version: '3.0' | '4.0', ...lines: string[]): string =>
  ['BEGIN:VCARD', `VERSION:${version}`, ...lines, 'END:VCARD', ''].join('\r\n');

describe('entryFromVcard', () => {
  it('a 4.0 card: every gal: field, the photo and an X.509 KEY', () => {
    const cert = testCertificate('anna.berg@example.org');
    const e = entryFromVcard(
      card(
        '4.0',
        'UID:urn:uuid:1',
        'FN:Anna Berg',
        'N:Berg;Anna;;;',
        'NICKNAME:aberg',
        'ORG:Example Ltd;Sales',
        'TITLE:Head of Sales',
        'X-EAS-OFFICELOCATION:B4 2.17',
        'TEL;TYPE=work,voice;VALUE=uri:tel:+49-30-1234',
        'TEL;TYPE=home:+49 30 5555',
        'TEL;TYPE=cell:+49 170 1111',
        'EMAIL;TYPE=work:anna.berg@example.org',
        'EMAIL;TYPE=home:anna@home.example',
        `PHOTO:data:image/jpeg;base64,${b64(photo)}`,
        `KEY:data:application/pkix-cert;base64,${b64(cert)}`,
      ),
    );
    expect(e).toEqual({
      DisplayName: 'Anna Berg',
      EmailAddress: 'anna.berg@example.org',
      FirstName: 'Anna',
      LastName: 'Berg',
      Alias: 'aberg',
      Company: 'Example Ltd',
      Title: 'Head of Sales',
      Office: 'B4 2.17',
      Phone: '+49-30-1234',
      HomePhone: '+49 30 5555',
      MobilePhone: '+49 170 1111',
      Picture: new Uint8Array(photo),
      Certificates: [cert],
    });
  });

  it('a 3.0 card: PHOTO and KEY in ENCODING=b; a PGP key is no certificate', () => {
    const cert = testCertificate('b@example.org');
    const e = entryFromVcard(
      card(
        '3.0',
        'FN:Bert Bauer',
        'N:Bauer;Bert;;;',
        'EMAIL;TYPE=INTERNET:b@example.org',
        `PHOTO;ENCODING=b;TYPE=JPEG:${b64(photo)}`,
        `KEY;ENCODING=b;TYPE=X509:${b64(cert)}`,
        `KEY;ENCODING=b;TYPE=PGP:${b64(Buffer.from('not x509'))}`,
      ),
    );
    expect([e?.Picture, e?.Certificates]).toEqual([new Uint8Array(photo), [cert]]);
  });

  it('a 4.0 data: URI stored with its ; and , escaped (vobject servers) still gives the photo and key', () => {
    const cert = testCertificate('e@example.org');
    const e = entryFromVcard(
      card(
        '4.0',
        'FN:Eva Escaped',
        'EMAIL:e@example.org',
        `PHOTO:data:image/jpeg\\;base64\\,${b64(photo)}`,
        `KEY:data:application/pkix-cert\\;base64\\,${b64(cert)}`,
      ),
    );
    expect([e?.Picture, e?.Certificates]).toEqual([new Uint8Array(photo), [cert]]);
  });

  it('no FN: the display name is composed from N, or is the address', () => {
    expect(entryFromVcard(card('3.0', 'N:Chen;Li;;;', 'EMAIL:li@example.org'))?.DisplayName).toBe('Li Chen');
    expect(entryFromVcard(card('3.0', 'EMAIL:desk@example.org'))?.DisplayName).toBe('desk@example.org');
  });

  it('a group, and a card with no name or address, are no entries', () => {
    expect(entryFromVcard(card('4.0', 'KIND:group', 'FN:Sales', 'MEMBER:urn:uuid:1'))).toBeUndefined();
    expect(entryFromVcard(card('3.0', 'FN:Team', 'X-ADDRESSBOOKSERVER-KIND:group'))).toBeUndefined();
    expect(entryFromVcard(card('3.0', 'NOTE:nothing else'))).toBeUndefined();
  });

  it('a card without an address is an entry with an empty EmailAddress (Search shows it)', () => {
    expect(entryFromVcard(card('4.0', 'FN:Reception', 'TEL;TYPE=work:+1 555 0100'))).toEqual({
      DisplayName: 'Reception',
      EmailAddress: '',
      Phone: '+1 555 0100',
    });
  });

  it('broken text throws, so the caller can skip the card', () => {
    expect(() => entryFromVcard('BEGIN:VCARD\r\nnot a line\r\nEND:VCARD\r\n')).toThrow();
  });
});

describe('lookup', () => {
  const people: DirectoryEntry[] = [
    { DisplayName: 'John Smith', FirstName: 'John', LastName: 'Smith', EmailAddress: 'j.smith@example.org' },
    { DisplayName: 'Zoë Ångström', EmailAddress: 'zoe@example.org', Alias: 'zang' },
    { DisplayName: 'Johanna Berg', EmailAddress: 'jberg@example.org' },
    { DisplayName: 'Smithers', EmailAddress: 'waylon@other.example' },
    { DisplayName: 'Reception', EmailAddress: '' },
  ];
  const sorted = people.map(indexEntry).sort(byDisplayName);
  const names = (q: string, limit = 100): string[] => lookup(sorted, q, limit).map((e) => e.DisplayName);

  it.each([
    ['joh', ['Johanna Berg', 'John Smith']],
    ['smi', ['John Smith', 'Smithers']],
    ['JOHN SM', ['John Smith']],
    ['smith, john', ['John Smith']],
    ['zoe', ['Zoë Ångström']],
    ['angst', ['Zoë Ångström']],
    ['zang', ['Zoë Ångström']],
    ['j.smith@', ['John Smith']],
    ['j.smith@example.org', ['John Smith']],
    ['waylon', ['Smithers']],
    ['recep', ['Reception']],
  ])('%s finds %j', (q, expected) => {
    expect(names(q)).toEqual(expected);
  });

  it.each([['mith'], ['example.org'], ['example'], ['john x'], [''], ['   ']])(
    '%j finds no one (not a prefix, a domain alone, or empty)',
    (q) => {
      expect(names(q)).toEqual([]);
    },
  );

  it('stops at the limit, in display-name order', () => {
    expect(names('j', 1)).toEqual(['Johanna Berg']);
    expect(names('j', 0)).toEqual([]);
  });
});

describe('validCertificates', () => {
  const cert = testCertificate('anna@example.org', 30);
  const entry = (c: Uint8Array[], EmailAddress = 'anna@example.org'): DirectoryEntry => ({
    DisplayName: 'Anna',
    EmailAddress,
    Certificates: c,
  });

  it('a certificate within its dates naming the address', () => {
    expect(validCertificates(entry([cert]))).toEqual([cert]);
  });

  it('not one naming another address, an expired one, one not yet valid, or bytes that are no certificate', () => {
    expect(validCertificates(entry([cert], 'bob@example.org'))).toEqual([]);
    expect(validCertificates(entry([cert]), new Date(Date.now() + 40 * 86_400_000))).toEqual([]);
    expect(validCertificates(entry([cert]), new Date(Date.now() - 86_400_000))).toEqual([]);
    expect(validCertificates(entry([new Uint8Array([0x30, 0x03, 1, 2, 3])]))).toEqual([]);
  });
});

/**
 * A scripted CardDAV collection at /book/: PROPFIND Depth 0 (getctag, and sync-token when
 * `syncToken`), Depth 1 (ETags), addressbook-multiget; sync-collection is refused with 501.
 * Records each request as "METHOD depth [report] [hrefs]".
 */
class FakeBook {
  readonly cards = new Map<string, { etag: string; text: string }>();
  readonly log: string[] = [];
  private ctag = 1;
  private server?: Server;
  constructor(
    private readonly syncToken: boolean,
    private readonly hasCtag = true,
  ) {}

  put(name: string, fn: string, email: string): void {
    this.cards.set(name, {
      etag: `"${name}-${++this.ctag}"`,
      text: card('3.0', `UID:${name}`, `FN:${fn}`, `EMAIL:${email}`),
    });
  }
  delete(name: string): void {
    this.cards.delete(name);
    this.ctag++;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const depth = String(req.headers['depth'] ?? '');
        const report = /(sync-collection|addressbook-multiget)/.exec(body)?.[1];
        const hrefs = [...body.matchAll(/<d:href[^>]*>([^<]+)</g)].map((m) => m[1]!.replace('/book/', ''));
        this.log.push([req.method, depth, report, hrefs.join(',')].filter((x) => x).join(' '));
        const ms = (responses: string[]): void => {
          res.writeHead(207, { 'Content-Type': 'application/xml' });
          res.end(
            `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/" xmlns:card="urn:ietf:params:xml:ns:carddav">${responses.join('')}</d:multistatus>`,
          );
        };
        const ok = (href: string, props: string): string =>
          `<d:response><d:href>${href}</d:href><d:propstat><d:prop>${props}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`;
        if (req.method === 'PROPFIND' && depth === '0')
          return ms([
            ok(
              '/book/',
              `${this.hasCtag ? `<cs:getctag>${this.ctag}</cs:getctag>` : ''}${this.syncToken ? `<d:sync-token>tok-${this.ctag}</d:sync-token>` : ''}`,
            ),
          ]);
        if (req.method === 'PROPFIND')
          return ms([
            ok('/book/', ''),
            ...[...this.cards].map(([n, c]) => ok(`/book/${n}`, `<d:getetag>${c.etag}</d:getetag>`)),
          ]);
        if (report === 'addressbook-multiget')
          return ms(
            hrefs.flatMap((h) => {
              const c = this.cards.get(h);
              return c === undefined
                ? []
                : [
                    ok(
                      `/book/${h}`,
                      `<d:getetag>${c.etag}</d:getetag><card:address-data>${c.text}</card:address-data>`,
                    ),
                  ];
            }),
          );
        res.writeHead(501).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/book/`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

describe('CardDavGal refresh paths', () => {
  const account = { user: 'alice', email: 'alice@example.org' };
  const signal = (): AbortSignal => AbortSignal.timeout(5000);
  let fake: FakeBook;
  afterEach(async () => fake?.stop());

  const open = async (syncToken: boolean): Promise<CardDavGal> => {
    fake = new FakeBook(syncToken);
    fake.put('a.vcf', 'Ada Alder', 'ada@example.org');
    fake.put('b.vcf', 'Adam Birch', 'adam@example.org');
    const url = await fake.start();
    return new CardDavGal({ url, service: { user: 'dir', password: 'pw' }, refreshMs: 0 });
  };
  const names = async (gal: CardDavGal, q: string): Promise<string[]> =>
    (await gal.directory(account, q, 10, signal())).map((e) => e.DisplayName);

  it('a ctag-only server: the ETag listing, then only the changed card', async () => {
    const gal = await open(false);
    expect(await names(gal, 'ad')).toEqual(['Ada Alder', 'Adam Birch']);
    expect(fake.log).toEqual(['PROPFIND 0', 'PROPFIND 1', 'REPORT 1 addressbook-multiget a.vcf,b.vcf']);
    fake.log.length = 0;
    expect(await names(gal, 'ad')).toEqual(['Ada Alder', 'Adam Birch']);
    expect(fake.log).toEqual(['PROPFIND 0']);
    fake.log.length = 0;
    fake.put('b.vcf', 'Adam Beech', 'adam@example.org');
    fake.delete('a.vcf');
    expect(await names(gal, 'ad')).toEqual(['Adam Beech']);
    expect(fake.log).toEqual(['PROPFIND 0', 'PROPFIND 1', 'REPORT 1 addressbook-multiget b.vcf']);
  });

  it('a server with neither sync-token nor ctag: listed at each refresh, never within refreshMs', async () => {
    fake = new FakeBook(false, false);
    fake.put('a.vcf', 'Ada Alder', 'ada@example.org');
    const url = await fake.start();
    const gal = new CardDavGal({ url, service: { user: 'dir', password: 'pw' }, refreshMs: 60_000 });
    await names(gal, 'ada');
    await names(gal, 'ada');
    expect(fake.log).toEqual(['PROPFIND 0', 'PROPFIND 1', 'REPORT 1 addressbook-multiget a.vcf']);
    const eager = new CardDavGal({ url, service: { user: 'dir', password: 'pw' }, refreshMs: 0 });
    await names(eager, 'ada');
    fake.log.length = 0;
    expect(await names(eager, 'ada')).toEqual(['Ada Alder']);
    expect(fake.log).toEqual(['PROPFIND 0', 'PROPFIND 1']);
  });

  it('a server that has a sync-token but refuses sync-collection: the ETag listing instead', async () => {
    const gal = await open(true);
    await names(gal, 'ad');
    fake.log.length = 0;
    fake.put('c.vcf', 'Adele Cedar', 'adele@example.org');
    expect(await names(gal, 'adele')).toEqual(['Adele Cedar']);
    expect(fake.log).toEqual([
      'PROPFIND 0',
      'REPORT 0 sync-collection',
      'PROPFIND 1',
      'REPORT 1 addressbook-multiget c.vcf',
    ]);
  });

  it('per-user copies share the cards they may both read: the second reader downloads none', async () => {
    fake = new FakeBook(false);
    fake.put('a.vcf', 'Ada Alder', 'ada@example.org');
    fake.put('b.vcf', 'Adam Birch', 'adam@example.org');
    const gal = new CardDavGal({ url: await fake.start(), userPassword: () => 'pw', refreshMs: 0 });
    const bob = { user: 'bob', email: 'bob@example.org' };
    await gal.directory(account, 'ad', 10, signal());
    fake.log.length = 0;
    expect((await gal.directory(bob, 'ad', 10, signal())).map((e) => e.DisplayName)).toEqual([
      'Ada Alder',
      'Adam Birch',
    ]);
    expect(fake.log).toEqual(['PROPFIND 0', 'PROPFIND 1']);
    fake.put('a.vcf', 'Ada Ash', 'ada@example.org');
    fake.log.length = 0;
    expect((await gal.directory(account, 'ash', 10, signal())).map((e) => e.DisplayName)).toEqual([
      'Ada Ash',
    ]);
    expect((await gal.directory(bob, 'ash', 10, signal())).map((e) => e.DisplayName)).toEqual(['Ada Ash']);
    expect(fake.log).toEqual([
      'PROPFIND 0',
      'PROPFIND 1',
      'REPORT 1 addressbook-multiget a.vcf',
      'PROPFIND 0',
      'PROPFIND 1',
    ]);
  });

  it('a server gone down: the copy held is the answer; with none, unavailable', async () => {
    const gal = await open(false);
    await names(gal, 'ad');
    await fake.stop();
    expect(await names(gal, 'alder')).toEqual(['Ada Alder']);
    const cold = new CardDavGal({ url: 'http://127.0.0.1:9/book/', service: { user: 'd', password: 'p' } });
    await expect(cold.directory(account, 'ada', 10, signal())).rejects.toMatchObject({ kind: 'unavailable' });
  });
});
