// iCalendar VEVENT (RFC 5545) ↔ CalendarItem (MS-ASCAL), for backends that store calendars as
// iCalendar objects (CalDAV). Pure: text in, item out, and back.
//
// Reading (`icsToCalendar`) takes one object (one UID: the master and its overridden instances)
// and gives the item with its Exceptions. Writing (`calendarToIcs`) builds the object, or updates
// the one stored (`base`) so that every property, parameter and component easd does not map
// (X- properties, ATTACH, other VALARMs, SCHEDULE-STATUS, RDATEs the phone never saw …) survives
// a phone's edit.
//
// Mapping, property by property (RFC 5545 section ↔ MS-ASCAL section):
//   SUMMARY 3.8.1.12 ↔ Subject 2.2.2.43;  DESCRIPTION 3.8.1.5 / X-ALT-DESC (HTML) ↔ Body (MS-ASAIRS);
//   DTSTART/DTEND/DURATION 3.8.2 ↔ StartTime/EndTime 2.2.2.42/2.2.2.19 (UTC) and Timezone 2.2.2.44;
//   DTSTART;VALUE=DATE ↔ AllDayEvent 2.2.2.3;  RRULE 3.8.5.3 ↔ Recurrence 2.2.2.38;
//   EXDATE 3.8.5.1 ↔ Exception Deleted;  RECURRENCE-ID 3.8.4.4 components ↔ Exceptions 2.2.2.20;
//   ATTENDEE 3.8.4.1 (CN, ROLE, PARTSTAT, CUTYPE, RSVP) ↔ Attendees 2.2.2.4, ResponseRequested;
//   ORGANIZER 3.8.4.3 ↔ OrganizerName/OrganizerEmail;  STATUS:CANCELLED + who organizes ↔
//   MeetingStatus 2.2.2.29 and ResponseType 2.2.2.40;  VALARM 3.6.6 ↔ Reminder 2.2.2.37;
//   TRANSP 3.8.2.7 + X-MICROSOFT-CDO-BUSYSTATUS ↔ BusyStatus 2.2.2.8;  CLASS 3.8.1.3 ↔ Sensitivity;
//   LOCATION 3.8.1.7 + GEO 3.8.1.6 ↔ Location (MS-ASAIRS 2.2.2.27);  CATEGORIES ↔ Categories;
//   UID ↔ UID;  DTSTAMP ↔ DtStamp;  CONFERENCE (RFC 7986) ↔ OnlineMeetingExternalLink;
//   X-MICROSOFT-DISALLOW-COUNTER ↔ DisallowNewTimeProposal.
// easd's own X- properties keep what iCalendar has no place for: X-EASD-TIMEZONE (the phone's
// exact Timezone blob, used again while it still describes the event's zone), X-EASD-LOCATION
// (the 16.x address fields), X-EASD-APPOINTMENTREPLYTIME, X-EASD-ONLINEMEETINGCONFLINK.
import { randomUUID } from 'node:crypto';
import ICAL from 'ical.js';
import type {
  Attendee,
  BodyPreference,
  CalendarException,
  CalendarItem,
  Location,
} from '../backend/model.js';
import {
  DAY,
  IcalendarError,
  MINUTE,
  addressOf,
  allDayDate,
  blobFor,
  dateProp,
  firstText,
  isReminderAlarm,
  jcalDate,
  jcalUtc,
  mailto,
  newCalendar,
  param,
  parseCalendar,
  readCommon,
  readTime,
  readTimes,
  setProps,
  setText,
  setXText,
  startOfDay,
  storedBlob,
  syncVtimezones,
  textOf,
  timeContext,
  timeProp,
  writeBody,
  writeCategories,
  writeSensitivity,
  writeZone,
  zoneFor,
  type IcalendarWarning,
  type JCalProp,
  type TimeContext,
  type TimeValue,
  type Warn,
  type WriteZone,
} from './icalendar-common.js';
import { recurrenceToRrule, ruleStartOf, rruleToRecurrence, type RuleStart } from './icalendar-recurrence.js';
import {
  fromWall,
  parseWall,
  timeZoneToBase64,
  toWall,
  zoneForTimeZone,
  type ZoneRules,
} from './timezone.js';

export { IcalendarError, type IcalendarWarning } from './icalendar-common.js';
export { icsToTask, taskToIcs, type IcsToTaskOptions, type TaskToIcsOptions } from './icalendar-todo.js';

export interface IcsToCalendarOptions {
  /** The UID to read when the text holds several; default: the first VEVENT's. */
  uid?: string;
  /**
   * The user's zone (IANA or Windows name): floating times are read in it, and an all-day event
   * easd did not write gets it as Timezone (its StartTime is local midnight there). Default UTC.
   */
  timeZone?: string;
  /** The account's addresses: decide MeetingStatus (organizer or not) and ResponseType. */
  userAddresses?: readonly string[];
  /** Shapes Body as the client asked (MS-ASAIRS 2.2.2.12); default: the whole native body. */
  bodyPreferences?: readonly BodyPreference[];
  /** The year whose rules the Timezone blob carries; default: this year. */
  year?: number;
  onWarning?: (w: IcalendarWarning) => void;
}

