// The EAS time zone blob (MS-ASDTYPE 2.7.1) and its conversions to IANA zones and VTIMEZONEs.
// Instants at DST transitions are written out as facts of each zone's 2025 rules.
import ICAL from 'ical.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeTimeZone,
  encodeTimeZone,
  fromWall,
  ianaForWindows,
  ianaZone,
  matchIanaZone,
  resolveTzid,
  syntheticTzid,
  timeZoneForTzid,
  timeZoneFromBase64,
  timeZoneInformationFor,
  timeZoneInformationZone,
  timeZoneToBase64,
  vtimezoneFor,
  vtimezoneFromTimeZoneInformation,
  vtimezoneZone,
  windowsZoneFor,
  windowsZones,
  zoneForTimeZone,
  type SystemTime,
  type TimeZoneInformation,
  type ZoneRules,
} from '../../src/convert/timezone.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const at = (iso: string): number => Date.parse(iso);
const wall = (iso: string): number => Date.parse(`${iso}Z`);
const zone = (name: string): ZoneRules => ianaZone(name)!;
const st = (wMonth: number, wDayOfWeek: number, wDay: number, wHour: number, wMinute = 0): SystemTime => ({
  wYear: 0,
  wMonth,
  wDayOfWeek,
  wDay,
  wHour,
  wMinute,
  wSecond: 0,
  wMilliseconds: 0,
});
const none = st(0, 0, 0, 0);

// "W. Europe Standard Time" as Windows stores it, laid out field by field (MS-ASDTYPE 2.7.1).
const W_EUROPE = hex(`
  c4ffffff
  57002e0020004500750072006f007000650020005300740061006e0064006100
  720064002000540069006d006500000000000000000000000000000000000000
  0000 0a00 0000 0500 0300 0000 0000 0000
  00000000
  57002e0020004500750072006f007000650020004400610079006c0069006700
  680074002000540069006d006500000000000000000000000000000000000000
  0000 0300 0000 0500 0200 0000 0000 0000
  c4ffffff
`);

describe('TIME_ZONE_INFORMATION bytes (MS-ASDTYPE 2.7.1)', () => {
  it('reads W. Europe field by field', () => {
    expect(W_EUROPE.length).toBe(172);
    expect(decodeTimeZone(W_EUROPE)).toEqual({
      Bias: -60,
      StandardName: 'W. Europe Standard Time',
      StandardDate: st(10, 0, 5, 3),
      StandardBias: 0,
      DaylightName: 'W. Europe Daylight Time',
      DaylightDate: st(3, 0, 5, 2),
      DaylightBias: -60,
    });
  });

  it('builds exactly those bytes from the Windows id and from Europe/Berlin', () => {
    expect(timeZoneForTzid('W. Europe Standard Time', { year: 2025 })).toEqual(W_EUROPE);
    expect(timeZoneForTzid('Europe/Berlin', { year: 2025 })).toEqual(W_EUROPE);
    expect(timeZoneToBase64(W_EUROPE)).toBe(Buffer.from(W_EUROPE).toString('base64'));
    expect(timeZoneFromBase64(timeZoneToBase64(W_EUROPE))).toEqual(W_EUROPE);
  });

  it('rejects a blob of the wrong size', () => {
    expect(() => decodeTimeZone(new Uint8Array(171))).toThrow(RangeError);
  });

  it('cuts names to 31 characters and keeps the NUL', () => {
    const long = 'x'.repeat(40);
    const b = encodeTimeZone({ ...decodeTimeZone(W_EUROPE), StandardName: long });
    expect(decodeTimeZone(b).StandardName).toBe('x'.repeat(31));
    expect(b[4 + 62]).toBe(0);
  });

  it('decodes what it encodes', () => {
    const word = fc.integer({ min: 0, max: 0xffff });
    const systemTime = fc.record({
      wYear: word,
      wMonth: word,
      wDayOfWeek: word,
      wDay: word,
      wHour: word,
      wMinute: word,
      wSecond: word,
      wMilliseconds: word,
    });
    const name = fc.string({ maxLength: 31 }).filter((s) => !s.includes('\0'));
    const long = fc.integer({ min: -0x80000000, max: 0x7fffffff });
    fc.assert(
      fc.property(
        fc.record({
          Bias: long,
          StandardName: name,
          StandardDate: systemTime,
          StandardBias: long,
          DaylightName: name,
          DaylightDate: systemTime,
          DaylightBias: long,
        }),
        (tzi: TimeZoneInformation) => {
          expect(decodeTimeZone(encodeTimeZone(tzi))).toEqual(tzi);
        },
      ),
    );
  });
});

