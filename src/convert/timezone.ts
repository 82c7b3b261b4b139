// Time zones between EAS and iCalendar. EAS describes a zone by one TIME_ZONE_INFORMATION
// (MS-ASDTYPE 2.7, MS-ASCAL 2.2.2.39 Timezone): a bias and one pair of yearly transition rules,
// with no history. iCalendar names it by TZID and describes it with a VTIMEZONE (RFC 5545
// 3.6.5); CalDAV servers and clients use IANA names, Outlook uses Windows ids. This module reads
// and writes the blob, evaluates any of these descriptions as offsets, and converts between
// them: IANA/Windows zone → blob with the rules of one year, blob → the IANA zone with the same
// rules, or a VTIMEZONE synthesized from the blob when no zone has them. Pure: the only outside
// knowledge is the tz database of the JS engine (Intl).
import ICAL from 'ical.js';
import { ianaLinks, windowsZoneAliases, windowsZones } from './timezone-windows.js';

export { ianaLinks, windowsZoneAliases, windowsZones } from './timezone-windows.js';

// ---------------------------------------------------------------------------------------------
// The blob (MS-ASDTYPE 2.7.1)

/** MS-ASDTYPE 2.7.1: 4 + 64 + 16 + 4 + 64 + 16 + 4 bytes. */
export const TIME_ZONE_INFORMATION_SIZE = 172;

/**
 * MS-ASDTYPE 2.7.1 SYSTEMTIME, in the "day-of-week occurrence" form when `wYear` is 0: the
 * transition happens on the `wDay`-th (1–4, 5 = last) `wDayOfWeek` (0 = Sunday) of `wMonth`, at
 * `wHour:wMinute` local time as it is *before* the transition. `wMonth` 0 means "no DST".
 * A non-zero `wYear` makes it an absolute date (`wDay` = day of month) valid for that year only.
 */
export interface SystemTime {
  wYear: number;
  wMonth: number;
  wDayOfWeek: number;
  wDay: number;
  wHour: number;
  wMinute: number;
  wSecond: number;
  wMilliseconds: number;
}

/** MS-ASDTYPE 2.7.1 TIME_ZONE_INFORMATION. UTC = local time + Bias (+ StandardBias or DaylightBias), in minutes. */
export interface TimeZoneInformation {
  Bias: number;
  /** At most 31 characters (32 WCHAR with the terminating NUL). */
  StandardName: string;
  StandardDate: SystemTime;
  StandardBias: number;
  DaylightName: string;
  DaylightDate: SystemTime;
  DaylightBias: number;
}

const NAME_CHARS = 32;

export function emptySystemTime(): SystemTime {
  return { wYear: 0, wMonth: 0, wDayOfWeek: 0, wDay: 0, wHour: 0, wMinute: 0, wSecond: 0, wMilliseconds: 0 };
}

