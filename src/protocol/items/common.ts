// Shared pieces of the item codecs: value formats of MS-ASDTYPE, the AirSyncBase Body, Attachments
// and Location of MS-ASAIRS, Categories, and a small declarative field table that each class
// module fills in. A table row names a model property, the element carrying it (code page + tag),
// the protocol versions that have it, and how its value is written and read. Encoding walks the
// table in order (so a row order that follows the spec's xs:sequence is the emitted order);
// parsing looks each child element up in the same table.
import { el, type WbxmlElement } from '../../../wbxml/tree.js';
import type { ProtocolVersion } from '../../commands/types.js';
import { versionAtLeast } from '../../commands/types.js';
import type {
  Attachment,
  AttachmentAdd,
  Body,
  BodyPreference,
  BodyType,
  Location,
} from '../../backend/model.js';
import { ProtocolError } from '../read.js';

export interface ItemContext {
  protocolVersion: ProtocolVersion;
}

// ---------------------------------------------------------------------------------------------
// Element helpers

/** An element with neither text nor children: in a client request it asks to clear a property. */
export function isEmptyElement(e: WbxmlElement): boolean {
  if (e.children.length > 0) return false;
  const v = e.value;
  if (v === undefined) return true;
  if (typeof v === 'string') return v === '';
  if (v instanceof Uint8Array) return v.length === 0;
  return v.length === 0;
}

/** The element's text; OPAQUE bytes are read as UTF-8. An element with children is malformed. */
export function textOf(e: WbxmlElement): string {
  if (e.children.length > 0) throw new ProtocolError(`${e.ns}:${e.name} must carry text, not elements`);
  const v = e.value;
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return utf8Decode(v, e);
  throw new ProtocolError(`${e.ns}:${e.name} carries streamed content`);
}

function bytesOf(e: WbxmlElement): Uint8Array {
  if (e.children.length > 0) throw new ProtocolError(`${e.ns}:${e.name} must carry data, not elements`);
  const v = e.value;
  if (v === undefined) return new Uint8Array(0);
  if (typeof v === 'string') return new TextEncoder().encode(v);
  if (v instanceof Uint8Array) return v;
  throw new ProtocolError(`${e.ns}:${e.name} carries streamed content`);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function utf8Decode(bytes: Uint8Array, e: WbxmlElement): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new ProtocolError(`${e.ns}:${e.name} is not valid UTF-8`);
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// MS-ASDTYPE value formats

/** MS-ASDTYPE 2.3 dateTime: `2026-11-22T03:04:05.000Z`, always UTC with milliseconds. */
export function formatDateTime(d: Date): string {
  return isoOf(d);
}

/** MS-ASDTYPE 2.7.2 Compact DateTime: `20261122T030405Z` (seconds precision, UTC). */
export function formatCompactDateTime(d: Date): string {
  const s = isoOf(d);
  return `${s.slice(0, 4)}${s.slice(5, 7)}${s.slice(8, 10)}T${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}Z`;
}

function isoOf(d: Date): string {
  const t = d.getTime();
  // Both formats have a four-digit year; toISOString would write ±YYYYYY outside it.
  if (!Number.isFinite(t) || d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) {
    throw new RangeError(`date outside what EAS can carry: ${String(d)}`);
  }
  return d.toISOString();
}

const LONG_DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;
const COMPACT_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z?$/;

/**
 * Reads either date form: clients are not consistent about which element takes which (and a
 * value without zone is taken as UTC, as MS-ASDTYPE dates always are).
 */
export function parseDate(text: string, what: string): Date {
  const s = text.trim();
  const m = LONG_DATE.exec(s) ?? COMPACT_DATE.exec(s);
  if (m === null) throw new ProtocolError(`${what} is not a date: "${text}"`);
  const [y, mo, d, h, mi, se] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const frac = m[7] ?? '';
  const ms = frac === '' ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  // Not Date.UTC: it maps years 0–99 to 1900–1999.
  const check = new Date(0);
  check.setUTCFullYear(y!, mo! - 1, d!);
  check.setUTCHours(h!, mi!, se!, ms);
  let t = check.getTime();
  if (
    check.getUTCFullYear() !== y ||
    check.getUTCMonth() !== mo! - 1 ||
    check.getUTCDate() !== d ||
    check.getUTCHours() !== h ||
    check.getUTCMinutes() !== mi ||
    check.getUTCSeconds() !== se
  ) {
    throw new ProtocolError(`${what} is not a valid date: "${text}"`);
  }
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
    t -= sign * offset * 60_000;
  }
  return new Date(t);
}