export interface CalendarToIcsOptions {
  /** The stored object to update: what easd does not map is kept. */
  base?: string;
  userAddresses?: readonly string[];
  /** PRODID of a new object. */
  prodId?: string;
  /** DTSTAMP when the item has no DtStamp (RFC 5545 3.8.7.2 requires one). */
  now?: Date;
  /** UID when neither the item nor `base` has one (else ClientUid, else a random UUID). */
  uid?: string;
  year?: number;
  /**
   * RFC 6638 §7.1: `CLIENT` marks ORGANIZER and every ATTENDEE of the event with
   * SCHEDULE-AGENT=CLIENT, so a server that schedules by itself leaves the iTIP messages to easd.
   */
  scheduleAgent?: 'CLIENT';
}

const PRODID = '-//easd//easd//EN';

/** The CalendarItem properties a VEVENT carries, master or overridden instance alike. */
type EventFields = Omit<CalendarItem, 'Recurrence' | 'Exceptions' | 'TimeZone' | 'UID' | 'ClientUid'>;

const BUSY = ['FREE', 'TENTATIVE', 'BUSY', 'OOF', 'WORKINGELSEWHERE'] as const;
const PARTSTAT: Record<string, 2 | 3 | 4 | 5> = { TENTATIVE: 2, ACCEPTED: 3, DECLINED: 4, 'NEEDS-ACTION': 5 };
const PARTSTAT_OF = { 2: 'TENTATIVE', 3: 'ACCEPTED', 4: 'DECLINED', 5: 'NEEDS-ACTION' } as const;

// =============================================================================================
// iCalendar → CalendarItem

interface ReadState {
  ctx: TimeContext;
  users: Set<string> | undefined;
  prefs: readonly BodyPreference[] | undefined;
  /** The zone all-day dates are midnights of. */
  allDayZone: ZoneRules;
}

/**
 * One event (the master of `uid` and its overridden instances) as a CalendarItem with
 * Exceptions. Throws IcalendarError when the text is not iCalendar or has no such VEVENT.
 */
export function icsToCalendar(text: string, options: IcsToCalendarOptions = {}): CalendarItem {
  const warn: Warn = (code, message) => options.onWarning?.({ code, message });
  const cal = parseCalendar(text);
  const events = cal.getAllSubcomponents('vevent');
  const uid = options.uid ?? (events[0] ? firstText(events[0], 'uid') : undefined);
  const mine = events.filter((e) => firstText(e, 'uid') === uid);
  if (mine.length === 0)
    throw new IcalendarError(uid === undefined ? 'no VEVENT' : `no VEVENT with UID ${uid}`);
  let master = mine.find((e) => !e.hasProperty('recurrence-id'));
  let overrides = mine.filter((e) => e !== master);
  if (master === undefined) {
    warn('no-master', 'only overridden instances: the first one is read as a single event');
    master = overrides[0]!;
    overrides = [];
  }
  const ctx = timeContext(cal, options, warn);
  const stored = storedBlob(master);
  const allDayZone =
    stored !== undefined ? zoneForTimeZone(stored, yearOpt(options.year)).zone : ctx.defaultZone;
  const state: ReadState = {
    ctx,
    users: options.userAddresses ? new Set(options.userAddresses.map((a) => a.toLowerCase())) : undefined,
    prefs: options.bodyPreferences,
    allDayZone,
  };

  const span = readSpan(master, state);
  const item: CalendarItem = {};
  if (uid !== undefined) item.UID = uid;
  if (span.allDay) {
    item.TimeZone = stored ?? blobFor(allDayZone, options.timeZone, undefined, options.year, span.start);
  } else {
    item.TimeZone = blobFor(
      span.zone,
      span.tzid ?? (span.form === 'floating' ? options.timeZone : undefined),
      stored,
      options.year,
      span.start,
      // easd writes a single event's DTSTART in UTC only for the repeated hour: the blob stands.
      span.form === 'utc' && master.getAllProperties('rrule').length === 0,
    );
  }
  Object.assign(item, readFields(master, state, span));
  const sequence = Number(master.getFirstPropertyValue('sequence') ?? Number.NaN);
  if (Number.isInteger(sequence) && sequence >= 0) item.Sequence = sequence;

  const rrules = master.getAllProperties('rrule');
  if (rrules.length > 0) {
    const rule = rrules.length === 1 ? (rrules[0]!.jCal[3] as Record<string, unknown>) : undefined;
    const result =
      rule === undefined
        ? { reason: 'several RRULEs' }
        : rruleToRecurrence(rule, ruleStartOf(span.startWall), (v) => readUntil(v, span, state));
    if ('reason' in result) {
      warn('recurrence-not-expressible', `RRULE kept as a single occurrence: ${result.reason}`);
    } else {
      if (master.hasProperty('exrule')) warn('exrule-dropped', 'EXRULE has no EAS equivalent');
      if (master.hasProperty('rdate')) warn('rdate-dropped', 'RDATE instances have no EAS equivalent');
      item.Recurrence = result.recurrence;
      const exceptions = readExceptions(master, overrides, item, span, state);
      if (exceptions.length > 0) item.Exceptions = exceptions;
    }
  }
  return item;
}

function yearOpt(year: number | undefined): { year?: number } {
  return year === undefined ? {} : { year };
}

/** When an event happens: the instants, and how DTSTART was written. */
interface Span {
  start: number;
  end: number;
  allDay: boolean;
  /** DTSTART's wall-clock time in its zone (for all-day: the date's midnight). */
  startWall: number;
  zone: ZoneRules;
  tzid: string | undefined;
  form: TimeValue['form'];
}

