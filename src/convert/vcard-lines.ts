// The vCard content-line layer (RFC 6350 §3.3 / RFC 2426 §4 / vCard 2.1): text ↔ cards of
// properties, for versions 2.1, 3.0 and 4.0. It knows the grammar — folding, groups, parameters,
// escaping, quoted-printable and CHARSET (2.1/3.0) — and nothing of what properties mean
// (src/convert/vcard.ts maps them to ContactItem). vcard4 only reads 4.0 and refuses unknown
// properties, so it cannot carry the cards phones and other clients leave behind; this parser
// keeps every line it reads so a rewrite can preserve what it does not understand.

/** Every limit of the vCard parser in one place (STYLE: limits in one place). */
export const vcardLimits = {
  /** Characters of vCard text accepted at all (a 3 MB photo in base64 is about 4 M). */
  maxTextLength: 8 * 1024 * 1024,
  /** Content lines per card. */
  maxLines: 5000,
  /** Parameters per content line. */
  maxParams: 64,
  /** Cards in one text (a CardDAV resource holds one; an export may hold many). */
  maxCards: 10_000,
} as const;

export class VcardSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VcardSyntaxError';
  }
}

export type VcardVersion = '2.1' | '3.0' | '4.0';

export interface VcardParam {
  /** Upper-cased name; a 2.1 bare value (`;HOME`) is read as TYPE. */
  name: string;
  /** Values with quotes removed and RFC 6868 caret escapes decoded. */
  values: string[];
}

export interface VcardProperty {
  /** RFC 6350 §3.3 group (`item1` of `item1.EMAIL`), as written. */
  group?: string;
  /** Upper-cased property name. */
  name: string;
  params: VcardParam[];
  /**
   * The value as text, escapes intact (they depend on the value type), with the transfer
   * encoding undone: quoted-printable decoded through CHARSET. Base64 stays base64.
   */
  value: string;
}

export interface Vcard {
  version: VcardVersion;
  /** Every property between BEGIN and END except BEGIN, END and VERSION, in order. */
  props: VcardProperty[];
}

// ---------------------------------------------------------------------------------------------
// Reading

/** RFC 6350 §3.2: a line break followed by one space or tab continues the line. */
function physicalLines(text: string): string[] {
  return text.split(/\r\n|\n|\r/);
}

function isQuotedPrintable(head: string): boolean {
  return /(^|;)(ENCODING=)?QUOTED-PRINTABLE(;|$)/i.test(head);
}

/** The part of a content line before the value separator (a colon outside quotes). */
function splitHead(line: string): { head: string; value: string } | undefined {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === ':' && !quoted) return { head: line.slice(0, i), value: line.slice(i + 1) };
  }
  return undefined;
}

/** Unfolds into logical lines; a quoted-printable value ending in `=` continues on the next line (2.1/3.0). */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let current: string | undefined;
  for (const raw of physicalLines(text)) {
    if (current !== undefined && (raw.startsWith(' ') || raw.startsWith('\t'))) {
      current += raw.slice(1);
      continue;
    }
    if (current !== undefined && current.endsWith('=')) {
      const split = splitHead(current);
      if (split !== undefined && isQuotedPrintable(split.head)) {
        // soft line break: the next physical line carries on, indented or not
        current = current.slice(0, -1) + raw.replace(/^[ \t]/, '');
        continue;
      }
    }
    if (current !== undefined) out.push(current);
    current = raw;
  }
  if (current !== undefined) out.push(current);
  return out.filter((l) => l.trim() !== '');
}

