// Property tests: CalendarItem / TaskItem → iCalendar → item keeps every field; all-day dates never
// move, whatever the zone; any text reads as an item or fails with IcalendarError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteLength } from '../../src/backend/body.js';
import type {
  Attendee,
  Body,
  CalendarException,
  CalendarItem,
  Location,
  Recurrence,
  TaskItem,
} from '../../src/backend/model.js';
import {
  calendarToIcs,
  icsToCalendar,
  icsToTask,
  taskToIcs,
  IcalendarError,
} from '../../src/convert/icalendar.js';
import {
  fromWall,
  toWall,
  timeZoneForTzid,
  timeZoneInformationZone,
  decodeTimeZone,
  type ZoneRules,
  ianaZone,
} from '../../src/convert/timezone.js';
import { OLD_SAO_PAULO } from './icalendar-zones.js';

const YEAR = 2025;
const DAY = 86_400_000;
const ME = 'me@example.com';

/** Zones with every shape: DST north and south, none, half and quarter hours, ±14h, and a blob no zone has. */
const SYNTHETIC = OLD_SAO_PAULO;
const zones: [Uint8Array, ZoneRules][] = [
  ...[
    'Europe/Berlin',
    'America/New_York',
    'Australia/Sydney',
    'America/Sao_Paulo',
    'Asia/Kolkata',
    'Pacific/Chatham',
    'Pacific/Honolulu',
    'Pacific/Kiritimati',
    'Etc/UTC',
  ].map((z) => [timeZoneForTzid(z, { year: YEAR })!, ianaZone(z)!] as [Uint8Array, ZoneRules]),
  [SYNTHETIC, timeZoneInformationZone(decodeTimeZone(SYNTHETIC))],
];

const text = fc
  .string({ minLength: 1, maxLength: 20 })
  .filter((s) => s.trim() === s && !/[\r\n\u0000-\u001f\u007f]/.test(s));
// ical.js drops a backslash before ";" or "," inside a quoted parameter value when reading: names
// (CN) are generated without backslashes.
const name = text.filter((s) => !s.includes('\\'));
const multiline = fc.array(text, { minLength: 1, maxLength: 3 }).map((l) => l.join('\n'));
const instant = fc
  .integer({ min: Date.UTC(2020, 0, 1) / 60_000, max: Date.UTC(2030, 0, 1) / 60_000 })
  .map((m) => m * 60_000);
const second = fc
  .integer({ min: Date.UTC(2020, 0, 1) / 1000, max: Date.UTC(2030, 0, 1) / 1000 })
  .map((s) => new Date(s * 1000));
const email = fc.stringMatching(/^[a-z]{1,8}@[a-z]{1,6}\.(com|de|org)$/).filter((e) => e !== ME);

const body: fc.Arbitrary<Body> = fc
  .oneof(
    multiline.map((Data) => ({ Type: 1 as const, Data })),
    multiline.map((t) => ({ Type: 2 as const, Data: `<p>${t.replace(/[<>&]/g, '')}</p>` })),
  )
  .map((b) => ({ ...b, EstimatedDataSize: byteLength(b.Data) }));

const location: fc.Arbitrary<Location> = fc
  .record(
    {
      DisplayName: text,
      Latitude: fc.integer({ min: -9000, max: 9000 }).map((n) => n / 100),
      Longitude: fc.integer({ min: -18000, max: 18000 }).map((n) => n / 100),
      Street: text,
      City: text,
      Accuracy: fc.integer({ min: 1, max: 500 }),
    },
    { requiredKeys: ['DisplayName'] },
  )
  .map((l) => {
    // GEO holds both coordinates or none.
    if ((l.Latitude === undefined) !== (l.Longitude === undefined)) {
      delete l.Latitude;
      delete l.Longitude;
    }
    return l;
  });