/** [zone, the blob fields of its 2025 rules, DST transitions: [instant, offset before, offset after]]. */
const cases: [
  string,
  Omit<TimeZoneInformation, 'StandardName' | 'DaylightName'>,
  [string, number, number][],
][] = [
  [
    'Europe/Berlin',
    {
      Bias: -60,
      StandardDate: st(10, 0, 5, 3),
      StandardBias: 0,
      DaylightDate: st(3, 0, 5, 2),
      DaylightBias: -60,
    },
    [
      ['2025-03-30T01:00:00Z', 60, 120],
      ['2025-10-26T01:00:00Z', 120, 60],
    ],
  ],
  [
    'America/New_York',
    {
      Bias: 300,
      StandardDate: st(11, 0, 1, 2),
      StandardBias: 0,
      DaylightDate: st(3, 0, 2, 2),
      DaylightBias: -60,
    },
    [
      ['2025-03-09T07:00:00Z', -300, -240],
      ['2025-11-02T06:00:00Z', -240, -300],
    ],
  ],
  [
    // Southern hemisphere: standard time in the (northern) summer, DST across New Year.
    'Australia/Sydney',
    {
      Bias: -600,
      StandardDate: st(4, 0, 1, 3),
      StandardBias: 0,
      DaylightDate: st(10, 0, 1, 2),
      DaylightBias: -60,
    },
    [
      ['2025-04-05T16:00:00Z', 660, 600],
      ['2025-10-04T16:00:00Z', 600, 660],
    ],
  ],
  // No DST since 2019.
  [
    'America/Sao_Paulo',
    { Bias: 180, StandardDate: none, StandardBias: 0, DaylightDate: none, DaylightBias: 0 },
    [],
  ],
  [
    'Asia/Kolkata',
    { Bias: -330, StandardDate: none, StandardBias: 0, DaylightDate: none, DaylightBias: 0 },
    [],
  ],
  [
    'Pacific/Chatham',
    {
      Bias: -765,
      StandardDate: st(4, 0, 1, 3, 45),
      StandardBias: 0,
      DaylightDate: st(9, 0, 5, 2, 45),
      DaylightBias: -60,
    },
    [
      ['2025-04-05T14:00:00Z', 825, 765],
      ['2025-09-27T14:00:00Z', 765, 825],
    ],
  ],
];

describe.each(cases)('%s', (name, fields, transitions) => {
  const tzi = timeZoneInformationFor(zone(name), { year: 2025 });

  it('has the blob fields of its 2025 rules', () => {
    expect(tzi).toMatchObject(fields);
  });

  it('gives the DST transitions of the zone at the right instants', () => {
    const blobZone = timeZoneInformationZone(tzi);
    for (const [instant, before, after] of transitions) {
      expect(blobZone.offsetAt(at(instant) - 1000)).toBe(before);
      expect(blobZone.offsetAt(at(instant))).toBe(after);
      expect(zone(name).offsetAt(at(instant) - 1000)).toBe(before);
      expect(zone(name).offsetAt(at(instant))).toBe(after);
    }
  });

  it('agrees with the tz database at every hour of 2025 and 2026', () => {
    const blobZone = timeZoneInformationZone(tzi);
    for (let t = at('2025-01-01T00:00:00Z'); t < at('2027-01-01T00:00:00Z'); t += 3_600_000) {
      if (blobZone.offsetAt(t) !== zone(name).offsetAt(t))
        throw new Error(`${name} differs at ${new Date(t).toISOString()}`);
    }
  });

  it('matches back to the same zone, keeping the names', () => {
    const m = matchIanaZone(tzi, { year: 2025 });
    expect(m?.iana).toBe(name);
    expect(m?.exactness).toBe('instant');
    expect(m?.names).toEqual({ StandardName: tzi.StandardName, DaylightName: tzi.DaylightName });
  });

  it('has a VTIMEZONE that evaluates like the tz database from 2000 to 2030', () => {
    const vtz = vtimezoneZone(
      ICAL.Component.fromString(vtimezoneFor(zone(name), { fromYear: 2000, toYear: 2027 }).toString()),
    )!;
    for (let t = at('2000-01-01T00:00:00Z'); t < at('2030-12-31T00:00:00Z'); t += 5 * 3_600_000) {
      if (vtz.offsetAt(t) !== zone(name).offsetAt(t))
        throw new Error(`${name} differs at ${new Date(t).toISOString()}`);
    }
  });
});

