import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Body, ContactItem } from '../../../src/backend/model.js';
import {
  applyBodyPreference,
  formatCompactDateTime,
  formatDateTime,
  parseDate,
} from '../../../src/protocol/items/index.js';
import { ProtocolError } from '../../../src/protocol/read.js';
import { roundTrip, versions } from './helpers.js';

// Dates EAS can carry: four-digit years (MS-ASDTYPE 2.3, 2.7.2).
const easDate = fc.date({
  min: new Date('0001-01-01T00:00:00.000Z'),
  max: new Date('9999-12-31T23:59:59.999Z'),
  noInvalidDate: true,
});

describe('MS-ASDTYPE dates', () => {
  test('long form keeps milliseconds, compact form whole seconds', () => {
    fc.assert(
      fc.property(easDate, (date) => {
        expect(parseDate(formatDateTime(date), 'x').getTime()).toBe(date.getTime());
        const seconds = Math.floor(date.getTime() / 1000) * 1000;
        expect(parseDate(formatCompactDateTime(date), 'x').getTime()).toBe(seconds);
      }),
    );
  });

  // prettier-ignore
  const readable: [string, string][] = [
    ['2026-11-22T03:04:05.000Z', '2026-11-22T03:04:05.000Z'],
    ['20261122T030405Z', '2026-11-22T03:04:05.000Z'],
    ['2026-11-22T03:04:05Z', '2026-11-22T03:04:05.000Z'],
    ['2026-11-22T03:04:05', '2026-11-22T03:04:05.000Z'],
    ['2026-11-22T05:04:05.5+02:00', '2026-11-22T03:04:05.500Z'],
    [' 20261122T030405 ', '2026-11-22T03:04:05.000Z'],
  ];
  test.each(readable)('reads %s', (input, iso) => {
    expect(parseDate(input, 'x').toISOString()).toBe(iso);
  });

  test.each([
    '',
    '2026-11-22',
    '2026-02-29T00:00:00Z',
    '20261122T240000Z',
    '2026-11-22T03:04:60Z',
    'now',
    '2026-11-22T03:04:05.000Q',
  ])('rejects %j with a ProtocolError', (input) => {
    expect(() => parseDate(input, 'x')).toThrow(ProtocolError);
  });

  test('a date outside four-digit years cannot be written', () => {
    expect(() => formatDateTime(new Date('+010000-01-01T00:00:00.000Z'))).toThrow(RangeError);
    expect(() => formatCompactDateTime(new Date(NaN))).toThrow(RangeError);
  });
});

describe('round trips of arbitrary values', () => {
  // Strings as a phone may store them: any Unicode scalar except NUL, which WBXML strings end on.
  const easText = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0'));

  test('contacts with arbitrary text, dates and categories survive WBXML in every version', () => {
    const contact = fc.record(
      {
        FirstName: easText,
        LastName: easText,
        Email1Address: easText,
        NickName: easText,
        Birthday: easDate,
        Categories: fc.array(easText, { maxLength: 4 }),
        Children: fc.array(easText, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(contact, fc.constantFrom(...versions), (item: ContactItem, v) => {
        expect(roundTrip({ class: 'Contacts', item }, v).parsed.item).toEqual(item);
      }),
      { numRuns: 200 },
    );
  });

  test('email Read, Importance, flags and opaque conversation ids survive WBXML', () => {
    const email = fc.record(
      {
        Read: fc.boolean(),
        Importance: fc.constantFrom(0 as const, 1 as const, 2 as const),
        Subject: easText,
        ConversationId: fc.uint8Array({ minLength: 1, maxLength: 32 }),
        Flag: fc.record(
          {
            Status: fc.constantFrom(0 as const, 1 as const, 2 as const),
            FlagType: easText,
            DueDate: easDate,
          },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(email, (item) => {
        expect(roundTrip({ class: 'Email', item }, '16.1').parsed.item).toEqual(item);
      }),
      { numRuns: 200 },
    );
  });
});

describe('applyBodyPreference (MS-ASAIRS 2.2.2.12)', () => {
  const body: Body = { Type: 1, EstimatedDataSize: 9, Data: 'café olé', Preview: 'café olé' };

  test('TruncationSize cuts at a character boundary and keeps EstimatedDataSize', () => {
    // "café" is 5 bytes: a cut after 4 bytes would split the é.
    expect(applyBodyPreference(body, { Type: 1, TruncationSize: 4 }, { protocolVersion: '14.1' })).toEqual({
      Type: 1,
      EstimatedDataSize: 9,
      Data: 'caf',
      Truncated: true,
    });
  });

  test('a body that fits is sent whole', () => {
    expect(applyBodyPreference(body, { Type: 1, TruncationSize: 100 }, { protocolVersion: '14.1' })).toEqual({
      Type: 1,
      EstimatedDataSize: 9,
      Data: 'café olé',
    });
  });

  test('AllOrNone with a body too large sends no data', () => {
    expect(
      applyBodyPreference(body, { Type: 1, TruncationSize: 4, AllOrNone: true }, { protocolVersion: '14.1' }),
    ).toEqual({
      Type: 1,
      EstimatedDataSize: 9,
      Truncated: true,
    });
  });

  test('Preview is cut to the characters asked for, and only from 14.0', () => {
    const pref = { Type: 1 as const, TruncationSize: 0, Preview: 4 };
    expect(applyBodyPreference(body, pref, { protocolVersion: '14.0' }).Preview).toBe('café');
    expect(applyBodyPreference(body, pref, { protocolVersion: '12.1' }).Preview).toBeUndefined();
    expect(applyBodyPreference(body, pref, { protocolVersion: '16.0' }, 'from text').Preview).toBe('from');
  });

  test('MIME bytes are cut as bytes', () => {
    const mime: Body = { Type: 4, EstimatedDataSize: 5, Data: new Uint8Array([1, 2, 3, 4, 5]) };
    expect(applyBodyPreference(mime, { Type: 4, TruncationSize: 2 }, { protocolVersion: '14.1' })).toEqual({
      Type: 4,
      EstimatedDataSize: 5,
      Data: new Uint8Array([1, 2]),
      Truncated: true,
    });
  });
});
