// Shared by the VEVENT and VTODO converters: jCal property access, TEXT escaping for X-
// properties, reading and writing DATE / DATE-TIME values with their zones, all-day dates,
// CLASS, CATEGORIES, DESCRIPTION / X-ALT-DESC bodies, VALARM selection, warnings and errors.
import ICAL from 'ical.js';
import { applyBodyPreferences, byteLength } from '../backend/body.js';
import type { Body, BodyPreference } from '../backend/model.js';
import {
  decodeTimeZone,
  encodeTimeZone,
  fromWall,
  ianaZone,
  parseWall,
  resolveTzid,
  timeZoneInformationFor,
  toWall,
  utcZone,
  vtimezoneForResolved,
  vtimezoneZone,
  windowsNames,
  windowsZones,
  zoneForTimeZone,
  TIME_ZONE_INFORMATION_SIZE,
  type ResolvedZone,
  type WallMs,
  type ZoneRules,
} from './timezone.js';

export const DAY = 86_400_000;
export const MINUTE = 60_000;

/** A malformed iCalendar object (not parseable, or without the component asked for). */
export class IcalendarError extends Error {
  override readonly name = 'IcalendarError';
}

/**
 * Something the converter could not carry and what it did instead; the backend may log it.
 * Codes: 'recurrence-not-expressible' (RRULE EAS cannot say: the master is kept as a single
 * occurrence), 'rdate-dropped', 'exrule-dropped', 'range-thisandfuture' (treated as one
 * instance), 'unknown-tzid' (read in the default zone), 'no-master' (only overridden instances:
 * the first is returned alone), 'count-and-until' (both given: COUNT kept).
 */
export interface IcalendarWarning {
  code: string;
  message: string;
}

export type Warn = (code: string, message: string) => void;

export type JCalProp = [string, Record<string, unknown>, string, ...unknown[]];

// ---------------------------------------------------------------------------------------------
// Parsing and property access

export function parseCalendar(text: string): ICAL.Component {
  let jcal: unknown;
  try {
    jcal = ICAL.parse(text);
  } catch (err) {
    throw new IcalendarError(`not iCalendar: ${(err as Error).message}`, { cause: err });
  }
  // A stream of several VCALENDARs parses to a list: the first one is the object.
  const first = Array.isArray(jcal) && Array.isArray(jcal[0]) ? jcal[0] : jcal;
  if (!Array.isArray(first) || first[0] !== 'vcalendar') throw new IcalendarError('no VCALENDAR');
  return new ICAL.Component(first as unknown[]);
}

export function newCalendar(prodId: string): ICAL.Component {
  return new ICAL.Component([
    'vcalendar',
    [
      ['version', {}, 'text', '2.0'],
      ['prodid', {}, 'text', prodId],
    ],
    [],
  ]);
}