/** RFC 6868: ^n newline, ^^ caret, ^' double quote. */
function decodeCaret(v: string): string {
  return v.replace(/\^(n|N|\^|')/g, (_, c: string) => (c === '^' ? '^' : c === "'" ? '"' : '\n'));
}

function encodeCaret(v: string): string {
  return v
    .replace(/\^/g, '^^')
    .replace(/\r\n|\n|\r/g, '^n')
    .replace(/"/g, "^'");
}

function parseParams(text: string): VcardParam[] {
  // text: what follows the property name, starting with ';' (or empty)
  const params: VcardParam[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== ';') throw new VcardSyntaxError('malformed parameter list');
    i++;
    let name = '';
    while (i < text.length && text[i] !== '=' && text[i] !== ';') name += text[i++];
    name = name.trim().toUpperCase();
    const values: string[] = [];
    if (text[i] === '=') {
      i++;
      for (;;) {
        let v = '';
        if (text[i] === '"') {
          const end = text.indexOf('"', i + 1);
          if (end < 0) throw new VcardSyntaxError('unterminated quoted parameter value');
          v = text.slice(i + 1, end);
          i = end + 1;
          while (i < text.length && text[i] !== ',' && text[i] !== ';') i++; // junk after quote
        } else {
          while (i < text.length && text[i] !== ',' && text[i] !== ';') v += text[i++];
        }
        values.push(decodeCaret(v));
        if (text[i] === ',') {
          i++;
          continue;
        }
        break;
      }
    }
    if (name === '') continue;
    if (values.length === 0) {
      // vCard 2.1 §2.1.2: a bare parameter is a TYPE value (or an encoding shorthand)
      values.push(name);
      name = /^(QUOTED-PRINTABLE|BASE64|8BIT|7BIT|B)$/.test(name) ? 'ENCODING' : 'TYPE';
    }
    // 2.1 and 3.0 repeat TYPE (`TYPE=home;TYPE=voice`); merge repeats of one name
    const same = params.find((p) => p.name === name);
    if (same !== undefined) same.values.push(...values);
    else params.push({ name, values });
    if (params.length > vcardLimits.maxParams) throw new VcardSyntaxError('too many parameters');
  }
  return params;
}

export function paramValues(prop: VcardProperty, name: string): string[] {
  return prop.params.find((p) => p.name === name)?.values ?? [];
}

/** TYPE values, lower-cased and split at commas (3.0 writes `TYPE=home,voice` quoted too). */
export function typesOf(prop: VcardProperty): Set<string> {
  const out = new Set<string>();
  for (const v of paramValues(prop, 'TYPE'))
    for (const t of v.split(',')) if (t.trim() !== '') out.add(t.trim().toLowerCase());
  return out;
}

function decodeQuotedPrintable(value: string, charset: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      // a character outside ASCII in a QP value: take its UTF-8 bytes
      for (const b of new TextEncoder().encode(c)) bytes.push(b);
    }
  }
  const data = new Uint8Array(bytes);
  try {
    return new TextDecoder(charset).decode(data);
  } catch {
    return new TextDecoder('utf-8').decode(data); // an unknown CHARSET: UTF-8 is the best guess
  }
}

/** Escapes a newline the QP decoding produced so the value reads as vCard text again. */
function escapeDecodedNewlines(v: string): string {
  return v.replace(/\r\n|\n|\r/g, '\\n');
}

function parseLine(line: string): VcardProperty {
  const split = splitHead(line);
  if (split === undefined) throw new VcardSyntaxError('content line without a colon');
  const { head } = split;
  let value = split.value;
  const nameEnd = head.search(/;/);
  const fullName = (nameEnd < 0 ? head : head.slice(0, nameEnd)).trim();
  const dot = fullName.lastIndexOf('.');
  const group = dot > 0 ? fullName.slice(0, dot) : undefined;
  const name = (dot > 0 ? fullName.slice(dot + 1) : fullName).toUpperCase();
  if (!/^[A-Z0-9-]+$/.test(name)) throw new VcardSyntaxError('malformed property name');
  if (group !== undefined && !/^[A-Za-z0-9-]+$/.test(group)) throw new VcardSyntaxError('malformed group');
  let params = parseParams(nameEnd < 0 ? '' : head.slice(nameEnd));
  const encoding = paramValues({ name, params, value }, 'ENCODING')[0]?.toUpperCase();
  if (encoding === 'QUOTED-PRINTABLE') {
    const charset = paramValues({ name, params, value }, 'CHARSET')[0] ?? 'utf-8';
    value = escapeDecodedNewlines(decodeQuotedPrintable(value, charset));
    // the value is plain text now: the transfer encoding and charset no longer apply
    params = params.filter((p) => p.name !== 'ENCODING' && p.name !== 'CHARSET');
  } else if (encoding === 'BASE64') {
    // 2.1 BASE64 is 3.0 `b`; whitespace from folding is not part of it
    value = value.replace(/\s+/g, '');
    params = params.map((p) => (p.name === 'ENCODING' ? { name: 'ENCODING', values: ['b'] } : p));
  } else if (encoding === 'B') {
    value = value.replace(/\s+/g, '');
  }
  return { ...(group !== undefined && { group }), name, params, value };
}

/**
 * The line as it was read, for properties of 3.0 and 4.0 cards: a property written back
 * unchanged is written as it came (parameter case, quoting, order), so a rewrite changes only
 * what it must. Any edit makes a new object, which has no entry here.
 */
const rawLines = new WeakMap<VcardProperty, string>();

