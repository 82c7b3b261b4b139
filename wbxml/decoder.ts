// WBXML → element tree, for the subset MS-ASWBXML uses (WAP-192-WBXML 1.3 with the code pages of
// MS-ASWBXML 2.1.2.1). One pass over the bytes with no recursion and no per-byte allocation; every
// failure is a WbxmlError carrying the byte offset where the input went wrong.

import { WbxmlError, type WbxmlErrorCode } from './errors.js';
import { resolveLimits, type WbxmlLimits } from './limits.js';
import { codePages } from './pages/index.js';
import type { WbxmlElement } from './tree.js';

// WBXML 1.3 §7.1 global tokens.
const SWITCH_PAGE = 0x00;
const END = 0x01;
const STR_I = 0x03;
const STR_T = 0x83;
const OPAQUE = 0xc3;
/** MS-ASWBXML 2.1.1: the charset is UTF-8, IANA MIBenum 106. */
const UTF8_MIBENUM = 106;

const pageNames = codePages.map((p) => p.names);
const pageNamespaces = codePages.map((p) => p.namespace);

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Under Node, a document up to this size is also read once as a latin1 string (a native copy,
 * one char per byte), so an ASCII STR_I becomes a slice of it and NUL-search is native: the
 * per-string cost of a JS byte loop or a TextDecoder call is what bounds decoding speed.
 */
const LATIN1_VIEW_MAX = 4 * 1024 * 1024;
const NodeBuffer = typeof Buffer === 'function' ? Buffer : undefined;
const NON_ASCII = /[\x80-\xff]/g;

function fail(code: WbxmlErrorCode, offset: number, message: string): never {
  throw new WbxmlError(code, offset, message);
}

/** Tokens WBXML defines but EAS never uses (entities, literals, extensions, PIs). */
function isUnsupportedGlobal(b: number): boolean {
  const low = b & 0x3f;
  return low <= 0x04 && b !== SWITCH_PAGE && b !== END && b !== STR_I && b !== STR_T && b !== OPAQUE;
}

/** UTF-8 bytes [start, end) as a string; short ASCII runs skip the TextDecoder call. */
function decodeText(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 32) {
    let s = '';
    let i = start;
    for (; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80) break;
      s += String.fromCharCode(b);
    }
    if (i === end) return s;
  }
  try {
    return utf8.decode(bytes.subarray(start, end));
  } catch {
    return fail('bad-utf8', start, 'string is not valid UTF-8');
  }
}

/** Reads a WBXML mb_u_int32 (§5.1): 7 bits a byte, high bit set on all but the last, ≤ 32 bits. */
class Cursor {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  byte(what: string): number {
    const b = this.bytes[this.pos];
    if (b === undefined) fail('truncated', this.pos, `input ends inside ${what}`);
    this.pos++;
    return b;
  }

  mbUint32(what: string): number {
    const start = this.pos;
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte(what);
      value = value * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) fail('bad-integer', start, `${what} exceeds 32 bits`);
        return value;
      }
    }
    return fail('bad-integer', start, `${what} is longer than 5 bytes`);
  }
}

/**
 * Decodes one EAS WBXML document. Accepts any public id and a string table (resolving STR_T), but
 * only WBXML 1.3 in UTF-8; rejects attributes, unknown pages/tokens, mixed content and anything
 * after the root element.
 */
