// vCard (RFC 6350 4.0, RFC 2426 3.0, 2.1 on read) ↔ ContactItem (MS-ASCNTC 2.2.2, Contacts2
// included). Pure: text in, text out.
//
// A card is read into *units*: each unit is a group of ContactItem fields and the content lines
// they came from (N gives five fields, one TEL line one phone field, …). Writing over an existing
// card (`base`) keeps every line no unit claimed — X- properties, a fourth e-mail, GEO, KEY — and
// every unit whose fields the item did not change, byte for byte; a changed unit is rewritten in
// place, keeping its group and parameters. So a phone's edit never destroys what it never saw.
import { randomUUID } from 'node:crypto';
import type { Body, ContactItem } from '../backend/model.js';
import { htmlToPlain } from './mime-to-email.js';
import {
  cleanText,
  escapeText,
  paramValues,
  parseVcard,
  serializeVcard,
  splitEscaped,
  structured,
  textList,
  typesOf,
  unescapeText,
  type Vcard,
  type VcardParam,
  type VcardProperty,
  type VcardVersion,
} from './vcard-lines.js';

export { VcardSyntaxError, vcardLimits, type VcardVersion } from './vcard-lines.js';

export interface ReadVcardResult {
  item: ContactItem;
  /** The card's version as written (2.1 cards are rewritten as 3.0). */
  version: VcardVersion;
  /** The UID property (RFC 6350 §6.7.6), if any. */
  uid?: string;
}

export interface ContactToVcardOptions {
  /** The card being replaced: its version, UID and every property no field maps are kept. */
  base?: string;
  /** The version of a new card (default 4.0); with `base`, the base's version is kept (2.1 becomes 3.0). */
  version?: '3.0' | '4.0';
  /** UID of a new card (default: a random urn:uuid). */
  uid?: string;
  /**
   * With `base`: write the card in this version instead of the base's. Every mapped line is then
   * written in this version, keeping what both versions share of the base's line (group, TYPE,
   * preference); unmapped lines are kept as they are.
   */
  asVersion?: '3.0' | '4.0';
}

type Field = keyof ContactItem;

/** A value for comparison: what a unit's fields say, normalised. */
type Snapshot = Record<string, unknown>;

interface Claim {
  unit: string;
  /** Indexes into card.props. */
  lines: number[];
  values: Partial<ContactItem>;
}

interface Ctx {
  version: VcardVersion;
  /** Apple-style labels: group → normalised label (`_$!<Spouse>!$_` → `spouse`). */
  labels: Map<string, string>;
  /** Allocates a fresh `itemN` group for Apple-style lines. */
  newGroup(): string;
}

interface UnitDef {
  key: string;
  fields: readonly Field[];
  /** Units of one family (the e-mails, the phones) keep their order in the card. */
  family?: string;
  /** Lines for the unit's fields in `item`; `base` are the lines the unit came from, if any. */
  write(item: ContactItem, base: VcardProperty[], ctx: Ctx): VcardProperty[];
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const prop = (name: string, value: string, params: VcardParam[] = [], group?: string): VcardProperty => ({
  ...(group !== undefined && { group }),
  name,
  params,
  value,
});
const typeParam = (...types: string[]): VcardParam[] =>
  types.length === 0 ? [] : [{ name: 'TYPE', values: types }];
const present = (v: string | undefined): v is string => v !== undefined && v !== '';
const nonEmpty = (v: string): string | undefined => (v === '' ? undefined : v);
/** TYPE values as this version writes them: lower case in 4.0, upper in 3.0 (as Apple and Google do). */
const tv = (ctx: Ctx, ...t: string[]): VcardParam[] =>
  typeParam(...t.map((x) => (ctx.version === '4.0' ? x.toLowerCase() : x.toUpperCase())));

function textValue(p: VcardProperty): string {
  return unescapeText(p.value);
}

/** RFC 6350 §5.3 PREF (1 most preferred … 100) or 3.0 TYPE=pref; lower sorts first. */
function prefOf(p: VcardProperty): number {
  const n = Number(paramValues(p, 'PREF')[0]);
  if (Number.isInteger(n) && n >= 1 && n <= 100) return n;
  return typesOf(p).has('pref') ? 0 : 101;
}

function byPref(card: Vcard, idx: number[]): number[] {
  return [...idx].sort((x, y) => prefOf(card.props[x]!) - prefOf(card.props[y]!) || x - y);
}

/** Apple's `_$!<HomePage>!$_` labels and custom labels, lower-cased without decoration. */
function normaliseLabel(v: string): string {
  const m = /^_\$!<(.*)>!\$_$/.exec(v.trim());
  return (m?.[1] ?? v).trim().toLowerCase();
}

function labelOf(p: VcardProperty, ctx: Ctx): string | undefined {
  return p.group === undefined ? undefined : ctx.labels.get(p.group.toLowerCase());
}

/** Apple-style helper lines that only describe another line of their group. */
const AUX = new Set(['X-ABLABEL', 'X-ABADR']);

// ---------------------------------------------------------------------------------------------
// Dates: MS-ASCNTC 2.2.2.6 Birthday / 2.2.2.4 Anniversary are dateTime values whose "time portion
// … SHOULD be ignored, so that synchronizing between different time zones does not change the
// date". easd sends the date at 11:59 UTC — the time the spec mentions — so a client that shows it
// in local time keeps the date anywhere from UTC−11:59 to UTC+12. Reading, it takes the nearest
// UTC midnight (before 12:00 the same day, from 12:00 the next): 11:59 and UTC midnight give
// their own date, and a client that sends local midnight gets its date back for offsets from
// UTC−11:59 (T11:59Z) to UTC+12 (T12:00Z the day before). UTC+13 and +14 (Tonga, Kiribati, New
// Zealand in summer) cannot be told from a negative offset and read a day early.

/** vCard has dates without a year (RFC 6350 `--0415`, Apple X-APPLE-OMIT-YEAR): EAS gets this year. */
export const NO_YEAR = 1604;

interface Ymd {
  y: number;
  m: number;
  d: number;
}

export function dateFromYmd({ y, m, d }: Ymd): Date {
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d); // not Date.UTC: it maps years 0–99 to 1900–1999
  t.setUTCHours(11, 59, 0, 0);
  return t;
}

