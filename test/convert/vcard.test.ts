// vCard ↔ ContactItem: golden readings of real-world shaped exports (Apple 3.0, Google 3.0,
// Outlook 2.1, Nextcloud 4.0), field mapping per MS-ASCNTC 2.2.2, dates across time zones, and
// what a rewrite over an existing card keeps.
import { readFileSync } from 'node:fs';
import { parse as vcard4Parse } from 'vcard4';
import { describe, expect, it } from 'vitest';
import type { ContactItem } from '../../src/backend/model.js';
import {
  bareAddress,
  contactToVcard,
  dateFromYmd,
  readVcard,
  vcardToContact,
  ymdOfContactDate,
} from '../../src/convert/vcard.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/vcard/${name}`, import.meta.url), 'utf8');
/** Logical lines (unfolded), without BEGIN/END. */
const lines = (text: string): string[] =>
  text
    .replace(/\r\n[ \t]/g, '')
    .split(/\r\n/)
    .filter((l) => l !== '' && l !== 'BEGIN:VCARD' && l !== 'END:VCARD');
const day = (y: number, m: number, d: number): Date => dateFromYmd({ y, m, d });
const note = (text: string) => ({ Type: 1 as const, EstimatedDataSize: Buffer.byteLength(text), Data: text });

/** What the writer must leave alone: the lines of `before` not in `changed`, in order. */
function expectOnlyChanged(before: string, after: string, removed: string[], added: string[]): void {
  const b = lines(before);
  const a = lines(after);
  expect(b.filter((l) => !a.includes(l))).toEqual(removed);
  expect(a.filter((l) => !b.includes(l))).toEqual(added);
}