const attendee: fc.Arbitrary<Attendee> = fc.record(
  {
    Email: email,
    Name: name,
    AttendeeStatus: fc.constantFrom(2 as const, 3 as const, 4 as const, 5 as const),
    AttendeeType: fc.constantFrom(1 as const, 2 as const, 3 as const),
  },
  { requiredKeys: ['Email'] },
);

/** Meeting fields as they fit together (MS-ASCAL 2.2.2.29 MeetingStatus, 2.2.2.40 ResponseType). */
const meeting: fc.Arbitrary<Partial<CalendarItem>> = fc.oneof(
  fc
    .record({ OrganizerEmail: fc.option(email, { nil: undefined }) })
    .map((m) => ({ ...m, MeetingStatus: 0 })),
  fc
    .tuple(
      fc.uniqueArray(attendee, { minLength: 1, maxLength: 4, selector: (a) => a.Email }),
      fc.boolean(),
      fc.boolean(),
      fc.option(name, { nil: undefined }),
    )
    .map(([Attendees, cancelled, ResponseRequested, OrganizerName]) => ({
      OrganizerEmail: ME,
      ...(OrganizerName !== undefined ? { OrganizerName } : {}),
      Attendees,
      MeetingStatus: cancelled ? 5 : 1,
      ResponseType: 1 as const,
      ResponseRequested,
    })),
  fc
    .tuple(
      fc.uniqueArray(attendee, { minLength: 0, maxLength: 3, selector: (a) => a.Email }),
      email,
      fc.constantFrom(2 as const, 3 as const, 4 as const, 5 as const),
      fc.boolean(),
      fc.boolean(),
    )
    .filter(([list, organizer]) => !list.some((a) => a.Email === organizer))
    .map(([others, OrganizerEmail, status, cancelled, ResponseRequested]) => ({
      OrganizerEmail,
      Attendees: [...others, { Email: ME, AttendeeStatus: status, AttendeeType: 1 as const }],
      MeetingStatus: cancelled ? 7 : 3,
      ResponseType: status,
      ResponseRequested,
    })),
);

const dayMask = fc.integer({ min: 1, max: 127 });
const pattern: fc.Arbitrary<Recurrence> = fc.oneof(
  fc.constant({ Type: 0 as const }),
  dayMask.map((DayOfWeek) => ({ Type: 1 as const, DayOfWeek })),
  fc.integer({ min: 1, max: 31 }).map((DayOfMonth) => ({ Type: 2 as const, DayOfMonth })),
  fc
    .tuple(fc.integer({ min: 1, max: 5 }), dayMask)
    .map(([WeekOfMonth, DayOfWeek]) => ({ Type: 3 as const, WeekOfMonth, DayOfWeek })),
  fc
    .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }))
    .map(([MonthOfYear, DayOfMonth]) => ({ Type: 5 as const, MonthOfYear, DayOfMonth })),
  fc
    .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 5 }), dayMask)
    .map(([MonthOfYear, WeekOfMonth, DayOfWeek]) => ({
      Type: 6 as const,
      MonthOfYear,
      WeekOfMonth,
      DayOfWeek,
    })),
);

interface Shape {
  zone: [Uint8Array, ZoneRules];
  allDay: boolean;
  /** For all-day: a date (wall ms); else an instant. */
  start: number;
  length: number;
}

const shape: fc.Arbitrary<Shape> = fc.record({
  zone: fc.constantFrom(...zones),
  allDay: fc.boolean(),
  start: fc.oneof(
    instant,
    fc.integer({ min: 18262, max: 21914 }).map((days) => days * DAY),
  ),
  length: fc.integer({ min: 1, max: 5 }),
});