describe('Windows names', () => {
  it('uses Windows names in the blob', () => {
    const tzi = timeZoneInformationFor(zone('Australia/Sydney'), { year: 2025 });
    expect(tzi.StandardName).toBe('AUS Eastern Standard Time');
    expect(tzi.DaylightName).toBe('AUS Eastern Daylight Time');
    expect(timeZoneInformationFor(zone('Etc/UTC'), { year: 2025 }).StandardName).toBe(
      'Coordinated Universal Time',
    );
  });

  it('maps IANA zones to Windows ids: primary, alias, old name, by rules', () => {
    expect(windowsZoneFor('Europe/Berlin')).toBe('W. Europe Standard Time');
    expect(windowsZoneFor('Europe/Amsterdam')).toBe('W. Europe Standard Time');
    expect(windowsZoneFor('Europe/Paris')).toBe('Romance Standard Time');
    expect(windowsZoneFor('Asia/Calcutta')).toBe('India Standard Time');
    expect(windowsZoneFor('Europe/Kiev')).toBe('FLE Standard Time');
    // Not in the tables: found by having the rules of W. Europe.
    expect(windowsZoneFor('Europe/Berlin'.replace('Berlin', 'Stockholm'))).toBe('W. Europe Standard Time');
    expect(windowsZoneFor('Europe/Budapest', { year: 2025 })).toBe('Central Europe Standard Time');
    expect(windowsZoneFor('Asia/Kuching', { year: 2025 })).toBe('China Standard Time');
  });

  it('maps every Windows id to a zone the engine knows', () => {
    for (const [windows, iana] of windowsZones) {
      expect(ianaZone(iana), `${windows} → ${iana}`).toBeDefined();
      expect(ianaForWindows(windows.toUpperCase())).toBe(iana);
    }
  });
});

describe('resolveTzid', () => {
  it.each([
    ['Europe/Berlin', 'Europe/Berlin'],
    ['Asia/Calcutta', 'Asia/Calcutta'],
    ['US/Eastern', 'US/Eastern'],
    ['W. Europe Standard Time', 'Europe/Berlin'],
    ['"Eastern Standard Time"', 'America/New_York'],
    ['/mozilla.org/20070129_1/Europe/Berlin', 'Europe/Berlin'],
    [
      '/freeassociation.sourceforge.net/Tzfile/America/Argentina/Buenos_Aires',
      'America/Argentina/Buenos_Aires',
    ],
    ['/softwarestudio.org/Olson_20011030_5/America/New_York', 'America/New_York'],
    ['tzone://Microsoft/Utc', 'Etc/UTC'],
    ['UTC', 'Etc/UTC'],
    ['Z', 'Etc/UTC'],
  ])('%s → %s', (tzid, iana) => {
    expect(resolveTzid(tzid)).toBe(iana);
  });

  it.each([
    '(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna',
    'Custom',
    'tzone://Microsoft/Custom',
    '',
    'Mars/Olympus',
  ])('%s is no known zone', (tzid) => {
    expect(resolveTzid(tzid)).toBeUndefined();
  });
});

describe('wall-clock times at transitions (RFC 5545 3.3.5)', () => {
  it.each([
    // In the spring gap: read with the offset before the gap.
    ['Europe/Berlin', '2025-03-30T02:30:00', '2025-03-30T01:30:00Z'],
    ['America/New_York', '2025-03-09T02:30:00', '2025-03-09T07:30:00Z'],
    // Twice in the autumn: the first one.
    ['Europe/Berlin', '2025-10-26T02:30:00', '2025-10-26T00:30:00Z'],
    ['America/New_York', '2025-11-02T01:30:00', '2025-11-02T05:30:00Z'],
    ['Australia/Sydney', '2025-04-06T02:30:00', '2025-04-05T15:30:00Z'],
    // Plain times around them.
    ['Europe/Berlin', '2025-03-30T03:00:00', '2025-03-30T01:00:00Z'],
    ['Pacific/Chatham', '2025-01-15T12:00:00', '2025-01-14T22:15:00Z'],
    ['Asia/Kolkata', '2025-07-01T09:00:00', '2025-07-01T03:30:00Z'],
  ])('%s %s is %s', (name, local, utc) => {
    expect(new Date(fromWall(zone(name), wall(local))).toISOString()).toBe(new Date(utc).toISOString());
  });
});

