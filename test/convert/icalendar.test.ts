// Golden tests: realistic exports (Outlook, Google, Apple, Thunderbird) read into the exact EAS
// values — UTC instants, Timezone blob fields, DayOfWeek masks — and written back.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import type { CalendarItem } from '../../src/backend/model.js';
import {
  calendarToIcs,
  icsToCalendar,
  icsToTask,
  taskToIcs,
  IcalendarError,
  type IcalendarWarning,
} from '../../src/convert/icalendar.js';
import { decodeTimeZone, timeZoneForTzid } from '../../src/convert/timezone.js';
import { OLD_SAO_PAULO } from './icalendar-zones.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/ics/${name}`, import.meta.url), 'utf8');
const d = (iso: string): Date => new Date(iso);
const YEAR = 2025;
const blob = (tzid: string): Uint8Array => timeZoneForTzid(tzid, { year: YEAR })!;

/** The VEVENTs of a text, by RECURRENCE-ID presence. */
function events(text: string): ICAL.Component[] {
  return new ICAL.Component(ICAL.parse(text) as unknown[]).getAllSubcomponents('vevent');
}

describe('Outlook: weekly meeting in W. Europe Standard Time across the DST change', () => {
  const text = fixture('outlook-weekly-berlin.ics');
  const item = icsToCalendar(text, { userAddresses: ['ben@example.de'], year: YEAR });

  it('has UTC times and the W. Europe blob', () => {
    expect(item.StartTime).toEqual(d('2025-03-17T08:00:00Z'));
    expect(item.EndTime).toEqual(d('2025-03-17T08:30:00Z'));
    expect(item.AllDayEvent).toBe(false);
    expect(decodeTimeZone(item.TimeZone!)).toMatchObject({
      Bias: -60,
      StandardName: 'W. Europe Standard Time',
      StandardDate: { wMonth: 10, wDayOfWeek: 0, wDay: 5, wHour: 3 },
      DaylightName: 'W. Europe Daylight Time',
      DaylightDate: { wMonth: 3, wDayOfWeek: 0, wDay: 5, wHour: 2 },
      DaylightBias: -60,
    });
  });

  it('maps the rule: Monday + Wednesday = DayOfWeek 10, Until in UTC, WKST=MO', () => {
    expect(item.Recurrence).toEqual({
      Type: 1,
      DayOfWeek: 2 | 8,
      Interval: 1,
      Until: d('2025-04-30T07:00:00Z'),
      FirstDayOfWeek: 1,
    });
  });

  it('has the deleted and the moved occurrence, after the change to summer time', () => {
    expect(item.Exceptions).toEqual([
      { Deleted: true, ExceptionStartTime: d('2025-03-31T07:00:00Z') },
      {
        ExceptionStartTime: d('2025-04-02T07:00:00Z'),
        StartTime: d('2025-04-02T12:00:00Z'),
        EndTime: d('2025-04-02T13:00:00Z'),
        Subject: 'Team-Sync (verschoben)',
      },
    ]);
  });

  it('reads the meeting: organizer, attendees, status, response, busy, class, reminder, HTML body', () => {
    expect(item).toMatchObject({
      Subject: 'Team-Sync',
      OrganizerName: 'Anna Schmidt',
      OrganizerEmail: 'anna@example.de',
      MeetingStatus: 3,
      ResponseType: 3,
      ResponseRequested: true,
      BusyStatus: 1,
      Sensitivity: 2,
      Reminder: 15,
      Location: { DisplayName: 'Raum 4.12' },
      DisallowNewTimeProposal: false,
      DtStamp: d('2025-03-10T12:00:00Z'),
      Body: { Type: 2, Data: '<html><body><p>Weekly sync.</p></body></html>' },
    });
    expect(item.Attendees).toEqual([
      { Email: 'ben@example.de', Name: 'Ben Weber', AttendeeStatus: 3, AttendeeType: 1 },
      { Email: 'carla@example.de', Name: 'Carla Diaz', AttendeeStatus: 5, AttendeeType: 2 },
      { Email: 'room412@example.de', Name: 'Raum 4.12', AttendeeStatus: 3, AttendeeType: 3 },
    ]);
  });

  it('gives plain text when the client asks for it', () => {
    const plain = icsToCalendar(text, { bodyPreferences: [{ Type: 1 }] });
    expect(plain.Body).toMatchObject({ Type: 1, Data: 'Weekly sync.\n' });
  });

  it('written back unchanged, keeps the Windows TZID, its VTIMEZONE and every unmapped property', () => {
    const out = calendarToIcs(item, { base: text, userAddresses: ['ben@example.de'], year: YEAR });
    for (const kept of [
      'X-MICROSOFT-CDO-OWNERAPPTID:2123456789',
      'X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY',
      'X-WR-CALNAME:Calendar',
      'PRIORITY:5',
      'SEQUENCE:1',
      'X-MICROSOFT-CDO-INSTTYPE:3',
      'SUMMARY;LANGUAGE=de-DE:Team-Sync',
      'DTSTART;TZID=W. Europe Standard Time:20250317T090000',
      'EXDATE;TZID=W. Europe Standard Time:20250331T090000',
      'RECURRENCE-ID;TZID=W. Europe Standard Time:20250402T090000',
      'TZID:W. Europe Standard Time',
    ]) {
      expect(out).toContain(kept);
    }
    expect(events(out)).toHaveLength(2);
    expect(icsToCalendar(out, { userAddresses: ['ben@example.de'], year: YEAR })).toEqual(item);
  });

  it('a phone edit changes what it maps and nothing else', () => {
    const edited: CalendarItem = {
      ...item,
      Subject: 'Team-Sync neu',
      Reminder: 30,
      Exceptions: item.Exceptions!.filter((e) => e.Deleted === true),
    };
    const out = calendarToIcs(edited, { base: text, userAddresses: ['ben@example.de'], year: YEAR });
    expect(out).toContain('SUMMARY;LANGUAGE=de-DE:Team-Sync neu');
    expect(out).toContain('TRIGGER;RELATED=START:-PT30M');
    expect(out).toContain('X-MICROSOFT-CDO-OWNERAPPTID:2123456789');
    // The override the phone no longer has is gone: that instance is back to the rule.
    expect(events(out)).toHaveLength(1);
    expect(icsToCalendar(out, { year: YEAR }).Exceptions).toEqual([
      { Deleted: true, ExceptionStartTime: d('2025-03-31T07:00:00Z') },
    ]);
  });
});