function readSpan(comp: ICAL.Component, s: ReadState): Span {
  const dtstart = comp.getFirstProperty('dtstart');
  const start = dtstart ? readTime(s.ctx, dtstart, 0, s.allDayZone) : undefined;
  if (start === undefined) throw new IcalendarError('VEVENT without a valid DTSTART');
  // Outlook marks all-day events it writes as midnight-to-midnight DATE-TIMEs this way.
  const cdoAllDay = (firstText(comp, 'x-microsoft-cdo-alldayevent') ?? '').toUpperCase() === 'TRUE';
  const allDay = start.date || (cdoAllDay && start.wall % DAY === 0);
  const dtend = comp.getFirstProperty('dtend');
  const endValue = dtend ? readTime(s.ctx, dtend, 0, s.allDayZone) : undefined;
  let endWall: number | undefined;
  let endUtc: number | undefined;
  if (endValue !== undefined) {
    endWall =
      endValue.form === start.form || endValue.date ? endValue.wall : toWall(start.zone, endValue.utc);
    endUtc = endValue.utc;
  } else {
    const duration = comp.getFirstPropertyValue('duration');
    if (duration instanceof ICAL.Duration) {
      // RFC 5545 3.3.6: weeks and days are nominal (wall clock), the rest exact.
      const sign = duration.isNegative ? -1 : 1;
      const nominal = sign * (duration.weeks * 7 + duration.days) * DAY;
      const exact = sign * (duration.hours * 3600 + duration.minutes * 60 + duration.seconds) * 1000;
      endWall = start.wall + nominal + exact;
      endUtc = fromWall(start.zone, start.wall + nominal) + exact;
    } else {
      // RFC 5545 3.6.1: a DATE lasts one day, a DATE-TIME no time at all.
      endWall = start.wall + (start.date ? DAY : 0);
      endUtc = start.date ? fromWall(start.zone, endWall) : start.utc;
    }
  }
  if (allDay) {
    const startDate = startOfDay(start.wall);
    const endDate = Math.max(startOfDay(endWall + DAY - 1), startDate + DAY);
    return {
      start: fromWall(s.allDayZone, startDate),
      end: fromWall(s.allDayZone, endDate),
      allDay: true,
      startWall: startDate,
      zone: s.allDayZone,
      tzid: undefined,
      form: 'date',
    };
  }
  return {
    start: start.utc,
    end: Math.max(endUtc, start.utc),
    allDay: false,
    startWall: start.wall,
    zone: start.zone,
    tzid: start.tzid,
    form: start.form,
  };
}

/** UNTIL (RFC 5545 3.3.10) → Until: UTC as is; a DATE is the last day (all-day: its midnight). */
function readUntil(value: string, span: Span, s: ReadState): Date | undefined {
  const wall = parseWall(value);
  if (wall === undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    return new Date(span.allDay ? fromWall(s.allDayZone, wall) : fromWall(span.zone, wall + DAY) - 1000);
  }
  if (value.endsWith('Z')) return new Date(wall);
  return new Date(fromWall(span.zone, wall));
}

/** The instant an occurrence is known by: for all-day events, the midnight of its date. */
function occurrenceInstant(v: TimeValue, span: Span, s: ReadState): number {
  return span.allDay ? fromWall(s.allDayZone, startOfDay(v.date ? v.wall : toWall(span.zone, v.utc))) : v.utc;
}

function readExceptions(
  master: ICAL.Component,
  overrides: ICAL.Component[],
  item: CalendarItem,
  span: Span,
  s: ReadState,
): CalendarException[] {
  const byStart = new Map<number, CalendarException>();
  for (const prop of master.getAllProperties('exdate')) {
    for (const v of readTimes(s.ctx, prop, s.allDayZone)) {
      const at = occurrenceInstant(v, span, s);
      byStart.set(at, { Deleted: true, ExceptionStartTime: new Date(at) });
    }
  }
  for (const o of overrides) {
    const ridProp = o.getFirstProperty('recurrence-id')!;
    const rid = readTime(s.ctx, ridProp, 0, s.allDayZone);
    if (rid === undefined) continue;
    if ((param(ridProp, 'range') ?? '').toUpperCase() === 'THISANDFUTURE') {
      s.ctx.warn('range-thisandfuture', 'RANGE=THISANDFUTURE read as one changed instance');
    }
    const at = occurrenceInstant(rid, span, s);
    if (byStart.get(at)?.Deleted === true) continue;
    const oSpan = readSpan(o, s);
    const fields = readFields(o, s, oSpan);
    const e: CalendarException = {
      ExceptionStartTime: new Date(at),
      StartTime: new Date(oSpan.start),
      EndTime: new Date(oSpan.end),
    };
    if (oSpan.allDay !== span.allDay) e.AllDayEvent = oSpan.allDay;
    // MS-ASCAL 2.2.2.20: an Exception carries what differs from the master.
    for (const key of EXCEPTION_FIELDS) {
      const v = fields[key];
      if (v !== undefined && !sameValue(v, item[key])) (e as unknown as Record<string, unknown>)[key] = v;
    }
    byStart.set(at, e);
  }
  return [...byStart.values()].sort(
    (a, b) => a.ExceptionStartTime.getTime() - b.ExceptionStartTime.getTime(),
  );
}