export function decode(bytes: Uint8Array, limits?: Partial<WbxmlLimits>): WbxmlElement {
  const lim = resolveLimits(limits);
  const len = bytes.length;
  if (len > lim.maxTotalSize) {
    fail('limit-size', lim.maxTotalSize, `document of ${len} bytes exceeds ${lim.maxTotalSize}`);
  }
  const cur = new Cursor(bytes);

  // Header, WBXML 1.3 §5.4: version, publicid, charset, strtbl.
  const version = cur.byte('the header');
  if (version !== 0x03) fail('bad-version', 0, `WBXML version byte 0x${version.toString(16)} is not 1.3`);
  const publicIdOffset = cur.pos;
  const publicId = cur.mbUint32('the public id');
  const publicIdIndex = publicId === 0 ? cur.mbUint32('the public id index') : -1;
  const charsetOffset = cur.pos;
  const charset = cur.mbUint32('the charset');
  if (charset !== UTF8_MIBENUM) fail('bad-charset', charsetOffset, `charset ${charset} is not UTF-8 (106)`);
  const tableOffset = cur.pos;
  const tableLength = cur.mbUint32('the string table length');
  if (tableLength > lim.maxStringTableLength) {
    fail('limit-string-table', tableOffset, `string table of ${tableLength} bytes is too large`);
  }
  if (cur.pos + tableLength > len) fail('truncated', cur.pos, 'input ends inside the string table');
  const table = bytes.subarray(cur.pos, cur.pos + tableLength);
  const tableStart = cur.pos;
  cur.pos += tableLength;
  if (publicIdIndex >= 0 && publicIdIndex >= tableLength) {
    fail('bad-string-reference', publicIdOffset, 'public id index is outside the string table');
  }

  const maxDepth = lim.maxDepth;
  const maxElements = lim.maxElements;
  const maxString = lim.maxStringLength;
  const stack: WbxmlElement[] = [];
  let depth = 0;
  let names = pageNames[0]!;
  let ns = pageNamespaces[0]!;
  let root: WbxmlElement | undefined;
  let done = false;
  let elements = 0;
  let pos = cur.pos;
  const latin =
    NodeBuffer !== undefined && len <= LATIN1_VIEW_MAX
      ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, len).toString('latin1')
      : undefined;
  let nonAscii = -1;

  while (pos < len) {
    const at = pos;
    const b = bytes[pos++]!;
    if (done) fail('trailing-bytes', at, 'bytes follow the end of the root element');
    if (b === END) {
      if (depth === 0) fail('unbalanced-end', at, 'END without an open element');
      stack.pop();
      depth--;
      if (depth === 0) done = true;
    } else if (b === STR_I || b === STR_T) {
      if (depth === 0) fail('content-outside-element', at, 'string outside any element');
      let text: string;
      if (b === STR_I) {
        const end = latin === undefined ? bytes.indexOf(0, pos) : latin.indexOf('\0', pos);
        if (end < 0) fail('truncated', pos, 'input ends inside an inline string');
        if (end - pos > maxString) fail('limit-string', pos, `string longer than ${maxString} bytes`);
        if (latin === undefined) {
          text = decodeText(bytes, pos, end);
        } else {
          // nonAscii: the first byte ≥ 0x80 at or after the last place searched from.
          if (nonAscii < pos) {
            NON_ASCII.lastIndex = pos;
            nonAscii = NON_ASCII.test(latin) ? NON_ASCII.lastIndex - 1 : len;
          }
          text = nonAscii >= end ? latin.slice(pos, end) : decodeText(bytes, pos, end);
        }
        pos = end + 1;
      } else {
        // STR_T (§5.8.4.3): an offset into the string table, read up to its NUL.
        cur.pos = pos;
        const ref = cur.mbUint32('a string table reference');
        pos = cur.pos;
        const end = ref < tableLength ? table.indexOf(0, ref) : -1;
        if (end < 0) fail('bad-string-reference', at + 1, `no string at table offset ${ref}`);
        if (end - ref > maxString) fail('limit-string', at, `string longer than ${maxString} bytes`);
        text = decodeText(bytes, tableStart + ref, tableStart + end);
      }
      const parent = stack[depth - 1]!;
      if (parent.children.length > 0 || parent.value instanceof Uint8Array) {
        fail('mixed-content', at, `<${parent.name}> mixes text with other content`);
      }
      // Consecutive strings form one text value, as in XML.
      parent.value = parent.value === undefined ? text : (parent.value as string) + text;
    } else if (b === OPAQUE) {
      if (depth === 0) fail('content-outside-element', at, 'opaque data outside any element');
      cur.pos = pos;
      const n = cur.mbUint32('an opaque length');
      pos = cur.pos;
      if (n > lim.maxOpaqueLength) fail('limit-opaque', at, `opaque value of ${n} bytes is too large`);
      if (n > len - pos) fail('truncated', pos, 'input ends inside opaque data');
      const parent = stack[depth - 1]!;
      if (parent.children.length > 0 || parent.value !== undefined) {
        fail('mixed-content', at, `<${parent.name}> mixes opaque data with other content`);
      }
      parent.value = bytes.slice(pos, pos + n);
      pos += n;
    } else if (b === SWITCH_PAGE) {
      // §5.8.4.7.2: the page stays switched until the next SWITCH_PAGE, across END.
      const p = bytes[pos];
      if (p === undefined) fail('truncated', pos, 'input ends inside SWITCH_PAGE');
      const pageNamesOfP = pageNames[p];
      if (pageNamesOfP === undefined) fail('unknown-page', pos, `code page ${p} is not defined`);
      names = pageNamesOfP;
      ns = pageNamespaces[p]!;
      pos++;
    } else if (isUnsupportedGlobal(b)) {
      fail('unsupported-token', at, `global token 0x${b.toString(16)} is not used by EAS`);
    } else {
      // A tag (§5.8.2): bit 7 = attributes follow, bit 6 = content follows.
      if (b & 0x80) fail('attributes', at, 'EAS elements carry no attributes');
      const name = names[b & 0x3f];
      if (name === undefined) {
        fail('unknown-token', at, `token 0x${(b & 0x3f).toString(16)} is not defined on page ${ns}`);
      }
      if (++elements > maxElements) fail('limit-elements', at, `more than ${maxElements} elements`);
      if (depth >= maxDepth) fail('limit-depth', at, `elements nested deeper than ${maxDepth}`);
      const element: WbxmlElement = { ns, name, children: [] };
      if (depth > 0) {
        const parent = stack[depth - 1]!;
        if (parent.value !== undefined) {
          fail('mixed-content', at, `<${parent.name}> mixes text with child elements`);
        }
        parent.children.push(element);
      } else {
        root = element;
      }
      if (b & 0x40) {
        stack.push(element);
        depth++;
      } else if (depth === 0) {
        done = true;
      }
    }
  }
  if (root === undefined) return fail('no-root', len, 'document has no root element');
  if (!done) fail('truncated', len, `input ends with ${depth} element(s) still open`);
  return root;
}