describe('Google: monthly on the 2nd Tuesday in New York, moved and deleted instances', () => {
  const text = fixture('google-monthly-newyork.ics');
  const item = icsToCalendar(text, { userAddresses: ['eli@example.com'], year: YEAR });

  it('maps BYDAY=2TU to Type 3, WeekOfMonth 2, DayOfWeek 4 (Tuesday)', () => {
    expect(item.Recurrence).toEqual({ Type: 3, WeekOfMonth: 2, DayOfWeek: 4 });
    expect(item.StartTime).toEqual(d('2025-02-11T21:00:00Z'));
    expect(decodeTimeZone(item.TimeZone!)).toMatchObject({
      Bias: 300,
      StandardName: 'Eastern Standard Time',
      DaylightDate: { wMonth: 3, wDay: 2, wHour: 2 },
      StandardDate: { wMonth: 11, wDay: 1, wHour: 2 },
    });
  });

  it('has the instance of 11 March in summer time (20:00Z) moved, 8 April deleted', () => {
    expect(item.Exceptions).toEqual([
      {
        ExceptionStartTime: d('2025-03-11T20:00:00Z'),
        StartTime: d('2025-03-12T14:00:00Z'),
        EndTime: d('2025-03-12T15:00:00Z'),
        Subject: 'Monthly review (moved)',
      },
      { Deleted: true, ExceptionStartTime: d('2025-04-08T20:00:00Z') },
    ]);
  });

  it('reads the attendee view: MeetingStatus 3, ResponseType 2 (tentative), Meet link, display alarm', () => {
    expect(item).toMatchObject({
      MeetingStatus: 3,
      ResponseType: 2,
      OrganizerName: 'Dana Lee',
      Reminder: 30,
      OnlineMeetingExternalLink: 'https://meet.google.com/abc-defg-hij',
      BusyStatus: 2,
    });
    expect(item.Location).toBeUndefined();
  });

  it('accepting on the phone sets PARTSTAT and keeps the e-mail alarm and X-NUM-GUESTS', () => {
    const out = calendarToIcs(
      { ...item, ResponseType: 3 },
      { base: text, userAddresses: ['eli@example.com'], year: YEAR },
    );
    const master = events(out).find((e) => !e.hasProperty('recurrence-id'))!;
    const eli = master.getAllProperties('attendee').find((p) => String(p.getFirstValue()).includes('eli'))!;
    expect(eli.getParameter('partstat')).toBe('ACCEPTED');
    expect(eli.getParameter('x-num-guests')).toBe('0');
    expect(master.getAllSubcomponents('valarm').map((a) => a.getFirstPropertyValue('action'))).toEqual([
      'DISPLAY',
      'EMAIL',
    ]);
    expect(out).toContain('X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij');
    expect(icsToCalendar(out, { userAddresses: ['eli@example.com'], year: YEAR }).ResponseType).toBe(3);
  });
});