/** Reads the 172 bytes of the model's `TimeZone` (MS-ASDTYPE 2.7.1, little-endian). */
export function decodeTimeZone(bytes: Uint8Array): TimeZoneInformation {
  if (bytes.byteLength !== TIME_ZONE_INFORMATION_SIZE) {
    throw new RangeError(
      `TIME_ZONE_INFORMATION must be ${TIME_ZONE_INFORMATION_SIZE} bytes, not ${bytes.byteLength}`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const name = (at: number): string => {
    let s = '';
    for (let i = 0; i < NAME_CHARS; i++) {
      const c = v.getUint16(at + 2 * i, true);
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  };
  const systemTime = (at: number): SystemTime => ({
    wYear: v.getUint16(at, true),
    wMonth: v.getUint16(at + 2, true),
    wDayOfWeek: v.getUint16(at + 4, true),
    wDay: v.getUint16(at + 6, true),
    wHour: v.getUint16(at + 8, true),
    wMinute: v.getUint16(at + 10, true),
    wSecond: v.getUint16(at + 12, true),
    wMilliseconds: v.getUint16(at + 14, true),
  });
  return {
    Bias: v.getInt32(0, true),
    StandardName: name(4),
    StandardDate: systemTime(68),
    StandardBias: v.getInt32(84, true),
    DaylightName: name(88),
    DaylightDate: systemTime(152),
    DaylightBias: v.getInt32(168, true),
  };
}

/** Writes a TIME_ZONE_INFORMATION as the model's 172 bytes; names longer than 31 characters are cut. */
export function encodeTimeZone(tzi: TimeZoneInformation): Uint8Array {
  const bytes = new Uint8Array(TIME_ZONE_INFORMATION_SIZE);
  const v = new DataView(bytes.buffer);
  const name = (at: number, s: string): void => {
    const n = Math.min(s.length, NAME_CHARS - 1);
    for (let i = 0; i < n; i++) v.setUint16(at + 2 * i, s.charCodeAt(i), true);
  };
  const systemTime = (at: number, t: SystemTime): void => {
    [t.wYear, t.wMonth, t.wDayOfWeek, t.wDay, t.wHour, t.wMinute, t.wSecond, t.wMilliseconds].forEach(
      (x, i) => v.setUint16(at + 2 * i, x, true),
    );
  };
  v.setInt32(0, tzi.Bias, true);
  name(4, tzi.StandardName);
  systemTime(68, tzi.StandardDate);
  v.setInt32(84, tzi.StandardBias, true);
  name(88, tzi.DaylightName);
  systemTime(152, tzi.DaylightDate);
  v.setInt32(168, tzi.DaylightBias, true);
  return bytes;
}

/** MS-ASCAL 2.2.2.39: the wire form of Timezone is the base64 of the blob. */
export function timeZoneToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

export function timeZoneFromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Whether the blob has a DST period (MS-ASDTYPE 2.7.1: StandardDate.wMonth 0 means none). */
export function hasDaylightTime(tzi: TimeZoneInformation): boolean {
  return (
    tzi.StandardDate.wMonth !== 0 && tzi.DaylightDate.wMonth !== 0 && tzi.DaylightBias !== tzi.StandardBias
  );
}

// ---------------------------------------------------------------------------------------------
// Zones as offset functions

/** A time zone, evaluated: how far local time is ahead of UTC at an instant. */
export interface ZoneRules {
  /** The TZID to write for it. */
  readonly id: string;
  /** Minutes local time is ahead of UTC at `utcMs` (Berlin in winter: 60; New York: -300). */
  offsetAt(utcMs: number): number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Wall-clock time as milliseconds "as if UTC": Date.UTC(y, m - 1, d, h, mi, s). */
export type WallMs = number;

export function toWall(zone: ZoneRules, utcMs: number): WallMs {
  return utcMs + zone.offsetAt(utcMs) * MINUTE;
}

/**
 * The instant a wall-clock time names in `zone`. RFC 5545 3.3.5: a time in a gap (spring forward)
 * is read with the offset before the gap; a time that occurs twice (fall back) is the first one.
 */
export function fromWall(zone: ZoneRules, wall: WallMs): number {
  const before = zone.offsetAt(wall - 1.5 * DAY);
  const after = zone.offsetAt(wall + 1.5 * DAY);
  const fits = [before, after]
    .map((o) => wall - o * MINUTE)
    .filter((u) => toWall(zone, u) === wall)
    .sort((a, b) => a - b);
  return fits[0] ?? wall - before * MINUTE;
}

export const utcZone: ZoneRules = { id: 'UTC', offsetAt: () => 0 };

/** A zone with one fixed offset (minutes east of UTC). */
export function fixedZone(offsetMinutes: number, id = formatOffsetId(offsetMinutes)): ZoneRules {
  return { id, offsetAt: () => offsetMinutes };
}

function formatOffsetId(minutes: number): string {
  const a = Math.abs(minutes);
  return `UTC${minutes < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}${String(a % 60).padStart(2, '0')}`;
}

const formatters = new Map<string, Intl.DateTimeFormat | null>();

function formatterFor(name: string): Intl.DateTimeFormat | null {
  let f = formatters.get(name);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: name,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
        era: 'short',
      });
    } catch {
      f = null;
    }
    formatters.set(name, f);
  }
  return f;
}

const IANA_SHAPE = /^[A-Za-z][A-Za-z0-9_+\-]*(\/[A-Za-z0-9_+\-]+)*$/;

/** Whether the engine's tz database knows `name` (an IANA zone or link). */
export function isIanaZone(name: string): boolean {
  return IANA_SHAPE.test(name) && formatterFor(name) !== null;
}

const ianaZones = new Map<string, ZoneRules>();

/** An IANA zone evaluated through the engine's tz database (Intl); undefined if unknown. */
export function ianaZone(name: string): ZoneRules | undefined {
  const known = ianaZones.get(name);
  if (known !== undefined) return known;
  if (!IANA_SHAPE.test(name)) return undefined;
  const f = formatterFor(name);
  if (f === null) return undefined;
  const cache = new Map<number, number>();
  const zone: ZoneRules = {
    id: name,
    offsetAt(utcMs) {
      const second = Math.floor(utcMs / 1000) * 1000;
      const hit = cache.get(second);
      if (hit !== undefined) return hit;
      const p: Record<string, string> = {};
      for (const part of f.formatToParts(second)) p[part.type] = part.value;
      let year = Number(p.year);
      if (p.era === 'BC' || p.era === 'B') year = 1 - year;
      const wall = Date.UTC(
        year,
        Number(p.month) - 1,
        Number(p.day),
        Number(p.hour),
        Number(p.minute),
        Number(p.second),
      );
      const offset = Math.round((wall - second) / MINUTE);
      if (cache.size > 4096) cache.clear();
      cache.set(second, offset);
      return offset;
    },
  };
  ianaZones.set(name, zone);
  return zone;
}

/** The UTC instant of a SYSTEMTIME rule in `year`, read with the offset in force before it. */
function ruleInstant(st: SystemTime, year: number, offsetBefore: number): number | undefined {
  if (st.wMonth < 1 || st.wMonth > 12) return undefined;
  let day: number;
  if (st.wYear !== 0) {
    if (st.wYear !== year) return undefined;
    day = st.wDay;
  } else {
    day = nthWeekdayOfMonth(year, st.wMonth, st.wDayOfWeek % 7, Math.min(Math.max(st.wDay, 1), 5));
  }
  const wall = Date.UTC(year, st.wMonth - 1, day, st.wHour, st.wMinute, st.wSecond, st.wMilliseconds);
  return wall - offsetBefore * MINUTE;
}

