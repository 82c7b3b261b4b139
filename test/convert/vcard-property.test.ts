// Property tests: ContactItem → vCard → ContactItem keeps every field, in 3.0 and 4.0, for a new
// card and for a rewrite over an older card carrying properties easd does not map.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ContactItem } from '../../src/backend/model.js';
import { contactToVcard, dateFromYmd, readVcard } from '../../src/convert/vcard.js';

/** Text with the characters vCard escapes, quotes or folds on, and some beyond ASCII. */
const text = fc
  .string({
    unit: fc.oneof(
      { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
      { weight: 2, arbitrary: fc.constantFrom(',', ';', '\\', ':', '"', '^', '=', ' ', '\n') },
      { weight: 1, arbitrary: fc.constantFrom('é', 'ß', '中', '😀', 'Ω') },
    ),
    minLength: 1,
    maxLength: 40,
  })
  // vCard text cannot carry control characters (RFC 6350 §3.3 VALUE-CHAR)
  .filter((s) => !/[\u0000-\u0009\u000b-\u001f\u007f]/.test(s));
/** One-line values the reader trims (addresses, numbers, URLs). */
const token = fc.stringMatching(/^[A-Za-z0-9+._@()#*-][A-Za-z0-9 +._@()#*-]{0,20}[A-Za-z0-9._@()#*-]$/);
const email = fc
  .tuple(fc.stringMatching(/^[a-z0-9._-]{1,12}$/), fc.stringMatching(/^[a-z0-9-]{1,10}\.[a-z]{2,4}$/))
  .map(([l, d]) => `${l}@${d}`);
const date = fc
  .record({
    y: fc.integer({ min: 1600, max: 2200 }),
    m: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 28 }),
  })
  .map(dateFromYmd);
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });

const textFields = [
  'AssistantName',
  'BusinessAddressCity',
  'BusinessAddressCountry',
  'BusinessAddressPostalCode',
  'BusinessAddressState',
  'CompanyName',
  'Department',
  'FirstName',
  'HomeAddressCity',
  'HomeAddressCountry',
  'HomeAddressPostalCode',
  'HomeAddressState',
  'JobTitle',
  'LastName',
  'MiddleName',
  'OfficeLocation',
  'OtherAddressCity',
  'OtherAddressCountry',
  'OtherAddressPostalCode',
  'OtherAddressState',
  'Spouse',
  'Suffix',
  'Title',
  'YomiCompanyName',
  'YomiFirstName',
  'YomiLastName',
  'AccountName',
  'CustomerId',
  'GovernmentId',
  'ManagerName',
  'NickName',
  'BusinessAddressStreet',
  'HomeAddressStreet',
  'OtherAddressStreet',
] as const;
const phoneFields = [
  'AssistantPhoneNumber',
  'Business2PhoneNumber',
  'BusinessFaxNumber',
  'BusinessPhoneNumber',
  'CarPhoneNumber',
  'CompanyMainPhone',
  'Home2PhoneNumber',
  'HomeFaxNumber',
  'HomePhoneNumber',
  'MMS',
  'MobilePhoneNumber',
  'PagerNumber',
  'RadioPhoneNumber',
] as const;