const EXCEPTION_FIELDS = [
  'Subject',
  'Body',
  'Location',
  'Categories',
  'Sensitivity',
  'BusyStatus',
  'Reminder',
  'DtStamp',
  'MeetingStatus',
  'Attendees',
  'AppointmentReplyTime',
  'ResponseType',
  'OnlineMeetingConfLink',
  'OnlineMeetingExternalLink',
] as const satisfies readonly (keyof CalendarException & keyof EventFields)[];

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
    );
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return (
      ka.length === kb.length &&
      ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return a === b;
}

function readFields(comp: ICAL.Component, s: ReadState, span: Span): EventFields {
  const f: EventFields = {
    AllDayEvent: span.allDay,
    StartTime: new Date(span.start),
    EndTime: new Date(span.end),
  };
  Object.assign(f, readCommon(comp, s.prefs));
  const location = readLocation(comp);
  if (location !== undefined) f.Location = location;
  const busy = readBusyStatus(comp);
  if (busy !== undefined) f.BusyStatus = busy;
  const reminder = readReminder(comp, s, span);
  if (reminder !== undefined) f.Reminder = reminder;
  const dtstamp = comp.getFirstProperty('dtstamp');
  const stamp = dtstamp ? readTime(s.ctx, dtstamp) : undefined;
  if (stamp !== undefined) f.DtStamp = new Date(stamp.utc);
  Object.assign(f, readMeeting(comp, s));
  const replyTime = firstText(comp, 'x-easd-appointmentreplytime');
  const reply = replyTime === undefined ? undefined : parseBasicUtc(replyTime);
  if (reply !== undefined) f.AppointmentReplyTime = reply;
  const disallow = firstText(comp, 'x-microsoft-disallow-counter');
  if (disallow !== undefined) f.DisallowNewTimeProposal = disallow.toUpperCase() === 'TRUE';
  const conference =
    comp
      .getAllProperties('conference')
      .map(textOf)
      .find((v) => v !== undefined) ??
    firstText(comp, 'x-microsoft-skypeteamsmeetingurl') ??
    firstText(comp, 'x-google-conference');
  if (conference !== undefined) f.OnlineMeetingExternalLink = conference;
  const confLink = firstText(comp, 'x-easd-onlinemeetingconflink');
  if (confLink !== undefined) f.OnlineMeetingConfLink = confLink;
  return f;
}

/** "20240315T100000Z" → Date. */
function parseBasicUtc(v: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v.trim());
  return m === null ? undefined : new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

function basicUtc(d: Date): string {
  return jcalUtc(d.getTime()).replace(/[-:]/g, '');
}

/** X-MICROSOFT-CDO-BUSYSTATUS first (it has all five values), then TRANSP (RFC 5545 3.8.2.7). */
function readBusyStatus(comp: ICAL.Component): 0 | 1 | 2 | 3 | 4 | undefined {
  const cdo = (firstText(comp, 'x-microsoft-cdo-busystatus') ?? '').toUpperCase();
  const i = BUSY.indexOf(cdo as (typeof BUSY)[number]);
  if (i >= 0) return i as 0 | 1 | 2 | 3 | 4;
  const transp = (firstText(comp, 'transp') ?? '').toUpperCase();
  return transp === 'TRANSPARENT' ? 0 : transp === 'OPAQUE' ? 2 : undefined;
}

/** The VALARM that is the EAS reminder: the first display/sound alarm at or before the start. */
function reminderAlarm(comp: ICAL.Component): { alarm: ICAL.Component; trigger: ICAL.Property } | undefined {
  for (const alarm of comp.getAllSubcomponents('valarm')) {
    if (!isReminderAlarm(alarm)) continue;
    const trigger = alarm.getFirstProperty('trigger');
    if (trigger === null) continue;
    if (trigger.type === 'duration') {
      if ((param(trigger, 'related') ?? 'START').toUpperCase() !== 'START') continue;
      const d = trigger.getFirstValue();
      if (d instanceof ICAL.Duration && d.toSeconds() <= 0) return { alarm, trigger };
    } else if (trigger.type === 'date-time') {
      return { alarm, trigger };
    }
  }
  return undefined;
}

function readReminder(comp: ICAL.Component, s: ReadState, span: Span): number | undefined {
  const found = reminderAlarm(comp);
  if (found === undefined) return undefined;
  const { trigger } = found;
  if (trigger.type === 'duration')
    return Math.round(-(trigger.getFirstValue() as ICAL.Duration).toSeconds() / 60) || 0;
  const at = readTime(s.ctx, trigger);
  if (at === undefined || at.utc > span.start) return undefined;
  return Math.round((span.start - at.utc) / MINUTE);
}

function readLocation(comp: ICAL.Component): Location | undefined {
  const loc: Location = {};
  const display = firstText(comp, 'location');
  // Google writes an empty LOCATION for "no location".
  if (display !== undefined && display !== '') loc.DisplayName = display;
  const geo = comp.getFirstPropertyValue('geo');
  if (Array.isArray(geo) && geo.length === 2) {
    loc.Latitude = Number(geo[0]);
    loc.Longitude = Number(geo[1]);
  } else {
    // Apple: X-APPLE-STRUCTURED-LOCATION;…:geo:lat,lon
    const m = /^geo:(-?[\d.]+),(-?[\d.]+)/i.exec(firstText(comp, 'x-apple-structured-location') ?? '');
    if (m !== null) {
      loc.Latitude = Number(m[1]);
      loc.Longitude = Number(m[2]);
    }
  }
  const extra = firstText(comp, 'x-easd-location');
  if (extra !== undefined) {
    try {
      const parsed = JSON.parse(extra) as Record<string, unknown>;
      // Only while LOCATION is still the one it was written with: another client may have changed it.
      if (parsed.DisplayName === loc.DisplayName) {
        for (const k of LOCATION_EXTRA)
          if (parsed[k] !== undefined) (loc as Record<string, unknown>)[k] = parsed[k];
      }
    } catch {
      // not ours to fix
    }
  }
  return Object.keys(loc).length === 0 ? undefined : loc;
}