describe('golden: Apple Contacts (vCard 3.0, itemN groups, X-ABLabel)', () => {
  const text = fixture('apple-3.0.vcf');
  const { item, version, uid } = readVcard(text);

  it('reads every mapped field', () => {
    const { Picture, ...rest } = item;
    expect(version).toBe('3.0');
    expect(uid).toBe('5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE');
    expect(rest).toEqual({
      FileAs: 'Ada Lovelace',
      NickName: 'Ada',
      JobTitle: 'Programmer',
      YomiFirstName: 'Ay-da',
      YomiLastName: 'Luv-lace',
      LastName: 'Lovelace',
      FirstName: 'Ada',
      MiddleName: 'Augusta',
      Title: 'Lady',
      Suffix: 'Countess of Lovelace',
      CompanyName: 'Analytical Engines Ltd.',
      Department: 'Research',
      Email1Address: 'ada@analytical.example',
      Email2Address: 'ada.home@example.org',
      MobilePhoneNumber: '+44 7700 900123',
      HomePhoneNumber: '+44 20 7946 0018',
      BusinessPhoneNumber: '+44 20 7946 0999',
      HomeFaxNumber: '+44 20 7946 0019',
      PagerNumber: '+44 7623 000111',
      AssistantPhoneNumber: '+44 20 7946 0555',
      HomeAddressStreet: "12 St James's Square",
      HomeAddressCity: 'London',
      HomeAddressPostalCode: 'SW1Y 4JH',
      HomeAddressCountry: 'United Kingdom',
      BusinessAddressStreet: '1 Analytical Row\nBuilding 2',
      BusinessAddressCity: 'Cambridge',
      BusinessAddressState: 'Cambridgeshire',
      BusinessAddressPostalCode: 'CB2 1TN',
      BusinessAddressCountry: 'United Kingdom',
      Birthday: day(1815, 12, 10),
      Anniversary: day(1835, 7, 8),
      Body: note('First programmer.\nWrote the notes on the Analytical Engine, 1843.'),
      IMAddress: 'ada@jabber.example',
      WebPage: 'https://ada.example.org',
      Spouse: 'William King',
      Children: ['Byron King', 'Anne Isabella King'],
    });
    // the folded ENCODING=b photo, whole
    const bytes = Buffer.from(Picture ?? '', 'base64');
    expect(bytes.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(bytes.subarray(-2).toString('hex')).toBe('ffd9');
  });

  it('writes back byte for byte (logical lines) when nothing changed', () => {
    expect(lines(contactToVcard(item, { base: text }))).toEqual(lines(text));
  });

  it('a phone edit changes only its line, in place, with its parameters', () => {
    const after = contactToVcard({ ...item, MobilePhoneNumber: '+44 7700 900999' }, { base: text });
    expectOnlyChanged(
      text,
      after,
      ['TEL;type=CELL;type=VOICE;type=pref:+44 7700 900123'],
      ['TEL;TYPE=CELL,VOICE,pref:+44 7700 900999'],
    );
    expect(vcardToContact(after).MobilePhoneNumber).toBe('+44 7700 900999');
  });

  it('removing a field removes its line and its Apple label, nothing else', () => {
    const { Spouse: _s, ...rest } = item;
    expectOnlyChanged(
      text,
      contactToVcard(rest, { base: text }),
      ['item6.X-ABRELATEDNAMES;type=pref:William King', 'item6.X-ABLabel:_$!<Spouse>!$_'],
      [],
    );
  });

  it('keeps what the phone never saw: a second mobile, a custom relation, social profiles, X-ABUID', () => {
    const after = lines(contactToVcard({ FileAs: 'Ada', FirstName: 'Ada' }, { base: text }));
    for (const kept of [
      'TEL;type=IPHONE;type=CELL;type=VOICE:+44 7700 900456',
      'item9.X-ABRELATEDNAMES:Mary Somerville',
      'item9.X-ABLabel:mentor',
      'X-SOCIALPROFILE;type=twitter;x-user=adalovelace:https://twitter.com/adalovelace',
      'X-ABUID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE:ABPerson',
      'UID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE',
      'PRODID:-//Apple Inc.//macOS 14.2.1//EN',
    ])
      expect(after).toContain(kept);
    // and what the phone cleared is gone
    expect(after.some((l) => l.includes('item3.'))).toBe(false);
    expect(after[0]).toBe('VERSION:3.0');
  });

  it('a new third address goes next to the others, an anniversary change keeps Apple form', () => {
    const after = contactToVcard(
      { ...item, Email3Address: 'ada3@example.org', Anniversary: day(1835, 7, 9) },
      { base: text },
    );
    const a = lines(after);
    expect(a.indexOf('EMAIL;TYPE=INTERNET:ada3@example.org')).toBe(
      a.indexOf('EMAIL;type=INTERNET;type=HOME:ada.home@example.org') + 1,
    );
    expect(a).toContain('item10.X-ABDATE;TYPE=pref:1835-07-09');
    expect(vcardToContact(after)).toMatchObject({
      Email3Address: 'ada3@example.org',
      Anniversary: day(1835, 7, 9),
    });
  });
});

describe('golden: Google Contacts export (vCard 3.0)', () => {
  const text = fixture('google-3.0.vcf');
  const { item, version } = readVcard(text);

  it('reads every mapped field; an untyped phone finds a free slot; a photo URL is not a Picture', () => {
    expect(version).toBe('3.0');
    expect(item).toEqual({
      FileAs: 'Grace Hopper',
      NickName: 'Amazing Grace',
      JobTitle: 'Computer Scientist',
      LastName: 'Hopper',
      FirstName: 'Grace',
      MiddleName: 'Brewster Murray',
      Title: 'Rear Admiral',
      CompanyName: 'United States Navy',
      Email1Address: 'grace@navy.example',
      Email2Address: 'grace.hopper@example.com',
      Email3Address: 'ghopper@example.net',
      MobilePhoneNumber: '+1 202-555-0143',
      BusinessPhoneNumber: '+1 202-555-0100',
      HomePhoneNumber: '+1 202-555-0177',
      BusinessFaxNumber: '+1 202-555-0101',
      Home2PhoneNumber: '+1 202-555-0199',
      HomeAddressStreet: '1600 Example Ave NW',
      HomeAddressCity: 'Washington',
      HomeAddressState: 'DC',
      HomeAddressPostalCode: '20500',
      HomeAddressCountry: 'USA',
      BusinessAddressStreet: 'Navy Yard, Bldg 200',
      BusinessAddressCity: 'Washington',
      BusinessAddressState: 'DC',
      BusinessAddressPostalCode: '20374',
      BusinessAddressCountry: 'USA',
      Birthday: day(1906, 12, 9),
      Anniversary: day(1930, 6, 15),
      Body: note('Wrote the first compiler, A-0.'),
      Categories: ['myContacts', 'Navy'],
      WebPage: 'https://grace.example.com/',
      Spouse: 'Vincent Foster Hopper',
    });
  });

  it('keeps the fourth address and the photo URL through an edit of the first address', () => {
    const after = contactToVcard({ ...item, Email1Address: '"Grace" <grace@fleet.example>' }, { base: text });
    expectOnlyChanged(
      text,
      after,
      ['EMAIL;TYPE=INTERNET;TYPE=WORK:grace@navy.example'],
      ['EMAIL;TYPE=INTERNET,WORK:grace@fleet.example'],
    );
    expect(lines(after)).toContain('EMAIL;TYPE=INTERNET:cobol@example.org');
    expect(lines(after)).toContain('PHOTO:https://lh3.googleusercontent.com/contacts/AEx4mPlePh0t0');
  });

  it('categories are one unit: a change rewrites the line', () => {
    const after = contactToVcard({ ...item, Categories: ['Navy', 'Computing, early'] }, { base: text });
    expectOnlyChanged(text, after, ['CATEGORIES:myContacts,Navy'], ['CATEGORIES:Navy,Computing\\, early']);
    expect(vcardToContact(after).Categories).toEqual(['Navy', 'Computing, early']);
  });
});

describe('golden: Outlook export (vCard 2.1: bare parameters, quoted-printable, Windows-1252)', () => {
  const text = fixture('outlook-2.1.vcf');
  const { item, version } = readVcard(text);

  it('reads every mapped field, decoding quoted-printable through CHARSET', () => {
    const { Picture, ...rest } = item;
    expect(version).toBe('2.1');
    expect(rest).toEqual({
      FileAs: 'Dr. Jürgen Müller',
      JobTitle: 'Vertriebsleiter',
      LastName: 'Müller',
      FirstName: 'Jürgen',
      Title: 'Dr.',
      CompanyName: 'Beispiel GmbH',
      Department: 'Vertrieb',
      Email1Address: 'juergen.mueller@beispiel.example',
      Email2Address: 'jm@privat.example',
      BusinessPhoneNumber: '+49 30 1234567',
      HomePhoneNumber: '+49 30 7654321',
      MobilePhoneNumber: '+49 170 1234567',
      BusinessFaxNumber: '+49 30 1234568',
      CarPhoneNumber: '+49 171 2222222',
      BusinessAddressStreet: 'Hauptstraße 1',
      BusinessAddressCity: 'Berlin',
      BusinessAddressPostalCode: '10115',
      BusinessAddressCountry: 'Deutschland',
      Birthday: day(1975, 3, 15),
      Anniversary: day(2005, 6, 10),
      Body: note('Kunde seit 2019.\nMag grünen Tee und Kuchen.'),
      IMAddress: 'jmueller@im.beispiel.example',
      WebPage: 'http://www.beispiel.example/',
      AssistantName: 'Tom Weber',
      ManagerName: 'Petra Schmidt',
    });
    expect(
      Buffer.from(Picture ?? '', 'base64')
        .subarray(-2)
        .toString('hex'),
    ).toBe('ffd9');
  });

  it('is rewritten as 3.0, keeping the Outlook-only lines as text', () => {
    const after = contactToVcard({ ...item, JobTitle: 'Geschäftsführer' }, { base: text });
    const a = lines(after);
    expect(a[0]).toBe('VERSION:3.0');
    expect(a).toContain('TITLE:Geschäftsführer');
    expect(a).toContain('LABEL;TYPE=WORK,PREF:Hauptstraße 1\\n10115 Berlin\\nDeutschland');
    expect(a).toContain('X-MS-OL-DEFAULT-POSTAL-ADDRESS:2');
    expect(a.some((l) => /QUOTED-PRINTABLE|CHARSET/i.test(l))).toBe(false);
    expect(a.find((l) => l.startsWith('PHOTO'))).toMatch(/^PHOTO;TYPE=JPEG;ENCODING=b:\/9j\//);
    expect({ ...vcardToContact(after), JobTitle: item.JobTitle }).toEqual(item);
  });
});

describe('golden: Nextcloud (vCard 4.0, sabre/vobject)', () => {
  const text = fixture('nextcloud-4.0.vcf');
  const { item, version, uid } = readVcard(text);

  it('reads every mapped field: tel: URIs, PREF, RELATED, a date without a year, a data: photo', () => {
    const { Picture, ...rest } = item;
    expect(version).toBe('4.0');
    expect(uid).toBe('8d0c4a3e-6a2b-4f8f-9f6e-2b3c4d5e6f70');
    expect(rest).toEqual({
      FileAs: 'Alan Turing',
      JobTitle: 'Cryptanalyst',
      LastName: 'Turing',
      FirstName: 'Alan',
      MiddleName: 'Mathison',
      Suffix: 'OBE',
      CompanyName: 'Government Code and Cypher School',
      Department: 'Hut 8',
      Email1Address: 'alan@bletchley.example',
      Email2Address: 'alan.turing@example.org',
      HomePhoneNumber: '+44-1625-555-0100',
      MobilePhoneNumber: '+44 7700 900789',
      BusinessPhoneNumber: '+44-1908-640404',
      HomeAddressStreet: 'Hollymeade, Adlington Road',
      HomeAddressCity: 'Wilmslow',
      HomeAddressState: 'Cheshire',
      HomeAddressPostalCode: 'SK9 2BZ',
      HomeAddressCountry: 'United Kingdom',
      BusinessAddressStreet: 'The Mansion',
      BusinessAddressCity: 'Milton Keynes',
      BusinessAddressPostalCode: 'MK3 6EB',
      BusinessAddressCountry: 'United Kingdom',
      Birthday: day(1912, 6, 23),
      Anniversary: day(1604, 6, 18),
      Body: note('On Computable Numbers, with an Application to the Entscheidungsproblem.'),
      Categories: ['Mathematics', 'Computing'],
      IMAddress: 'alan@jabber.example',
      WebPage: 'https://turing.example.org/',
      ManagerName: 'Hugh Alexander',
    });
    expect(Picture).toMatch(/^iVBORw0KGgo/);
  });

  it('writes back unchanged; an edit keeps tel: URIs and drops a stale LABEL', () => {
    expect(lines(contactToVcard(item, { base: text }))).toEqual(lines(text));
    const after = contactToVcard(
      { ...item, HomePhoneNumber: '+44 1625 555 0101', BusinessAddressStreet: 'Hut 8' },
      { base: text },
    );
    expectOnlyChanged(
      text,
      after,
      [
        'ADR;TYPE=work;LABEL="The Mansion\\nBletchley Park\\nMilton Keynes MK3 6EB":;;The Mansion;Milton Keynes;;MK3 6EB;United Kingdom',
        'TEL;TYPE="home,voice";VALUE=uri:tel:+44-1625-555-0100',
      ],
      [
        'ADR;TYPE=work:;;Hut 8;Milton Keynes;;MK3 6EB;United Kingdom',
        'TEL;TYPE="home,voice";VALUE=uri:tel:+44%201625%20555%200101',
      ],
    );
    expect(vcardToContact(after).HomePhoneNumber).toBe('+44 1625 555 0101');
  });

  it('keeps the unmapped RELATED, GEO, GENDER, LANG and X- lines', () => {
    const a = lines(contactToVcard({ FileAs: 'A. M. Turing' }, { base: text }));
    for (const kept of [
      'RELATED;TYPE=colleague;VALUE=text:Joan Clarke',
      'GEO:geo:53.3267,-2.2308',
      'GENDER:M',
      'LANG;PREF=1:en',
      'X-NEXTCLOUD-SOCIAL;TYPE=mastodon:@alan@maths.example',
      'UID:8d0c4a3e-6a2b-4f8f-9f6e-2b3c4d5e6f70',
    ])
      expect(a).toContain(kept);
    expect(a).toContain('FN:A. M. Turing');
  });
});

describe('a new card', () => {
  const full: ContactItem = {
    FileAs: 'Lovelace, Ada',
    FirstName: 'Ada',
    LastName: 'Lovelace',
    MiddleName: 'Augusta',
    Title: 'Lady',
    Suffix: 'Jr.',
    NickName: 'Ada',
    YomiFirstName: 'Ay-da',
    YomiLastName: 'Luv-lace',
    YomiCompanyName: 'An-a-lyt-i-cal',
    CompanyName: 'Analytical Engines',
    Department: 'R&D',
    JobTitle: 'Programmer',
    OfficeLocation: 'Room 12',
    Email1Address: 'ada@example.com',
    Email2Address: 'ada2@example.com',
    Email3Address: 'ada3@example.com',
    MobilePhoneNumber: '+1 1',
    HomePhoneNumber: '+1 2',
    Home2PhoneNumber: '+1 3',
    BusinessPhoneNumber: '+1 4',
    Business2PhoneNumber: '+1 5',
    CompanyMainPhone: '+1 6',
    BusinessFaxNumber: '+1 7',
    HomeFaxNumber: '+1 8',
    CarPhoneNumber: '+1 9',
    PagerNumber: '+1 10',
    RadioPhoneNumber: '+1 11',
    AssistantPhoneNumber: '+1 12',
    MMS: '+1 13',
    HomeAddressStreet: '1 Home St\nFlat 2',
    HomeAddressCity: 'Hometown',
    HomeAddressState: 'HS',
    HomeAddressPostalCode: '111',
    HomeAddressCountry: 'Homeland',
    BusinessAddressStreet: '2 Work Rd',
    BusinessAddressCity: 'Worktown',
    BusinessAddressState: 'WS',
    BusinessAddressPostalCode: '222',
    BusinessAddressCountry: 'Workland',
    OtherAddressStreet: '3 Other Way',
    OtherAddressCity: 'Otherton',
    OtherAddressState: 'OS',
    OtherAddressPostalCode: '333',
    OtherAddressCountry: 'Otherland',
    Birthday: day(1815, 12, 10),
    Anniversary: day(1835, 7, 8),
    Body: note('Notes; with, punctuation\\ and\nlines'),
    Categories: ['Friends', 'Work, mostly'],
    Picture: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]).toString('base64'),
    IMAddress: 'ada@jabber.example',
    IMAddress2: 'sip:ada@example.com',
    IMAddress3: 'ada-skype',
    Children: ['Byron', 'Anne'],
    Spouse: 'William',
    AssistantName: 'Charles',
    ManagerName: 'Mary',
    WebPage: 'https://ada.example.org/a,b',
    CustomerId: 'C-1',
    GovernmentId: 'G-2',
    AccountName: 'A-3',
  };

  for (const version of ['3.0', '4.0'] as const) {
    it(`${version}: every field of MS-ASCNTC 2.2.2 (Contacts2 too) reads back`, () => {
      const text = contactToVcard(full, { version, uid: 'uid-1' });
      expect(text.startsWith(`BEGIN:VCARD\r\nVERSION:${version}\r\n`)).toBe(true);
      expect(readVcard(text)).toEqual({ item: full, version, uid: 'uid-1' });
    });
  }

  it('4.0 output is valid for vcard4 (an RFC 6350 validator)', () => {
    const text = contactToVcard(full, { uid: 'urn:uuid:1f6b3c52-3f1a-4a5e-9d2c-1b2a3c4d5e6f' });
    expect(() => vcard4Parse(text)).not.toThrow();
  });

  it('4.0 uses RFC 6350 forms; 3.0 uses RFC 2426 and Apple forms', () => {
    const four = lines(contactToVcard(full, { uid: 'u' }));
    expect(four).toEqual(
      expect.arrayContaining([
        'TEL;TYPE=cell:+1 1',
        'TEL;TYPE=work,fax:+1 7',
        'ADR;TYPE=home:;;1 Home St\\nFlat 2;Hometown;HS;111;Homeland',
        'BDAY:18151210',
        'ANNIVERSARY:18350708',
        'RELATED;TYPE=spouse;VALUE=text:William',
        'RELATED;TYPE=child;VALUE=text:Byron',
        'IMPP:im:ada@jabber.example',
        'IMPP:sip:ada@example.com',
        'PHOTO:data:image/png;base64,iVBORw0KGgoBAgM=',
        'CATEGORIES:Friends,Work\\, mostly',
        'NOTE:Notes\\; with\\, punctuation\\\\ and\\nlines',
        'URL:https://ada.example.org/a,b',
      ]),
    );
    const three = lines(contactToVcard(full, { version: '3.0', uid: 'u' }));
    expect(three).toEqual(
      expect.arrayContaining([
        'TEL;TYPE=CELL:+1 1',
        'EMAIL;TYPE=INTERNET:ada@example.com',
        'BDAY:1815-12-10',
        'PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgoBAgM=',
        'item1.X-ABDATE:1835-07-08',
        'item1.X-ABLabel:_$!<Anniversary>!$_',
        'item2.X-ABRELATEDNAMES:William',
        'item2.X-ABLabel:_$!<Spouse>!$_',
      ]),
    );
  });

  it('composes FN when FileAs is absent (FN is required, RFC 6350 §6.2.1) and always has N and UID', () => {
    const a = lines(contactToVcard({ FirstName: 'Ada', LastName: 'Lovelace', Title: 'Lady' }));
    expect(a).toContain('FN:Lady Ada Lovelace');
    expect(a).toContain('N:Lovelace;Ada;;Lady;');
    expect(a.find((l) => l.startsWith('UID:'))).toMatch(/^UID:urn:uuid:[0-9a-f-]{36}$/);
    expect(lines(contactToVcard({ CompanyName: 'ACME' }))).toContain('FN:ACME');
  });

  it('takes the address out of an Email display form, and an HTML body as text', () => {
    const item = vcardToContact(
      contactToVcard({
        Email1Address: '"Lovelace, Ada" <ada@example.com>',
        Body: { Type: 2, EstimatedDataSize: 0, Data: '<p>Hello <b>there</b></p>' },
      }),
    );
    expect(item.Email1Address).toBe('ada@example.com');
    expect(String(item.Body?.Data).trim()).toBe('Hello there');
    expect(bareAddress('ada@example.com')).toBe('ada@example.com');
  });

  it('a ghosted or truncated Body without Data leaves the note alone', () => {
    const base = contactToVcard({ FileAs: 'x', Body: note('keep me') });
    const after = contactToVcard(
      { FileAs: 'x', Body: { Type: 1, EstimatedDataSize: 7, Truncated: true } },
      { base },
    );
    expect(vcardToContact(after).Body?.Data).toBe('keep me');
  });

  it('a year-less date is year 1604 (Apple X-APPLE-OMIT-YEAR, RFC 6350 --MMDD)', () => {
    expect(lines(contactToVcard({ Birthday: day(1604, 4, 15) }))).toContain('BDAY:--0415');
    expect(lines(contactToVcard({ Birthday: day(1604, 4, 15) }, { version: '3.0' }))).toContain(
      'BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15',
    );
    const apple =
      'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15\r\nEND:VCARD\r\n';
    expect(vcardToContact(apple).Birthday).toEqual(day(1604, 4, 15));
  });
});