describe('Google: UTC times and an all-day event over New Year', () => {
  const text = fixture('google-single-utc.ics');

  it('keeps a UTC event in UTC with a UTC blob', () => {
    const item = icsToCalendar(text, { year: YEAR });
    expect(item.StartTime).toEqual(d('2025-10-26T00:30:00Z'));
    expect(item.EndTime).toEqual(d('2025-10-26T01:30:00Z'));
    expect(decodeTimeZone(item.TimeZone!)).toMatchObject({
      Bias: 0,
      StandardDate: { wMonth: 0 },
      DaylightBias: 0,
    });
    const out = calendarToIcs(item, { year: YEAR });
    expect(out).toContain('DTSTART:20251026T003000Z');
  });

  it.each([
    ['Pacific/Honolulu', '2025-12-31T10:00:00Z', '2026-01-02T10:00:00Z'],
    ['Pacific/Kiritimati', '2025-12-30T10:00:00Z', '2026-01-01T10:00:00Z'],
    ['Europe/Berlin', '2025-12-30T23:00:00Z', '2026-01-01T23:00:00Z'],
    ['Australia/Sydney', '2025-12-30T13:00:00Z', '2026-01-01T13:00:00Z'],
  ])('all-day in %s: midnights of the zone, and back to the same dates', (zone, start, end) => {
    const item = icsToCalendar(text, { uid: 'holiday-2025@google.com', timeZone: zone, year: YEAR });
    expect(item).toMatchObject({ AllDayEvent: true, StartTime: d(start), EndTime: d(end), BusyStatus: 0 });
    expect(item.TimeZone).toEqual(blob(zone));
    const out = calendarToIcs(item, { year: YEAR });
    expect(out).toContain('DTSTART;VALUE=DATE:20251231');
    expect(out).toContain('DTEND;VALUE=DATE:20260102');
    expect(out).not.toContain('VTIMEZONE');
  });
});

describe('Apple: weekly all-day series with a moved and a deleted day', () => {
  const text = fixture('apple-allday-weekly.ics');

  it.each([
    ['Pacific/Honolulu', '2025-01-03T10:00:00Z', 10],
    ['Pacific/Kiritimati', '2025-01-02T10:00:00Z', -14],
  ])('in %s every date is a local midnight', (zone, start, hoursBehindUtc) => {
    const item = icsToCalendar(text, { timeZone: zone, year: YEAR });
    const at = (date: string): Date => new Date(Date.parse(`${date}T00:00:00Z`) + hoursBehindUtc * 3_600_000);
    expect(item.StartTime).toEqual(d(start));
    expect(item.Recurrence).toEqual({ Type: 1, DayOfWeek: 32, Occurrences: 6 });
    expect(item.Reminder).toBe(900);
    expect(item.Exceptions).toEqual([
      {
        ExceptionStartTime: at('2025-01-10'),
        StartTime: at('2025-01-11'),
        EndTime: at('2025-01-12'),
        Subject: 'Gym day (Saturday)',
      },
      { Deleted: true, ExceptionStartTime: at('2025-01-17') },
    ]);
    const out = calendarToIcs(item, { base: text, year: YEAR });
    expect(out).toContain('DTSTART;VALUE=DATE:20250103');
    expect(out).toContain('EXDATE;VALUE=DATE:20250117');
    expect(out).toContain('RECURRENCE-ID;VALUE=DATE:20250110');
    expect(out).toContain('DTSTART;VALUE=DATE:20250111');
    expect(out).toContain('X-WR-ALARMUID:A1B2C3D4-0000-4000-8000-000000000002');
    expect(out).toContain('X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC');
    // Written with the blob, read without being told the zone: the same item.
    expect(icsToCalendar(out, { year: YEAR })).toEqual(item);
  });

  it('a phone that sends midnight UTC with its own zone blob still lands on the right dates', () => {
    const item = icsToCalendar(text, { timeZone: 'America/New_York', year: YEAR });
    const sloppy: CalendarItem = {
      ...item,
      StartTime: d('2025-01-03T00:00:00Z'),
      EndTime: d('2025-01-04T00:00:00Z'),
      Exceptions: [],
    };
    const out = calendarToIcs(sloppy, { year: YEAR });
    expect(out).toContain('DTSTART;VALUE=DATE:20250103');
    expect(out).toContain('DTEND;VALUE=DATE:20250104');
  });
});