function span(s: Shape, offsetDays: number, lengthDays = s.length): { StartTime: Date; EndTime: Date } {
  const [, zone] = s.zone;
  if (s.allDay) {
    const date = Math.floor(s.start / DAY) * DAY + offsetDays * DAY;
    return {
      StartTime: new Date(fromWall(zone, date)),
      EndTime: new Date(fromWall(zone, date + lengthDays * DAY)),
    };
  }
  // Occurrences of a series keep their local time (the first one when it is ambiguous).
  const start = offsetDays === 0 ? s.start : fromWall(zone, toWall(zone, s.start) + offsetDays * DAY);
  return { StartTime: new Date(start), EndTime: new Date(start + lengthDays * 15 * 60_000) };
}

const exceptionFields = fc.record(
  {
    Subject: text,
    Body: body,
    Location: location,
    Categories: fc.array(text, { minLength: 1, maxLength: 3 }),
    Sensitivity: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const),
    BusyStatus: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const, 4 as const),
    Reminder: fc.integer({ min: 0, max: 10_080 }),
    DtStamp: second,
  },
  { requiredKeys: [] },
);

const calendarItem: fc.Arbitrary<CalendarItem> = fc
  .record({
    shape,
    fields: fc.record(
      {
        Subject: text,
        Body: body,
        Location: location,
        Categories: fc.array(text, { minLength: 1, maxLength: 3 }),
        Sensitivity: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const),
        BusyStatus: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const, 4 as const),
        Reminder: fc.integer({ min: 0, max: 10_080 }),
        DisallowNewTimeProposal: fc.boolean(),
        AppointmentReplyTime: second,
        OnlineMeetingExternalLink: fc.webUrl(),
        OnlineMeetingConfLink: text,
      },
      { requiredKeys: [] },
    ),
    meeting,
    uid: text,
    stamp: second,
    recurrence: fc.option(
      fc.record({
        pattern,
        Interval: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
        end: fc.oneof(
          fc.constant(undefined),
          fc.integer({ min: 1, max: 50 }).map((n) => ({ Occurrences: n })),
          fc.integer({ min: 1, max: 400 }).map((days) => ({ untilDays: days })),
        ),
        FirstDayOfWeek: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        exceptions: fc.uniqueArray(
          fc.record({
            day: fc.integer({ min: 1, max: 300 }),
            deleted: fc.boolean(),
            move: fc.integer({ min: -2, max: 2 }),
            fields: exceptionFields,
          }),
          { maxLength: 4, selector: (e) => e.day },
        ),
      }),
      { nil: undefined },
    ),
  })
  .map(({ shape: s, fields, meeting: m, uid, stamp, recurrence }) => {
    const item: CalendarItem = {
      UID: uid,
      TimeZone: s.zone[0],
      AllDayEvent: s.allDay,
      DtStamp: stamp,
      ...span(s, 0),
      ...fields,
      ...m,
    };
    if (recurrence !== undefined) {
      const r: Recurrence = { ...recurrence.pattern };
      if (recurrence.Interval !== undefined) r.Interval = recurrence.Interval;
      if (recurrence.FirstDayOfWeek !== undefined) r.FirstDayOfWeek = recurrence.FirstDayOfWeek;
      if (recurrence.end !== undefined && 'Occurrences' in recurrence.end)
        r.Occurrences = recurrence.end.Occurrences;
      if (recurrence.end !== undefined && 'untilDays' in recurrence.end)
        r.Until = span(s, recurrence.end.untilDays).StartTime;
      item.Recurrence = r;
      const exceptions: CalendarException[] = recurrence.exceptions.map((e) => {
        const original = span(s, e.day).StartTime;
        if (e.deleted) return { Deleted: true, ExceptionStartTime: original };
        return { ExceptionStartTime: original, ...span(s, e.day + e.move, 1), ...e.fields };
      });
      if (exceptions.length > 0) item.Exceptions = exceptions;
    }
    return item;
  });

