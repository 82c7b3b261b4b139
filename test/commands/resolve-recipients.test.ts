// ResolveRecipients on the memory backend, WBXML in and out: recipients resolved against the
// directory (the memory backend's accounts: alice, bob, and bobby added here), ambiguous ones with
// their suggestions, unresolved ones, the certificate / free-busy / picture options answered with
// the spec's "none" values, and each failure Status (MS-ASCMD 2.2.3.177.12); then certificates and
// photos from a fixed directory (Status 1/7/8, MaxCertificates, 173/174/175 per To). Every
// response is schema-checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WbxmlElement } from '../../wbxml/index.js';
import { createAccount } from '../../backends/memory/index.js';
import { createResolveRecipientsHandler } from '../../src/commands/resolve-recipients.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';
import { withoutDirectory } from '../support/search-world.js';
import { testCertificate } from '../support/certs.js';
import { testPhoto, withFixedDirectory } from '../support/gal.js';

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine();
  await createAccount(engine.dataDir, {
    user: 'bobby',
    password: 'bobby-password',
    displayName: 'Bobby Tables',
  });
});
afterAll(async () => engine?.close());

const request = (to: string[], options = ''): string =>
  `<ResolveRecipients xmlns="ResolveRecipients:">${to.map((t) => `<To>${t}</To>`).join('')}${options && `<Options>${options}</Options>`}</ResolveRecipients>`;

interface Answer {
  Status?: string;
  responses: WbxmlElement[];
}

async function resolve(c: EasTestClient, body: string): Promise<Answer> {
  const res = await c.command('ResolveRecipients', body);
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, 'ResolveRecipients');
  return {
    Status: res.doc!.children.find((e) => e.name === 'Status')?.value as string | undefined,
    responses: findAll(res.doc, 'Response'),
  };
}

/** Status, RecipientCount and the addresses of one Response. */
const summary = (r: WbxmlElement | undefined): Array<string | string[] | undefined> => [
  r?.children.find((e) => e.name === 'Status')?.value as string | undefined,
  findText(r, 'RecipientCount'),
  findAll(r, 'Recipient').map((p) => findText(p, 'EmailAddress')!),
];

const first = async (c: EasTestClient, to: string, options = ''): Promise<WbxmlElement | undefined> =>
  (await resolve(c, request([to], options))).responses[0];

