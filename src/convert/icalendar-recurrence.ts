// RRULE (RFC 5545 3.3.10, 3.8.5.3) ↔ Recurrence (MS-ASCAL 2.2.2.38, MS-ASTASK 2.2.2.18).
//
// EAS has six patterns: Type 0 daily, 1 weekly (DayOfWeek), 2 monthly on DayOfMonth, 3 monthly on
// the WeekOfMonth-th DayOfWeek (5 = last), 5 yearly on MonthOfYear/DayOfMonth, 6 yearly on the
// WeekOfMonth-th DayOfWeek of MonthOfYear; plus Interval, Occurrences or Until, FirstDayOfWeek.
// DayOfWeek is a bit mask (1 Sunday … 64 Saturday); several days with a WeekOfMonth mean "the
// n-th of these days" (62 = weekday, 65 = weekend day, 127 = day), which is BYDAY + BYSETPOS.
//
// A rule outside these patterns (HOURLY, BYMONTH lists, several BYSETPOS, BYYEARDAY, BYWEEKNO,
// "5th Monday" …) is not approximated: `rruleToRecurrence` says why it cannot be expressed and
// the caller keeps the event as a single occurrence (and keeps the rule when writing back).
import type { Recurrence } from '../backend/model.js';
import { toArray } from './icalendar-common.js';

const DAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'] as const;

/** MS-ASCAL 2.2.2.20 DayOfWeek: 1 Sunday, 2 Monday … 64 Saturday. */
export function dayBit(weekday: number): number {
  return 1 << weekday;
}

export function daysOfMask(mask: number): string[] {
  return DAYS.filter((_, i) => (mask & (1 << i)) !== 0);
}

/** The first day of the week: MS-ASCAL 2.2.2.22 FirstDayOfWeek (0 Sunday … 6 Saturday) ↔ WKST. */
function wkstOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v >= 1 && v <= 7 ? v - 1 : undefined; // ical.js: 1 = SU
  if (typeof v === 'string') {
    const i = DAYS.indexOf(v.toUpperCase() as (typeof DAYS)[number]);
    return i < 0 ? undefined : i;
  }
  return undefined;
}

/** The local facts of DTSTART the rule defaults to (RFC 5545 3.3.10: missing BYxxx come from DTSTART). */
export interface RuleStart {
  weekday: number;
  day: number;
  month: number;
  /** DTSTART's time of day, which a BYHOUR/BYMINUTE/BYSECOND may repeat; unknown: any such part is refused. */
  hour?: number;
  minute?: number;
  second?: number;
}