describe('Birthday and Anniversary keep their date across time zones (MS-ASCNTC 2.2.2.6)', () => {
  // what a phone sends for local midnight of 15 April 1985, and where it is
  const localMidnight: Array<[string, string]> = [
    ['UTC−11 (Pago Pago)', '1985-04-15T00:00:00-11:00'],
    ['UTC−10 (Honolulu)', '1985-04-15T00:00:00-10:00'],
    ['UTC−8 (Los Angeles)', '1985-04-15T00:00:00-08:00'],
    ['UTC−5 (New York)', '1985-04-15T00:00:00-05:00'],
    ['UTC−3:30 (St John’s)', '1985-04-15T00:00:00-03:30'],
    ['UTC', '1985-04-15T00:00:00Z'],
    ['UTC+2 (Berlin, summer)', '1985-04-15T00:00:00+02:00'],
    ['UTC+5:30 (Kolkata)', '1985-04-15T00:00:00+05:30'],
    ['UTC+9 (Tokyo)', '1985-04-15T00:00:00+09:00'],
    ['UTC+12 (Auckland, winter)', '1985-04-15T00:00:00+12:00'],
  ];
  for (const [where, sent] of localMidnight) {
    it(`a phone at ${where} sending local midnight stores 1985-04-15`, () => {
      const text = contactToVcard({ FileAs: 'x', Birthday: new Date(sent), Anniversary: new Date(sent) });
      expect(lines(text)).toContain('BDAY:19850415');
      expect(lines(text)).toContain('ANNIVERSARY:19850415');
    });
  }

  it('the spec’s 11:59 form, UTC midnight and noon minus a minute are their own date', () => {
    for (const t of ['1985-04-15T11:59:00Z', '1985-04-15T00:00:00Z', '1985-04-15T11:59:59.999Z'])
      expect(ymdOfContactDate(new Date(t))).toEqual({ y: 1985, m: 4, d: 15 });
  });

  it('a vCard date reaches the phone as 11:59 UTC, which is that date from UTC−11 to UTC+12', () => {
    const b = vcardToContact(
      'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nBDAY:19850415\r\nEND:VCARD\r\n',
    ).Birthday!;
    expect(b.toISOString()).toBe('1985-04-15T11:59:00.000Z');
    for (const timeZone of [
      'Pacific/Pago_Pago',
      'Pacific/Honolulu',
      'America/Los_Angeles',
      'America/New_York',
      'America/Sao_Paulo',
      'Europe/London',
      'Europe/Berlin',
      'Asia/Kolkata',
      'Asia/Tokyo',
      'Pacific/Auckland',
    ]) {
      const shown = new Intl.DateTimeFormat('en-CA', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      }).format(b);
      expect(shown, timeZone).toBe('1985-04-15');
    }
  });

  it('reads 3.0 ISO dates, date-times (date part as written), basic and year-less forms', () => {
    const read = (v: string): Date | undefined =>
      vcardToContact(`BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nBDAY:${v}\r\nEND:VCARD\r\n`).Birthday;
    expect(read('1985-04-15')).toEqual(day(1985, 4, 15));
    expect(read('19850415')).toEqual(day(1985, 4, 15));
    expect(read('1985-04-15T00:00:00Z')).toEqual(day(1985, 4, 15));
    expect(read('1985-04-15T23:30:00-05:00')).toEqual(day(1985, 4, 15));
    expect(read('--0415')).toEqual(day(1604, 4, 15));
    expect(read('--04-15')).toEqual(day(1604, 4, 15));
    expect(read('1985-02-30')).toBeUndefined();
    expect(read('circa 1800')).toBeUndefined();
  });

  it('an unreadable BDAY is kept until the phone sets one', () => {
    const base = 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nBDAY;VALUE=text:circa 1800\r\nEND:VCARD\r\n';
    expect(lines(contactToVcard({ FileAs: 'x' }, { base }))).toContain('BDAY;VALUE=text:circa 1800');
  });
});