export function ymdOfContactDate(date: Date): Ymd {
  const dayMs = 86_400_000;
  const t = date.getTime();
  const msOfDay = ((t % dayMs) + dayMs) % dayMs;
  const day = new Date(t - msOfDay + (msOfDay >= dayMs / 2 ? dayMs : 0));
  return { y: day.getUTCFullYear(), m: day.getUTCMonth() + 1, d: day.getUTCDate() };
}

function validYmd(y: number, m: number, d: number): Ymd | undefined {
  if (m < 1 || m > 12 || d < 1 || d > 31) return undefined;
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d);
  return t.getUTCMonth() === m - 1 ? { y, m, d } : undefined;
}

/** RFC 6350 §4.3.1 date (`19850415`, `--0415`), RFC 2426 ISO 8601 (`1985-04-15`, with a time or not). */
export function parseVcardDate(value: string, p?: VcardProperty): Ymd | undefined {
  const v = value.trim();
  if (p !== undefined && paramValues(p, 'VALUE')[0]?.toLowerCase() === 'text') return undefined;
  let m = /^(\d{4})-?(\d{2})-?(\d{2})(?:T.*)?$/.exec(v);
  if (m !== null) {
    let y = Number(m[1]);
    const omit = p === undefined ? undefined : paramValues(p, 'X-APPLE-OMIT-YEAR')[0];
    if (omit !== undefined && Number(omit) === y) y = NO_YEAR;
    return validYmd(y, Number(m[2]), Number(m[3]));
  }
  m = /^--(\d{2})-?(\d{2})$/.exec(v);
  if (m !== null) return validYmd(NO_YEAR, Number(m[1]), Number(m[2]));
  return undefined;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function writeDate(name: string, date: Date, ctx: Ctx, group?: string): VcardProperty {
  const { y, m, d } = ymdOfContactDate(date);
  if (ctx.version === '4.0') {
    // RFC 6350 §4.3.1 basic format; a date without a year is `--MMDD`
    return prop(name, y === NO_YEAR ? `--${pad(m)}${pad(d)}` : `${pad(y, 4)}${pad(m)}${pad(d)}`, [], group);
  }
  const params = y === NO_YEAR ? [{ name: 'X-APPLE-OMIT-YEAR', values: [String(NO_YEAR)] }] : [];
  return prop(name, `${pad(y, 4)}-${pad(m)}-${pad(d)}`, params, group);
}

// ---------------------------------------------------------------------------------------------
// Normalising for comparison

function bodyText(body: Body | undefined): string | undefined {
  if (body === undefined || body.Data === undefined) return undefined;
  const data = typeof body.Data === 'string' ? body.Data : new TextDecoder().decode(body.Data);
  if (body.Type === 2) return htmlToPlain(data);
  if (body.Type === 1) return data;
  return undefined; // RTF and MIME are no contact notes
}

/** `"Ada Lovelace" <ada@example.com>` → `ada@example.com`; a bare address stays. */
export function bareAddress(v: string): string {
  const m = /<([^<>]*)>\s*$/.exec(v);
  return (m?.[1] ?? v).trim();
}

function snapshotOf(item: ContactItem, fields: readonly Field[]): Snapshot {
  const out: Snapshot = {};
  for (const f of fields) {
    const v = item[f];
    if (v === undefined) continue;
    if (f === 'Body') {
      const t = bodyText(v as Body);
      if (t !== undefined && t !== '') out[f] = cleanText(t);
    } else if (v instanceof Date) out[f] = JSON.stringify(ymdOfContactDate(v));
    else if (Array.isArray(v)) {
      const list = v.map((x) => cleanText(String(x))).filter((x) => x !== '');
      if (list.length > 0) out[f] = list;
    } else if (typeof v === 'string') {
      const s = cleanText(
        /^Email\dAddress$/.test(f) ? bareAddress(v) : f === 'Picture' ? v.replace(/\s+/g, '') : v,
      );
      if (s !== '') out[f] = s;
    } else out[f] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading: which lines make which unit

/** vCard 3.0 instant messaging properties from before IMPP (RFC 4770), as Apple and others write them. */
const legacyIm = new Set([
  'X-AIM',
  'X-JABBER',
  'X-ICQ',
  'X-MSN',
  'X-YAHOO',
  'X-SKYPE',
  'X-SKYPE-USERNAME',
  'X-GTALK',
  'X-GOOGLE-TALK',
  'X-QQ',
  'X-GADUGADU',
  'X-GROUPWISE',
  'X-MS-IMADDRESS',
]);

/** IMPP schemes read without the scheme (the phone's IMAddress is an address); `sip:` stays. */
const imSchemes = /^(im|xmpp|aim|icq|msnim|msn|ymsgr|skype|gtalk|qq|gg|irc):/i;

export function imAddressOf(uri: string): string {
  return uri.replace(imSchemes, '');
}

function photoOf(p: VcardProperty): string | undefined {
  const enc = paramValues(p, 'ENCODING')[0]?.toLowerCase();
  if (enc === 'b' || enc === 'base64') return p.value.replace(/\s+/g, '');
  const m = /^data:[^,;]*(?:;[^,;]*)*;base64,(.*)$/is.exec(p.value.trim());
  return m?.[1]?.replace(/\s+/g, '');
}

type RelKind = 'spouse' | 'child' | 'assistant' | 'manager';

function relatedKind(p: VcardProperty, ctx: Ctx): RelKind | undefined {
  switch (p.name) {
    case 'X-SPOUSE':
    case 'X-MS-SPOUSE':
    case 'X-EVOLUTION-SPOUSE':
    case 'X-KADDRESSBOOK-X-SPOUSENAME':
      return 'spouse';
    case 'X-CHILD':
    case 'X-MS-CHILD':
      return 'child';
    case 'X-ASSISTANT':
    case 'X-MS-ASSISTANT':
    case 'X-EVOLUTION-ASSISTANT':
    case 'X-KADDRESSBOOK-X-ASSISTANTSNAME':
      return 'assistant';
    case 'X-MANAGER':
    case 'X-MS-MANAGER':
    case 'X-EVOLUTION-MANAGER':
    case 'X-KADDRESSBOOK-X-MANAGERSNAME':
      return 'manager';
  }
  let kinds: string[] = [];
  if (p.name === 'RELATED') kinds = [...typesOf(p)];
  else if (p.name === 'X-ABRELATEDNAMES') kinds = [labelOf(p, ctx) ?? ''];
  else return undefined;
  for (const k of kinds) {
    if (k === 'spouse' || k === 'partner' || k === 'wife' || k === 'husband') return 'spouse';
    if (k === 'child' || k === 'son' || k === 'daughter') return 'child';
    if (k === 'assistant' || k === 'x-assistant') return 'assistant';
    if (k === 'manager' || k === 'x-manager') return 'manager';
  }
  return undefined;
}

/** RELATED is a URI by default (RFC 6350 §6.6.6); a name is VALUE=text — or, leniently, no URI at all. */
function relatedName(p: VcardProperty): string | undefined {
  if (p.name !== 'RELATED') return nonEmpty(textValue(p));
  const isText = paramValues(p, 'VALUE')[0]?.toLowerCase() === 'text';
  if (!isText && /^[a-z][a-z0-9+.-]*:/i.test(p.value)) return undefined;
  return nonEmpty(textValue(p));
}

type PhoneField =
  | 'AssistantPhoneNumber'
  | 'BusinessPhoneNumber'
  | 'Business2PhoneNumber'
  | 'BusinessFaxNumber'
  | 'CarPhoneNumber'
  | 'CompanyMainPhone'
  | 'HomePhoneNumber'
  | 'Home2PhoneNumber'
  | 'HomeFaxNumber'
  | 'MMS'
  | 'MobilePhoneNumber'
  | 'PagerNumber'
  | 'RadioPhoneNumber';

/** The order a card lists the phones in, and the TYPE values written for each (MS-ASCNTC 2.2.2). */
const phoneSlots: ReadonlyArray<{ field: PhoneField; types: string[] }> = [
  { field: 'MobilePhoneNumber', types: ['cell'] },
  { field: 'HomePhoneNumber', types: ['home', 'voice'] },
  { field: 'Home2PhoneNumber', types: ['home', 'voice'] },
  { field: 'BusinessPhoneNumber', types: ['work', 'voice'] },
  { field: 'Business2PhoneNumber', types: ['work', 'voice'] },
  { field: 'CompanyMainPhone', types: ['work', 'x-company-main'] },
  { field: 'BusinessFaxNumber', types: ['work', 'fax'] },
  { field: 'HomeFaxNumber', types: ['home', 'fax'] },
  { field: 'CarPhoneNumber', types: ['car'] },
  { field: 'PagerNumber', types: ['pager'] },
  { field: 'RadioPhoneNumber', types: ['x-radio'] },
  { field: 'AssistantPhoneNumber', types: ['x-assistant'] },
  { field: 'MMS', types: ['x-mms'] },
];

/** The phone fields a TEL line may fill, best first; `fallback` lines wait until typed ones are placed. */
function phoneCandidates(p: VcardProperty, ctx: Ctx): { fields: PhoneField[]; fallback: boolean } {
  const t = typesOf(p);
  const label = labelOf(p, ctx) ?? '';
  const has = (...xs: string[]): boolean => xs.some((x) => t.has(x) || label === x);
  if (has('x-mms', 'mms')) return { fields: ['MMS'], fallback: false };
  if (has('pager')) return { fields: ['PagerNumber'], fallback: false };
  if (has('car')) return { fields: ['CarPhoneNumber'], fallback: false };
  if (has('x-radio', 'radio')) return { fields: ['RadioPhoneNumber'], fallback: false };
  if (has('x-assistant', 'x-evolution-assistant', 'assistant'))
    return { fields: ['AssistantPhoneNumber'], fallback: false };
  if (has('x-company-main', 'x-evolution-company', 'companymain', 'company main', 'company'))
    return { fields: ['CompanyMainPhone'], fallback: false };
  if (has('fax', 'homefax', 'workfax', 'otherfax')) {
    if (has('home', 'homefax')) return { fields: ['HomeFaxNumber'], fallback: false };
    if (has('work', 'workfax')) return { fields: ['BusinessFaxNumber'], fallback: false };
    return { fields: ['BusinessFaxNumber', 'HomeFaxNumber'], fallback: false };
  }
  if (has('cell', 'mobile', 'iphone')) return { fields: ['MobilePhoneNumber'], fallback: false };
  if (has('msg')) return { fields: ['MMS'], fallback: false };
  if (has('work')) return { fields: ['BusinessPhoneNumber', 'Business2PhoneNumber'], fallback: false };
  if (has('home')) return { fields: ['HomePhoneNumber', 'Home2PhoneNumber'], fallback: false };
  // untyped, voice, other, main: there is no "other phone" in EAS; show it where there is room
  return { fields: ['HomePhoneNumber', 'Home2PhoneNumber', 'Business2PhoneNumber'], fallback: true };
}

function telValue(p: VcardProperty): string {
  const v = textValue(p).trim();
  // RFC 6350 §6.4.1 allows a tel: URI (RFC 3966); the phone wants the number
  return /^tel:/i.test(v) ? decodeURIComponent(v.slice(4).split(';')[0] ?? '') : v;
}

type AdrKind = 'Home' | 'Business' | 'Other';

function adrKind(p: VcardProperty, ctx: Ctx): AdrKind {
  const t = typesOf(p);
  const label = labelOf(p, ctx);
  if (t.has('work') || label === 'work') return 'Business';
  if (t.has('home') || label === 'home') return 'Home';
  return 'Other';
}

const adrFields = (k: AdrKind): Field[] =>
  [
    `${k}AddressStreet`,
    `${k}AddressCity`,
    `${k}AddressState`,
    `${k}AddressPostalCode`,
    `${k}AddressCountry`,
  ] as Field[];

/** ADR (RFC 6350 §6.3.1): post office box; extended address; street; locality; region; code; country. */
function readAdr(p: VcardProperty, k: AdrKind): Partial<ContactItem> {
  const [pobox = '', ext = '', street = '', city = '', region = '', code = '', country = ''] = structured(
    p.value,
  );
  // the extended address (apartment) and box are shown under the street so the phone sees them
  const streetLines = [street, ext, pobox].filter((x) => x !== '').join('\n');
  const out: Record<string, string> = {};
  const set = (f: string, v: string): void => {
    if (v !== '') out[f] = v;
  };
  set(`${k}AddressStreet`, streetLines);
  set(`${k}AddressCity`, city);
  set(`${k}AddressState`, region);
  set(`${k}AddressPostalCode`, code);
  set(`${k}AddressCountry`, country);
  return out as Partial<ContactItem>;
}

const simpleText: ReadonlyArray<{ name: string; field: Field; also?: string[] }> = [
  { name: 'FN', field: 'FileAs' },
  { name: 'NICKNAME', field: 'NickName' },
  { name: 'TITLE', field: 'JobTitle' },
  { name: 'X-PHONETIC-FIRST-NAME', field: 'YomiFirstName' },
  { name: 'X-PHONETIC-LAST-NAME', field: 'YomiLastName' },
  { name: 'X-PHONETIC-ORG', field: 'YomiCompanyName' },
  // no vCard property says these; X-EAS-* keeps them for the phone (MS-ASCNTC 2.2.2.51, Contacts2)
  { name: 'X-EAS-OFFICELOCATION', field: 'OfficeLocation' },
  { name: 'X-EAS-CUSTOMERID', field: 'CustomerId' },
  { name: 'X-EAS-GOVERNMENTID', field: 'GovernmentId' },
  { name: 'X-EAS-ACCOUNTNAME', field: 'AccountName' },
];

function makeCtx(card: Vcard, version: VcardVersion): Ctx {
  const labels = new Map<string, string>();
  let max = 0;
  for (const p of card.props) {
    if (p.group === undefined) continue;
    const n = /^item(\d+)$/i.exec(p.group);
    if (n !== null) max = Math.max(max, Number(n[1]));
    if (p.name === 'X-ABLABEL') labels.set(p.group.toLowerCase(), normaliseLabel(unescapeText(p.value)));
  }
  return { version, labels, newGroup: () => `item${++max}` };
}

function readClaims(card: Vcard, ctx: Ctx): Claim[] {
  const claims: Claim[] = [];
  const taken = new Set<number>();
  const claim = (unit: string, lines: number[], values: Partial<ContactItem>): void => {
    for (const l of lines) taken.add(l);
    claims.push({ unit, lines, values });
  };
  const all = (pred: (p: VcardProperty, i: number) => boolean): number[] =>
    card.props.flatMap((p, i) => (!taken.has(i) && pred(p, i) ? [i] : []));
  const at = (i: number): VcardProperty => card.props[i]!;

  for (const { name, field } of simpleText) {
    const i = byPref(
      card,
      all((p) => p.name === name),
    )[0];
    if (i === undefined) continue;
    // NICKNAME is a text list (RFC 6350 §6.2.3); the phone has one field
    const v = name === 'NICKNAME' ? textList(at(i).value).join(', ') : textValue(at(i));
    claim(name, [i], v === '' ? {} : { [field]: v });
  }

  const n = all((p) => p.name === 'N')[0];
  if (n !== undefined) {
    // RFC 6350 §6.2.2: family; given; additional; prefixes; suffixes
    const [last = '', first = '', middle = '', prefix = '', suffix = ''] = structured(at(n).value);
    claim('N', [n], {
      ...(last !== '' && { LastName: last }),
      ...(first !== '' && { FirstName: first }),
      ...(middle !== '' && { MiddleName: middle }),
      ...(prefix !== '' && { Title: prefix }),
      ...(suffix !== '' && { Suffix: suffix }),
    });
  }

  const org = byPref(
    card,
    all((p) => p.name === 'ORG'),
  )[0];
  if (org !== undefined) {
    // RFC 6350 §6.6.4: organization name; units
    const [company = '', dept = ''] = structured(at(org).value);
    claim('ORG', [org], {
      ...(company !== '' && { CompanyName: company }),
      ...(dept !== '' && { Department: dept }),
    });
  }

  const emails = byPref(
    card,
    all((p) => p.name === 'EMAIL' && textValue(p).trim() !== ''),
  );
  emails.slice(0, 3).forEach((i, k) => {
    const f = `Email${k + 1}Address` as Field;
    claim(f, [i], { [f]: textValue(at(i)).trim() });
  });

  // phones: typed lines first, then the untyped ones where there is room
  const tels = byPref(
    card,
    all((p) => p.name === 'TEL' && telValue(p) !== ''),
  );
  const phoneTaken = new Set<PhoneField>();
  for (const pass of [false, true]) {
    for (const i of tels) {
      const c = phoneCandidates(at(i), ctx);
      if (c.fallback !== pass) continue;
      const f = c.fields.find((x) => !phoneTaken.has(x));
      if (f === undefined) continue;
      phoneTaken.add(f);
      claim(f, [i], { [f]: telValue(at(i)) });
    }
  }

  const adrs = byPref(
    card,
    all((p) => p.name === 'ADR'),
  );
  const adrTaken = new Set<AdrKind>();
  for (const pass of [0, 1]) {
    for (const i of adrs) {
      if (taken.has(i)) continue;
      // a second home or work address goes to Other when that is free
      const k: AdrKind = pass === 0 ? adrKind(at(i), ctx) : 'Other';
      if (adrTaken.has(k)) continue;
      adrTaken.add(k);
      claim(`ADR:${k}`, [i], readAdr(at(i), k));
    }
  }

  for (const [unit, field, names, label] of [
    ['BDAY', 'Birthday', ['BDAY'], 'birthday'],
    [
      'ANNIVERSARY',
      'Anniversary',
      ['ANNIVERSARY', 'X-ANNIVERSARY', 'X-MS-ANNIVERSARY', 'X-EVOLUTION-ANNIVERSARY'],
      'anniversary',
    ],
  ] as const) {
    const lines = all(
      (p) =>
        ((names as readonly string[]).includes(p.name) ||
          (p.name === 'X-ABDATE' && labelOf(p, ctx) === label)) &&
        parseVcardDate(p.value, p) !== undefined,
    );
    const i = lines[0];
    if (i === undefined) continue;
    claim(unit, [i], { [field]: dateFromYmd(parseVcardDate(at(i).value, at(i))!) });
  }

  const notes = all((p) => p.name === 'NOTE');
  if (notes[0] !== undefined) {
    const text = textValue(at(notes[0]));
    const body: Body = { Type: 1, EstimatedDataSize: new TextEncoder().encode(text).byteLength, Data: text };
    claim('NOTE', [notes[0]], text === '' ? {} : { Body: body });
  }

  const cats = all((p) => p.name === 'CATEGORIES');
  if (cats.length > 0) {
    const list = [...new Set(cats.flatMap((i) => textList(at(i).value)))];
    claim('CATEGORIES', cats, list.length > 0 ? { Categories: list } : {});
  }

  const photo = byPref(
    card,
    all((p) => p.name === 'PHOTO' && photoOf(p) !== undefined),
  )[0];
  if (photo !== undefined) claim('PHOTO', [photo], { Picture: photoOf(at(photo))! });

  const ims = byPref(
    card,
    all((p) => (p.name === 'IMPP' || legacyIm.has(p.name)) && textValue(p).trim() !== ''),
  );
  const seen = new Set<string>();
  let imCount = 0;
  for (const i of ims) {
    if (imCount === 3) break;
    const v = imAddressOf(textValue(at(i)).trim());
    if (seen.has(v.toLowerCase())) continue; // Apple writes X-AIM and IMPP for one account
    seen.add(v.toLowerCase());
    const f = (imCount === 0 ? 'IMAddress' : `IMAddress${imCount + 1}`) as Field;
    imCount++;
    claim(f, [i], { [f]: v });
  }

  const url = byPref(
    card,
    all((p) => p.name === 'URL' && textValue(p).trim() !== ''),
  )[0];
  if (url !== undefined) claim('URL', [url], { WebPage: textValue(at(url)).trim() });

  const related = all((p) => relatedKind(p, ctx) !== undefined && relatedName(p) !== undefined);
  for (const [kind, field] of [
    ['spouse', 'Spouse'],
    ['assistant', 'AssistantName'],
    ['manager', 'ManagerName'],
  ] as const) {
    const i = related.find((x) => relatedKind(at(x), ctx) === kind);
    if (i !== undefined) claim(field, [i], { [field]: relatedName(at(i))! });
  }
  const children = related.filter((x) => relatedKind(at(x), ctx) === 'child');
  if (children.length > 0)
    claim('Children', children, { Children: children.map((x) => relatedName(at(x))!) });

  return claims;
}

/** The ContactItem a vCard describes, with its version and UID. Throws VcardSyntaxError on broken text. */
export function readVcard(text: string): ReadVcardResult {
  const card = parseVcard(text);
  const version = card.version;
  const ctx = makeCtx(card, version);
  const item: ContactItem = {};
  for (const c of readClaims(card, ctx)) Object.assign(item, c.values);
  const uid = card.props.find((p) => p.name === 'UID');
  return { item, version, ...(uid !== undefined && { uid: textValue(uid) }) };
}

/** `readVcard(text).item`. */
export function vcardToContact(text: string): ContactItem {
  return readVcard(text).item;
}

// ---------------------------------------------------------------------------------------------
// Writing: one writer per unit

/**
 * A URI value is not text-escaped (RFC 6350 §3.4 applies to text); only a backslash is doubled,
 * because readers (this one included) undo the `http\\://` escaping Apple writes.
 */
function uriText(v: string): string {
  return v.replace(/\n/g, ' ').replace(/\\/g, '\\\\');
}

const s = (item: ContactItem, f: Field): string | undefined => {
  const v = item[f];
  return typeof v === 'string' && v !== '' ? cleanText(v) : undefined;
};

/**
 * A card's lines in the other version's spelling, as far as both versions share it: the group, TYPE
 * values (lower case in 4.0, upper in 3.0) and preference (4.0 PREF=1 ↔ 3.0 TYPE=pref). Parameters
 * of one version only (VALUE, MEDIATYPE, PID, ALTID, LABEL, CHARSET, ENCODING…) go; a 4.0 tel: URI
 * becomes the number; properties 3.0 does not have (RELATED, ANNIVERSARY…) are left out, to be
 * written anew in 3.0's way.
 */
const only40 = new Set(['RELATED', 'ANNIVERSARY', 'GENDER', 'KIND', 'LANG', 'MEMBER', 'XML', 'CLIENTPIDMAP']);
function respell(lines: VcardProperty[], to: VcardVersion): VcardProperty[] {
  if (to === '3.0' && lines.some((l) => only40.has(l.name))) return [];
  return lines.map((l) => {
    const types = [...typesOf(l)].filter((t) => t !== 'pref');
    const preferred = prefOf(l) <= 1;
    const params: VcardParam[] = [];
    if (to === '3.0') {
      const all = [...types, ...(preferred ? ['pref'] : [])].map((t) => t.toUpperCase());
      if (all.length > 0) params.push({ name: 'TYPE', values: all });
    } else {
      if (types.length > 0) params.push({ name: 'TYPE', values: types.map((t) => t.toLowerCase()) });
      if (preferred) params.push({ name: 'PREF', values: ['1'] });
    }
    const value = l.name === 'TEL' ? l.value.replace(/^tel:/i, '') : l.value;
    return { ...l, params, value };
  });
}

/** The first line of `base` rewritten with `value` (group and parameters kept), or a new line. */
function reuse(base: VcardProperty[], fresh: VcardProperty, drop: string[] = []): VcardProperty {
  const b = base[0];
  if (b === undefined || b.name !== fresh.name) return fresh;
  return { ...b, value: fresh.value, params: b.params.filter((p) => !drop.includes(p.name)) };
}

function single(key: string, field: Field, name: string): UnitDef {
  return {
    key,
    fields: [field],
    write: (item, base) => {
      const v = s(item, field);
      return v === undefined ? [] : [reuse(base, prop(name, escapeText(v)))];
    },
  };
}

/** FN is required in both versions (RFC 6350 §6.2.1, RFC 2426 §3.1.1): compose one if FileAs is absent. */
function displayName(item: ContactItem): string {
  const name = [item.Title, item.FirstName, item.MiddleName, item.LastName, item.Suffix]
    .filter(present)
    .join(' ');
  return cleanText(name || item.CompanyName || bareAddress(item.Email1Address ?? '') || item.NickName || '');
}

const phoneUnits: UnitDef[] = phoneSlots.map(({ field, types }) => ({
  key: field,
  fields: [field],
  family: 'TEL',
  write: (item, base, ctx) => {
    const v = s(item, field);
    if (v === undefined) return [];
    const b = base[0];
    // a tel: URI stays one (RFC 6350 §6.4.1); a typed line keeps its parameters
    if (b !== undefined && /^tel:/i.test(textValue(b).trim()))
      return [{ ...b, value: `tel:${v.replace(/[^0-9A-Za-z+*#().\-;=]/g, (c) => encodeURIComponent(c))}` }];
    return [reuse(base, prop('TEL', escapeText(v), tv(ctx, ...types)))];
  },
}));

const emailUnits: UnitDef[] = (['Email1Address', 'Email2Address', 'Email3Address'] as const).map((field) => ({
  key: field,
  fields: [field],
  family: 'EMAIL',
  write: (item, base, ctx) => {
    const v = s(item, field);
    if (v === undefined) return [];
    return [
      reuse(
        base,
        prop('EMAIL', escapeText(bareAddress(v)), ctx.version === '4.0' ? [] : tv(ctx, 'internet')),
      ),
    ];
  },
}));

const imUnits: UnitDef[] = (['IMAddress', 'IMAddress2', 'IMAddress3'] as const).map((field) => ({
  key: field,
  fields: [field],
  family: 'IM',
  write: (item, base) => {
    const v = s(item, field);
    if (v === undefined) return [];
    const b = base[0];
    const hasScheme = /^[a-z][a-z0-9+.-]*:/i.test(v);
    if (b !== undefined && legacyIm.has(b.name)) return [{ ...b, value: escapeText(v) }];
    // IMPP is a URI (RFC 6350 §6.4.3, RFC 4770): keep the base line's scheme, else im: (RFC 3860)
    const scheme = b !== undefined ? (imSchemes.exec(b.value)?.[0] ?? 'im:') : 'im:';
    return [reuse(base, prop('IMPP', uriText(hasScheme ? v : `${scheme}${v}`)))];
  },
}));

const adrUnits: UnitDef[] = (['Home', 'Business', 'Other'] as const).map((k) => ({
  key: `ADR:${k}`,
  fields: adrFields(k),
  family: 'ADR',
  write: (item, base, ctx) => {
    const [street, city, region, code, country] = adrFields(k).map((f) => s(item, f) ?? '');
    if ([street, city, region, code, country].every((x) => x === '')) return [];
    let pobox = '';
    let ext = '';
    let st = street ?? '';
    const b = base[0];
    if (b !== undefined) {
      // keep box and extended address when the phone's street still ends with them (see readAdr)
      const [bp = '', be = ''] = structured(b.value);
      const tail = [be, bp].filter((x) => x !== '').join('\n');
      if (tail !== '' && st.endsWith(`\n${tail}`)) {
        st = st.slice(0, -tail.length - 1);
        pobox = bp;
        ext = be;
      } else if (tail !== '' && st === tail) {
        st = '';
        pobox = bp;
        ext = be;
      }
    }
    const value = [pobox, ext, st, city ?? '', region ?? '', code ?? '', country ?? '']
      .map(escapeText)
      .join(';');
    const type = k === 'Home' ? 'home' : k === 'Business' ? 'work' : 'other';
    // a LABEL parameter (RFC 6350 §6.3.1) describes the old address: drop it
    return [reuse(base, prop('ADR', value, tv(ctx, type)), ['LABEL'])];
  },
}));

function relatedUnit(field: 'Spouse' | 'AssistantName' | 'ManagerName', kind: RelKind): UnitDef {
  return {
    key: field,
    fields: [field],
    write: (item, base, ctx) => {
      const v = s(item, field);
      if (v === undefined) return [];
      const b = base[0];
      if (b !== undefined) return [{ ...b, value: escapeText(v) }];
      return relatedLines(kind, [v], ctx);
    },
  };
}

const appleRelated: Record<RelKind, string> = {
  spouse: '_$!<Spouse>!$_',
  child: '_$!<Child>!$_',
  assistant: '_$!<Assistant>!$_',
  manager: '_$!<Manager>!$_',
};

/** 4.0: RELATED;VALUE=text (RFC 6350 §6.6.6). 3.0 has no RELATED: Apple's labelled X-ABRELATEDNAMES. */
function relatedLines(kind: RelKind, names: string[], ctx: Ctx): VcardProperty[] {
  if (ctx.version === '4.0') {
    const type = kind === 'assistant' || kind === 'manager' ? `x-${kind}` : kind;
    return names.map((n) =>
      prop('RELATED', escapeText(n), [
        { name: 'TYPE', values: [type] },
        { name: 'VALUE', values: ['text'] },
      ]),
    );
  }
  return names.flatMap((n) => {
    const g = ctx.newGroup();
    return [prop('X-ABRELATEDNAMES', escapeText(n), [], g), prop('X-ABLabel', appleRelated[kind], [], g)];
  });
}

const mediaTypes: ReadonlyArray<[string, string, string]> = [
  // magic (base64 of the first bytes), media type, 3.0 TYPE
  ['/9j/', 'image/jpeg', 'JPEG'],
  ['iVBORw0KGgo', 'image/png', 'PNG'],
  ['R0lGOD', 'image/gif', 'GIF'],
];

const units: UnitDef[] = [
  {
    key: 'FN',
    fields: ['FileAs'],
    write: (item, base) => [reuse(base, prop('FN', escapeText(s(item, 'FileAs') ?? displayName(item))))],
  },
  {
    key: 'N',
    fields: ['LastName', 'FirstName', 'MiddleName', 'Title', 'Suffix'],
    write: (item, base) => {
      const parts = (['LastName', 'FirstName', 'MiddleName', 'Title', 'Suffix'] as const).map(
        (f) => s(item, f) ?? '',
      );
      // later components a base N may have are kept (there are none in RFC 6350, but be safe)
      const extra = base[0] === undefined ? [] : splitEscaped(base[0].value, ';').slice(5);
      return [reuse(base, prop('N', [...parts.map(escapeText), ...extra].join(';')))];
    },
  },
  {
    key: 'NICKNAME',
    fields: ['NickName'],
    write: (item, base) => {
      const v = s(item, 'NickName');
      return v === undefined ? [] : [reuse(base, prop('NICKNAME', escapeText(v)))];
    },
  },
  single('X-PHONETIC-FIRST-NAME', 'YomiFirstName', 'X-PHONETIC-FIRST-NAME'),
  single('X-PHONETIC-LAST-NAME', 'YomiLastName', 'X-PHONETIC-LAST-NAME'),
  {
    key: 'ORG',
    fields: ['CompanyName', 'Department'],
    write: (item, base) => {
      const company = s(item, 'CompanyName') ?? '';
      const dept = s(item, 'Department') ?? '';
      if (company === '' && dept === '') return [];
      // further organizational units of the base are kept (RFC 6350 §6.6.4)
      const extra = base[0] === undefined ? [] : splitEscaped(base[0].value, ';').slice(2);
      const parts = [
        escapeText(company),
        ...(dept !== '' || extra.length > 0 ? [escapeText(dept)] : []),
        ...extra,
      ];
      return [reuse(base, prop('ORG', parts.join(';')))];
    },
  },
  single('X-PHONETIC-ORG', 'YomiCompanyName', 'X-PHONETIC-ORG'),
  single('TITLE', 'JobTitle', 'TITLE'),
  single('X-EAS-OFFICELOCATION', 'OfficeLocation', 'X-EAS-OFFICELOCATION'),
  ...emailUnits,
  ...phoneUnits,
  ...adrUnits,
  {
    key: 'BDAY',
    fields: ['Birthday'],
    write: (item, base, ctx) => {
      if (item.Birthday === undefined) return [];
      const fresh = writeDate('BDAY', item.Birthday, ctx);
      const b = base[0];
      return [
        b === undefined
          ? fresh
          : {
              ...b,
              value: fresh.value,
              params: [
                ...b.params.filter((p) => p.name !== 'X-APPLE-OMIT-YEAR' && p.name !== 'VALUE'),
                ...fresh.params,
              ],
            },
      ];
    },
  },
  {
    key: 'ANNIVERSARY',
    fields: ['Anniversary'],
    write: (item, base, ctx) => {
      if (item.Anniversary === undefined) return [];
      const b = base[0];
      if (b !== undefined) {
        const fresh = writeDate(b.name, item.Anniversary, ctx);
        return [
          {
            ...b,
            value: fresh.value,
            params: [
              ...b.params.filter((p) => p.name !== 'X-APPLE-OMIT-YEAR' && p.name !== 'VALUE'),
              ...fresh.params,
            ],
          },
        ];
      }
      if (ctx.version === '4.0') return [writeDate('ANNIVERSARY', item.Anniversary, ctx)];
      // 3.0 has no ANNIVERSARY: Apple's labelled X-ABDATE
      const g = ctx.newGroup();
      return [
        writeDate('X-ABDATE', item.Anniversary, ctx, g),
        prop('X-ABLabel', '_$!<Anniversary>!$_', [], g),
      ];
    },
  },
  relatedUnit('Spouse', 'spouse'),
  {
    key: 'Children',
    fields: ['Children'],
    write: (item, base, ctx) => {
      const kids = (item.Children ?? []).map(cleanText).filter((x) => x !== '');
      // rewrite the base lines one for one while there are names for them
      const out: VcardProperty[] = [];
      kids.forEach((k, i) => {
        const b = base[i];
        if (b !== undefined) out.push({ ...b, value: escapeText(k) });
        else out.push(...relatedLines('child', [k], ctx));
      });
      return out;
    },
  },
  relatedUnit('AssistantName', 'assistant'),
  relatedUnit('ManagerName', 'manager'),
  ...imUnits,
  {
    key: 'URL',
    fields: ['WebPage'],
    write: (item, base) => {
      const v = s(item, 'WebPage');
      return v === undefined ? [] : [reuse(base, prop('URL', uriText(v)))];
    },
  },
  {
    key: 'CATEGORIES',
    fields: ['Categories'],
    write: (item, base) => {
      const list = (item.Categories ?? []).map(cleanText).filter((x) => x !== '');
      return list.length === 0 ? [] : [reuse(base, prop('CATEGORIES', list.map(escapeText).join(',')))];
    },
  },
  {
    key: 'NOTE',
    fields: ['Body'],
    write: (item, base) => {
      const text = bodyText(item.Body);
      return text === undefined || text === '' ? [] : [reuse(base, prop('NOTE', escapeText(text)))];
    },
  },
  {
    key: 'PHOTO',
    fields: ['Picture'],
    write: (item, base, ctx) => {
      const b64 = s(item, 'Picture')?.replace(/\s+/g, '');
      if (b64 === undefined) return [];
      const [, media, type] = mediaTypes.find(([magic]) => b64.startsWith(magic)) ?? [
        '',
        'image/jpeg',
        'JPEG',
      ];
      if (ctx.version === '4.0')
        return [
          {
            ...reuse(base, prop('PHOTO', `data:${media};base64,${b64}`), [
              'ENCODING',
              'TYPE',
              'VALUE',
              'MEDIATYPE',
            ]),
          },
        ];
      // RFC 2426 §3.1.4: inline binary is ENCODING=b with the image TYPE
      const params = [
        { name: 'ENCODING', values: ['b'] },
        { name: 'TYPE', values: [type] },
      ];
      const fresh = prop('PHOTO', b64, params);
      const old = base[0];
      return [
        old === undefined
          ? fresh
          : {
              ...old,
              value: b64,
              params: [
                ...old.params.filter((p) => !['ENCODING', 'TYPE', 'VALUE'].includes(p.name)),
                ...params,
              ],
            },
      ];
    },
  },
  single('X-EAS-CUSTOMERID', 'CustomerId', 'X-EAS-CUSTOMERID'),
  single('X-EAS-GOVERNMENTID', 'GovernmentId', 'X-EAS-GOVERNMENTID'),
  single('X-EAS-ACCOUNTNAME', 'AccountName', 'X-EAS-ACCOUNTNAME'),
];

const unitByKey = new Map(units.map((u) => [u.key, u]));
const familyRank = new Map(units.map((u, i) => [u.key, i]));

/**
 * The vCard for `item`. With `base` (the card it replaces), the base's version, UID and every
 * line this converter does not map are kept, and so is every mapped line whose fields did not
 * change; a changed line is rewritten in place. Without `base`, a new card of `version` (4.0).
 */
export function contactToVcard(item: ContactItem, opts: ContactToVcardOptions = {}): string {
  if (opts.base === undefined) {
    const version = opts.version ?? '4.0';
    const card: Vcard = { version, props: [] };
    const ctx = makeCtx(card, version);
    card.props.push(prop('PRODID', '-//easd//vCard converter//EN'));
    const uid = opts.uid ?? `urn:uuid:${randomUUID()}`;
    card.props.push(
      prop('UID', version === '4.0' && /^[a-z][a-z0-9+.-]*:/i.test(uid) ? uid : escapeText(uid)),
    );
    for (const u of units) card.props.push(...u.write(item, [], ctx));
    return serializeVcard(card);
  }

  const base = parseVcard(opts.base);
  const baseVersion: VcardVersion = base.version === '2.1' ? '3.0' : base.version;
  const version: VcardVersion = opts.asVersion ?? baseVersion;
  const converting = version !== baseVersion;
  const ctx = makeCtx(base, version);
  const claims = readClaims(base, converting ? makeCtx(base, baseVersion) : ctx);

  // replacement lines per base index: a changed unit's lines go where its first line was
  const replaced = new Map<number, VcardProperty[]>();
  const removed = new Set<number>();
  const appended: Array<{ unit: UnitDef; lines: VcardProperty[] }> = [];
  const claimed = new Map(claims.map((c) => [c.unit, c]));
  for (const u of units) {
    const c = claimed.get(u.key);
    const baseSnap = c === undefined ? {} : snapshotOf(c.values, u.fields);
    const newSnap = snapshotOf(item, u.fields);
    // Body without Data: a truncated or ghosted note the phone did not send (keep the base's)
    const untouchedNote = u.key === 'NOTE' && item.Body !== undefined && item.Body.Data === undefined;
    if (
      untouchedNote ||
      (!converting && c !== undefined && JSON.stringify(baseSnap) === JSON.stringify(newSnap))
    )
      continue;
    // nothing before, nothing now; FN is required (RFC 6350 §6.2.1), so a card without one gets one
    if (c === undefined && Object.keys(newSnap).length === 0 && u.key !== 'FN') continue;
    // converting, the base's lines are given in the new version's spelling (what both versions
    // share: group, TYPE, preference), so another client's TYPE=work survives the rewrite
    const baseLines = c === undefined ? [] : c.lines.map((i) => base.props[i]!);
    const lines = u.write(item, converting ? respell(baseLines, version) : baseLines, ctx);
    if (c === undefined) {
      if (lines.length > 0) appended.push({ unit: u, lines });
      continue;
    }
    const [first, ...rest] = c.lines;
    if (first === undefined) continue;
    replaced.set(first, lines);
    for (const i of rest) removed.add(i);
  }

  const out: Array<{ prop: VcardProperty; unit?: string }> = [];
  const unitOfLine = new Map<number, string>();
  for (const c of claims) for (const i of c.lines) unitOfLine.set(i, c.unit);
  base.props.forEach((p, i) => {
    if (removed.has(i)) return;
    const r = replaced.get(i);
    const unit = unitOfLine.get(i);
    if (r !== undefined) for (const q of r) out.push({ prop: q, ...(unit !== undefined && { unit }) });
    else out.push({ prop: p, ...(unit !== undefined && { unit }) });
  });

  // new lines: before a later unit of their family (so Email1 stays before Email2), else after it
  for (const { unit, lines } of appended) {
    const rank = familyRank.get(unit.key)!;
    const family = unit.family;
    let at = out.length;
    if (family !== undefined) {
      const later = out.findIndex(
        (o) =>
          o.unit !== undefined && unitByKey.get(o.unit)?.family === family && familyRank.get(o.unit)! > rank,
      );
      if (later >= 0) at = later;
      else {
        let last = -1;
        out.forEach((o, k) => {
          if (o.unit !== undefined && unitByKey.get(o.unit)?.family === family) last = k;
        });
        if (last >= 0) at = last + 1;
      }
    }
    out.splice(at, 0, ...lines.map((prop) => ({ prop, unit: unit.key })));
  }

  // Apple's helper lines (X-ABLabel, X-ABADR) go with the line they describe: a group whose
  // line was removed loses its label too
  const mainGroups = (ps: VcardProperty[]): Set<string> =>
    new Set(ps.filter((p) => p.group !== undefined && !AUX.has(p.name)).map((p) => p.group!.toLowerCase()));
  const before = mainGroups(base.props);
  const after = mainGroups(out.map((o) => o.prop));
  const props = out
    .map((o) => o.prop)
    .filter((p) => {
      const g = p.group?.toLowerCase();
      return g === undefined || !AUX.has(p.name) || after.has(g) || !before.has(g);
    });

  if (!props.some((p) => p.name === 'UID') && opts.uid !== undefined)
    props.unshift(prop('UID', escapeText(opts.uid)));
  return serializeVcard({ version, props });
}