describe('blobs no zone has', () => {
  // São Paulo as a phone with a pre-2019 tz database still describes it.
  const oldSaoPaulo: TimeZoneInformation = {
    Bias: 180,
    StandardName: 'E. South America Standard Time',
    StandardDate: st(2, 0, 3, 0),
    StandardBias: 0,
    DaylightName: 'E. South America Daylight Time',
    DaylightDate: st(11, 0, 1, 0),
    DaylightBias: -60,
  };

  it('finds no IANA zone and synthesizes a VTIMEZONE with RRULEs and the names', () => {
    expect(matchIanaZone(oldSaoPaulo, { year: 2025 })).toBeUndefined();
    const resolved = zoneForTimeZone(encodeTimeZone(oldSaoPaulo), { year: 2025 });
    expect(resolved.tzid).toBe('EAS/UTC-0300/DST60/M11.1.0T0000/M2.3.0T0000');
    expect(resolved.tzid).toBe(syntheticTzid(oldSaoPaulo));
    const text = vtimezoneFromTimeZoneInformation(oldSaoPaulo).toString();
    expect(text).toContain('RRULE:FREQ=YEARLY;BYMONTH=2;BYDAY=3SU');
    expect(text).toContain('RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU');
    expect(text).toContain('TZNAME:E. South America Daylight Time');
    // The synthesized VTIMEZONE says what the blob says, across New Year too.
    const vtz = vtimezoneZone(ICAL.Component.fromString(text))!;
    const blobZone = timeZoneInformationZone(oldSaoPaulo);
    for (let t = at('2024-01-01T00:00:00Z'); t < at('2027-01-01T00:00:00Z'); t += 3_600_000) {
      if (vtz.offsetAt(t) !== blobZone.offsetAt(t))
        throw new Error(`differs at ${new Date(t).toISOString()}`);
    }
    expect(blobZone.offsetAt(at('2025-01-10T12:00:00Z'))).toBe(-120);
    expect(blobZone.offsetAt(at('2025-06-10T12:00:00Z'))).toBe(-180);
  });

  it('matches on days when only the hour of the transitions differs', () => {
    const sloppy = { ...timeZoneInformationFor(zone('America/New_York'), { year: 2025 }) };
    sloppy.DaylightDate = st(3, 0, 2, 0);
    sloppy.StandardDate = st(11, 0, 1, 0);
    const m = matchIanaZone(sloppy, { year: 2025 });
    expect(m?.iana).toBe('America/New_York');
    expect(m?.exactness).toBe('date');
  });

  it('prefers the zone the blob names among zones with the same rules', () => {
    const romance = {
      ...timeZoneInformationFor(zone('Europe/Berlin'), { year: 2025 }),
      StandardName: 'Romance Standard Time',
    };
    expect(matchIanaZone(romance, { year: 2025 })?.iana).toBe('Europe/Paris');
    const anonymous = { ...romance, StandardName: '', DaylightName: '' };
    expect(matchIanaZone(anonymous, { year: 2025 })?.iana).toBe('Europe/Berlin');
  });

  it('matches a fixed offset without DST to the first zone listed with it', () => {
    const utc: TimeZoneInformation = {
      Bias: 0,
      StandardName: '',
      StandardDate: none,
      StandardBias: 0,
      DaylightName: '',
      DaylightDate: none,
      DaylightBias: 0,
    };
    expect(matchIanaZone(utc, { year: 2025 })?.iana).toBe('Etc/UTC');
    expect(matchIanaZone({ ...utc, Bias: -840 }, { year: 2025 })?.iana).toBe('Pacific/Kiritimati');
    expect(matchIanaZone({ ...utc, Bias: 600 }, { year: 2025 })?.iana).toBe('Pacific/Honolulu');
    const odd = { ...utc, Bias: -17 };
    expect(matchIanaZone(odd, { year: 2025 })).toBeUndefined();
    expect(vtimezoneFromTimeZoneInformation(odd).toString()).toContain('TZOFFSETTO:+0017');
  });

  it('matches a zone whose rules move every year (Morocco) on this year only', () => {
    const tzi = timeZoneInformationFor(zone('Africa/Casablanca'), { year: 2025 });
    const m = matchIanaZone(tzi, { year: 2025 });
    expect(m?.iana).toBe('Africa/Casablanca');
    expect(m?.exactness).toBe('year');
  });
});

describe('VTIMEZONE from the tz database', () => {
  it('writes rule changes as separate observances (New York, 2007)', () => {
    const text = vtimezoneFor(zone('America/New_York'), { fromYear: 2005, toYear: 2027 }).toString();
    expect(text).toContain('RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20060402T070000Z');
    expect(text).toContain('RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n');
    expect(text).toContain('DTSTART:20071104T020000');
  });

  it('ends DST for good where the zone did (São Paulo, 2019)', () => {
    const vtz = vtimezoneZone(vtimezoneFor(zone('America/Sao_Paulo'), { fromYear: 2015, toYear: 2027 }))!;
    expect(vtz.offsetAt(at('2019-01-15T12:00:00Z'))).toBe(-120);
    expect(vtz.offsetAt(at('2026-01-15T12:00:00Z'))).toBe(-180);
    expect(vtz.offsetAt(at('2040-01-15T12:00:00Z'))).toBe(-180);
  });

  it('writes one STANDARD observance for a zone that never changed', () => {
    const text = vtimezoneFor(zone('Asia/Kolkata'), { fromYear: 2000 }).toString();
    expect(text.match(/BEGIN:STANDARD/g)).toHaveLength(1);
    expect(text).toContain('TZOFFSETTO:+0530');
    expect(text).not.toContain('DAYLIGHT');
  });
});