describe('ResolveRecipients', () => {
  for (const version of ['12.1', '14.1', '16.1']) {
    it(`1 (${version}): an address in the directory, as a GAL entry`, async () => {
      const c = await engine.client('alice', { version });
      const r = await first(c, 'bob@easd.local');
      const p = findAll(r, 'Recipient')[0];
      expect([...summary(r), findText(p, 'Type'), findText(p, 'DisplayName')]).toEqual([
        '1',
        '1',
        ['bob@easd.local'],
        '1',
        'bob',
      ]);
    });
  }

  it('1: "Name <address>"', async () => {
    const c = await engine.client('alice');
    expect(summary(await first(c, 'Bob &lt;bob@easd.local&gt;'))).toEqual(['1', '1', ['bob@easd.local']]);
  });

  it('1: a name that matches one entry exactly, though it is part of another', async () => {
    const c = await engine.client('alice');
    expect(summary(await first(c, 'bob'))).toEqual(['1', '1', ['bob@easd.local']]);
  });

  it('2: ambiguous, with every match as a suggestion', async () => {
    const c = await engine.client('alice');
    const [status, count, addresses] = summary(await first(c, 'easd.local'));
    expect([status, count, [...(addresses as string[])].sort()]).toEqual([
      '2',
      '3',
      ['alice@easd.local', 'bob@easd.local', 'bobby@easd.local'],
    ]);
  });

  it('3: ambiguous, suggestions cut by MaxAmbiguousRecipients', async () => {
    const c = await engine.client('alice');
    const r = await first(c, 'easd.local', '<MaxAmbiguousRecipients>1</MaxAmbiguousRecipients>');
    expect([summary(r)[0], summary(r)[1], (summary(r)[2] as string[]).length]).toEqual(['3', '3', 1]);
  });

  it('4: an address not in the directory', async () => {
    const c = await engine.client('alice');
    expect(summary(await first(c, 'nobody@example.com'))).toEqual(['4', undefined, []]);
  });

  it('1: one Response per To, in order', async () => {
    const c = await engine.client('alice');
    const a = await resolve(c, request(['alice@easd.local', 'nobody@example.com', 'bobby']));
    expect([a.Status, a.responses.map((r) => findText(r, 'To') + '=' + summary(r)[0])]).toEqual([
      '1',
      ['alice@easd.local=1', 'nobody@example.com=4', 'bobby=1'],
    ]);
  });

  it('7: certificates asked for and none held (Certificates Status 7, count 0)', async () => {
    const c = await engine.client('alice');
    const certs = findAll(
      await first(c, 'bob', '<CertificateRetrieval>2</CertificateRetrieval>'),
      'Certificates',
    )[0];
    expect([findText(certs, 'Status'), findText(certs, 'CertificateCount')]).toEqual(['7', '0']);
  });

  it('1: CertificateRetrieval 1 asks for none, and gets no Certificates', async () => {
    const c = await engine.client('alice');
    const r = await first(c, 'bob', '<CertificateRetrieval>1</CertificateRetrieval>');
    expect(findAll(r, 'Certificates')).toEqual([]);
  });

  const availability =
    '<Availability><StartTime>2030-01-01T00:00:00.000Z</StartTime><EndTime>2030-01-02T00:00:00.000Z</EndTime></Availability>';

  it('163 (14.1): free/busy asked for, none to give', async () => {
    const c = await engine.client('alice', { version: '14.1' });
    const a = findAll(await first(c, 'bob', availability), 'Availability')[0];
    expect(findText(a, 'Status')).toBe('163');
  });

  it('1 (12.1): no Availability before 14.0', async () => {
    const c = await engine.client('alice', { version: '12.1' });
    expect(findAll(await first(c, 'bob', availability), 'Availability')).toEqual([]);
  });

  it('173 (14.1): a picture asked for, none held', async () => {
    const c = await engine.client('alice', { version: '14.1' });
    const p = findAll(await first(c, 'bob', '<Picture><MaxPictures>1</MaxPictures></Picture>'), 'Picture')[0];
    expect(findText(p, 'Status')).toBe('173');
  });

  it('5: no To', async () => {
    const c = await engine.client('alice');
    expect((await resolve(c, '<ResolveRecipients xmlns="ResolveRecipients:"/>')).Status).toBe('5');
  });

  it('5: MaxAmbiguousRecipients above 9999', async () => {
    const c = await engine.client('alice');
    const a = await resolve(c, request(['bob'], '<MaxAmbiguousRecipients>10000</MaxAmbiguousRecipients>'));
    expect(a.Status).toBe('5');
  });

  it('5: a CertificateRetrieval that is not 1, 2 or 3', async () => {
    const c = await engine.client('alice');
    expect(
      (await resolve(c, request(['bob'], '<CertificateRetrieval>4</CertificateRetrieval>'))).Status,
    ).toBe('5');
  });
});

describe('ResolveRecipients without a directory', () => {
  let bare: TestEngine;
  beforeAll(async () => {
    bare = await startTestEngine({
      extraHandlers: (deps) => ({
        ResolveRecipients: createResolveRecipientsHandler(withoutDirectory(deps)),
      }),
    });
  });
  afterAll(async () => bare?.close());

  it('4: every recipient, when there is nothing to resolve against', async () => {
    const c = await bare.client('alice');
    const a = await resolve(c, request(['bob@easd.local']));
    expect([a.Status, summary(a.responses[0])[0]]).toEqual(['1', '4']);
  });
});