const LOCATION_EXTRA = [
  'Annotation',
  'Street',
  'City',
  'State',
  'Country',
  'PostalCode',
  'Accuracy',
  'Altitude',
  'AltitudeAccuracy',
  'LocationUri',
] as const satisfies readonly (keyof Location)[];

function readAttendee(p: ICAL.Property): Attendee {
  const a: Attendee = { Email: addressOf(p.getFirstValue()) };
  const cn = param(p, 'cn');
  if (cn !== undefined) a.Name = cn;
  const status = PARTSTAT[(param(p, 'partstat') ?? '').toUpperCase()];
  if (status !== undefined) a.AttendeeStatus = status;
  const cutype = (param(p, 'cutype') ?? '').toUpperCase();
  const role = (param(p, 'role') ?? '').toUpperCase();
  if (cutype === 'RESOURCE' || cutype === 'ROOM' || role === 'NON-PARTICIPANT') a.AttendeeType = 3;
  else if (role === 'OPT-PARTICIPANT') a.AttendeeType = 2;
  else if (role === 'REQ-PARTICIPANT' || role === 'CHAIR') a.AttendeeType = 1;
  return a;
}

function readMeeting(comp: ICAL.Component, s: ReadState): EventFields {
  const f: EventFields = {};
  const org = comp.getFirstProperty('organizer');
  const organizer = org ? addressOf(org.getFirstValue()) : undefined;
  if (org) {
    f.OrganizerEmail = organizer!;
    const cn = param(org, 'cn');
    if (cn !== undefined) f.OrganizerName = cn;
  }
  const attendeeProps = comp.getAllProperties('attendee');
  const attendees = attendeeProps.map(readAttendee);
  if (attendees.length > 0) f.Attendees = attendees;
  const cancelled = (firstText(comp, 'status') ?? '').toUpperCase() === 'CANCELLED';
  // MS-ASCAL 2.2.2.29: an appointment has no attendees; a meeting is the user's or received.
  if (attendees.length === 0) {
    f.MeetingStatus = 0;
    return f;
  }
  f.ResponseRequested = attendeeProps.some((p) => (param(p, 'rsvp') ?? '').toUpperCase() === 'TRUE');
  const isUser = (a: string | undefined): boolean =>
    a !== undefined && s.users !== undefined && s.users.has(a.toLowerCase());
  const organizedByUser = organizer === undefined || isUser(organizer);
  f.MeetingStatus = (organizedByUser ? 1 : 3) + (cancelled ? 4 : 0);
  if (organizedByUser) f.ResponseType = 1;
  else {
    const me = attendees.find((a) => isUser(a.Email));
    if (me !== undefined) f.ResponseType = me.AttendeeStatus ?? 0;
  }
  return f;
}

// =============================================================================================
// CalendarItem → iCalendar

/**
 * The iCalendar object for an item: a new VCALENDAR, or `base` updated. The item is complete for
 * what easd maps (a mapped property it lacks is removed); everything else in `base` is kept.
 */