describe('Apple: a timed daily event across the end of DST in Sydney', () => {
  const item = icsToCalendar(fixture('apple-sydney-dst.ics'), { year: YEAR });

  it('is 25 hours long in UTC, with the AUS Eastern blob and the GEO of the structured location', () => {
    expect(item.StartTime).toEqual(d('2025-04-04T23:00:00Z'));
    expect(item.EndTime).toEqual(d('2025-04-06T00:00:00Z'));
    expect(item.Recurrence).toEqual({ Type: 0, Occurrences: 3 });
    expect(decodeTimeZone(item.TimeZone!)).toMatchObject({
      Bias: -600,
      StandardName: 'AUS Eastern Standard Time',
      StandardDate: { wMonth: 4, wDayOfWeek: 0, wDay: 1, wHour: 3 },
      DaylightDate: { wMonth: 10, wDayOfWeek: 0, wDay: 1, wHour: 2 },
      DaylightBias: -60,
    });
    expect(item.Location).toEqual({ DisplayName: 'Bondi Beach', Latitude: -33.891, Longitude: 151.2767 });
  });

  it('writes local times of the zone and a VTIMEZONE for it', () => {
    const out = calendarToIcs(item, { year: YEAR });
    expect(out).toContain('DTSTART;TZID=Australia/Sydney:20250405T100000');
    expect(out).toContain('DTEND;TZID=Australia/Sydney:20250406T100000');
    expect(out).toContain('RRULE:FREQ=DAILY;COUNT=3');
    expect(out).toContain('BEGIN:VTIMEZONE');
    expect(out).toContain('GEO:-33.891;151.2767');
    expect(icsToCalendar(out, { year: YEAR })).toEqual(item);
  });
});

describe('Google: a daily 01:30 series in New York over the November fall-back', () => {
  const text = fixture('google-daily-newyork-fallback.ics');
  const item = icsToCalendar(text, { year: YEAR });

  it('keeps 01:30 local on both sides of the change; the repeated 01:30 is the first one (EDT)', () => {
    expect(item.StartTime).toEqual(d('2025-10-31T05:30:00Z'));
    expect(item.Recurrence).toEqual({ Type: 0, Occurrences: 7 });
    expect(decodeTimeZone(item.TimeZone!)).toMatchObject({
      Bias: 300,
      StandardDate: { wMonth: 11, wDayOfWeek: 0, wDay: 1, wHour: 2 },
      DaylightDate: { wMonth: 3, wDayOfWeek: 0, wDay: 2, wHour: 2 },
      DaylightBias: -60,
    });
    // RFC 5545 3.3.5: a local time that occurs twice is its first occurrence (EDT, 05:30Z); the
    // moved instance is at 03:00 EST; the deleted one, after the change, at 01:30 EST (06:30Z)
    expect(item.Exceptions).toEqual([
      {
        ExceptionStartTime: d('2025-11-02T05:30:00Z'),
        StartTime: d('2025-11-02T08:00:00Z'),
        EndTime: d('2025-11-02T08:30:00Z'),
        Subject: 'Nightly check (after the clock change)',
      },
      { Deleted: true, ExceptionStartTime: d('2025-11-04T06:30:00Z') },
    ]);
  });

  it('writes local times with the TZID and reads back the same item', () => {
    const out = calendarToIcs(item, { base: text, year: YEAR });
    expect(out).toContain('DTSTART;TZID=America/New_York:20251031T013000');
    expect(out).toContain('RECURRENCE-ID;TZID=America/New_York:20251102T013000');
    expect(out).toContain('EXDATE;TZID=America/New_York:20251104T013000');
    expect(out).toContain('X-WR-CALNAME:Night shift');
    expect(icsToCalendar(out, { year: YEAR })).toEqual(item);
    expect(icsToCalendar(calendarToIcs(item, { year: YEAR }), { year: YEAR })).toEqual(item);
  });
});