export function toArray(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

/** RFC 5545 3.3.11 TEXT escaping, for X- properties ical.js does not type. */
export function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

export function unescapeText(s: string): string {
  return s.replace(/\\([\\;,nN])/g, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

/** The text of a property: typed TEXT as parsed, an untyped X- property unescaped. */
export function textOf(prop: ICAL.Property | null | undefined): string | undefined {
  if (prop === null || prop === undefined) return undefined;
  const v = prop.jCal[3];
  if (typeof v !== 'string') return v === undefined || v === null ? undefined : String(v);
  return prop.type === 'unknown' ? unescapeText(v) : v;
}

export function firstText(comp: ICAL.Component, name: string): string | undefined {
  return textOf(comp.getFirstProperty(name));
}

export function param(prop: ICAL.Property, name: string): string | undefined {
  const v = prop.jCal[1][name];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}

/**
 * Replaces every `name` property of `comp` with `props` (none: removes them), where the first one
 * stood: rewriting an unchanged item gives the same text, so the store sees no change.
 */
export function setProps(comp: ICAL.Component, name: string, props: JCalProp[]): void {
  const list = comp.jCal[1] as unknown[][];
  const first = list.findIndex((p) => p[0] === name);
  const rest = list.filter((p) => p[0] !== name);
  const at = first < 0 ? rest.length : list.slice(0, first).filter((p) => p[0] !== name).length;
  list.splice(0, list.length, ...rest.slice(0, at), ...props, ...rest.slice(at));
  // ical.js caches wrappers by position: let it rebuild them from jCal.
  const cache = comp as unknown as { _properties: unknown; _hydratedPropertyCount: number };
  cache._properties = null;
  cache._hydratedPropertyCount = 0;
}

/**
 * Sets a TEXT property. An unchanged value is left as it is (with its parameters); a changed one
 * keeps LANGUAGE (RFC 5545 3.2.10), which still describes it.
 */
export function setText(comp: ICAL.Component, name: string, value: string | undefined): void {
  const old = comp.getAllProperties(name);
  if (value !== undefined && old.length === 1 && textOf(old[0]) === value) return;
  const language = old[0] === undefined ? undefined : param(old[0], 'language');
  setProps(
    comp,
    name,
    value === undefined ? [] : [[name, language === undefined ? {} : { language }, 'text', value]],
  );
}

/** An X- property with a TEXT value, written without VALUE=TEXT as other producers do. */
export function setXText(
  comp: ICAL.Component,
  name: string,
  value: string | undefined,
  params: Record<string, unknown> = {},
): void {
  setProps(comp, name, value === undefined ? [] : [[name, params, 'unknown', escapeText(value)]]);
}

export function mailto(address: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(address) ? address : `mailto:${address}`;
}

export function addressOf(value: unknown): string {
  return String(value ?? '').replace(/^mailto:/i, '');
}

// ---------------------------------------------------------------------------------------------
// Dates and times

/** Where values are read: the calendar's VTIMEZONEs and the zone for floating and all-day values. */
export interface TimeContext {
  vtimezones: Map<string, ICAL.Component>;
  zones: Map<string, ZoneRules>;
  /** Floating times and all-day dates with no recorded zone are read here (RFC 5545 3.3.5 form #1). */
  defaultZone: ZoneRules;
  /** The blob for `defaultZone`, when one was given by name. */
  defaultTzid: string | undefined;
  year: number | undefined;
  warn: Warn;
}

export function timeContext(
  cal: ICAL.Component,
  options: { timeZone?: string; year?: number },
  warn: Warn,
): TimeContext {
  const vtimezones = new Map<string, ICAL.Component>();
  for (const vtz of cal.getAllSubcomponents('vtimezone')) {
    const id = firstText(vtz, 'tzid');
    if (id !== undefined) vtimezones.set(id, vtz);
  }
  const iana = options.timeZone === undefined ? undefined : resolveTzid(options.timeZone);
  const defaultZone = (iana !== undefined ? ianaZone(iana) : undefined) ?? utcZone;
  return {
    vtimezones,
    zones: new Map(),
    defaultZone,
    defaultTzid: options.timeZone,
    year: options.year,
    warn,
  };
}

/** The zone a TZID names here: the object's VTIMEZONE (RFC 5545 3.2.19), else the IANA/Windows name. */
export function zoneFor(ctx: TimeContext, tzid: string): ZoneRules {
  const known = ctx.zones.get(tzid);
  if (known !== undefined) return known;
  const vtz = ctx.vtimezones.get(tzid);
  let zone = vtz !== undefined ? vtimezoneZone(vtz, tzid) : undefined;
  if (zone === undefined) {
    const iana = resolveTzid(tzid);
    zone = iana !== undefined ? ianaZone(iana) : undefined;
  }
  if (zone === undefined) {
    ctx.warn(
      'unknown-tzid',
      `TZID ${tzid} has no VTIMEZONE and names no known zone; read in ${ctx.defaultZone.id}`,
    );
    zone = ctx.defaultZone;
  }
  ctx.zones.set(tzid, zone);
  return zone;
}

/** One DATE or DATE-TIME value, resolved. */
export interface TimeValue {
  /** The instant (for a DATE: local midnight in `zone`). */
  utc: number;
  /** Wall-clock time in `zone` (for a DATE: its midnight). */
  wall: WallMs;
  date: boolean;
  /** 'utc' (…Z), 'zoned' (TZID), 'floating' or 'date'. */
  form: 'utc' | 'zoned' | 'floating' | 'date';
  tzid?: string;
  zone: ZoneRules;
}

/** Reads the `index`-th value of a DATE / DATE-TIME property (DTSTART, EXDATE …). */
export function readTime(
  ctx: TimeContext,
  prop: ICAL.Property,
  index = 0,
  dateZone?: ZoneRules,
): TimeValue | undefined {
  const raw = prop.jCal[3 + index];
  if (typeof raw !== 'string') return undefined;
  const wall = parseWall(raw);
  if (wall === undefined) return undefined;
  if (prop.type === 'date' || /^\d{4}-\d{2}-\d{2}$/.test(raw)) {
    const zone = dateZone ?? ctx.defaultZone;
    return { utc: fromWall(zone, wall), wall, date: true, form: 'date', zone };
  }
  if (raw.endsWith('Z')) return { utc: wall, wall, date: false, form: 'utc', zone: utcZone };
  const tzid = param(prop, 'tzid');
  if (tzid === undefined) {
    return {
      utc: fromWall(ctx.defaultZone, wall),
      wall,
      date: false,
      form: 'floating',
      zone: ctx.defaultZone,
    };
  }
  const zone = zoneFor(ctx, tzid);
  return { utc: fromWall(zone, wall), wall, date: false, form: 'zoned', tzid, zone };
}

export function readTimes(ctx: TimeContext, prop: ICAL.Property, dateZone?: ZoneRules): TimeValue[] {
  const out: TimeValue[] = [];
  for (let i = 0; i < prop.jCal.length - 3; i++) {
    const v = readTime(ctx, prop, i, dateZone);
    if (v !== undefined) out.push(v);
  }
  return out;
}

export function jcalDate(wall: WallMs): string {
  return new Date(wall).toISOString().slice(0, 10);
}

export function jcalDateTime(wall: WallMs): string {
  return new Date(wall).toISOString().slice(0, 19);
}

export function jcalUtc(utc: number): string {
  return `${new Date(utc).toISOString().slice(0, 19)}Z`;
}

export function startOfDay(wall: WallMs): WallMs {
  return Math.floor(wall / DAY) * DAY;
}

/**
 * The date an all-day instant stands for. MS-ASCAL 2.2.2.3: an all-day event runs from midnight
 * to midnight in its time zone, so StartTime is local midnight in the zone of Timezone. Phones
 * do not all agree on "its zone" (some send midnight UTC, some midnight of the device's zone
 * with another Timezone), so: exact midnight in the item's zone wins, then exact midnight UTC,
 * then exact midnight in the user's zone; anything else is rounded to the nearest midnight of
 * the item's zone. Whatever the zone (UTC-10 to UTC+14), a date written by easd reads back as
 * the same date.
 */
export function allDayDate(
  utc: number,
  zones: readonly ZoneRules[],
  rounding: 'nearest' | 'floor' = 'nearest',
): WallMs {
  const [first] = zones;
  for (const z of [first, utcZone, ...zones.slice(1)]) {
    if (z === undefined) continue;
    const wall = toWall(z, utc);
    if (wall % DAY === 0) return wall;
  }
  const wall = toWall(first ?? utcZone, utc);
  return rounding === 'floor' ? startOfDay(wall) : startOfDay(wall + DAY / 2);
}

// ---------------------------------------------------------------------------------------------
// The zone of an item, both ways

/** How an item's Timezone is written: the zone and TZID, and the blob to keep beside them. */
export interface WriteZone {
  resolved: ResolvedZone;
  /** Times in this zone are written in the UTC form (…Z), with no TZID. */
  utc: boolean;
  bytes: Uint8Array | undefined;
}

export function writeZone(bytes: Uint8Array | undefined, year: number | undefined): WriteZone {
  if (bytes === undefined || bytes.byteLength !== TIME_ZONE_INFORMATION_SIZE) {
    return { resolved: { tzid: 'UTC', zone: utcZone }, utc: true, bytes: undefined };
  }
  const resolved = zoneForTimeZone(bytes, year === undefined ? {} : { year });
  const utc = /^(Etc\/)?(UTC|GMT|UCT|Zulu|Universal)$/.test(resolved.tzid);
  return { resolved, utc, bytes };
}

/**
 * A DATE-TIME property in the item's zone (RFC 5545 3.3.5 form #3, or #2 for UTC). With `exact`,
 * an instant in the hour that repeats when DST ends, which local time would read as the first
 * one, is written in UTC instead (form #2 may stand beside form #3, RFC 5545 3.3.5).
 */
export function timeProp(name: string, utc: number, wz: WriteZone, exact = false): JCalProp {
  const wall = toWall(wz.resolved.zone, utc);
  if (wz.utc || (exact && fromWall(wz.resolved.zone, wall) !== utc))
    return [name, {}, 'date-time', jcalUtc(utc)];
  return [name, { tzid: wz.resolved.tzid }, 'date-time', jcalDateTime(wall)];
}

export function dateProp(name: string, wall: WallMs, extra: Record<string, unknown> = {}): JCalProp {
  return [name, { ...extra }, 'date', jcalDate(wall)];
}

/** Adds the VTIMEZONE for every TZID the components use and removes the ones nothing uses. */
export function syncVtimezones(
  cal: ICAL.Component,
  written: Map<string, { wz: WriteZone; fromYear: number }>,
): void {
  const used = new Set<string>();
  const walk = (c: ICAL.Component): void => {
    for (const p of c.getAllProperties()) {
      const tzid = param(p, 'tzid');
      if (tzid !== undefined) used.add(tzid);
    }
    for (const s of c.getAllSubcomponents()) if (s.name !== 'vtimezone') walk(s);
  };
  walk(cal);
  const kept: ICAL.Component[] = [];
  const present = new Set<string>();
  for (const vtz of cal.getAllSubcomponents('vtimezone')) {
    const id = firstText(vtz, 'tzid') ?? '';
    if (used.has(id) && !present.has(id)) {
      kept.push(vtz);
      present.add(id);
    }
  }
  for (const [tzid, { wz, fromYear }] of written) {
    if (!used.has(tzid) || present.has(tzid)) continue;
    kept.push(vtimezoneForResolved(wz.resolved, wz.bytes, fromYear));
    present.add(tzid);
  }
  // RFC 5545 3.6: VTIMEZONEs first, then the components that use them, in their order.
  const others = cal.getAllSubcomponents().filter((c) => c.name !== 'vtimezone');
  cal.removeAllSubcomponents();
  for (const c of [...kept, ...others]) cal.addSubcomponent(c);
}

/**
 * The blob to give the phone for a zone read from iCalendar: the one easd stored beside the event
 * (X-EASD-TIMEZONE) when it still describes the same offsets, else built from the zone's rules of
 * this year (of the event's year when that is later), with Windows names when the TZID is a
 * Windows id.
 */
export function blobFor(
  zone: ZoneRules,
  tzid: string | undefined,
  stored: Uint8Array | undefined,
  year: number | undefined,
  eventUtc: number,
  preferStored = false,
): Uint8Array {
  const y = Math.max(year ?? new Date().getUTCFullYear(), new Date(eventUtc).getUTCFullYear());
  if (stored !== undefined && preferStored) return stored;
  if (stored !== undefined) {
    const storedZone = zoneForTimeZone(stored, { year: y }).zone;
    if (sameOffsets(storedZone, zone, y)) return stored;
  }
  const lower = tzid?.trim().toLowerCase();
  const windowsId = windowsZones.find(([w]) => w.toLowerCase() === lower)?.[0];
  const names = windowsId !== undefined ? windowsNames(windowsId) : undefined;
  return encodeTimeZone(timeZoneInformationFor(zone, { year: y, ...(names ? { names } : {}) }));
}

function sameOffsets(a: ZoneRules, b: ZoneRules, year: number): boolean {
  for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 2, 0, 1); t += DAY / 4) {
    if (a.offsetAt(t) !== b.offsetAt(t)) return false;
  }
  return true;
}

/** The X-EASD-TIMEZONE blob kept beside an event, if valid. */
export function storedBlob(comp: ICAL.Component): Uint8Array | undefined {
  const b64 = firstText(comp, 'x-easd-timezone');
  if (b64 === undefined) return undefined;
  const bytes = new Uint8Array(Buffer.from(b64.trim(), 'base64'));
  if (bytes.byteLength !== TIME_ZONE_INFORMATION_SIZE) return undefined;
  try {
    decodeTimeZone(bytes);
    return bytes;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Simple properties

/** CLASS (RFC 5545 3.8.1.3) ↔ Sensitivity (MS-ASCAL 2.2.2.41, MS-ASTASK 2.2.2.25). */
export function readSensitivity(comp: ICAL.Component): 0 | 1 | 2 | 3 | undefined {
  const v = firstText(comp, 'class')?.toUpperCase();
  switch (v) {
    case 'PUBLIC':
      return 0;
    case 'X-PERSONAL':
    case 'PERSONAL':
      return 1;
    case 'PRIVATE':
      return 2;
    case 'CONFIDENTIAL':
      return 3;
    default:
      return undefined;
  }
}

export function writeSensitivity(comp: ICAL.Component, s: 0 | 1 | 2 | 3 | undefined): void {
  setText(
    comp,
    'class',
    s === undefined ? undefined : (['PUBLIC', 'X-PERSONAL', 'PRIVATE', 'CONFIDENTIAL'] as const)[s],
  );
}

/** Every CATEGORIES property, flattened (RFC 5545 3.8.1.2). */
export function readCategories(comp: ICAL.Component): string[] | undefined {
  const all = comp.getAllProperties('categories').flatMap((p) => p.getValues().map(String));
  return all.length === 0 ? undefined : all;
}

export function writeCategories(comp: ICAL.Component, categories: string[] | undefined): void {
  if (categories === undefined || categories.length === 0) return setProps(comp, 'categories', []);
  // ical.js misreads an escaped backslash before the value separator ("a\\,b"): values with a
  // backslash go one per property, which RFC 5545 3.8.1.2 allows as well.
  if (categories.some((c) => c.includes('\\'))) {
    return setProps(
      comp,
      'categories',
      categories.map((c): JCalProp => ['categories', {}, 'text', c]),
    );
  }
  setProps(comp, 'categories', [['categories', {}, 'text', ...categories]]);
}

/**
 * DESCRIPTION (plain) and X-ALT-DESC;FMTTYPE=text/html → Body, native HTML when there is HTML,
 * shaped by the client's BodyPreference when given.
 */
export function readBody(
  comp: ICAL.Component,
  prefs: readonly BodyPreference[] | undefined,
): Body | undefined {
  const plain = firstText(comp, 'description');
  const alt = comp
    .getAllProperties('x-alt-desc')
    .find((p) => (param(p, 'fmttype') ?? '').toLowerCase() === 'text/html');
  const html = textOf(alt);
  if (plain === undefined && html === undefined) return undefined;
  const get = (type: number): string | undefined =>
    type === 1 ? (plain ?? htmlToText(html ?? '')) : type === 2 ? (html ?? undefined) : undefined;
  const native = html !== undefined ? 2 : 1;
  if (prefs !== undefined) return applyBodyPreferences({ native, get }, prefs);
  const data = get(native) ?? '';
  return { Type: native, EstimatedDataSize: byteLength(data), Data: data };
}

/**
 * Body → DESCRIPTION (and X-ALT-DESC for HTML). A truncated or empty-handed Body (the phone did
 * not have the whole text) leaves the stored description alone; plain text equal to the stored
 * DESCRIPTION keeps the HTML beside it.
 */
export function writeBody(comp: ICAL.Component, body: Body | undefined): void {
  if (body === undefined) {
    setText(comp, 'description', undefined);
    comp.removeAllProperties('x-alt-desc');
    return;
  }
  if (body.Truncated === true || typeof body.Data !== 'string') return;
  if (body.Type === 2) {
    setText(comp, 'description', htmlToText(body.Data));
    setXText(comp, 'x-alt-desc', body.Data, { fmttype: 'text/html' });
  } else if (body.Type === 1) {
    if (firstText(comp, 'description') === body.Data) return;
    setText(comp, 'description', body.Data);
    comp.removeAllProperties('x-alt-desc');
  }
}

/** Text from HTML, good enough for DESCRIPTION beside X-ALT-DESC. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h\d)>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** SUMMARY, DESCRIPTION / X-ALT-DESC, CATEGORIES and CLASS: what VEVENT and VTODO share. */
export function readCommon(
  comp: ICAL.Component,
  prefs: readonly BodyPreference[] | undefined,
): { Subject?: string; Body?: Body; Categories?: string[]; Sensitivity?: 0 | 1 | 2 | 3 } {
  const out: { Subject?: string; Body?: Body; Categories?: string[]; Sensitivity?: 0 | 1 | 2 | 3 } = {};
  const subject = firstText(comp, 'summary');
  if (subject !== undefined) out.Subject = subject;
  const body = readBody(comp, prefs);
  if (body !== undefined) out.Body = body;
  const categories = readCategories(comp);
  if (categories !== undefined) out.Categories = categories;
  const sensitivity = readSensitivity(comp);
  if (sensitivity !== undefined) out.Sensitivity = sensitivity;
  return out;
}

/** A VALARM that displays or sounds (RFC 5545 3.6.6): the kind EAS reminders are. */
export function isReminderAlarm(alarm: ICAL.Component): boolean {
  const action = (firstText(alarm, 'action') ?? 'DISPLAY').toUpperCase();
  return action === 'DISPLAY' || action === 'AUDIO';
}