/** Day of month of the `n`-th (5 = last) `weekday` (0 = Sunday) of a month. */
export function nthWeekdayOfMonth(year: number, month: number, weekday: number, n: number): number {
  const first = new Date(Date.UTC(year, month - 1, 1)).getUTCDay();
  const dim = daysInMonth(year, month);
  let day = 1 + ((weekday - first + 7) % 7) + (n - 1) * 7;
  while (day > dim) day -= 7;
  return day;
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The zone a TIME_ZONE_INFORMATION describes, its rules repeated every year (MS-ASDTYPE 2.7.1). */
export function timeZoneInformationZone(tzi: TimeZoneInformation, id = syntheticTzid(tzi)): ZoneRules {
  const std = -(tzi.Bias + tzi.StandardBias);
  const dst = -(tzi.Bias + tzi.DaylightBias);
  if (!hasDaylightTime(tzi)) return { id, offsetAt: () => std };
  return {
    id,
    offsetAt(utcMs) {
      const year = new Date(utcMs).getUTCFullYear();
      // Look at the neighbouring years too: near New Year local and UTC years differ.
      for (const y of [year + 1, year, year - 1]) {
        const start = ruleInstant(tzi.DaylightDate, y, std);
        const end = ruleInstant(tzi.StandardDate, y, dst);
        if (start === undefined || end === undefined) continue;
        if (start < end) {
          if (utcMs >= end) return std;
          if (utcMs >= start) return dst;
        } else {
          // Southern hemisphere: DST runs from `start` across New Year to `end` of the next year.
          if (utcMs >= start) return dst;
          if (utcMs >= end) return std;
        }
      }
      return tzi.DaylightDate.wYear !== 0 ? std : dst;
    },
  };
}

/**
 * A stable TZID for a blob no IANA zone matches, shaped like a POSIX TZ rule so a reader sees
 * what it means: "EAS/UTC+0100/M3.5.0T0200/M10.5.0T0300".
 */
export function syntheticTzid(tzi: TimeZoneInformation): string {
  const base = `EAS/${formatOffsetId(-(tzi.Bias + tzi.StandardBias))}`;
  if (!hasDaylightTime(tzi)) return base;
  const rule = (s: SystemTime): string =>
    (s.wYear !== 0 ? `Y${s.wYear}M${s.wMonth}D${s.wDay}` : `M${s.wMonth}.${s.wDay}.${s.wDayOfWeek}`) +
    `T${String(s.wHour).padStart(2, '0')}${String(s.wMinute).padStart(2, '0')}`;
  return `${base}/DST${-(tzi.DaylightBias - tzi.StandardBias)}/${rule(tzi.DaylightDate)}/${rule(tzi.StandardDate)}`;
}

// ---------------------------------------------------------------------------------------------
// Transitions, scanned from any zone

/** One change of offset: at `utc`, local time goes from `from` to `to` minutes ahead of UTC. */
export interface Transition {
  utc: number;
  from: number;
  to: number;
}

const transitionCache = new WeakMap<ZoneRules, Map<number, Transition[]>>();

/** The offset changes of `zone` during the UTC calendar year `year`, in order. */
export function transitionsIn(zone: ZoneRules, year: number): Transition[] {
  let byYear = transitionCache.get(zone);
  if (byYear === undefined) {
    byYear = new Map();
    transitionCache.set(zone, byYear);
  }
  const hit = byYear.get(year);
  if (hit !== undefined) return hit;
  const out: Transition[] = [];
  const start = Date.UTC(year, 0, 1);
  const end = Date.UTC(year + 1, 0, 1);
  // Daily samples, then bisection to the second: no zone changes its offset twice in a day.
  let t0 = start;
  let o0 = zone.offsetAt(t0);
  while (t0 < end) {
    const t1 = Math.min(t0 + DAY, end);
    const o1 = zone.offsetAt(t1);
    if (o1 !== o0) {
      let lo = t0;
      let hi = t1;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (zone.offsetAt(mid) === o0) lo = mid;
        else hi = mid;
      }
      if (hi < end) out.push({ utc: hi, from: o0, to: zone.offsetAt(hi) });
    }
    t0 = t1;
    o0 = o1;
  }
  byYear.set(year, out);
  return out;
}

/** The wall-clock fields of an instant, in the offset given. */
function wallParts(
  utcMs: number,
  offset: number,
): { y: number; m: number; d: number; wd: number; h: number; mi: number; s: number } {
  const w = new Date(utcMs + offset * MINUTE);
  return {
    y: w.getUTCFullYear(),
    m: w.getUTCMonth() + 1,
    d: w.getUTCDate(),
    wd: w.getUTCDay(),
    h: w.getUTCHours(),
    mi: w.getUTCMinutes(),
    s: w.getUTCSeconds(),
  };
}

/** Which "n-th weekday" descriptions (1–4, 5 = last) fit a transition's local date. */
function occurrences(t: Transition): number[] {
  const p = wallParts(t.utc, t.from);
  const n = Math.ceil(p.d / 7);
  const last = p.d + 7 > daysInMonth(p.y, p.m);
  return last ? (n === 5 ? [5] : [n, 5]) : [n];
}