describe('Outlook: an all-day event written as Tokyo midnights with X-MICROSOFT-CDO-ALLDAYEVENT', () => {
  const text = fixture('outlook-allday-tokyo.ics');

  it.each([
    ['America/Los_Angeles', '2025-11-03T08:00:00Z', '2025-11-06T08:00:00Z'],
    ['Pacific/Kiritimati', '2025-11-02T10:00:00Z', '2025-11-05T10:00:00Z'],
    ['Asia/Tokyo', '2025-11-02T15:00:00Z', '2025-11-05T15:00:00Z'],
  ])('read in %s: the 3rd to the 5th of November, as midnights of that zone', (zone, start, end) => {
    const item = icsToCalendar(text, { timeZone: zone, year: YEAR });
    expect(item).toMatchObject({
      AllDayEvent: true,
      StartTime: d(start),
      EndTime: d(end),
      BusyStatus: 0,
      Subject: 'Trade fair',
    });
    const out = calendarToIcs(item, { base: text, year: YEAR });
    expect(out).toContain('DTSTART;VALUE=DATE:20251103');
    expect(out).toContain('DTEND;VALUE=DATE:20251106');
    expect(out).not.toContain('X-MICROSOFT-CDO-ALLDAYEVENT');
    expect(out).toContain('X-MS-OLK-CONFTYPE:0');
    expect(icsToCalendar(out, { year: YEAR })).toEqual(item);
  });
});

describe('Outlook: all-day yearly on the 4th Thursday of November', () => {
  it('is Type 6, MonthOfYear 11, WeekOfMonth 4, DayOfWeek 16 (Thursday)', () => {
    const item = icsToCalendar(fixture('outlook-allday-yearly-nth.ics'), {
      timeZone: 'America/New_York',
      year: YEAR,
    });
    expect(item.Recurrence).toEqual({ Type: 6, MonthOfYear: 11, WeekOfMonth: 4, DayOfWeek: 16 });
    expect(item).toMatchObject({
      AllDayEvent: true,
      StartTime: d('2025-11-27T05:00:00Z'),
      BusyStatus: 0,
      Sensitivity: 0,
    });
    expect(calendarToIcs(item, { year: YEAR })).toContain('RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH');
  });
});

describe('a rule EAS cannot express', () => {
  const text = fixture('thunderbird-unsupported-rrule.ics');

  it('is read as its first occurrence, with a warning', () => {
    const warnings: IcalendarWarning[] = [];
    const item = icsToCalendar(text, { year: YEAR, onWarning: (w) => warnings.push(w) });
    expect(item.Recurrence).toBeUndefined();
    expect(item.StartTime).toEqual(d('2025-01-06T09:00:00Z'));
    expect(warnings.map((w) => w.code)).toEqual(['recurrence-not-expressible']);
  });

  it('keeps the stored rule and the attachment when the phone edits the event', () => {
    const item = icsToCalendar(text, { year: YEAR });
    const out = calendarToIcs(
      { ...item, Subject: 'Quarterly planning (room B)' },
      { base: text, year: YEAR },
    );
    expect(out).toContain('RRULE:FREQ=YEARLY;BYMONTH=1,4,7,10;BYDAY=1MO');
    expect(out).toContain('ATTACH;FMTTYPE=application/pdf:https://files.example.org/agenda.pdf');
    expect(out).toContain('SUMMARY:Quarterly planning (room B)');
  });
});