/** Reads every card in `text`. Unknown properties and parameters are kept; broken lines throw. */
export function parseVcards(text: string): Vcard[] {
  if (text.length > vcardLimits.maxTextLength) throw new VcardSyntaxError('vCard text too long');
  const cards: Vcard[] = [];
  let current: { version?: VcardVersion; props: VcardProperty[]; raw: string[] } | undefined;
  for (const line of logicalLines(text.replace(/^\uFEFF/, ''))) {
    const prop = parseLine(line);
    if (prop.name === 'BEGIN' && prop.value.trim().toUpperCase() === 'VCARD') {
      // a nested card (2.1 AGENT) is obsolete: refuse it rather than mis-read the outer one
      if (current !== undefined) throw new VcardSyntaxError('nested BEGIN:VCARD');
      current = { props: [], raw: [] };
      continue;
    }
    if (current === undefined) {
      throw new VcardSyntaxError('content outside BEGIN:VCARD');
    }
    if (prop.name === 'END' && prop.value.trim().toUpperCase() === 'VCARD') {
      const version = current.version ?? '3.0';
      // 2.1 lines are rewritten as 3.0 (no bare parameters, no quoted-printable)
      if (version !== '2.1') current.props.forEach((p, i) => rawLines.set(p, current!.raw[i]!));
      cards.push({ version, props: current.props });
      if (cards.length > vcardLimits.maxCards) throw new VcardSyntaxError('too many cards');
      current = undefined;
      continue;
    }
    if (prop.name === 'VERSION') {
      const v = prop.value.trim();
      current.version = v === '2.1' || v === '4.0' ? v : '3.0';
      continue;
    }
    current.props.push(prop);
    current.raw.push(line);
    if (current.props.length > vcardLimits.maxLines) throw new VcardSyntaxError('too many content lines');
  }
  if (current !== undefined) throw new VcardSyntaxError('missing END:VCARD');
  return cards;
}

/** The one card of a CardDAV resource (RFC 6352 §5.1); more or fewer is an error. */
export function parseVcard(text: string): Vcard {
  const cards = parseVcards(text);
  const card = cards[0];
  if (card === undefined) throw new VcardSyntaxError('no vCard found');
  return card;
}

// ---------------------------------------------------------------------------------------------
// Values

/**
 * RFC 6350 §3.4 / RFC 2426 §5: `\n` and `\N` are newlines, `\\`, `\,`, `\;` the characters.
 * Lenient: any other escaped character stands for itself (Apple writes `http\://`).
 */
export function unescapeText(v: string): string {
  return v.replace(/\\(.)/gs, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

/** Escapes text for a value: backslash, comma, semicolon and newlines (RFC 6350 §3.4). */
export function escapeText(v: string): string {
  return cleanText(v).replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/;/g, '\\;').replace(/\n/g, '\\n');
}

/** Newlines made `\n`, and the control characters a value cannot hold (RFC 6350 §3.3 VALUE-CHAR) removed. */
export function cleanText(v: string): string {
  return v.replace(/\r\n|\r/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
}

/** Splits at unescaped `sep`, leaving escapes in each part. */
export function splitEscaped(v: string, sep: ',' | ';'): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && i + 1 < v.length) {
      cur += c + v[i + 1];
      i++;
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/**
 * A structured value (N, ADR, ORG): its components, unescaped. A component's comma list is kept
 * as written (`Ann,Marie`): 2.1 and many 3.0 writers do not escape commas in addresses, so
 * joining them back is the faithful reading.
 */
export function structured(v: string): string[] {
  return splitEscaped(v, ';').map(unescapeText);
}

/** A text-list value (CATEGORIES, NICKNAME): unescaped values, empty ones dropped. */
export function textList(v: string): string[] {
  return splitEscaped(v, ',')
    .map(unescapeText)
    .filter((s) => s !== '');
}

// ---------------------------------------------------------------------------------------------
// Writing

function needsQuotes(v: string): boolean {
  return /[:;,]/.test(v);
}

function serializeParam(p: VcardParam, version: VcardVersion): string {
  const values = p.values.map((v) => {
    const clean = version === '4.0' || /[\r\n"^]/.test(v) ? encodeCaret(v) : v;
    return needsQuotes(clean) ? `"${clean}"` : clean;
  });
  return `;${p.name}=${values.join(',')}`;
}

/** RFC 6350 §3.2: lines longer than 75 octets are folded, never inside a UTF-8 sequence. */
export function fold(line: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(line).byteLength <= 75) return line;
  const out: string[] = [];
  let cur = '';
  let curBytes = 0;
  let limit = 75;
  for (const ch of line) {
    const n = encoder.encode(ch).byteLength;
    if (curBytes + n > limit) {
      out.push(cur);
      cur = '';
      curBytes = 0;
      limit = 74; // continuation lines start with a space
    }
    cur += ch;
    curBytes += n;
  }
  out.push(cur);
  return out.join('\r\n ');
}

export function serializeProperty(p: VcardProperty, version: VcardVersion): string {
  const raw = rawLines.get(p);
  if (raw !== undefined) return fold(raw);
  const name = p.group !== undefined ? `${p.group}.${p.name}` : p.name;
  // values are Unicode text here: a CHARSET (2.1) no longer applies; 4.0 has no ENCODING either
  const params = p.params
    .filter((x) => x.name !== 'CHARSET' && !(version === '4.0' && x.name === 'ENCODING'))
    .map((x) => serializeParam(x, version))
    .join('');
  return fold(`${name}${params}:${p.value}`);
}

/** A whole card, CRLF line ends (RFC 6350 §3.2), folded. */
export function serializeVcard(card: Vcard): string {
  const lines = ['BEGIN:VCARD', `VERSION:${card.version}`];
  for (const p of card.props) lines.push(serializeProperty(p, card.version));
  lines.push('END:VCARD');
  return lines.join('\r\n') + '\r\n';
}
