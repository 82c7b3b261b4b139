// Busy time of one calendar object within a window, for free/busy answers (ResolveRecipients
// Availability, MS-ASCMD 2.2.3.16) where the server has no free-busy-query (Radicale 3.1). The
// rules are those of a CalDAV free-busy-query (RFC 4791 §7.10): cancelled events and transparent
// ones are free, STATUS:TENTATIVE is tentative, the rest busy — except that Outlook's
// X-MICROSOFT-CDO-BUSYSTATUS, which easd writes from BusyStatus, says it more exactly (OOF).
// Recurrences are expanded in wall-clock time in the event's zone, so occurrences keep their local
// time across DST; RECURRENCE-ID overrides replace their occurrence, EXDATEs remove one.
import ICAL from 'ical.js';
import type { BusyPeriod } from '../backend/contract.js';
import {
  DAY,
  firstText,
  IcalendarError,
  param,
  parseCalendar,
  readTime,
  readTimes,
  timeContext,
} from './icalendar-common.js';
import { fromWall, type WallMs } from './timezone.js';

/** Occurrences in the window per series at most (a minutely rule over the window stops here). */
const maxOccurrences = 5000;
/**
 * Occurrences walked per series at most, before the window too: a series that cannot be skipped
 * ahead (COUNT, MONTHLY, YEARLY) is walked from DTSTART, so a monthly one holds 1600 years.
 */
const maxWalk = 20_000;

/**
 * The wall-clock time after which the rule repeats itself exactly, so a series can be walked from
 * a later anchor in step with DTSTART; undefined when it must be walked from DTSTART. COUNT counts
 * from DTSTART; months and years differ in length. DAILY and WEEKLY may have BYDAY (no ordinals
 * at these frequencies, RFC 5545 3.3.10) and time-of-day parts; SECONDLY to HOURLY none.
 */
function period(rule: ICAL.Recur): number | undefined {
  if (rule.count !== null || !(rule.interval >= 1)) return undefined;
  const parts = Object.entries(rule.parts)
    .filter(([, v]) => v !== undefined && v.length > 0)
    .map(([k]) => k);
  const timeOfDay = (k: string): boolean => k === 'BYHOUR' || k === 'BYMINUTE' || k === 'BYSECOND';
  const unit = { SECONDLY: 1000, MINUTELY: 60_000, HOURLY: 3_600_000 }[rule.freq as string];
  if (unit !== undefined) return parts.length === 0 ? rule.interval * unit : undefined;
  if (rule.freq === 'WEEKLY' || rule.freq === 'DAILY') {
    if (!parts.every((k) => k === 'BYDAY' || timeOfDay(k))) return undefined;
    if (rule.parts.BYDAY?.some((d) => /\d/.test(d)) === true) return undefined;
    if (rule.freq === 'WEEKLY') return rule.interval * 7 * DAY;
    // a day rule with weekdays repeats when both the interval and the week come round
    const days = parts.includes('BYDAY') ? lcm(rule.interval, 7) : rule.interval;
    return days * DAY;
  }
  return undefined;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number): number => (a / gcd(a, b)) * b;

/** RFC 4791 §7.10 with X-MICROSOFT-CDO-BUSYSTATUS first; undefined is free. */
function busyType(ev: ICAL.Component): BusyPeriod['type'] | undefined {
  if ((firstText(ev, 'status') ?? '').toUpperCase() === 'CANCELLED') return undefined;
  const cdo = (firstText(ev, 'x-microsoft-cdo-busystatus') ?? '').toUpperCase();
  // WORKINGELSEWHERE: at work and reachable; MergedFreeBusy has no digit for it, so free
  if (cdo === 'FREE' || cdo === 'WORKINGELSEWHERE') return undefined;
  if (cdo === 'OOF') return 'oof';
  if (cdo === 'TENTATIVE') return 'tentative';
  if (cdo === 'BUSY') return 'busy';
  if ((firstText(ev, 'transp') ?? '').toUpperCase() === 'TRANSPARENT') return undefined;
  return (firstText(ev, 'status') ?? '').toUpperCase() === 'TENTATIVE' ? 'tentative' : 'busy';
}

interface Span {
  start: number;
  end: number;
}

/** DTSTART and the length of one VEVENT (DTEND, else DURATION, else a day for a date, RFC 5545 3.6.1). */
function spanOf(
  ctx: ReturnType<typeof timeContext>,
  ev: ICAL.Component,
): { start: ReturnType<typeof readTime>; length: number } | undefined {
  const dtstart = ev.getFirstProperty('dtstart');
  const start = dtstart === null ? undefined : readTime(ctx, dtstart);
  if (start === undefined) return undefined;
  const dtend = ev.getFirstProperty('dtend');
  const end = dtend === null ? undefined : readTime(ctx, dtend);
  if (end !== undefined) return { start, length: Math.max(0, end.utc - start.utc) };
  const duration = ev.getFirstPropertyValue('duration');
  if (duration instanceof ICAL.Duration) return { start, length: duration.toSeconds() * 1000 };
  return { start, length: start.date ? DAY : 0 };
}

const overlaps = (s: Span, from: number, to: number): boolean =>
  s.end > from && s.start < to && s.end > s.start;