export function calendarToIcs(item: CalendarItem, options: CalendarToIcsOptions = {}): string {
  const cal =
    options.base !== undefined ? parseCalendar(options.base) : newCalendar(options.prodId ?? PRODID);
  const events = cal.getAllSubcomponents('vevent');
  const baseUid = events[0] ? firstText(events[0], 'uid') : undefined;
  const uid = item.UID ?? baseUid ?? item.ClientUid ?? options.uid ?? randomUUID();
  const mine = events.filter((e) => firstText(e, 'uid') === uid);
  let master = mine.find((e) => !e.hasProperty('recurrence-id'));
  const baseOverrides = mine.filter((e) => e !== master);
  if (master === undefined) {
    master = new ICAL.Component(['vevent', [], []]);
    cal.addSubcomponent(master);
  }
  const thisYear = options.year ?? new Date().getUTCFullYear();
  const startYear = item.StartTime?.getUTCFullYear() ?? thisYear;
  const wz = keepStoredZone(
    writeZone(item.TimeZone, options.year),
    master,
    cal,
    Math.max(thisYear, startYear),
  );
  const users = options.userAddresses
    ? new Set(options.userAddresses.map((a) => a.toLowerCase()))
    : undefined;
  const now = options.now ?? new Date();
  const baseCtx = timeContext(cal, {}, () => undefined);
  const dateZones = [wz.resolved.zone];

  // Whether the stored rule is one the phone never saw (not expressible): then it stays.
  const baseRule = master.getAllProperties('rrule');
  const storedStart = master.getFirstProperty('dtstart');
  const storedWall = storedStart ? readTime(baseCtx, storedStart)?.wall : undefined;
  const keepBaseRule =
    item.Recurrence === undefined &&
    baseRule.length > 0 &&
    !baseRuleExpressible(
      baseRule,
      storedWall === undefined ? { weekday: 1, day: 1, month: 1 } : ruleStartOf(storedWall),
    );

  setText(master, 'uid', uid);
  // RFC 5546 2.1.4: SEQUENCE only ever grows; an item without one keeps the stored value.
  if (item.Sequence !== undefined) setProps(master, 'sequence', [['sequence', {}, 'integer', item.Sequence]]);
  const startUtc = item.StartTime?.getTime();
  if (startUtc === undefined && !master.hasProperty('dtstart'))
    throw new IcalendarError('StartTime is required');
  if (startUtc !== undefined)
    writeSpan(
      master,
      item.AllDayEvent === true,
      startUtc,
      item.EndTime?.getTime() ?? startUtc,
      wz,
      dateZones,
      item.Recurrence !== undefined,
    );
  setXText(
    master,
    'x-easd-timezone',
    item.TimeZone === undefined ? undefined : timeZoneToBase64(item.TimeZone),
  );
  master.removeAllProperties('x-microsoft-cdo-alldayevent');
  writeFields(master, item, users, now);

  const allDay = item.AllDayEvent === true;
  const occurrenceProp = (name: string, at: Date): JCalProp =>
    allDay ? dateProp(name, allDayDate(at.getTime(), dateZones)) : timeProp(name, at.getTime(), wz);

  if (item.Recurrence !== undefined && startUtc !== undefined) {
    const start = ruleStartOf(allDay ? allDayDate(startUtc, dateZones) : toWall(wz.resolved.zone, startUtc));
    const until = (d: Date): string =>
      allDay ? jcalDate(allDayDate(d.getTime(), dateZones, 'floor')) : jcalUtc(d.getTime());
    const rule = recurrenceToRrule(item.Recurrence, start, until);
    // an unchanged rule keeps its stored spelling (an implicit BYDAY, its UNTIL form), so a
    // phone's edit of something else does not rewrite another client's RRULE
    const storedRule = baseRule.length === 1 ? (baseRule[0]!.jCal[3] as Record<string, unknown>) : undefined;
    if (storedRule === undefined || !sameRule(storedRule, rule, start))
      setProps(master, 'rrule', [['rrule', {}, 'recur', rule]]);
    const deleted = (item.Exceptions ?? [])
      .filter((e) => e.Deleted === true)
      .sort((a, b) => a.ExceptionStartTime.getTime() - b.ExceptionStartTime.getTime());
    const exdates = deleted.map((e) => occurrenceProp('exdate', e.ExceptionStartTime));
    const first = exdates[0];
    setProps(
      master,
      'exdate',
      first === undefined ? [] : [[...first, ...exdates.slice(1).map((p) => p[3])] as JCalProp],
    );
    writeOverrides(cal, master, item, baseOverrides, { wz, dateZones, users, now, baseCtx, occurrenceProp });
  } else if (!keepBaseRule) {
    for (const name of ['rrule', 'rdate', 'exrule', 'exdate']) master.removeAllProperties(name);
    for (const o of baseOverrides) cal.removeSubcomponent(o);
  }

  const written = new Map<string, { wz: WriteZone; fromYear: number }>();
  if (!wz.utc && startUtc !== undefined)
    written.set(wz.resolved.tzid, { wz, fromYear: Math.min(startYear, thisYear) });
  syncVtimezones(cal, written);
  if (options.scheduleAgent !== undefined)
    // §7.1: the same value on every component of the object, master and overridden instances
    for (const ev of cal.getAllSubcomponents('vevent'))
      for (const p of [...ev.getAllProperties('organizer'), ...ev.getAllProperties('attendee')])
        p.setParameter('schedule-agent', options.scheduleAgent);
  return cal.toString();
}

/**
 * The stored event's TZID when its zone has the item's offsets: an unchanged zone keeps its name
 * (a Windows id stays a Windows id) and its VTIMEZONE.
 */
function keepStoredZone(wz: WriteZone, master: ICAL.Component, cal: ICAL.Component, year: number): WriteZone {
  const dtstart = master.getFirstProperty('dtstart');
  const tzid = dtstart ? param(dtstart, 'tzid') : undefined;
  if (tzid === undefined || wz.bytes === undefined || tzid === wz.resolved.tzid) return wz;
  const ctx = timeContext(cal, {}, () => undefined);
  const zone = zoneFor(ctx, tzid);
  if (zone === ctx.defaultZone) return wz;
  for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 2, 0, 1); t += DAY / 4) {
    if (zone.offsetAt(t) !== wz.resolved.zone.offsetAt(t)) return wz;
  }
  return { ...wz, resolved: { tzid, zone }, utc: false };
}

/** Whether two RRULE values mean the same EAS recurrence from this start. */
function sameRule(a: Record<string, unknown>, b: Record<string, unknown>, start: RuleStart): boolean {
  const until = (v: string): Date | undefined => {
    const t = Date.parse(/Z$|^\d{4}-\d{2}-\d{2}$/.test(v) ? v : `${v}Z`);
    return Number.isNaN(t) ? undefined : new Date(t);
  };
  const x = rruleToRecurrence(a, start, until);
  const y = rruleToRecurrence(b, start, until);
  return (
    'recurrence' in x && 'recurrence' in y && JSON.stringify(x.recurrence) === JSON.stringify(y.recurrence)
  );
}