describe('reading other shapes', () => {
  const card = (version: string, ...body: string[]): string =>
    ['BEGIN:VCARD', `VERSION:${version}`, 'FN:x', ...body, 'END:VCARD', ''].join('\r\n');

  it('orders e-mails and phones by preference (PREF in 4.0, TYPE=pref in 3.0)', () => {
    expect(
      vcardToContact(card('4.0', 'EMAIL:b@x', 'EMAIL;PREF=1:a@x', 'EMAIL;PREF=2:c@x', 'EMAIL:d@x')),
    ).toMatchObject({ Email1Address: 'a@x', Email2Address: 'c@x', Email3Address: 'b@x' });
    expect(vcardToContact(card('3.0', 'EMAIL:b@x', 'EMAIL;TYPE=INTERNET,PREF:a@x'))).toMatchObject({
      Email1Address: 'a@x',
      Email2Address: 'b@x',
    });
  });

  it('reads phone types from TYPE and Apple labels, typed lines before untyped', () => {
    const item = vcardToContact(
      card(
        '3.0',
        'TEL:+0 untyped',
        'TEL;TYPE=HOME:+1 home',
        'TEL;TYPE=HOME:+2 home2',
        'TEL;TYPE=WORK:+3 work',
        'TEL;TYPE=X-EVOLUTION-COMPANY:+4 main',
        'TEL;TYPE=CAR:+5 car',
        'item1.TEL:+6 radio',
        'item1.X-ABLabel:radio',
        'TEL;TYPE=X-MMS:+7 mms',
        'TEL;TYPE=FAX:+8 fax',
        'TEL;VALUE=uri:tel:+1-555-0100;ext=12',
      ),
    );
    expect(item).toMatchObject({
      HomePhoneNumber: '+1 home',
      Home2PhoneNumber: '+2 home2',
      BusinessPhoneNumber: '+3 work',
      CompanyMainPhone: '+4 main',
      CarPhoneNumber: '+5 car',
      RadioPhoneNumber: '+6 radio',
      MMS: '+7 mms',
      BusinessFaxNumber: '+8 fax',
      Business2PhoneNumber: '+0 untyped',
    });
  });

  it('reads legacy IM properties and skips the duplicate Apple writes next to IMPP', () => {
    const item = vcardToContact(
      card(
        '3.0',
        'IMPP;X-SERVICE-TYPE=AIM:aim:johnny',
        'X-AIM:johnny',
        'X-JABBER:j@x',
        'X-SKYPE:jo.sky',
        'X-ICQ:123',
      ),
    );
    expect(item).toMatchObject({ IMAddress: 'johnny', IMAddress2: 'j@x', IMAddress3: 'jo.sky' });
  });

  it('an IM edit keeps the base line’s scheme and parameters', () => {
    const base = card('3.0', 'IMPP;X-SERVICE-TYPE=Jabber:xmpp:old@x');
    expect(lines(contactToVcard({ FileAs: 'x', IMAddress: 'new@x' }, { base }))).toContain(
      'IMPP;X-SERVICE-TYPE=Jabber:xmpp:new@x',
    );
  });

  it('puts a second home address in Other when that is free, and reads box and extended address', () => {
    const item = vcardToContact(
      card('3.0', 'ADR;TYPE=HOME:;;1 A St;A;;;', 'ADR;TYPE=HOME:PO Box 9;Apt 4;2 B St;B;;;'),
    );
    expect(item).toMatchObject({
      HomeAddressStreet: '1 A St',
      OtherAddressStreet: '2 B St\nApt 4\nPO Box 9',
      OtherAddressCity: 'B',
    });
  });

  it('keeps box and extended address when the phone changes another address component', () => {
    const base = card('3.0', 'ADR;TYPE=WORK:PO Box 9;Apt 4;2 B St;B;;;');
    const item = vcardToContact(base);
    const after = lines(contactToVcard({ ...item, BusinessAddressCity: 'C' }, { base }));
    expect(after).toContain('ADR;TYPE=WORK:PO Box 9;Apt 4;2 B St;C;;;');
    const moved = lines(contactToVcard({ ...item, BusinessAddressStreet: '5 New Rd' }, { base }));
    expect(moved).toContain('ADR;TYPE=WORK:;;5 New Rd;B;;;');
  });

  it('reads RELATED names and ignores RELATED URIs (kept as they are)', () => {
    const base = card(
      '4.0',
      'RELATED;TYPE=spouse:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af',
      'RELATED;TYPE=spouse;VALUE=text:Jane',
      'RELATED;TYPE=child:Tom',
    );
    expect(vcardToContact(base)).toMatchObject({ Spouse: 'Jane', Children: ['Tom'] });
    expect(lines(contactToVcard({ FileAs: 'x' }, { base }))).toEqual([
      'VERSION:4.0',
      'FN:x',
      'RELATED;TYPE=spouse:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af',
    ]);
  });

  it('joins NICKNAME lists and merges CATEGORIES lines', () => {
    expect(
      vcardToContact(card('4.0', 'NICKNAME:Al,Bertie', 'CATEGORIES:a,b', 'CATEGORIES:b,c')),
    ).toMatchObject({
      NickName: 'Al, Bertie',
      Categories: ['a', 'b', 'c'],
    });
  });
});