const contact: fc.Arbitrary<ContactItem> = fc
  .record({
    FileAs: text,
    texts: fc.record(
      Object.fromEntries(textFields.map((f) => [f, opt(text)])) as Record<
        (typeof textFields)[number],
        fc.Arbitrary<string | undefined>
      >,
    ),
    phones: fc.record(
      Object.fromEntries(phoneFields.map((f) => [f, opt(token)])) as Record<
        (typeof phoneFields)[number],
        fc.Arbitrary<string | undefined>
      >,
    ),
    emails: fc.array(email, { maxLength: 3 }),
    ims: fc.array(fc.stringMatching(/^[a-z0-9._-]{1,10}@[a-z0-9.-]{1,10}$/), { maxLength: 3 }),
    Birthday: opt(date),
    Anniversary: opt(date),
    note: opt(text),
    Categories: opt(fc.uniqueArray(text, { minLength: 1, maxLength: 4 })),
    Children: opt(fc.array(text, { minLength: 1, maxLength: 3 })),
    Picture: opt(
      fc.uint8Array({ minLength: 1, maxLength: 120 }).map((b) => Buffer.from(b).toString('base64')),
    ),
    WebPage: opt(fc.webUrl()),
  })
  .map((r) => {
    const item: Record<string, unknown> = { FileAs: r.FileAs };
    for (const [k, v] of [...Object.entries(r.texts), ...Object.entries(r.phones)])
      if (v !== undefined) item[k] = v;
    r.emails.forEach((e, i) => (item[`Email${i + 1}Address`] = e));
    r.ims.forEach((e, i) => (item[i === 0 ? 'IMAddress' : `IMAddress${i + 1}`] = e));
    for (const k of ['Birthday', 'Anniversary', 'Categories', 'Children', 'Picture', 'WebPage'] as const)
      if (r[k] !== undefined) item[k] = r[k];
    if (r.note !== undefined)
      item.Body = { Type: 1, EstimatedDataSize: Buffer.byteLength(r.note), Data: r.note };
    return item as ContactItem;
  });

/** Properties of a card some other client wrote, which a rewrite must keep. */
const foreign = [
  'X-SOCIALPROFILE;type=twitter:https://twitter.com/someone',
  'GEO:geo:51.5,-0.12',
  'X-CUSTOM;X-PARAM="a,b":value\\, with comma',
  'KEY;TYPE=PGP:https://keys.example/abc',
];

/**
 * vCard has no slot numbers: a second home number without a first reads back as the first, and
 * so do e-mails and IM addresses (documented in docs/backends.md, CardDAV).
 */
function compacted(item: ContactItem): ContactItem {
  const out: Record<string, unknown> = { ...item };
  const groups = [
    ['HomePhoneNumber', 'Home2PhoneNumber'],
    ['BusinessPhoneNumber', 'Business2PhoneNumber'],
    ['Email1Address', 'Email2Address', 'Email3Address'],
    ['IMAddress', 'IMAddress2', 'IMAddress3'],
  ];
  for (const g of groups) {
    const values = g.map((k) => out[k]).filter((v) => v !== undefined);
    g.forEach((k, i) => (values[i] === undefined ? delete out[k] : (out[k] = values[i])));
  }
  return out as ContactItem;
}

describe('ContactItem → vCard → ContactItem', () => {
  for (const version of ['3.0', '4.0'] as const) {
    it(`keeps every field in a new ${version} card (slots compacted)`, () => {
      fc.assert(
        fc.property(contact, (item) => {
          const back = readVcard(contactToVcard(item, { version, uid: 'u-1' }));
          expect(back.version).toBe(version);
          expect(back.item).toEqual(compacted(item));
        }),
        { numRuns: 150 },
      );
    });

    it(`keeps every field and the unknown properties when rewriting a ${version} card`, () => {
      fc.assert(
        fc.property(contact, contact, (before, after) => {
          const first = contactToVcard(before, { version, uid: 'u-2' });
          const base = first.replace('END:VCARD', `${foreign.join('\r\n')}\r\nEND:VCARD`);
          const rewritten = contactToVcard(after, { base });
          const back = readVcard(rewritten);
          expect(back).toEqual({ item: compacted(after), version, uid: 'u-2' });
          const unfolded = rewritten.replace(/\r\n[ \t]/g, '');
          for (const line of foreign) expect(unfolded).toContain(`\r\n${line}\r\n`);
          // and rewriting with what it reads changes nothing
          expect(contactToVcard(back.item, { base: rewritten })).toBe(rewritten);
        }),
        { numRuns: 150 },
      );
    });
  }
});
