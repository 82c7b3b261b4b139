import { describe, expect, test } from 'vitest';
import { el, toXml } from '../../../wbxml/index.js';
import type { ContactItem } from '../../../src/backend/model.js';
import type { ProtocolVersion } from '../../../src/commands/types.js';
import { absentProperties, encodeItem, parseItem } from '../../../src/protocol/items/index.js';
import { validateEasResponse } from '../../support/schema.js';
import {
  appData,
  atLeast,
  parseError,
  roundTrip,
  syncResponseWith,
  tagsOf,
  versions,
  without,
} from './helpers.js';

const contacts2 = [
  'AccountName',
  'CompanyMainPhone',
  'CustomerId',
  'GovernmentId',
  'IMAddress',
  'IMAddress2',
  'IMAddress3',
  'ManagerName',
  'MMS',
  'NickName',
] as const;
// prettier-ignore
const strings = [
  'AssistantName', 'AssistantPhoneNumber', 'Business2PhoneNumber', 'BusinessAddressCity', 'BusinessAddressCountry',
  'BusinessAddressPostalCode', 'BusinessAddressState', 'BusinessAddressStreet', 'BusinessFaxNumber', 'BusinessPhoneNumber',
  'CarPhoneNumber', 'CompanyName', 'Department', 'Email1Address', 'Email2Address', 'Email3Address', 'FileAs', 'FirstName',
  'Home2PhoneNumber', 'HomeAddressCity', 'HomeAddressCountry', 'HomeAddressPostalCode', 'HomeAddressState', 'HomeAddressStreet',
  'HomeFaxNumber', 'HomePhoneNumber', 'JobTitle', 'LastName', 'MiddleName', 'MobilePhoneNumber', 'OfficeLocation',
  'OtherAddressCity', 'OtherAddressCountry', 'OtherAddressPostalCode', 'OtherAddressState', 'OtherAddressStreet', 'PagerNumber',
  'Picture', 'RadioPhoneNumber', 'Spouse', 'Suffix', 'Title', 'WebPage', 'YomiCompanyName', 'YomiFirstName', 'YomiLastName',
  'Alias', ...contacts2,
] as const;

/** Every ContactItem property with a value (each string property holds its own name). */
const full: ContactItem = {
  ...Object.fromEntries(strings.map((p) => [p, `${p} value ü`])),
  Anniversary: new Date('2001-06-15T00:00:00.000Z'),
  Birthday: new Date('1975-02-28T00:00:00.000Z'),
  Body: { Type: 1, EstimatedDataSize: 9, Data: 'Met in Q1', Preview: 'Met' },
  Categories: ['Friends'],
  Children: ['Ada', 'Alan'],
  WeightedRank: -3,
};

function expectedFor(v: ProtocolVersion): ContactItem {
  if (atLeast(v, '14.0')) return full;
  // MS-ASCNTC: Alias and WeightedRank are 14.0+; MS-ASAIRS: Preview is 14.0+.
  return { ...without(full, 'Alias', 'WeightedRank'), Body: without(full.Body!, 'Preview') };
}