/** Drops what reading cannot tell apart: absent values, and exception fields equal to the master's. */
function normalize(item: CalendarItem): CalendarItem {
  const clean = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  const out = clean(item);
  if (out.Exceptions !== undefined) {
    out.Exceptions = out.Exceptions.map((e) => {
      const c = clean(e) as unknown as Record<string, unknown>;
      for (const k of Object.keys(c)) {
        if (['ExceptionStartTime', 'StartTime', 'EndTime', 'Deleted'].includes(k)) continue;
        if (JSON.stringify(c[k]) === JSON.stringify((item as unknown as Record<string, unknown>)[k]))
          delete c[k];
      }
      return c as unknown as CalendarException;
    }).sort((a, b) => a.ExceptionStartTime.getTime() - b.ExceptionStartTime.getTime());
  }
  return out;
}

describe('CalendarItem → iCalendar → CalendarItem', () => {
  it('keeps every field', () => {
    fc.assert(
      fc.property(calendarItem, (item) => {
        const ics = calendarToIcs(item, { userAddresses: [ME], year: YEAR });
        const back = icsToCalendar(ics, { userAddresses: [ME], year: YEAR });
        expect(normalize(back)).toEqual(normalize(item));
        // And again through the stored object: updating with the same item changes nothing.
        expect(calendarToIcs(back, { base: ics, userAddresses: [ME], year: YEAR, now: new Date(0) })).toBe(
          ics,
        );
      }),
      { numRuns: 200 },
    );
  });
});

describe('all-day dates never move', () => {
  const anyZone = fc.constantFrom(...zones);
  const date = fc.integer({ min: 0, max: 36_500 }).map((days) => Date.UTC(1980, 0, 1) + days * DAY);
  const iso = (wall: number): string => new Date(wall).toISOString().slice(0, 10).replace(/-/g, '');

  it('item at local midnights → DTSTART;VALUE=DATE of those dates', () => {
    fc.assert(
      fc.property(anyZone, date, fc.integer({ min: 1, max: 30 }), ([bytes, zone], d, n) => {
        const item: CalendarItem = {
          UID: 'a',
          AllDayEvent: true,
          TimeZone: bytes,
          StartTime: new Date(fromWall(zone, d)),
          EndTime: new Date(fromWall(zone, d + n * DAY)),
        };
        const ics = calendarToIcs(item, { year: YEAR });
        expect(ics).toContain(`DTSTART;VALUE=DATE:${iso(d)}\r\n`);
        expect(ics).toContain(`DTEND;VALUE=DATE:${iso(d + n * DAY)}\r\n`);
      }),
      { numRuns: 300 },
    );
  });

  it('DTSTART;VALUE=DATE read in any user zone and written back is the same date', () => {
    const names = fc.constantFrom(
      'Pacific/Honolulu',
      'Pacific/Kiritimati',
      'Pacific/Chatham',
      'America/Sao_Paulo',
      'Europe/Berlin',
      'America/St_Johns',
      'Asia/Kathmandu',
      'UTC',
    );
    fc.assert(
      fc.property(names, date, (tz, d) => {
        const ics = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;VALUE=DATE:${iso(d)}\r\nRRULE:FREQ=YEARLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
        const item = icsToCalendar(ics, { timeZone: tz, year: YEAR });
        const out = calendarToIcs(item, { year: YEAR });
        expect(out).toContain(`DTSTART;VALUE=DATE:${iso(d)}\r\n`);
        expect(out).toContain(`DTEND;VALUE=DATE:${iso(d + DAY)}\r\n`);
      }),
      { numRuns: 300 },
    );
  });
});