function systemTimeOf(t: Transition, occurrence: number): SystemTime {
  const p = wallParts(t.utc, t.from);
  return {
    wYear: 0,
    wMonth: p.m,
    wDayOfWeek: p.wd,
    wDay: occurrence,
    wHour: p.h,
    wMinute: p.mi,
    wSecond: p.s,
    wMilliseconds: 0,
  };
}

/**
 * The DST pair of a year: the change into daylight time and the one back, when the year has
 * exactly these two (any other pattern — none, a one-off change of standard offset — is "no DST").
 */
function dstPair(list: Transition[]): { on: Transition; off: Transition } | undefined {
  if (list.length !== 2) return undefined;
  const [a, b] = list as [Transition, Transition];
  if (a.from !== b.to || a.to !== b.from) return undefined;
  return a.to > a.from ? { on: a, off: b } : { on: b, off: a };
}

/** Chooses "n-th" or "last" for a transition by looking at the same change in later years. */
function occurrenceFor(
  zone: ZoneRules,
  year: number,
  pick: (p: { on: Transition; off: Transition }) => Transition,
): number {
  const t = pick(dstPair(transitionsIn(zone, year))!);
  const options = occurrences(t);
  if (options.length === 1) return options[0]!;
  for (let y = year + 1; y <= year + 6; y++) {
    const pair = dstPair(transitionsIn(zone, y));
    if (pair === undefined) break;
    const other = pick(pair);
    const a = wallParts(t.utc, t.from);
    const b = wallParts(other.utc, other.from);
    if (a.m !== b.m || a.wd !== b.wd) break;
    const fits = occurrences(other);
    if (!fits.includes(5)) return options[0]!;
    if (!fits.includes(options[0]!)) return 5;
  }
  return 5;
}

export interface TimeZoneNames {
  StandardName: string;
  DaylightName: string;
}

/**
 * The TIME_ZONE_INFORMATION for `zone` with the rules it has in `year` (default: this year). The
 * rules of one year are all the format can hold (MS-ASDTYPE 2.7.1). Names default to the Windows
 * names of the zone (`windowsNamesFor`).
 */
export function timeZoneInformationFor(
  zone: ZoneRules,
  options: { year?: number; names?: TimeZoneNames } = {},
): TimeZoneInformation {
  const year = options.year ?? new Date().getUTCFullYear();
  const names = options.names ?? windowsNamesFor(zone.id) ?? { StandardName: zone.id, DaylightName: zone.id };
  const pair = dstPair(transitionsIn(zone, year));
  if (pair === undefined) {
    return {
      Bias: -zone.offsetAt(Date.UTC(year + 1, 0, 1) - 1),
      StandardName: names.StandardName,
      StandardDate: emptySystemTime(),
      StandardBias: 0,
      DaylightName: names.DaylightName,
      DaylightDate: emptySystemTime(),
      DaylightBias: 0,
    };
  }
  const std = pair.on.from;
  return {
    Bias: -std,
    StandardName: names.StandardName,
    StandardDate: systemTimeOf(
      pair.off,
      occurrenceFor(zone, year, (p) => p.off),
    ),
    StandardBias: 0,
    DaylightName: names.DaylightName,
    DaylightDate: systemTimeOf(
      pair.on,
      occurrenceFor(zone, year, (p) => p.on),
    ),
    DaylightBias: -(pair.on.to - std),
  };
}

/** `timeZoneInformationFor` of an IANA or Windows zone name, as the model's bytes; undefined if unknown. */
export function timeZoneForTzid(tzid: string, options: { year?: number } = {}): Uint8Array | undefined {
  const iana = resolveTzid(tzid);
  const zone = iana === undefined ? undefined : ianaZone(iana);
  if (zone === undefined) return undefined;
  const names = windowsZoneIds.has(tzid) ? windowsNames(tzid) : undefined;
  return encodeTimeZone(timeZoneInformationFor(zone, { ...options, ...(names ? { names } : {}) }));
}

// ---------------------------------------------------------------------------------------------
// Names: IANA ↔ Windows

const windowsZoneIds = new Map(windowsZones.map(([w, iana]) => [w, iana]));
const windowsByLowerId = new Map(windowsZones.map(([w, iana]) => [w.toLowerCase(), iana]));
const canonicalLinks = new Map(Object.entries(ianaLinks));

/** Windows registry names: StandardName is the id; DaylightName replaces "Standard" by "Daylight". */
export function windowsNames(windowsId: string): TimeZoneNames {
  if (windowsId === 'UTC')
    return { StandardName: 'Coordinated Universal Time', DaylightName: 'Coordinated Universal Time' };
  return {
    StandardName: windowsId,
    DaylightName: windowsId.includes('Standard Time')
      ? windowsId.replace('Standard Time', 'Daylight Time')
      : `${windowsId} Daylight Time`,
  };
}

/** The current name of an IANA zone given by an old one (Asia/Calcutta → Asia/Kolkata). */
export function canonicalIana(name: string): string {
  return canonicalLinks.get(name) ?? name;
}