describe('Contacts codec', () => {
  test.each(versions)('every property round-trips through WBXML in %s', (v) => {
    expect(roundTrip({ class: 'Contacts', item: full }, v).parsed.item).toEqual(expectedFor(v));
  });

  test.each(versions)(
    'Contacts2 properties are in the Contacts2 namespace, the rest in Contacts (%s)',
    (v) => {
      const out = encodeItem({ class: 'Contacts', item: full }, { protocolVersion: v });
      for (const e of out) {
        const expected =
          e.name === 'Body'
            ? 'AirSyncBase'
            : (contacts2 as readonly string[]).includes(e.name)
              ? 'Contacts2'
              : 'Contacts';
        expect([e.name, e.ns]).toEqual([e.name, expected]);
      }
      expect(tagsOf(out).has('Contacts:Alias')).toBe(atLeast(v, '14.0'));
      expect(out.find((e) => e.name === 'Birthday')!.value).toBe('1975-02-28T00:00:00.000Z'); // long form
    },
  );

  test('golden: a contact as in the MS-ASCNTC Sync example (16.1)', () => {
    const item: ContactItem = {
      FileAs: 'Smith, John',
      FirstName: 'John',
      LastName: 'Smith',
      Email1Address: '"John Smith" <john@example.com>',
      MobilePhoneNumber: '+1 425 555 0100',
      Birthday: new Date('1980-07-04T08:00:00.000Z'),
      Children: ['Kim'],
      NickName: 'Johnny',
      Body: { Type: 1, EstimatedDataSize: 0 },
    };
    const xml = toXml(
      el('AirSync', 'ApplicationData', encodeItem({ class: 'Contacts', item }, { protocolVersion: '16.1' })),
    );
    expect(xml).toBe(`<?xml version="1.0" encoding="utf-8"?>
<ApplicationData xmlns="AirSync:">
  <Birthday xmlns="Contacts:">1980-07-04T08:00:00.000Z</Birthday>
  <Body xmlns="AirSyncBase:">
    <Type>1</Type>
    <EstimatedDataSize>0</EstimatedDataSize>
  </Body>
  <Children xmlns="Contacts:">
    <Child>Kim</Child>
  </Children>
  <Email1Address xmlns="Contacts:">"John Smith" &lt;john@example.com&gt;</Email1Address>
  <FileAs xmlns="Contacts:">Smith, John</FileAs>
  <FirstName xmlns="Contacts:">John</FirstName>
  <LastName xmlns="Contacts:">Smith</LastName>
  <MobilePhoneNumber xmlns="Contacts:">+1 425 555 0100</MobilePhoneNumber>
  <NickName xmlns="Contacts2:">Johnny</NickName>
</ApplicationData>
`);
  });

  test.each(versions)('the Sync response holding the item validates against the schemas (%s)', async (v) => {
    await validateEasResponse(
      syncResponseWith(encodeItem({ class: 'Contacts', item: full }, { protocolVersion: v })),
      'Sync',
    );
  });
});

describe('Contacts: what a client sends', () => {
  test('a Change is the whole contact; Supported leaves the others ghosted (MS-ASCMD 2.2.3.179)', () => {
    const data = appData(
      el('Contacts', 'FirstName', 'Jo'),
      el('Contacts', 'LastName', 'Smith'),
      el('Contacts', 'Birthday'),
    );
    const parsed = parseItem('Contacts', data, { protocolVersion: '14.1' });
    expect(parsed.item).toEqual({ FirstName: 'Jo', LastName: 'Smith' });
    expect([...parsed.cleared]).toEqual(['Birthday']);
    const all = absentProperties('Contacts', parsed, { protocolVersion: '14.1' });
    expect(all.has('MobilePhoneNumber') && all.has('NickName') && all.has('Picture')).toBe(true);
    expect(all.has('Body') || all.has('Alias') || all.has('FirstName') || all.has('Birthday')).toBe(false);
    const supported = el(
      'AirSync',
      'Supported',
      el('Contacts', 'MobilePhoneNumber'),
      el('Contacts2', 'NickName'),
    );
    expect([...absentProperties('Contacts', parsed, { protocolVersion: '14.1', supported })].sort()).toEqual([
      'MobilePhoneNumber',
      'NickName',
    ]);
  });

  // prettier-ignore
  const malformed: [string, ReturnType<typeof appData>, RegExp][] = [
    ['bad Birthday', appData(el('Contacts', 'Birthday', '1975-02-30T00:00:00.000Z')), /not a valid date/],
    ['WeightedRank not a number', appData(el('Contacts', 'WeightedRank', '1.5')), /integer/],
    ['Children with a stray element', appData(el('Contacts', 'Children', el('Contacts', 'Category', 'x'))), /Unexpected Contacts:Category/],
    ['a Calendar element', appData(el('Calendar', 'Subject', 'x')), /Unexpected Calendar:Subject/],
  ];
  test.each(malformed)('%s is a ProtocolError', (_name, data, message) => {
    expect(parseError('Contacts', data, '14.1').message).toMatch(message);
  });
});