const taskItem: fc.Arbitrary<TaskItem> = fc
  .record({
    dateOnly: fc.boolean(),
    start: fc.option(fc.integer({ min: 18262, max: 21914 }), { nil: undefined }),
    dueAfter: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
    minutes: fc.integer({ min: 1, max: 24 * 60 - 1 }),
    complete: fc.option(second, { nil: undefined }),
    fields: fc.record(
      {
        Subject: text,
        Body: body,
        Categories: fc.array(text, { minLength: 1, maxLength: 3 }),
        Importance: fc.constantFrom(0 as const, 1 as const, 2 as const),
        Sensitivity: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const),
      },
      { requiredKeys: [] },
    ),
    reminder: fc.option(second, { nil: undefined }),
    recurrence: fc.option(
      fc.record({
        pattern,
        Regenerate: fc.option(fc.boolean(), { nil: undefined }),
        DeadOccur: fc.option(fc.boolean(), { nil: undefined }),
        Occurrences: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
      }),
      { nil: undefined },
    ),
  })
  .map(({ dateOnly, start, dueAfter, minutes, complete, fields, reminder, recurrence }) => {
    const zone = ianaZone('Europe/Berlin')!;
    const wall = (days: number): number => days * DAY + (dateOnly ? 0 : minutes * 60_000);
    const task: TaskItem = {
      ...fields,
      Complete: complete !== undefined,
      ReminderSet: reminder !== undefined,
    };
    if (complete !== undefined) task.DateCompleted = complete;
    if (reminder !== undefined) task.ReminderTime = reminder;
    if (start !== undefined) {
      task.StartDate = new Date(wall(start));
      task.UtcStartDate = new Date(fromWall(zone, wall(start)));
    }
    if (dueAfter !== undefined) {
      const due = (start ?? 20000) + dueAfter;
      task.DueDate = new Date(wall(due));
      task.UtcDueDate = new Date(fromWall(zone, wall(due)));
    }
    if (recurrence !== undefined && task.StartDate !== undefined) {
      const r: Recurrence = { ...recurrence.pattern, Start: task.StartDate };
      if (recurrence.Regenerate !== undefined) r.Regenerate = recurrence.Regenerate;
      if (recurrence.DeadOccur !== undefined) r.DeadOccur = recurrence.DeadOccur;
      if (recurrence.Occurrences !== undefined) r.Occurrences = recurrence.Occurrences;
      task.Recurrence = r;
    }
    return task;
  });

describe('TaskItem → iCalendar → TaskItem', () => {
  it('keeps every field', () => {
    fc.assert(
      fc.property(taskItem, (task) => {
        const ics = taskToIcs(task, { timeZone: 'Europe/Berlin' });
        expect(icsToTask(ics, { timeZone: 'Europe/Berlin' })).toEqual(task);
      }),
      { numRuns: 300 },
    );
  });
});

describe('malformed input', () => {
  const line = fc.constantFrom(
    'BEGIN:VCALENDAR',
    'END:VCALENDAR',
    'BEGIN:VEVENT',
    'END:VEVENT',
    'BEGIN:VTODO',
    'END:VTODO',
    'UID:x',
    'DTSTART:20250101T000000Z',
    'DTSTART;VALUE=DATE:2025013',
    'DTSTART;TZID=Nowhere:20250101T000000',
    'DTEND:garbage',
    'DURATION:P',
    'DUE;VALUE=DATE:20250101',
    'RRULE:FREQ=WEEKLY;BYDAY=XX',
    'RRULE:FREQ=MONTHLY;BYMONTHDAY=40',
    'EXDATE:2025',
    'RECURRENCE-ID:20250108T000000Z',
    'GEO:1;x',
    'TRIGGER:-PTXM',
    'BEGIN:VALARM',
    'END:VALARM',
    'X-EASD-TIMEZONE:AAAA',
    'X-EASD-LOCATION:{',
    'ATTENDEE;PARTSTAT=ACCEPTED:',
  );
  const doc = fc
    .array(fc.oneof(line, fc.string({ maxLength: 30 })), { maxLength: 20 })
    .map((l) => l.join('\r\n'));

  it('reads as an item or fails with IcalendarError, never anything else', () => {
    fc.assert(
      fc.property(doc, (t) => {
        for (const read of [() => icsToCalendar(t, { year: YEAR }), () => icsToTask(t)]) {
          try {
            read();
          } catch (err) {
            if (!(err instanceof IcalendarError)) throw err;
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