/**
 * The Windows id for an IANA zone: CLDR's primary zones and aliases first, then any Windows zone
 * whose zone has the same rules this year.
 */
export function windowsZoneFor(iana: string, options: { year?: number } = {}): string | undefined {
  const name = canonicalIana(iana);
  for (const [w, z] of windowsZones) if (z === name) return w;
  const alias = windowsZoneAliases[name];
  if (alias !== undefined) return alias;
  const zone = ianaZone(iana);
  if (zone === undefined) return undefined;
  const year = options.year ?? new Date().getUTCFullYear();
  const key = `${iana}|${year}`;
  if (windowsByRules.has(key)) return windowsByRules.get(key) ?? undefined;
  const sample = offsetsSample(zone, year).join(',');
  const hit = windowsZones.find(([, z]) => {
    const other = ianaZone(z);
    return (
      other !== undefined &&
      offsetsSample(other, year).join(',') === sample &&
      sameTransitions(zone, other, [year, year + 1], 'instant')
    );
  });
  windowsByRules.set(key, hit?.[0] ?? null);
  return hit?.[0];
}

const windowsByRules = new Map<string, string | null>();

function windowsNamesFor(id: string): TimeZoneNames | undefined {
  if (windowsZoneIds.has(id)) return windowsNames(id);
  if (ianaZone(id) === undefined) return undefined;
  const w = windowsZoneFor(id);
  return w === undefined ? undefined : windowsNames(w);
}

/** The IANA zone of a Windows id (case-insensitive), per CLDR territory 001. */
export function ianaForWindows(windowsId: string): string | undefined {
  return windowsByLowerId.get(windowsId.trim().toLowerCase());
}

/**
 * The IANA zone a TZID names, if any: an IANA name or link ("Europe/Berlin", "US/Eastern"), a
 * Windows id ("W. Europe Standard Time"), a prefixed IANA name as some exporters write them
 * ("/mozilla.org/20070129_1/Europe/Berlin", "/freeassociation.sourceforge.net/Europe/Berlin"),
 * "Z"/"UTC"/"GMT", or Outlook's "tzone://Microsoft/Utc". The IANA name is returned as given
 * when the engine knows it.
 */
