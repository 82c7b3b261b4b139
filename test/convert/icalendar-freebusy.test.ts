// busyPeriods: the busy time of one calendar object in a window (src/convert/icalendar-freebusy.ts),
// one case per rule: all-day dates in the user's zone, DURATION, RDATE, UNTIL as an instant, a
// zoned daily series over the spring DST change, an override without its master, the busy kinds;
// series begun long before the window (skipped ahead in step, or walked for COUNT), and a rule
// ical.js cannot expand (an IcalendarError, which the CalDAV backend skips as unreadable).
import { describe, expect, it } from 'vitest';
import { IcalendarError } from '../../src/convert/icalendar-common.js';
import { busyPeriods } from '../../src/convert/icalendar-freebusy.js';

const cal = (...lines: string[]): string =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');
const ev = (...lines: string[]): string[] => [
  'BEGIN:VEVENT',
  'UID:u1',
  'DTSTAMP:20260101T000000Z',
  ...lines,
  'END:VEVENT',
];
const show = (ps: ReturnType<typeof busyPeriods>): string[] =>
  ps.map((p) => `${p.start.toISOString().slice(0, 16)} ${p.end.toISOString().slice(0, 16)} ${p.type}`).sort();
const from = new Date('2035-03-01T00:00:00Z');
const to = new Date('2035-04-30T00:00:00Z');

describe('busyPeriods', () => {
  it('an all-day event is its day in the user zone', () => {
    const text = cal(...ev('DTSTART;VALUE=DATE:20350310', 'DTEND;VALUE=DATE:20350311'));
    expect(show(busyPeriods(text, from, to, { timeZone: 'Europe/Berlin' }))).toEqual([
      '2035-03-09T23:00 2035-03-10T23:00 busy',
    ]);
    expect(show(busyPeriods(text, from, to))).toEqual(['2035-03-10T00:00 2035-03-11T00:00 busy']);
  });

  it('DURATION, RDATE, and UNTIL as an instant', () => {
    const text = cal(
      ...ev(
        'DTSTART:20350305T100000Z',
        'DURATION:PT45M',
        'RRULE:FREQ=DAILY;UNTIL=20350306T100000Z',
        'RDATE:20350320T080000Z',
      ),
    );
    expect(show(busyPeriods(text, from, to))).toEqual([
      '2035-03-05T10:00 2035-03-05T10:45 busy',
      '2035-03-06T10:00 2035-03-06T10:45 busy',
      '2035-03-20T08:00 2035-03-20T08:45 busy',
    ]);
  });

  it('a zoned daily series keeps its local hour across the DST change (no VTIMEZONE: the IANA name)', () => {
    const text = cal(
      ...ev(
        'DTSTART;TZID=Europe/Berlin:20350324T090000',
        'DTEND;TZID=Europe/Berlin:20350324T093000',
        'RRULE:FREQ=DAILY;COUNT=3',
      ),
    );
    // Europe/Berlin goes to summer time on 25 March 2035
    expect(show(busyPeriods(text, from, to))).toEqual([
      '2035-03-24T08:00 2035-03-24T08:30 busy',
      '2035-03-25T07:00 2035-03-25T07:30 busy',
      '2035-03-26T07:00 2035-03-26T07:30 busy',
    ]);
  });

  it('an invitation to one occurrence (an override without its master) counts', () => {
    const text = cal(
      ...ev('RECURRENCE-ID:20350312T090000Z', 'DTSTART:20350312T090000Z', 'DTEND:20350312T100000Z'),
    );
    expect(show(busyPeriods(text, from, to))).toEqual(['2035-03-12T09:00 2035-03-12T10:00 busy']);
  });

  it.each([
    ['STATUS:TENTATIVE', 'tentative'],
    ['X-MICROSOFT-CDO-BUSYSTATUS:OOF', 'oof'],
    ['X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nTRANSP:TRANSPARENT', 'busy'],
    ['TRANSP:TRANSPARENT', undefined],
    ['STATUS:CANCELLED', undefined],
    ['X-MICROSOFT-CDO-BUSYSTATUS:FREE', undefined],
    ['X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE', undefined],
  ])('%s → %s', (line, type) => {
    const text = cal(...ev('DTSTART:20350312T090000Z', 'DTEND:20350312T100000Z', ...line.split('\r\n')));
    expect(busyPeriods(text, from, to).map((p) => p.type)).toEqual(type === undefined ? [] : [type]);
  });

  // expected occurrences from ical.js walking each rule from its DTSTART with no cap
  it.each([
    [
      'a daily series since 2010',
      ['DTSTART:20100104T090000Z', 'DTEND:20100104T093000Z', 'RRULE:FREQ=DAILY'],
      ['2026-12-01', '2026-12-04'],
      ['2026-12-01T09:00', '2026-12-02T09:00', '2026-12-03T09:00'],
    ],
    [
      'a five-hourly series since 2020',
      ['DTSTART:20200101T001000Z', 'DURATION:PT30M', 'RRULE:FREQ=HOURLY;INTERVAL=5'],
      ['2026-12-01', '2026-12-02'],
      ['2026-12-01T01:10', '2026-12-01T06:10', '2026-12-01T11:10', '2026-12-01T16:10', '2026-12-01T21:10'],
    ],
    [
      'a daily series of 8000 (COUNT, walked from 2010)',
      ['DTSTART:20100101T090000Z', 'DURATION:PT30M', 'RRULE:FREQ=DAILY;COUNT=8000'],
      ['2026-12-01', '2026-12-04'],
      ['2026-12-01T09:00', '2026-12-02T09:00', '2026-12-03T09:00'],
    ],
    [
      'every other week on Monday and Thursday since 1990',
      ['DTSTART:19900101T090000Z', 'DURATION:PT1H', 'RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH'],
      ['2035-03-01', '2035-03-20'],
      ['2035-03-01T09:00', '2035-03-12T09:00', '2035-03-15T09:00'],
    ],
    [
      'every other day when it is a Monday, Wednesday or Friday, since 2010',
      ['DTSTART:20100104T090000Z', 'DURATION:PT1H', 'RRULE:FREQ=DAILY;INTERVAL=2;BYDAY=MO,WE,FR'],
      ['2035-03-01', '2035-03-20'],
      ['2035-03-02T09:00', '2035-03-12T09:00', '2035-03-14T09:00', '2035-03-16T09:00'],
    ],
    [
      'a Berlin daily series since 2010 keeps its local hour over the 2035 spring change',
      [
        'DTSTART;TZID=Europe/Berlin:20100104T090000',
        'DTEND;TZID=Europe/Berlin:20100104T093000',
        'RRULE:FREQ=DAILY',
      ],
      ['2035-03-24', '2035-03-27'],
      ['2035-03-24T08:00', '2035-03-25T07:00', '2035-03-26T07:00'],
    ],
  ])('%s: its occurrences in the window', (_name, lines, [a, b], starts) => {
    const got = busyPeriods(cal(...ev(...lines)), new Date(`${a!}T00:00:00Z`), new Date(`${b!}T00:00:00Z`));
    expect(show(got).map((p) => p.slice(0, 16))).toEqual(starts);
  });

  it('a rule ical.js cannot expand makes the object unreadable (IcalendarError), not a plain Error', () => {
    const text = cal(
      ...ev('DTSTART:20350302T090000Z', 'DTEND:20350302T100000Z', 'RRULE:FREQ=MONTHLY;BYDAY=+9MO'),
    );
    expect(() => busyPeriods(text, from, to)).toThrow(IcalendarError);
  });
});