/** The RuleStart of a wall-clock time (or a date's midnight). */
export function ruleStartOf(wall: number): RuleStart {
  const d = new Date(wall);
  return {
    weekday: d.getUTCDay(),
    day: d.getUTCDate(),
    month: d.getUTCMonth() + 1,
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

export type RecurrenceResult = { recurrence: Recurrence } | { reason: string };

interface ByDay {
  ordinal: number | undefined;
  weekday: number;
}

function parseByDay(v: unknown): ByDay | undefined {
  const m = /^([+-]?\d{1,2})?(SU|MO|TU|WE|TH|FR|SA)$/i.exec(String(v));
  if (m === null) return undefined;
  return {
    ordinal: m[1] === undefined ? undefined : Number(m[1]),
    weekday: DAYS.indexOf(m[2]!.toUpperCase() as (typeof DAYS)[number]),
  };
}

function numbers(v: unknown): number[] {
  return toArray(v).map(Number);
}

/**
 * A jCal recur value → Recurrence. `until` turns the UNTIL value into the EAS instant (the caller
 * knows the zone and whether the event is all-day).
 */
export function rruleToRecurrence(
  rule: Record<string, unknown>,
  start: RuleStart,
  until: (value: string) => Date | undefined,
): RecurrenceResult {
  const freq = String(rule.freq ?? '').toUpperCase();
  const byday = toArray(rule.byday).map(parseByDay);
  if (byday.some((d) => d === undefined)) return { reason: `BYDAY=${toArray(rule.byday).join(',')}` };
  const days = byday as ByDay[];
  const bymonthday = numbers(rule.bymonthday);
  const bymonth = numbers(rule.bymonth);
  const bysetpos = numbers(rule.bysetpos);
  for (const part of ['byyearday', 'byweekno'] as const) {
    if (toArray(rule[part]).length > 0) return { reason: `${part.toUpperCase()} has no EAS equivalent` };
  }
  // MS-OXCICAL 2.1.3.2.2: the recurrence templates take one BYHOUR and one BYMINUTE value — DTSTART's
  // own time, to which RFC 5545 3.3.10 defaults anyway; any other time of day has no EAS pattern.
  for (const [part, at] of [
    ['byhour', start.hour],
    ['byminute', start.minute],
    ['bysecond', start.second],
  ] as const) {
    const values = numbers(rule[part]);
    if (values.length > 0 && (values.length > 1 || values[0] !== at))
      return { reason: `${part.toUpperCase()}=${values.join(',')} has no EAS equivalent` };
  }
  if (bysetpos.length > 1) return { reason: 'several BYSETPOS values' };
  if (bymonth.length > 1) return { reason: 'several BYMONTH values' };
  if (bymonthday.length > 1) return { reason: 'several BYMONTHDAY values' };

  const plainDays = days.every((d) => d.ordinal === undefined);
  const mask = days.reduce((m, d) => m | dayBit(d.weekday), 0);
  const interval = rule.interval === undefined ? undefined : Number(rule.interval);
  const r: Partial<Recurrence> = {};

  /** The "n-th of these days in the month" part shared by Types 3 and 6, or a reason it is not one. */
  const nth = (): { WeekOfMonth: number; DayOfWeek: number } | string => {
    if (bymonthday.length === 1) {
      if (bymonthday[0] === -1 && days.length === 0 && bysetpos.length === 0)
        return { WeekOfMonth: 5, DayOfWeek: 127 };
      return 'BYMONTHDAY with BYDAY';
    }
    if (days.length === 1 && bysetpos.length === 0) {
      const o = days[0]!.ordinal;
      if (o === undefined) return 'every such weekday of the month';
      if ((o >= 1 && o <= 4) || o === -1)
        return { WeekOfMonth: o === -1 ? 5 : o, DayOfWeek: dayBit(days[0]!.weekday) };
      return `BYDAY=${o}${DAYS[days[0]!.weekday]}`;
    }
    if (days.length >= 1 && plainDays && bysetpos.length === 1) {
      const p = bysetpos[0]!;
      if ((p >= 1 && p <= 4) || p === -1) return { WeekOfMonth: p === -1 ? 5 : p, DayOfWeek: mask };
      return `BYSETPOS=${p}`;
    }
    return `BYDAY=${toArray(rule.byday).join(',')}`;
  };

  switch (freq) {
    case 'DAILY':
      if (bymonth.length || bymonthday.length || bysetpos.length || !plainDays)
        return { reason: 'DAILY with BYMONTH/BYMONTHDAY/BYSETPOS' };
      if (days.length > 0 && (interval ?? 1) === 1) {
        // Every day that is one of these weekdays is the weekly pattern on those days.
        Object.assign(r, { Type: 1, DayOfWeek: mask });
      } else {
        Object.assign(r, { Type: 0, ...(days.length > 0 ? { DayOfWeek: mask } : {}) });
      }
      break;
    case 'WEEKLY':
      if (bymonth.length || bymonthday.length || bysetpos.length || !plainDays)
        return { reason: 'WEEKLY with BYMONTH/BYMONTHDAY/BYSETPOS' };
      Object.assign(r, { Type: 1, DayOfWeek: days.length > 0 ? mask : dayBit(start.weekday) });
      break;
    case 'MONTHLY': {
      if (bymonth.length) return { reason: 'MONTHLY with BYMONTH' };
      if (days.length === 0 && bysetpos.length === 0) {
        const d = bymonthday[0] ?? start.day;
        if (d === -1) Object.assign(r, { Type: 3, WeekOfMonth: 5, DayOfWeek: 127 });
        else if (d >= 1 && d <= 31) Object.assign(r, { Type: 2, DayOfMonth: d });
        else return { reason: `BYMONTHDAY=${d}` };
        break;
      }
      if (plainDays && bysetpos.length === 0 && bymonthday.length === 0 && (interval ?? 1) === 1) {
        // Every Monday of every month is every Monday.
        Object.assign(r, { Type: 1, DayOfWeek: mask });
        break;
      }
      const n = nth();
      if (typeof n === 'string') return { reason: n };
      Object.assign(r, { Type: 3, ...n });
      break;
    }
    case 'YEARLY': {
      const month = bymonth[0] ?? start.month;
      if (days.length === 0 && bysetpos.length === 0 && (bymonthday[0] ?? 1) > 0) {
        Object.assign(r, { Type: 5, MonthOfYear: month, DayOfMonth: bymonthday[0] ?? start.day });
        break;
      }
      // Without BYMONTH, "1MO" in a year is the first Monday of the year, not of DTSTART's month.
      if (bymonth.length === 0) return { reason: 'YEARLY BYDAY without BYMONTH' };
      const n = nth();
      if (typeof n === 'string') return { reason: n };
      Object.assign(r, { Type: 6, MonthOfYear: month, ...n });
      break;
    }
    default:
      return { reason: `FREQ=${freq || '(none)'}` };
  }
  if (interval !== undefined && Number.isInteger(interval) && interval >= 1) r.Interval = interval;
  if (rule.count !== undefined) r.Occurrences = Number(rule.count);
  else if (typeof rule.until === 'string') {
    const u = until(rule.until);
    if (u !== undefined) r.Until = u;
  }
  const wkst = wkstOf(rule.wkst);
  if (wkst !== undefined) r.FirstDayOfWeek = wkst;
  return { recurrence: r as Recurrence };
}

/**
 * Recurrence → jCal recur value. Missing pattern fields default to DTSTART's (MS-ASCAL 2.2.2.38
 * requires them; phones sometimes leave them out). `until` formats the UNTIL value.
 */
export function recurrenceToRrule(
  rec: Recurrence,
  start: RuleStart,
  until: (instant: Date) => string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const dayParts = (week: number | undefined, mask: number | undefined): void => {
    const pos = (week ?? 1) >= 5 ? -1 : (week ?? 1);
    const m = mask !== undefined && mask > 0 ? mask : dayBit(start.weekday);
    if (m === 127 && pos === -1) {
      out.bymonthday = [-1];
      return;
    }
    const list = daysOfMask(m);
    if (list.length === 1) out.byday = [`${pos}${list[0]}`];
    else {
      out.byday = list;
      out.bysetpos = [pos];
    }
  };
  switch (rec.Type) {
    case 0:
      out.freq = 'DAILY';
      break;
    case 1:
      out.freq = 'WEEKLY';
      break;
    case 2:
    case 3:
      out.freq = 'MONTHLY';
      break;
    default:
      out.freq = 'YEARLY';
  }
  if (rec.Interval !== undefined) out.interval = rec.Interval;
  if (rec.Occurrences !== undefined) out.count = rec.Occurrences;
  else if (rec.Until !== undefined) out.until = until(rec.Until);
  switch (rec.Type) {
    case 0:
      if (rec.DayOfWeek !== undefined && rec.DayOfWeek > 0 && rec.DayOfWeek < 127)
        out.byday = daysOfMask(rec.DayOfWeek);
      break;
    case 1:
      out.byday = daysOfMask(
        rec.DayOfWeek !== undefined && rec.DayOfWeek > 0 ? rec.DayOfWeek : dayBit(start.weekday),
      );
      break;
    case 2:
      out.bymonthday = [rec.DayOfMonth ?? start.day];
      break;
    case 3:
      dayParts(rec.WeekOfMonth, rec.DayOfWeek);
      break;
    case 5:
      out.bymonth = [rec.MonthOfYear ?? start.month];
      out.bymonthday = [rec.DayOfMonth ?? start.day];
      break;
    case 6:
      out.bymonth = [rec.MonthOfYear ?? start.month];
      dayParts(rec.WeekOfMonth, rec.DayOfWeek);
      break;
  }
  if (rec.FirstDayOfWeek !== undefined && rec.FirstDayOfWeek >= 0 && rec.FirstDayOfWeek <= 6)
    out.wkst = DAYS[rec.FirstDayOfWeek];
  return out;
}