function baseRuleExpressible(rules: ICAL.Property[], start: RuleStart): boolean {
  if (rules.length !== 1) return false;
  const result = rruleToRecurrence(rules[0]!.jCal[3] as Record<string, unknown>, start, () => undefined);
  return 'recurrence' in result;
}

/** DTSTART/DTEND: DATEs for an all-day event (MS-ASCAL 2.2.2.3), else DATE-TIMEs in the item's zone. */
function writeSpan(
  comp: ICAL.Component,
  allDay: boolean,
  start: number,
  end: number,
  wz: WriteZone,
  dateZones: ZoneRules[],
  recurring = false,
): void {
  comp.removeAllProperties('duration');
  if (allDay) {
    const startDate = allDayDate(start, dateZones);
    const endDate = Math.max(allDayDate(end, dateZones), startDate + DAY);
    setProps(comp, 'dtstart', [dateProp('dtstart', startDate)]);
    setProps(comp, 'dtend', [dateProp('dtend', endDate)]);
  } else {
    // A series is defined in local time: its DTSTART stays local even in the repeated hour.
    setProps(comp, 'dtstart', [timeProp('dtstart', start, wz, !recurring)]);
    setProps(comp, 'dtend', [timeProp('dtend', Math.max(end, start), wz, true)]);
  }
}

interface OverrideContext {
  wz: WriteZone;
  dateZones: ZoneRules[];
  users: Set<string> | undefined;
  now: Date;
  baseCtx: TimeContext;
  occurrenceProp: (name: string, at: Date) => JCalProp;
}

/** Changed occurrences → VEVENTs with RECURRENCE-ID (RFC 5545 3.8.4.4), reusing the stored ones. */
function writeOverrides(
  cal: ICAL.Component,
  master: ICAL.Component,
  item: CalendarItem,
  baseOverrides: ICAL.Component[],
  c: OverrideContext,
): void {
  const allDay = item.AllDayEvent === true;
  const key = (utc: number): number => (allDay ? allDayDate(utc, c.dateZones) : utc);
  const stored = new Map<number, ICAL.Component>();
  for (const o of baseOverrides) {
    const rid = o.getFirstProperty('recurrence-id');
    const v = rid ? readTime(c.baseCtx, rid, 0, c.dateZones[0]) : undefined;
    if (v === undefined) continue;
    stored.set(allDay ? (v.date ? v.wall : allDayDate(v.utc, c.dateZones)) : v.utc, o);
  }
  const duration = (item.EndTime?.getTime() ?? 0) - (item.StartTime?.getTime() ?? 0);
  const used = new Set<ICAL.Component>();
  const uid = firstText(master, 'uid');
  for (const e of item.Exceptions ?? []) {
    if (e.Deleted === true) continue;
    const k = key(e.ExceptionStartTime.getTime());
    let o = stored.get(k);
    if (o === undefined || used.has(o)) {
      o = new ICAL.Component(['vevent', [], []]);
      cal.addSubcomponent(o);
    }
    used.add(o);
    setText(o, 'uid', uid);
    setProps(o, 'recurrence-id', [c.occurrenceProp('recurrence-id', e.ExceptionStartTime)]);
    const start = (e.StartTime ?? e.ExceptionStartTime).getTime();
    const end = e.EndTime?.getTime() ?? start + Math.max(duration, 0);
    const fields: EventFields = { ...item };
    for (const k2 of EXCEPTION_FIELDS)
      if (e[k2] !== undefined) (fields as Record<string, unknown>)[k2] = e[k2];
    writeSpan(o, e.AllDayEvent ?? allDay, start, end, c.wz, c.dateZones);
    o.removeAllProperties('rrule');
    o.removeAllProperties('exdate');
    writeFields(o, fields, c.users, c.now);
  }
  for (const o of baseOverrides) if (!used.has(o)) cal.removeSubcomponent(o);
}

function writeFields(comp: ICAL.Component, f: EventFields, users: Set<string> | undefined, now: Date): void {
  setText(comp, 'summary', f.Subject);
  writeBody(comp, f.Body);
  writeLocation(comp, f.Location);
  writeCategories(comp, f.Categories);
  writeSensitivity(comp, f.Sensitivity);
  setText(
    comp,
    'transp',
    f.BusyStatus === undefined ? undefined : f.BusyStatus === 0 ? 'TRANSPARENT' : 'OPAQUE',
  );
  setXText(comp, 'x-microsoft-cdo-busystatus', f.BusyStatus === undefined ? undefined : BUSY[f.BusyStatus]);
  writeReminder(comp, f.Reminder);
  setProps(comp, 'dtstamp', [['dtstamp', {}, 'date-time', jcalUtc((f.DtStamp ?? now).getTime())]]);
  writeMeeting(comp, f, users);
  setXText(
    comp,
    'x-easd-appointmentreplytime',
    f.AppointmentReplyTime === undefined ? undefined : basicUtc(f.AppointmentReplyTime),
  );
  setXText(
    comp,
    'x-microsoft-disallow-counter',
    f.DisallowNewTimeProposal === undefined ? undefined : f.DisallowNewTimeProposal ? 'TRUE' : 'FALSE',
  );
  const conference = comp.getAllProperties('conference');
  const kept = conference.find((p) => textOf(p) === f.OnlineMeetingExternalLink);
  if (kept === undefined) {
    comp.removeAllProperties('conference');
    if (f.OnlineMeetingExternalLink !== undefined) {
      setProps(comp, 'conference', [
        ['conference', { feature: 'VIDEO' }, 'uri', f.OnlineMeetingExternalLink],
      ]);
    }
  }
  if (f.OnlineMeetingExternalLink === undefined) {
    comp.removeAllProperties('x-microsoft-skypeteamsmeetingurl');
    comp.removeAllProperties('x-google-conference');
  }
  setXText(comp, 'x-easd-onlinemeetingconflink', f.OnlineMeetingConfLink);
}