describe('recurrence patterns both ways', () => {
  const base: CalendarItem = {
    UID: 'r',
    Subject: 'r',
    AllDayEvent: false,
    StartTime: d('2025-01-31T09:00:00Z'),
    EndTime: d('2025-01-31T10:00:00Z'),
    TimeZone: blob('Etc/UTC'),
    DtStamp: d('2025-01-01T00:00:00Z'),
  };
  it.each([
    [{ Type: 0, Interval: 3 }, 'FREQ=DAILY;INTERVAL=3'],
    [{ Type: 1, DayOfWeek: 62, Occurrences: 10 }, 'FREQ=WEEKLY;COUNT=10;BYDAY=MO,TU,WE,TH,FR'],
    [{ Type: 2, DayOfMonth: 31, Interval: 2 }, 'FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=31'],
    [{ Type: 3, WeekOfMonth: 5, DayOfWeek: 127 }, 'FREQ=MONTHLY;BYMONTHDAY=-1'],
    [{ Type: 3, WeekOfMonth: 1, DayOfWeek: 62 }, 'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1'],
    [{ Type: 3, WeekOfMonth: 5, DayOfWeek: 32 }, 'FREQ=MONTHLY;BYDAY=-1FR'],
    [{ Type: 3, WeekOfMonth: 2, DayOfWeek: 65 }, 'FREQ=MONTHLY;BYDAY=SU,SA;BYSETPOS=2'],
    [{ Type: 5, MonthOfYear: 2, DayOfMonth: 29 }, 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29'],
    [{ Type: 6, MonthOfYear: 5, WeekOfMonth: 5, DayOfWeek: 2 }, 'FREQ=YEARLY;BYMONTH=5;BYDAY=-1MO'],
    [
      { Type: 1, DayOfWeek: 2, FirstDayOfWeek: 1, Until: d('2025-06-30T09:00:00Z') },
      'FREQ=WEEKLY;UNTIL=20250630T090000Z;BYDAY=MO;WKST=MO',
    ],
  ] as const)('%j ↔ %s', (Recurrence, rrule) => {
    const out = calendarToIcs({ ...base, Recurrence }, { year: YEAR });
    expect(out).toContain(`RRULE:${rrule}\r\n`);
    expect(icsToCalendar(out, { year: YEAR }).Recurrence).toEqual(Recurrence);
  });

  it.each([
    ['FREQ=DAILY;BYDAY=MO,WE', { Type: 1, DayOfWeek: 10 }],
    ['FREQ=MONTHLY;BYDAY=TU', { Type: 1, DayOfWeek: 4 }],
    ['FREQ=WEEKLY', { Type: 1, DayOfWeek: 32 }],
    ['FREQ=MONTHLY', { Type: 2, DayOfMonth: 31 }],
    ['FREQ=YEARLY', { Type: 5, MonthOfYear: 1, DayOfMonth: 31 }],
    ['FREQ=MONTHLY;BYDAY=TH;BYSETPOS=-1', { Type: 3, WeekOfMonth: 5, DayOfWeek: 16 }],
    ['FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=-1', { Type: 6, MonthOfYear: 3, WeekOfMonth: 5, DayOfWeek: 127 }],
    // MS-OXCICAL 2.1.3.2.2 templates: DTSTART's own hour and minute (Outlook writes them)
    ['FREQ=DAILY;BYHOUR=9;BYMINUTE=0', { Type: 0 }],
    ['FREQ=WEEKLY;BYDAY=FR;BYHOUR=9;BYMINUTE=0;BYSECOND=0', { Type: 1, DayOfWeek: 32 }],
  ])('equivalent rule %s reads as %j', (rrule, expected) => {
    const text = calendarToIcs(base, { year: YEAR }).replace('DTSTAMP', `RRULE:${rrule}\r\nDTSTAMP`);
    expect(icsToCalendar(text, { year: YEAR }).Recurrence).toEqual(expected);
  });

  it.each([
    'FREQ=HOURLY;INTERVAL=2',
    'FREQ=MONTHLY;BYMONTHDAY=1,15',
    'FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1,-1',
    'FREQ=MONTHLY;BYDAY=5MO',
    'FREQ=MONTHLY;BYDAY=-2FR',
    'FREQ=YEARLY;BYYEARDAY=100',
    'FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO',
    'FREQ=YEARLY;BYDAY=20MO',
    'FREQ=WEEKLY;BYMONTH=6,7,8;BYDAY=SA',
    'FREQ=DAILY;BYHOUR=10',
    'FREQ=WEEKLY;BYDAY=FR;BYHOUR=9,17',
    'FREQ=DAILY;BYMINUTE=0,30',
  ])('%s is not expressible', (rrule) => {
    const text = calendarToIcs(base, { year: YEAR }).replace('DTSTAMP', `RRULE:${rrule}\r\nDTSTAMP`);
    const warnings: string[] = [];
    expect(
      icsToCalendar(text, { year: YEAR, onWarning: (w) => warnings.push(w.code) }).Recurrence,
    ).toBeUndefined();
    expect(warnings).toContain('recurrence-not-expressible');
  });
});

describe('an expressible rule written by another client', () => {
  it("keeps its stored spelling when the phone's edit leaves the recurrence as it was", () => {
    // Outlook spells out INTERVAL=1 and an UNTIL at the start's time, which easd would leave out
    const text = fixture('outlook-weekly-berlin.ics');
    const rule = 'RRULE:FREQ=WEEKLY;UNTIL=20250430T070000Z;INTERVAL=1;BYDAY=MO,WE;WKST=MO';
    expect(text).toContain(rule);
    const item = icsToCalendar(text, { year: YEAR });
    const out = calendarToIcs({ ...item, Subject: 'Renamed' }, { base: text, year: YEAR });
    expect(out).toContain(`${rule}\r\n`);
    // the event starts at 09:00 Berlin time: BYHOUR=9;BYMINUTE=0 repeats it
    const daily = text.replace(rule, 'RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0;COUNT=5');
    expect(icsToCalendar(daily, { year: YEAR }).Recurrence).toEqual({ Type: 0, Occurrences: 5 });
    const read = icsToCalendar(daily, { year: YEAR });
    expect(calendarToIcs({ ...read, Subject: 'Renamed' }, { base: daily, year: YEAR })).toContain(
      'RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0;COUNT=5\r\n',
    );
  });
});

describe('other zones, blobs and details', () => {
  it('an exception in another zone keeps its instant', () => {
    const text = fixture('google-monthly-newyork.ics').replace(
      'DTSTART;TZID=America/New_York:20250312T100000\r\nDTEND;TZID=America/New_York:20250312T110000',
      'DTSTART:20250312T140000Z\r\nDTEND;TZID=Europe/London:20250312T150000',
    );
    const e = icsToCalendar(text, { year: YEAR }).Exceptions![0]!;
    expect(e.StartTime).toEqual(d('2025-03-12T14:00:00Z'));
    expect(e.EndTime).toEqual(d('2025-03-12T15:00:00Z'));
  });

  it('a blob no zone has is written with a synthesized VTIMEZONE and read back to the same bytes', () => {
    const oldSaoPaulo = OLD_SAO_PAULO;
    const item: CalendarItem = {
      UID: 'sp',
      AllDayEvent: false,
      StartTime: d('2025-01-15T12:00:00Z'),
      EndTime: d('2025-01-15T13:00:00Z'),
      TimeZone: oldSaoPaulo,
      DtStamp: d('2025-01-01T00:00:00Z'),
    };
    const out = calendarToIcs(item, { year: YEAR });
    // In the phone's (outdated) rules January is summer time: UTC-2.
    expect(out).toContain('DTSTART;TZID=EAS/UTC-0300/DST60/M11.1.0T0000/M2.3.0T0000:20250115T100000');
    expect(out).toContain('RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU');
    expect(icsToCalendar(out, { year: YEAR })).toEqual({ ...item, MeetingStatus: 0 });
  });

  it('floating times are read in the user zone', () => {
    const text =
      'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:f\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250701T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
    const item = icsToCalendar(text, { timeZone: 'Asia/Kolkata', year: YEAR });
    expect(item.StartTime).toEqual(d('2025-07-01T03:30:00Z'));
    expect(item.EndTime).toEqual(d('2025-07-01T04:30:00Z'));
    expect(item.TimeZone).toEqual(blob('Asia/Kolkata'));
  });

  it('an unknown TZID without VTIMEZONE is read in the user zone, with a warning', () => {
    const text =
      'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;TZID=Somewhere:20250701T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
    const warnings: string[] = [];
    const item = icsToCalendar(text, {
      timeZone: 'Pacific/Chatham',
      year: YEAR,
      onWarning: (w) => warnings.push(w.code),
    });
    expect(item.StartTime).toEqual(d('2025-06-30T20:15:00Z'));
    expect(warnings).toEqual(['unknown-tzid']);
  });

  it('the 16.x Location keeps its address fields; another client changing LOCATION drops them', () => {
    const item: CalendarItem = {
      UID: 'l',
      AllDayEvent: false,
      StartTime: d('2025-05-05T10:00:00Z'),
      EndTime: d('2025-05-05T11:00:00Z'),
      TimeZone: blob('Europe/Berlin'),
      DtStamp: d('2025-01-01T00:00:00Z'),
      Location: {
        DisplayName: 'Büro',
        Street: 'Hauptstr. 1',
        City: 'Köln',
        Latitude: 50.94,
        Longitude: 6.96,
        LocationUri: 'https://maps.example/?q=1',
      },
    };
    const out = calendarToIcs(item, { year: YEAR });
    expect(icsToCalendar(out, { year: YEAR }).Location).toEqual(item.Location);
    const changed = out.replace('LOCATION:Büro', 'LOCATION:Zuhause');
    expect(icsToCalendar(changed, { year: YEAR }).Location).toEqual({
      DisplayName: 'Zuhause',
      Latitude: 50.94,
      Longitude: 6.96,
    });
  });

  it('throws IcalendarError on text that is not iCalendar or has no event', () => {
    expect(() => icsToCalendar('hello')).toThrow(IcalendarError);
    expect(() => icsToCalendar('BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n')).toThrow(IcalendarError);
    expect(() =>
      icsToCalendar('BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n'),
    ).toThrow(/DTSTART/);
    expect(() => icsToTask('BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n')).toThrow(IcalendarError);
  });
});

describe('VTODO', () => {
  it('Apple reminder: date-only due in the user zone, high priority, absolute alarm', () => {
    const text = fixture('apple-reminder.ics');
    const task = icsToTask(text, { timeZone: 'Europe/Berlin' });
    expect(task).toEqual({
      Subject: 'File taxes',
      DueDate: d('2025-03-14T00:00:00Z'),
      UtcDueDate: d('2025-03-13T23:00:00Z'),
      Complete: false,
      Importance: 2,
      ReminderSet: true,
      ReminderTime: d('2025-03-14T08:00:00Z'),
    });
    const out = taskToIcs(
      { ...task, Complete: true, DateCompleted: d('2025-03-12T18:00:00Z') },
      { base: text, timeZone: 'Europe/Berlin' },
    );
    expect(out).toContain('DUE;VALUE=DATE:20250314');
    expect(out).toContain('STATUS:COMPLETED');
    expect(out).toContain('COMPLETED:20250312T180000Z');
    expect(out).toContain('X-APPLE-SORT-ORDER:762513600');
    expect(out).toContain('X-WR-ALARMUID:E5D4C3B2-A190-4F8E-8D7C-6B5A49382716');
    expect(out).toContain('UID:9A8B7C6D-5E4F-4A3B-2C1D-0E9F8A7B6C5D');
  });

  it('Thunderbird weekly task: timed dates in Berlin, completed, low priority, recurrence', () => {
    const text = fixture('thunderbird-task-weekly.ics');
    const task = icsToTask(text, { timeZone: 'Europe/Berlin' });
    expect(task).toEqual({
      Subject: 'Weekly report',
      Body: { Type: 1, EstimatedDataSize: 29, Data: 'Send the numbers to the team.' },
      Categories: ['Work', 'Reports'],
      Sensitivity: 3,
      StartDate: d('2025-03-03T09:00:00Z'),
      UtcStartDate: d('2025-03-03T08:00:00Z'),
      DueDate: d('2025-03-03T17:00:00Z'),
      UtcDueDate: d('2025-03-03T16:00:00Z'),
      Complete: true,
      DateCompleted: d('2025-03-03T16:15:00Z'),
      Importance: 0,
      ReminderSet: false,
      Recurrence: { Type: 1, DayOfWeek: 2, Occurrences: 10, Start: d('2025-03-03T09:00:00Z') },
    });
    const out = taskToIcs(task, { base: text, timeZone: 'Europe/Berlin' });
    expect(out).toContain('DTSTART;TZID=Europe/Berlin:20250303T090000');
    expect(out).toContain('PERCENT-COMPLETE:100');
    expect(out).toContain('X-MOZ-GENERATION:3');
    expect(icsToTask(out, { timeZone: 'Europe/Berlin' })).toEqual(task);
    const reopened = taskToIcs(
      { ...task, Complete: false, DateCompleted: undefined },
      { base: text, timeZone: 'Europe/Berlin' },
    );
    expect(reopened).toContain('STATUS:NEEDS-ACTION');
    expect(reopened).not.toContain('PERCENT-COMPLETE');
    expect(reopened).not.toContain('COMPLETED:');
  });
});