/** MS-ASDTYPE 2.1 boolean: "0" or "1". */
export function parseBoolean(text: string, what: string): boolean {
  const s = text.trim();
  if (s === '1') return true;
  if (s === '0') return false;
  throw new ProtocolError(`${what} must be 0 or 1, not "${text}"`);
}

export const boolText = (b: boolean): string => (b ? '1' : '0');

/** MS-ASDTYPE 2.6 integer, within [min, max]. */
export function parseInteger(text: string, what: string, min: number, max: number): number {
  const s = text.trim();
  if (!/^-?\d{1,15}$/.test(s)) throw new ProtocolError(`${what} must be an integer, not "${text}"`);
  const n = Number(s);
  if (n < min || n > max) throw new ProtocolError(`${what} must be between ${min} and ${max}, not ${n}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Kinds: how one value is written as an element and read back

export interface Kind<V> {
  encode(ns: string, tag: string, value: V, ctx: ItemContext): WbxmlElement | undefined;
  parse(e: WbxmlElement, ctx: ItemContext): V;
  /** An empty element carries no value of this kind: in a request it clears the property. */
  clearOnEmpty?: boolean;
}

const what = (e: WbxmlElement): string => `${e.ns}:${e.name}`;

export const text: Kind<string> = {
  encode: (ns, tag, v) => el(ns, tag, v),
  parse: (e) => textOf(e),
};

export const boolean: Kind<boolean> = {
  encode: (ns, tag, v) => el(ns, tag, boolText(v)),
  parse: (e) => parseBoolean(textOf(e), what(e)),
  clearOnEmpty: true,
};

export function integer(min = 0, max = 0xffffffff): Kind<number> {
  return {
    encode: (ns, tag, v) => el(ns, tag, String(v)),
    parse: (e) => parseInteger(textOf(e), what(e), min, max),
    clearOnEmpty: true,
  };
}

export const unsigned = integer();

/** An integer restricted to the values the spec lists for the element. */
export function enumeration<V extends number>(values: readonly V[]): Kind<V> {
  return {
    encode: (ns, tag, v) => el(ns, tag, String(v)),
    parse: (e) => {
      const n = parseInteger(textOf(e), what(e), -0x80000000, 0xffffffff);
      if (!(values as readonly number[]).includes(n)) {
        throw new ProtocolError(`${what(e)} must be one of ${values.join(', ')}, not ${n}`);
      }
      return n as V;
    },
    clearOnEmpty: true,
  };
}

/** MS-ASDTYPE 2.3 dateTime (long form). */
export const dateTime: Kind<Date> = {
  encode: (ns, tag, v) => el(ns, tag, formatDateTime(v)),
  parse: (e) => parseDate(textOf(e), what(e)),
  clearOnEmpty: true,
};

/** MS-ASDTYPE 2.7.2 Compact DateTime. */
export const compactDateTime: Kind<Date> = {
  encode: (ns, tag, v) => el(ns, tag, formatCompactDateTime(v)),
  parse: (e) => parseDate(textOf(e), what(e)),
  clearOnEmpty: true,
};

/** xs:double (AirSyncBase Location coordinates). */
export const double: Kind<number> = {
  encode: (ns, tag, v) => el(ns, tag, String(v)),
  parse: (e) => {
    const s = textOf(e).trim();
    const n = Number(s);
    if (s === '' || !Number.isFinite(n)) throw new ProtocolError(`${what(e)} must be a number, not "${s}"`);
    return n;
  },
  clearOnEmpty: true,
};

/** OPAQUE bytes (email2:ConversationId, ConversationIndex: MS-ASEMAIL 2.2.2.20/2.2.2.21). */
export const opaque: Kind<Uint8Array> = {
  encode: (ns, tag, v) => el(ns, tag, v),
  parse: (e) => bytesOf(e),
  clearOnEmpty: true,
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodeBase64(textValue: string, whatText: string): Uint8Array {
  const s = textValue.replace(/\s+/g, '');
  if (!BASE64.test(s)) throw new ProtocolError(`${whatText} is not base64`);
  return new Uint8Array(Buffer.from(s, 'base64'));
}

export const encodeBase64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** MS-ASDTYPE 2.7.4: TIME_ZONE_INFORMATION is 172 bytes. */
export const TIME_ZONE_INFORMATION_SIZE = 172;

/**
 * calendar:Timezone / email:TimeZone: the base64 text of a TIME_ZONE_INFORMATION structure
 * (MS-ASCAL 2.2.2.44, MS-ASEMAIL 2.2.2.79), a string in WBXML, not OPAQUE.
 */
export const timeZone: Kind<Uint8Array> = {
  encode: (ns, tag, v) => el(ns, tag, encodeBase64(v)),
  parse: (e) => {
    const b = decodeBase64(textOf(e), what(e));
    if (b.length !== TIME_ZONE_INFORMATION_SIZE) {
      throw new ProtocolError(`${what(e)} must hold ${TIME_ZONE_INFORMATION_SIZE} bytes, not ${b.length}`);
    }
    return b;
  },
  clearOnEmpty: true,
};

/** A container of repeated text children: Categories/Category, Children/Child. */
export function textList(childTag: string): Kind<string[]> {
  return {
    encode: (ns, tag, v) =>
      el(
        ns,
        tag,
        v.map((c) => el(ns, childTag, c)),
      ),
    parse: (e) => {
      if (e.value !== undefined && !isEmptyElement(e))
        throw new ProtocolError(`${what(e)} must contain ${childTag} elements`);
      return e.children.map((c) => {
        if (c.ns !== e.ns || c.name !== childTag)
          throw new ProtocolError(`Unexpected ${what(c)} in ${what(e)}`);
        return textOf(c);
      });
    },
  };
}

/** Categories/Category in the class's own namespace (email:Categories is 14.0+: MS-ASEMAIL 2.2.2.13). */
export const categories = textList('Category');

// ---------------------------------------------------------------------------------------------
// Field tables

export interface FieldSpec<T, K extends keyof T> {
  prop: K;
  ns: string;
  tag: string;
  kind: Kind<NonNullable<T[K]>>;
  /** First protocol version that has the element (default 12.0). */
  since?: ProtocolVersion;
  /** Last protocol version that has the element. */
  until?: ProtocolVersion;
  /** Read from clients but never written (request-only elements such as calendar:ClientUid). */
  parseOnly?: boolean;
}

export type Field<T> = { [K in keyof T]-?: FieldSpec<T, K> }[keyof T];

/** A row whose element carries several properties (AirSyncBase Attachments with Add/Delete). */
export interface CustomField<T> {
  custom: true;
  ns: string;
  tag: string;
  props: readonly (keyof T & string)[];
  since?: ProtocolVersion;
  until?: ProtocolVersion;
  encode(item: T, ctx: ItemContext): WbxmlElement | undefined;
  parse(e: WbxmlElement, ctx: ItemContext): Partial<T>;
}

export type Row<T> = Field<T> | CustomField<T>;

/** Builds rows for one model type with the property/kind pairing checked by the compiler. */
export function rowsFor<T>() {
  return function field<K extends keyof T & string>(
    prop: K,
    ns: string,
    tag: string,
    kind: Kind<NonNullable<T[K]>>,
    opts: { since?: ProtocolVersion; until?: ProtocolVersion; parseOnly?: boolean } = {},
  ): Field<T> {
    return { prop, ns, tag, kind, ...opts } as Field<T>;
  };
}

export function inVersion(
  row: { since?: ProtocolVersion; until?: ProtocolVersion },
  v: ProtocolVersion,
): boolean {
  if (row.since !== undefined && !versionAtLeast(v, row.since)) return false;
  if (row.until !== undefined && !versionAtLeast(row.until, v)) return false;
  return true;
}

function isCustom<T>(row: Row<T>): row is CustomField<T> {
  return 'custom' in row;
}

/** The properties a row sets. */
export function rowProps<T>(row: Row<T>): (keyof T & string)[] {
  return isCustom(row) ? [...row.props] : [row.prop as keyof T & string];
}

/** Writes every property the version has, in table order. */
export function encodeRows<T>(rows: readonly Row<T>[], item: T, ctx: ItemContext): WbxmlElement[] {
  const out: WbxmlElement[] = [];
  for (const row of rows) {
    if (!inVersion(row, ctx.protocolVersion)) continue;
    if (isCustom(row)) {
      const e = row.encode(item, ctx);
      if (e !== undefined) out.push(e);
      continue;
    }
    if (row.parseOnly === true) continue;
    const v = item[row.prop];
    if (v === undefined || v === null) continue;
    const e = (row.kind as Kind<unknown>).encode(row.ns, row.tag, v, ctx);
    if (e !== undefined) out.push(e);
  }
  return out;
}

export interface ParsedRows<T> {
  item: Partial<T>;
  /** Properties whose element the client sent (with a value or empty). */
  present: Set<keyof T & string>;
  /** Properties the client sent as an empty element: it asks to clear them. */
  cleared: Set<keyof T & string>;
}

/**
 * Reads the children of `container` through the table. Elements of other versions are accepted
 * (clients mix them up, and each has one meaning); an element the table does not know, or one
 * that appears twice, is a protocol error. `ignore` lists "ns:tag" that are legal but not kept.
 */
export function parseRows<T>(
  rows: readonly Row<T>[],
  container: WbxmlElement,
  ctx: ItemContext,
  ignore: readonly string[] = [],
): ParsedRows<T> {
  if (container.value !== undefined && !isEmptyElement(container)) {
    throw new ProtocolError(`${what(container)} must contain elements, not text`);
  }
  const byTag = new Map<string, Row<T>>();
  for (const row of rows) byTag.set(`${row.ns}:${row.tag}`, row);
  const item: Partial<T> = {};
  const present = new Set<keyof T & string>();
  const cleared = new Set<keyof T & string>();
  const seen = new Set<string>();
  for (const c of container.children) {
    const key = `${c.ns}:${c.name}`;
    const row = byTag.get(key);
    if (row === undefined) {
      if (ignore.includes(key)) continue;
      throw new ProtocolError(`Unexpected ${key} in ${what(container)}`);
    }
    if (seen.has(key)) throw new ProtocolError(`${key} appears twice in ${what(container)}`);
    seen.add(key);
    if (isCustom(row)) {
      const part = row.parse(c, ctx);
      for (const p of row.props) {
        if (part[p] !== undefined) {
          item[p] = part[p];
          present.add(p);
        }
      }
      continue;
    }
    const prop = row.prop as keyof T & string;
    present.add(prop);
    if (row.kind.clearOnEmpty === true && isEmptyElement(c)) {
      cleared.add(prop);
      continue;
    }
    item[prop] = row.kind.parse(c, ctx) as T[keyof T & string];
  }
  return { item, present, cleared };
}

/**
 * A nested record (Flag, Recurrence, Attendee, Exception, Location …) read and written through its
 * own table. `required` properties must be present when parsing; `finish` completes a record.
 */
export function record<T>(
  rows: readonly Row<T>[],
  opts: {
    required?: readonly (keyof T & string)[];
    finish?: (r: Partial<T>, e: WbxmlElement) => T;
    /** "ns:tag" children that are legal but have no model property. */
    ignore?: readonly string[];
  } = {},
): Kind<T> {
  return {
    encode: (ns, tag, v, ctx) => el(ns, tag, encodeRows(rows, v, ctx)),
    parse: (e, ctx) => {
      const { item } = parseRows(rows, e, ctx, opts.ignore);
      for (const p of opts.required ?? []) {
        if (item[p] === undefined) throw new ProtocolError(`${what(e)} without ${p}`);
      }
      return opts.finish !== undefined ? opts.finish(item, e) : (item as T);
    },
  };
}

/** A repeated record inside a container: Attendees/Attendee, Exceptions/Exception. */
export function recordList<T>(childNs: string, childTag: string, child: Kind<T>): Kind<T[]> {
  return {
    encode: (ns, tag, v, ctx) =>
      el(
        ns,
        tag,
        v.map((x) => child.encode(childNs, childTag, x, ctx)),
      ),
    parse: (e, ctx) => {
      if (e.value !== undefined && !isEmptyElement(e))
        throw new ProtocolError(`${what(e)} must contain ${childTag} elements`);
      return e.children.map((c) => {
        if (c.ns !== childNs || c.name !== childTag)
          throw new ProtocolError(`Unexpected ${what(c)} in ${what(e)}`);
        return child.parse(c, ctx);
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// MS-ASAIRS: Body, NativeBodyType, Location, Attachments

const ASB = 'AirSyncBase';
export const bodyTypes = [1, 2, 3, 4] as const satisfies readonly BodyType[];
export const bodyType = enumeration<BodyType>(bodyTypes);

/** Data as sent: text, or OPAQUE bytes (Type 4 MIME may hold 8-bit bytes that are not UTF-8). */
const bodyData: Kind<string | Uint8Array> = {
  encode: (ns, tag, v) => {
    if (typeof v === 'string') return el(ns, tag, v);
    // MIME that is valid UTF-8 (nearly all of it: 7-bit transfer encodings) goes as a string,
    // which every client reads; only raw 8-bit content that is not UTF-8 needs OPAQUE.
    return el(ns, tag, isUtf8(v) ? strictUtf8.decode(v) : v);
  },
  parse: (e) => {
    if (e.children.length > 0) throw new ProtocolError(`${what(e)} must carry data, not elements`);
    const v = e.value;
    if (v === undefined) return '';
    if (typeof v === 'string' || v instanceof Uint8Array) return v;
    throw new ProtocolError(`${what(e)} carries streamed content`);
  },
};

const bodyField = rowsFor<Body>();
// MS-ASAIRS 2.2.2.9: Type, EstimatedDataSize, Truncated, Data, Preview, in this order (xs:sequence).
const bodyRows: Row<Body>[] = [
  bodyField('Type', ASB, 'Type', bodyType),
  bodyField('EstimatedDataSize', ASB, 'EstimatedDataSize', unsigned),
  bodyField('Truncated', ASB, 'Truncated', boolean),
  bodyField('Data', ASB, 'Data', bodyData),
  // MS-ASAIRS 2.2.2.35.1: Preview is 14.0+.
  bodyField('Preview', ASB, 'Preview', text, { since: '14.0' }),
];

export const body: Kind<Body> = record(bodyRows, {
  required: ['Type'],
  finish: (r) => {
    const type = r.Type!;
    const out: Body = { Type: type, EstimatedDataSize: 0 };
    let data = r.Data;
    if (data !== undefined) {
      // Type 4 is the raw message (bytes); types 1–3 are text (MS-ASAIRS 2.2.2.20.1).
      data =
        type === 4
          ? typeof data === 'string'
            ? new TextEncoder().encode(data)
            : data
          : typeof data === 'string'
            ? data
            : Buffer.from(data).toString('utf8');
    }
    // A client's Body (Sync Add/Change) usually has no EstimatedDataSize: it is the data's size.
    out.EstimatedDataSize =
      r.EstimatedDataSize ??
      (data === undefined ? 0 : typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length);
    if (r.Truncated !== undefined) out.Truncated = r.Truncated;
    if (data !== undefined) out.Data = data;
    if (r.Preview !== undefined) out.Preview = r.Preview;
    return out;
  },
});

const locationField = rowsFor<Location>();
/** MS-ASAIRS 2.2.2.28 Location (16.0+): children in the spec's order (xs:all, any order is valid). */
const locationRows: Row<Location>[] = [
  locationField('DisplayName', ASB, 'DisplayName', text),
  locationField('Annotation', ASB, 'Annotation', text),
  locationField('Street', ASB, 'Street', text),
  locationField('City', ASB, 'City', text),
  locationField('State', ASB, 'State', text),
  locationField('Country', ASB, 'Country', text),
  locationField('PostalCode', ASB, 'PostalCode', text),
  locationField('Latitude', ASB, 'Latitude', double),
  locationField('Longitude', ASB, 'Longitude', double),
  locationField('Accuracy', ASB, 'Accuracy', double),
  locationField('Altitude', ASB, 'Altitude', double),
  locationField('AltitudeAccuracy', ASB, 'AltitudeAccuracy', double),
  locationField('LocationUri', ASB, 'LocationUri', text),
];

/** airsyncbase:Location; an empty element (a client removing the location) reads as `{}`. */
export const locationObject: Kind<Location> = record(locationRows);

/** The 12.x–14.x string Location (calendar:Location, email:Location) as `{ DisplayName }`. */
export const locationString: Kind<Location> = {
  encode: (ns, tag, v) => (v.DisplayName === undefined ? undefined : el(ns, tag, v.DisplayName)),
  parse: (e) => ({ DisplayName: textOf(e) }),
};

const attachmentMethods = [1, 5, 6] as const;
const attachmentField = rowsFor<Attachment>();
// MS-ASAIRS 2.2.2.7 Attachment (xs:all); UmAttDuration/UmAttOrder are email2, 14.0+.
const attachmentRows: Row<Attachment>[] = [
  attachmentField('DisplayName', ASB, 'DisplayName', text),
  attachmentField('FileReference', ASB, 'FileReference', text),
  attachmentField('Method', ASB, 'Method', enumeration(attachmentMethods)),
  attachmentField('EstimatedDataSize', ASB, 'EstimatedDataSize', unsigned),
  attachmentField('ContentId', ASB, 'ContentId', text),
  attachmentField('ContentLocation', ASB, 'ContentLocation', text),
  attachmentField('IsInline', ASB, 'IsInline', boolean),
  attachmentField('UmAttDuration', 'Email2', 'UmAttDuration', unsigned, { since: '14.0' }),
  attachmentField('UmAttOrder', 'Email2', 'UmAttOrder', unsigned, { since: '14.0' }),
];
const attachment = record(attachmentRows, { required: ['FileReference', 'Method', 'EstimatedDataSize'] });

/** airsyncbase:Content of an Add: OPAQUE bytes, or their base64 when sent as a string. */
const attachmentContent: Kind<Uint8Array> = {
  encode: (ns, tag, v) => el(ns, tag, v),
  parse: (e) => (typeof e.value === 'string' ? decodeBase64(e.value, what(e)) : bytesOf(e)),
};

const addField = rowsFor<AttachmentAdd>();
// MS-ASAIRS 2.2.2.2 Add (16.0+, requests only).
const attachmentAddRows: Row<AttachmentAdd>[] = [
  addField('ClientId', ASB, 'ClientId', text),
  addField('Method', ASB, 'Method', enumeration(attachmentMethods)),
  addField('ContentType', ASB, 'ContentType', text),
  addField('Content', ASB, 'Content', attachmentContent),
  addField('DisplayName', ASB, 'DisplayName', text),
  addField('ContentId', ASB, 'ContentId', text),
  addField('ContentLocation', ASB, 'ContentLocation', text),
  addField('IsInline', ASB, 'IsInline', boolean),
];
const attachmentAdd = record(attachmentAddRows, {
  required: ['ClientId', 'Method', 'Content', 'DisplayName'],
});

interface AttachmentProps {
  Attachments?: Attachment[];
  AttachmentsAdd?: AttachmentAdd[];
  AttachmentsDelete?: string[];
}

/**
 * airsyncbase:Attachments. A server writes Attachment children; a 16.x client writes Add and Delete
 * (MS-ASAIRS 2.2.2.8) to change a draft's or an event's attachments.
 */
export function attachmentsRow<T extends AttachmentProps>(since: ProtocolVersion): CustomField<T> {
  return {
    custom: true,
    ns: ASB,
    tag: 'Attachments',
    props: ['Attachments', 'AttachmentsAdd', 'AttachmentsDelete'],
    since,
    encode: (item, ctx) => {
      const list = item.Attachments;
      // The schema needs at least one child: no element for no attachments.
      if (list === undefined || list.length === 0) return undefined;
      return el(
        ASB,
        'Attachments',
        list.map((a) => attachment.encode(ASB, 'Attachment', a, ctx)),
      );
    },
    parse: (e, ctx) => {
      if (e.value !== undefined && !isEmptyElement(e))
        throw new ProtocolError(`${what(e)} must contain elements`);
      const out: AttachmentProps = {};
      for (const c of e.children) {
        if (c.ns !== ASB) throw new ProtocolError(`Unexpected ${what(c)} in ${what(e)}`);
        if (c.name === 'Attachment') (out.Attachments ??= []).push(attachment.parse(c, ctx));
        else if (c.name === 'Add') (out.AttachmentsAdd ??= []).push(attachmentAdd.parse(c, ctx));
        else if (c.name === 'Delete') {
          const refs = c.children.filter((x) => x.ns === ASB && x.name === 'FileReference');
          if (refs.length !== 1 || c.children.length !== 1)
            throw new ProtocolError('Attachments Delete needs exactly one FileReference');
          (out.AttachmentsDelete ??= []).push(textOf(refs[0]!));
        } else throw new ProtocolError(`Unexpected ${what(c)} in ${what(e)}`);
      }
      return out as Partial<T>;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// BodyPreference (MS-ASAIRS 2.2.2.12) applied to a body the backend returned

/**
 * Cuts `body` to what `pref` asks for: TruncationSize in bytes (never splitting a UTF-8
 * character), AllOrNone (whole body or no data at all), Preview (up to that many characters of
 * plain text, 14.0+; the caller supplies the text since only it knows how to render HTML/MIME).
 * EstimatedDataSize stays the size of the whole body (MS-ASAIRS 2.2.2.23.1).
 */
export function applyBodyPreference(
  body: Body,
  pref: BodyPreference | undefined,
  ctx: ItemContext,
  previewText?: string,
): Body {
  const out: Body = { Type: body.Type, EstimatedDataSize: body.EstimatedDataSize };
  const data = body.Data;
  if (data !== undefined) {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const limit = pref?.TruncationSize;
    if (limit === undefined || bytes.length <= limit) {
      out.Data = data;
      if (body.Truncated === true) out.Truncated = true;
    } else if (pref?.AllOrNone === true) {
      out.Truncated = true; // MS-ASAIRS 2.2.2.3.2: too big for AllOrNone means no data
    } else {
      let cut = limit;
      if (typeof data === 'string') {
        while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--; // back to a character boundary
        out.Data = strictUtf8.decode(bytes.subarray(0, cut));
      } else {
        out.Data = bytes.slice(0, cut);
      }
      out.Truncated = true;
    }
  } else if (body.Truncated !== undefined) {
    out.Truncated = body.Truncated;
  }
  const previewLength = pref?.Preview;
  if (versionAtLeast(ctx.protocolVersion, '14.0') && previewLength !== undefined && previewLength > 0) {
    const source = previewText ?? body.Preview;
    if (source !== undefined) out.Preview = [...source].slice(0, Math.min(previewLength, 255)).join('');
  }
  return out;
}