describe('ResolveRecipients with certificates and photos', () => {
  let g: TestEngine;
  const anna = testCertificate('anna@example.org');
  const anton = testCertificate('anton@example.org');
  const notAntje = testCertificate('someone-else@example.org');
  const photo = testPhoto(300);
  beforeAll(async () => {
    g = await startTestEngine({
      extraHandlers: (deps) => ({
        ResolveRecipients: createResolveRecipientsHandler(
          withFixedDirectory(deps, [
            {
              DisplayName: 'Anna Berg',
              EmailAddress: 'anna@example.org',
              Certificates: [anna],
              Picture: photo,
            },
            { DisplayName: 'Anton Bauer', EmailAddress: 'anton@example.org', Certificates: [anton, anton] },
            { DisplayName: 'Antje Brandt', EmailAddress: 'antje@example.org', Certificates: [notAntje] },
            { DisplayName: 'Reception', EmailAddress: '' },
          ]),
        ),
      }),
    });
  });
  afterAll(async () => g?.close());

  const certs = (r: WbxmlElement | undefined): Array<string | undefined | number> => {
    const c = findAll(r, 'Certificates')[0];
    return [findText(c, 'Status'), findText(c, 'CertificateCount'), findAll(c, 'Certificate').length];
  };
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

  it("1: the recipient's valid certificate, whole (CertificateRetrieval 2)", async () => {
    const c = await g.client('alice');
    const r = await first(c, 'anna@example.org', '<CertificateRetrieval>2</CertificateRetrieval>');
    expect([...summary(r), certs(r), findText(r, 'Certificate')]).toEqual([
      '1',
      '1',
      ['anna@example.org'],
      ['1', '1', 1],
      b64(anna),
    ]);
  });

  it('1: CertificateRetrieval 3 gets the whole certificate too (no mini certificate is made)', async () => {
    const c = await g.client('alice');
    const r = await first(c, 'Anna Berg', '<CertificateRetrieval>3</CertificateRetrieval>');
    expect(certs(r)).toEqual(['1', '1', 1]);
  });

  it('7: a certificate that names someone else is no valid one', async () => {
    const c = await g.client('alice');
    expect(certs(await first(c, 'antje', '<CertificateRetrieval>2</CertificateRetrieval>'))).toEqual([
      '7',
      '0',
      0,
    ]);
  });

  it('8: MaxCertificates reached — no partial set, and the count held back', async () => {
    const c = await g.client('alice');
    const a = await resolve(
      c,
      request(
        ['anna@example.org', 'anton@example.org'],
        '<CertificateRetrieval>2</CertificateRetrieval><MaxCertificates>2</MaxCertificates>',
      ),
    );
    expect(a.responses.map(certs)).toEqual([
      ['1', '1', 1],
      ['8', '2', 0],
    ]);
  });

  it('5: MaxCertificates above 9999', async () => {
    const c = await g.client('alice');
    const a = await resolve(c, request(['anna'], '<MaxCertificates>10000</MaxCertificates>'));
    expect(a.Status).toBe('5');
  });

  it('2: ambiguous suggestions carry no certificates; an entry without an address is no suggestion', async () => {
    const c = await g.client('alice');
    const r = await first(c, 'an', '<CertificateRetrieval>2</CertificateRetrieval>');
    expect([...summary(r), findAll(r, 'Certificates').length]).toEqual([
      '2',
      '3',
      ['anna@example.org', 'antje@example.org', 'anton@example.org'],
      0,
    ]);
    expect(summary(await first(c, 'reception'))).toEqual(['4', undefined, []]);
  });

  it('1 (14.1): the photo as Data; 174 over MaxSize; 173 for none', async () => {
    const c = await g.client('alice', { version: '14.1' });
    const a = await resolve(
      c,
      request(['anna@example.org', 'anton@example.org'], '<Picture><MaxSize>1000</MaxSize></Picture>'),
    );
    const pics = a.responses.map((r) => findAll(r, 'Picture')[0]);
    expect(pics.map((p) => [findText(p, 'Status'), findText(p, 'Data')])).toEqual([
      ['1', b64(photo)],
      ['173', undefined],
    ]);
    const small = findAll(await first(c, 'anna', '<Picture><MaxSize>100</MaxSize></Picture>'), 'Picture')[0];
    expect([findText(small, 'Status'), findText(small, 'Data')]).toEqual(['174', undefined]);
  });

  it('175 (16.1): MaxPictures 0 gives no photo, though there is one', async () => {
    const c = await g.client('alice', { version: '16.1' });
    const p = findAll(
      await first(c, 'anna', '<Picture><MaxPictures>0</MaxPictures></Picture>'),
      'Picture',
    )[0];
    expect(findText(p, 'Status')).toBe('175');
  });
});

describe('ResolveRecipients against a directory the user may not read', () => {
  let g: TestEngine;
  beforeAll(async () => {
    g = await startTestEngine({
      extraHandlers: (deps) => ({
        ResolveRecipients: createResolveRecipientsHandler(withFixedDirectory(deps, 'denied')),
      }),
    });
  });
  afterAll(async () => g?.close());

  it('4: each recipient unresolved, the request a success', async () => {
    const c = await g.client('alice');
    const a = await resolve(c, request(['anna@example.org', 'bob']));
    expect([a.Status, a.responses.map((r) => summary(r)[0])]).toEqual(['1', ['4', '4']]);
  });
});