export function resolveTzid(tzid: string): string | undefined {
  const t = tzid.trim().replace(/^"(.*)"$/, '$1');
  if (t === '') return undefined;
  if (/^(z|utc|gmt|ut|tzone:\/\/microsoft\/utc)$/i.test(t)) return 'Etc/UTC';
  const windows = ianaForWindows(t);
  if (windows !== undefined) return windows;
  if (isIanaZone(t)) return t;
  const linked = canonicalLinks.get(t);
  if (linked !== undefined && isIanaZone(linked)) return linked;
  if (t.includes('/')) {
    const parts = t.split('/').filter((p) => p !== '');
    for (let n = Math.min(3, parts.length); n >= 1; n--) {
      const candidate = parts.slice(-n).join('/');
      if (n > 1 || /^[A-Z]/.test(candidate)) {
        if (isIanaZone(candidate) && !/^\d/.test(candidate)) return candidate;
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Blob → IANA zone

type MatchTier = 'instant' | 'date';

function sameTransitions(a: ZoneRules, b: ZoneRules, years: number[], tier: MatchTier): boolean {
  for (const y of years) {
    const ta = transitionsIn(a, y);
    const tb = transitionsIn(b, y);
    if (ta.length !== tb.length) return false;
    for (let i = 0; i < ta.length; i++) {
      const x = ta[i]!;
      const z = tb[i]!;
      if (x.from !== z.from || x.to !== z.to) return false;
      if (tier === 'instant' && x.utc !== z.utc) return false;
      if (tier === 'date') {
        const px = wallParts(x.utc, x.from);
        const pz = wallParts(z.utc, z.from);
        if (px.m !== pz.m || px.d !== pz.d) return false;
      }
    }
    if (ta.length === 0 && a.offsetAt(Date.UTC(y, 6, 1)) !== b.offsetAt(Date.UTC(y, 6, 1))) return false;
  }
  return true;
}

/** Offsets at the first of each month: a cheap test before scanning transitions. */
function offsetsSample(zone: ZoneRules, year: number): number[] {
  return Array.from({ length: 12 }, (_, m) => zone.offsetAt(Date.UTC(year, m, 1, 12)));
}

let allZones: readonly string[] | undefined;

function candidateZones(): readonly string[] {
  if (allZones === undefined) {
    const known =
      (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ??
      [];
    const seen = new Set<string>();
    const out: string[] = [];
    for (const z of [...windowsZones.map(([, iana]) => iana), ...known]) {
      const c = canonicalIana(z);
      if (!seen.has(c) && isIanaZone(c)) {
        seen.add(c);
        out.push(c);
      }
    }
    allZones = out;
  }
  return allZones;
}

export interface IanaMatch {
  /** The IANA zone (current name). */
  iana: string;
  /** The Windows id of that zone, when it has one. */
  windows?: string;
  /**
   * 'instant': every transition of this year and next falls at the same instant; 'year': only
   * this year's do; 'date': this year's and next fall on the same days, at other times of day.
   */
  exactness: 'instant' | 'year' | 'date';
  /** The names the blob carried, kept. */
  names: TimeZoneNames;
}

const matchCache = new Map<string, IanaMatch | null>();

/**
 * The IANA zone whose rules this year and next are the blob's (same offsets, transitions at the
 * same instants; failing that, this year only; failing that, on the same days). Zones named by the blob (a Windows id or an
 * IANA name as StandardName) are tried first, then CLDR's primary zone per Windows id in offset
 * order, then every zone the engine knows. Undefined when none has these rules (a phone with an
 * outdated tz database, a custom zone): use `vtimezoneFromTimeZoneInformation` then.
 */
export function matchIanaZone(
  tzi: TimeZoneInformation,
  options: { year?: number } = {},
): IanaMatch | undefined {
  const year = options.year ?? new Date().getUTCFullYear();
  const key = `${year}|${JSON.stringify(tzi)}`;
  const cached = matchCache.get(key);
  if (cached !== undefined) return cached ?? undefined;
  const blobZone = timeZoneInformationZone(tzi);
  const sample = offsetsSample(blobZone, year).join(',');
  const named = [tzi.StandardName, tzi.DaylightName]
    .map((n) => resolveTzid(n))
    .filter((z): z is string => z !== undefined)
    .map(canonicalIana);
  const candidates = [...named, ...candidateZones()].filter((z) => {
    const zone = ianaZone(z);
    return zone !== undefined && offsetsSample(zone, year).join(',') === sample;
  });
  let found: IanaMatch | undefined;
  const tiers: [IanaMatch['exactness'], MatchTier, number[]][] = [
    ['instant', 'instant', [year, year + 1]],
    // Zones whose rules move every year (Morocco, Ramadan) match only the year the blob was made for.
    ['year', 'instant', [year]],
    ['date', 'date', [year, year + 1]],
  ];
  for (const [exactness, tier, years] of tiers) {
    const hit = candidates.find((z) => sameTransitions(blobZone, ianaZone(z)!, years, tier));
    if (hit !== undefined) {
      const windows = windowsZoneFor(hit, { year });
      found = {
        iana: hit,
        ...(windows !== undefined ? { windows } : {}),
        exactness,
        names: { StandardName: tzi.StandardName, DaylightName: tzi.DaylightName },
      };
      break;
    }
  }
  if (matchCache.size > 1024) matchCache.clear();
  matchCache.set(key, found ?? null);
  return found;
}

/** Whether two blobs describe the same offsets this year and next (names and encodings aside). */
export function sameTimeZoneRules(
  a: TimeZoneInformation,
  b: TimeZoneInformation,
  options: { year?: number } = {},
): boolean {
  const year = options.year ?? new Date().getUTCFullYear();
  return sameTransitions(timeZoneInformationZone(a), timeZoneInformationZone(b), [year, year + 1], 'instant');
}

// ---------------------------------------------------------------------------------------------
// VTIMEZONE (RFC 5545 3.6.5)

const WEEKDAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'] as const;

function icalOffset(minutes: number): string {
  const a = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

function jcalLocal(wall: WallMs): string {
  return new Date(wall).toISOString().slice(0, 19);
}

function jcalUtc(utc: number): string {
  return `${new Date(utc).toISOString().slice(0, 19)}Z`;
}

type JCal = [string, unknown[], unknown[]];

function observance(
  kind: 'standard' | 'daylight',
  t: Transition,
  rrule: Record<string, unknown> | undefined,
  tzname: string | undefined,
): JCal {
  const props: unknown[] = [
    ['dtstart', {}, 'date-time', jcalLocal(t.utc + t.from * MINUTE)],
    ['tzoffsetfrom', {}, 'utc-offset', icalOffset(t.from)],
    ['tzoffsetto', {}, 'utc-offset', icalOffset(t.to)],
  ];
  if (rrule !== undefined) props.push(['rrule', {}, 'recur', rrule]);
  if (tzname !== undefined && tzname !== '') props.push(['tzname', {}, 'text', tzname]);
  return [kind, props, []];
}

/** A run of yearly transitions on the same "n-th weekday of a month" rule. */
interface Series {
  first: Transition;
  last: Transition;
  count: number;
  month: number;
  weekday: number;
  occurrence: number[];
  wallTime: number;
}

function seriesKey(t: Transition): { month: number; weekday: number; wallTime: number } {
  const p = wallParts(t.utc, t.from);
  return { month: p.m, weekday: p.wd, wallTime: p.h * 3600 + p.mi * 60 + p.s };
}

/**
 * A VTIMEZONE for `zone` from its actual transitions between two years: each run of yearly
 * changes on one weekday rule becomes an observance with an RRULE (open-ended when it runs to
 * the last year), isolated changes an observance with only DTSTART. Default years: 1970 to two
 * years from now.
 */
export function vtimezoneFor(
  zone: ZoneRules,
  options: { fromYear?: number; toYear?: number; tzid?: string; names?: TimeZoneNames } = {},
): ICAL.Component {
  const now = new Date().getUTCFullYear();
  const fromYear = options.fromYear ?? 1970;
  const toYear = Math.max(options.toYear ?? now + 2, fromYear);
  const all: Transition[] = [];
  for (let y = fromYear; y <= toYear; y++) all.push(...transitionsIn(zone, y));
  const props: unknown[] = [['tzid', {}, 'text', options.tzid ?? zone.id]];
  const comps: JCal[] = [];
  if (all.length === 0) {
    const off = zone.offsetAt(Date.UTC(fromYear, 0, 1));
    comps.push(
      observance(
        'standard',
        { utc: Date.UTC(fromYear, 0, 1) - off * MINUTE, from: off, to: off },
        undefined,
        options.names?.StandardName,
      ),
    );
  } else {
    const runs: Series[] = [];
    for (const t of all) {
      const k = seriesKey(t);
      const fits = occurrences(t);
      const year = wallParts(t.utc, t.from).y;
      const run = runs.find(
        (r) =>
          r.last.from === t.from &&
          r.last.to === t.to &&
          r.month === k.month &&
          r.weekday === k.weekday &&
          r.wallTime === k.wallTime &&
          wallParts(r.last.utc, r.last.from).y === year - 1 &&
          r.occurrence.some((o) => fits.includes(o)),
      );
      if (run !== undefined) {
        run.last = t;
        run.count++;
        run.occurrence = run.occurrence.filter((o) => fits.includes(o));
      } else {
        runs.push({ first: t, last: t, count: 1, ...k, occurrence: fits });
      }
    }
    const lastYear = toYear;
    for (const r of runs) {
      const kind = r.first.to > r.first.from ? 'daylight' : 'standard';
      const name = kind === 'daylight' ? options.names?.DaylightName : options.names?.StandardName;
      if (r.count === 1 && wallParts(r.last.utc, r.last.from).y !== lastYear) {
        comps.push(observance(kind, r.first, undefined, name));
        continue;
      }
      const occ = r.occurrence.includes(5) ? -1 : (r.occurrence[0] ?? 1);
      const rrule: Record<string, unknown> = {
        freq: 'YEARLY',
        bymonth: r.month,
        byday: `${occ}${WEEKDAYS[r.weekday]}`,
      };
      if (wallParts(r.last.utc, r.last.from).y !== lastYear) rrule.until = jcalUtc(r.last.utc);
      comps.push(observance(kind, r.first, rrule, name));
    }
  }
  return new ICAL.Component(['vtimezone', props, comps]);
}

/**
 * The VTIMEZONE a blob describes, its rules repeated yearly (RFC 5545 3.6.5 with RRULE,
 * MS-ASDTYPE 2.7.1 day-of-week occurrences): TZNAMEs are the blob's names.
 */
export function vtimezoneFromTimeZoneInformation(
  tzi: TimeZoneInformation,
  tzid = syntheticTzid(tzi),
): ICAL.Component {
  const std = -(tzi.Bias + tzi.StandardBias);
  const dst = -(tzi.Bias + tzi.DaylightBias);
  const props: unknown[] = [['tzid', {}, 'text', tzid]];
  const comps: JCal[] = [];
  const rule = (
    st: SystemTime,
    from: number,
    to: number,
    kind: 'standard' | 'daylight',
    name: string,
  ): JCal => {
    if (st.wYear !== 0) {
      const at = ruleInstant(st, st.wYear, from)!;
      return observance(kind, { utc: at, from, to }, undefined, name);
    }
    // DTSTART: the rule's first occurrence in 1970 (RFC 5545 3.6.5: DTSTART must match the RRULE).
    const at = ruleInstant(st, 1970, from)!;
    const occ = st.wDay >= 5 ? -1 : st.wDay;
    return observance(
      kind,
      { utc: at, from, to },
      { freq: 'YEARLY', bymonth: st.wMonth, byday: `${occ}${WEEKDAYS[st.wDayOfWeek % 7]}` },
      name,
    );
  };
  if (!hasDaylightTime(tzi)) {
    comps.push(
      observance(
        'standard',
        { utc: Date.UTC(1970, 0, 1) - std * MINUTE, from: std, to: std },
        undefined,
        tzi.StandardName,
      ),
    );
  } else {
    comps.push(rule(tzi.StandardDate, dst, std, 'standard', tzi.StandardName));
    comps.push(rule(tzi.DaylightDate, std, dst, 'daylight', tzi.DaylightName));
  }
  return new ICAL.Component(['vtimezone', props, comps]);
}

/**
 * Evaluates a VTIMEZONE (RFC 5545 3.6.5): the onsets of its STANDARD and DAYLIGHT observances
 * (DTSTART, RDATE, RRULE, read with TZOFFSETFROM) give the offset TZOFFSETTO from then on.
 * Before the first onset, the first observance's TZOFFSETFROM applies. Observances are expanded
 * lazily, up to the year asked for.
 */
export function vtimezoneZone(vtimezone: ICAL.Component, id?: string): ZoneRules | undefined {
  const tzid = id ?? String(vtimezone.getFirstPropertyValue('tzid') ?? '');
  type Source = { from: number; to: number; next: () => number | undefined; done: boolean };
  const sources: Source[] = [];
  const fixed: Transition[] = [];
  for (const obs of vtimezone.getAllSubcomponents()) {
    if (obs.name !== 'standard' && obs.name !== 'daylight') continue;
    const from = parseOffset(obs.getFirstProperty('tzoffsetfrom')?.jCal[3]);
    const to = parseOffset(obs.getFirstProperty('tzoffsetto')?.jCal[3]);
    const startRaw = obs.getFirstProperty('dtstart')?.jCal[3];
    if (from === undefined || to === undefined || typeof startRaw !== 'string') continue;
    const startWall = parseWall(startRaw);
    if (startWall === undefined) continue;
    fixed.push({ utc: startWall - from * MINUTE, from, to });
    for (const rdate of obs.getAllProperties('rdate')) {
      for (const v of rdate.jCal.slice(3)) {
        if (typeof v !== 'string') continue;
        const w = parseWall(v);
        if (w !== undefined) fixed.push({ utc: v.endsWith('Z') ? w : w - from * MINUTE, from, to });
      }
    }
    const value = obs.getFirstProperty('rrule')?.getFirstValue();
    if (value instanceof ICAL.Recur) {
      // UNTIL is UTC (RFC 5545 3.3.10) but ical.js compares it with the floating onsets: check it here.
      const rrule = value.clone();
      const u = rrule.until;
      const until = u ? Date.UTC(u.year, u.month - 1, u.day, u.hour, u.minute, u.second) : undefined;
      rrule.until = null;
      const start = ICAL.Time.fromDateTimeString(startRaw.replace(/Z$/, ''));
      const it = rrule.iterator(start);
      let first = true;
      const source: Source = {
        from,
        to,
        done: false,
        next: () => {
          for (;;) {
            const n = it.next();
            if (n === null || n === undefined) return undefined;
            const wall = Date.UTC(n.year, n.month - 1, n.day, n.hour, n.minute, n.second);
            if (first && wall === startWall) {
              first = false;
              continue;
            }
            first = false;
            const utc = wall - from * MINUTE;
            // A local UNTIL (a common mistake) is accepted too: the onset must pass both readings.
            if (until !== undefined && utc > until && wall > until) return undefined;
            return utc;
          }
        },
      };
      sources.push(source);
    }
  }
  if (fixed.length === 0) return undefined;
  const list: Transition[] = [...fixed];
  let expandedTo = -Infinity;
  let sorted = false;
  const expand = (utcMs: number): void => {
    const limit = utcMs + 400 * DAY;
    if (limit <= expandedTo) return;
    const target = Math.max(limit, expandedTo + 20 * 365 * DAY);
    for (const s of sources) {
      let guard = 0;
      while (!s.done && guard++ < 100_000) {
        const t = s.next();
        if (t === undefined) {
          s.done = true;
          break;
        }
        list.push({ utc: t, from: s.from, to: s.to });
        if (t > target) break;
      }
    }
    expandedTo = target;
    sorted = false;
  };
  return {
    id: tzid,
    offsetAt(utcMs) {
      expand(utcMs);
      if (!sorted) {
        list.sort((a, b) => a.utc - b.utc);
        sorted = true;
      }
      let lo = 0;
      let hi = list.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.utc <= utcMs) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return found < 0 ? list[0]!.from : list[found]!.to;
    },
  };
}

function parseOffset(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^([+-])(\d{2}):?(\d{2})(?::?(\d{2}))?$/.exec(v);
  if (m === null) return undefined;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

/** jCal date-time ("2024-03-31T02:00:00", "…Z") or date ("2024-03-31") → WallMs. */
export function parseWall(v: string): WallMs | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?)?Z?$/.exec(v);
  if (m === null) return undefined;
  const ms = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
  );
  return Number.isNaN(ms) ? undefined : ms;
}

// ---------------------------------------------------------------------------------------------
// The two directions, in one call each

export interface ResolvedZone {
  /** The TZID to write (an IANA name, or a synthetic "EAS/…" id). */
  tzid: string;
  zone: ZoneRules;
  /** The match, when an IANA zone has the blob's rules. */
  match?: IanaMatch;
}

/**
 * Blob → the zone to write in iCalendar: the matching IANA zone (evaluated by the tz database,
 * so past and future years are right too), or the blob's own rules under a synthetic TZID.
 */
export function zoneForTimeZone(bytes: Uint8Array, options: { year?: number } = {}): ResolvedZone {
  const tzi = decodeTimeZone(bytes);
  const match = matchIanaZone(tzi, options);
  if (match !== undefined) {
    const zone = ianaZone(match.iana)!;
    return { tzid: match.iana, zone, match };
  }
  const zone = timeZoneInformationZone(tzi);
  return { tzid: zone.id, zone };
}

/** The VTIMEZONE to put next to events written in `resolved` (RFC 5545 3.6.5: one per TZID used). */
export function vtimezoneForResolved(
  resolved: ResolvedZone,
  bytes: Uint8Array | undefined,
  fromYear: number,
): ICAL.Component {
  if (resolved.match === undefined && bytes !== undefined) {
    return vtimezoneFromTimeZoneInformation(decodeTimeZone(bytes), resolved.tzid);
  }
  return vtimezoneFor(resolved.zone, { fromYear, tzid: resolved.tzid });
}