/**
 * The busy periods of one calendar object (every VEVENT of it) that overlap [from, to), cut to
 * the window. `timeZone` reads floating times and all-day dates (default UTC).
 */
export function busyPeriods(
  text: string,
  from: Date,
  to: Date,
  opts: { timeZone?: string } = {},
): BusyPeriod[] {
  const cal = parseCalendar(text);
  try {
    return busyOf(cal, from, to, opts);
  } catch (err) {
    if (err instanceof IcalendarError) throw err;
    // ical.js throws plain Errors for rules it cannot expand (FREQ=MONTHLY;BYDAY=+9MO): the
    // object is unreadable, which its callers skip, rather than a failure of the whole answer
    throw new IcalendarError(`calendar object not expandable: ${(err as Error).message}`, { cause: err });
  }
}

function busyOf(cal: ICAL.Component, from: Date, to: Date, opts: { timeZone?: string }): BusyPeriod[] {
  const ctx = timeContext(
    cal,
    { ...(opts.timeZone !== undefined && { timeZone: opts.timeZone }) },
    () => undefined,
  );
  const lo = from.getTime();
  const hi = to.getTime();
  const out: BusyPeriod[] = [];
  const add = (s: Span, type: BusyPeriod['type'] | undefined): void => {
    if (type !== undefined && overlaps(s, lo, hi))
      out.push({ start: new Date(Math.max(s.start, lo)), end: new Date(Math.min(s.end, hi)), type });
  };

  const events = cal.getAllSubcomponents('vevent');
  const byUid = new Map<string, ICAL.Component[]>();
  for (const ev of events) {
    const uid = firstText(ev, 'uid') ?? '';
    byUid.set(uid, [...(byUid.get(uid) ?? []), ev]);
  }
  for (const group of byUid.values()) {
    const master = group.find((e) => !e.hasProperty('recurrence-id'));
    // overrides by the instant they replace (RFC 5545 3.8.4.4)
    const overridden = new Set<number>();
    for (const o of group) {
      const rid = o.getFirstProperty('recurrence-id');
      if (rid === null || o === master) continue;
      const at = readTime(ctx, rid);
      if (at !== undefined) overridden.add(at.utc);
      const span = spanOf(ctx, o);
      if (span?.start !== undefined)
        add({ start: span.start.utc, end: span.start.utc + span.length }, busyType(o));
    }
    if (master === undefined) continue;
    const span = spanOf(ctx, master);
    if (span?.start === undefined) continue;
    const type = busyType(master);
    if (type === undefined) continue;
    const { start, length } = span;
    const excluded = new Set<number>(overridden);
    for (const p of master.getAllProperties('exdate'))
      for (const v of readTimes(ctx, p, start.zone)) excluded.add(v.utc);
    const starts = new Set<number>([start.utc]);
    for (const p of master.getAllProperties('rdate'))
      if (param(p, 'value')?.toUpperCase() !== 'PERIOD')
        for (const v of readTimes(ctx, p, start.zone)) starts.add(v.utc);
    const rule = master.getFirstPropertyValue('rrule');
    if (rule instanceof ICAL.Recur) {
      // walk in wall time (DST keeps the local hour); UNTIL is an instant (RFC 5545 3.3.10), so
      // it is checked here rather than by ical.js against floating times
      const r = rule.clone();
      const u = r.until;
      const until =
        u === null
          ? undefined
          : u.isDate
            ? fromWall(start.zone, Date.UTC(u.year, u.month - 1, u.day) + DAY - 1)
            : u.zone === ICAL.Timezone.utcTimezone || rule.until?.toString().endsWith('Z')
              ? Date.UTC(u.year, u.month - 1, u.day, u.hour, u.minute, u.second)
              : fromWall(start.zone, Date.UTC(u.year, u.month - 1, u.day, u.hour, u.minute, u.second));
      r.until = null;
      // a series that repeats itself is walked from its last anchor well before the window
      // (a day for the zone's offset), so years of earlier occurrences cost nothing; the anchor
      // itself, an occurrence or not, ends before the window
      let anchor = start.wall;
      const every = period(rule);
      const behind = lo - length - 2 * DAY - start.wall;
      if (every !== undefined && behind > 0) anchor += Math.floor(behind / every) * every;
      const w = new Date(anchor);
      const first = ICAL.Time.fromData({
        year: w.getUTCFullYear(),
        month: w.getUTCMonth() + 1,
        day: w.getUTCDate(),
        hour: w.getUTCHours(),
        minute: w.getUTCMinutes(),
        second: w.getUTCSeconds(),
        isDate: start.date,
      });
      const it = r.iterator(first);
      // only occurrences that reach into the window count against maxOccurrences
      for (let n = 0, shown = 0; n < maxWalk && shown < maxOccurrences; n++) {
        const t = it.next();
        if (t === null || t === undefined) break;
        const wall: WallMs = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
        const at = fromWall(start.zone, wall);
        if (until !== undefined && at > until) break;
        if (at >= hi) break;
        if (at + length > lo) {
          starts.add(at);
          shown++;
        }
      }
    }
    for (const at of starts) if (!excluded.has(at)) add({ start: at, end: at + length }, type);
  }
  return out;
}