function writeReminder(comp: ICAL.Component, minutes: number | undefined): void {
  const found = reminderAlarm(comp);
  if (minutes === undefined) {
    if (found) comp.removeSubcomponent(found.alarm);
    return;
  }
  const value = ICAL.Duration.fromSeconds(-minutes * 60).toString();
  const trigger: JCalProp = ['trigger', {}, 'duration', value];
  if (found) {
    // Same kind of trigger: keep its parameters (RELATED=START …).
    const params = found.trigger.type === 'duration' ? { ...found.trigger.jCal[1] } : {};
    setProps(found.alarm, 'trigger', [['trigger', params, 'duration', value]]);
    return;
  }
  comp.addSubcomponent(
    new ICAL.Component([
      'valarm',
      [['action', {}, 'text', 'DISPLAY'], ['description', {}, 'text', 'Reminder'], trigger],
      [],
    ]),
  );
}

function writeLocation(comp: ICAL.Component, loc: Location | undefined): void {
  const before = firstText(comp, 'location');
  const display = loc?.DisplayName;
  if (display !== before) {
    // The stored structured location describes the old place.
    comp.removeAllProperties('x-apple-structured-location');
    setText(comp, 'location', display);
  }
  const hasGeo = loc?.Latitude !== undefined && loc.Longitude !== undefined;
  setProps(comp, 'geo', hasGeo ? [['geo', {}, 'float', [loc.Latitude, loc.Longitude]]] : []);
  const extra: Record<string, unknown> = {};
  for (const k of LOCATION_EXTRA) if (loc?.[k] !== undefined) extra[k] = loc[k];
  setXText(
    comp,
    'x-easd-location',
    Object.keys(extra).length === 0 ? undefined : JSON.stringify({ DisplayName: display, ...extra }),
  );
}

function writeMeeting(comp: ICAL.Component, f: EventFields, users: Set<string> | undefined): void {
  const isUser = (a: string): boolean => users !== undefined && users.has(a.toLowerCase());
  // ORGANIZER, keeping the stored parameters (SENT-BY, SCHEDULE-STATUS …) of the same address.
  const oldOrg = comp.getFirstProperty('organizer');
  if (f.OrganizerEmail === undefined || f.OrganizerEmail === '') comp.removeAllProperties('organizer');
  else {
    const same =
      oldOrg !== null && addressOf(oldOrg.getFirstValue()).toLowerCase() === f.OrganizerEmail.toLowerCase();
    const params: Record<string, unknown> = same ? { ...oldOrg.jCal[1] } : {};
    if (f.OrganizerName !== undefined && f.OrganizerName !== '') params.cn = f.OrganizerName;
    else delete params.cn;
    setProps(comp, 'organizer', [['organizer', params, 'cal-address', mailto(f.OrganizerEmail)]]);
  }
  // ATTENDEEs, keeping the stored parameters of each address.
  const old = new Map<string, Record<string, unknown>>();
  for (const p of comp.getAllProperties('attendee'))
    old.set(addressOf(p.getFirstValue()).toLowerCase(), { ...p.jCal[1] });
  const props: JCalProp[] = (f.Attendees ?? []).map((a) => {
    const params = old.get(a.Email.toLowerCase()) ?? {};
    if (a.Name !== undefined && a.Name !== '') params.cn = a.Name;
    else if (a.Name === '') delete params.cn;
    if (a.AttendeeType === 3) {
      if (String(params.cutype ?? '').toUpperCase() !== 'ROOM') params.cutype = 'RESOURCE';
      params.role = 'NON-PARTICIPANT';
    } else if (a.AttendeeType !== undefined) {
      if (/^(RESOURCE|ROOM)$/i.test(String(params.cutype ?? ''))) delete params.cutype;
      params.role = a.AttendeeType === 2 ? 'OPT-PARTICIPANT' : 'REQ-PARTICIPANT';
    }
    let status = a.AttendeeStatus;
    if (isUser(a.Email) && f.ResponseType !== undefined && f.ResponseType >= 2)
      status = f.ResponseType as 2 | 3 | 4 | 5;
    if (status === 0) delete params.partstat;
    else if (status !== undefined) params.partstat = PARTSTAT_OF[status];
    if (f.ResponseRequested === true) params.rsvp = 'TRUE';
    else if (f.ResponseRequested === false) delete params.rsvp;
    return ['attendee', params, 'cal-address', mailto(a.Email)];
  });
  setProps(comp, 'attendee', props);
  // MS-ASCAL 2.2.2.29: 5, 7, 13, 15 are cancelled meetings.
  const cancelled = f.MeetingStatus !== undefined && (f.MeetingStatus & 4) !== 0;
  const status = (firstText(comp, 'status') ?? '').toUpperCase();
  if (cancelled) setText(comp, 'status', 'CANCELLED');
  else if (status === 'CANCELLED') setText(comp, 'status', undefined);
}
