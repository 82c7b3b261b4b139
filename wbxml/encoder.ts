// Element tree → WBXML, in the form MS-ASWBXML 2.1.1 prescribes: header 03 01 6A 00 (WBXML 1.3,
// unknown public id, UTF-8, no string table), SWITCH_PAGE only when the page changes, STR_I for
// text, OPAQUE for bytes. `encode` builds one buffer; `encodeStream` yields bounded chunks and reads
// streamed opaque content (attachments) only when it reaches it.

import { WbxmlError, type WbxmlErrorCode } from './errors.js';
import { defaultLimits } from './limits.js';
import { codePageByNamespace, type CodePage } from './pages/index.js';
import type { OpaqueSource, WbxmlElement } from './tree.js';

const HEADER = [0x03, 0x01, 0x6a, 0x00];
const SWITCH_PAGE = 0x00;
const END = 0x01;
const STR_I = 0x03;
const OPAQUE = 0xc3;
const CONTENT = 0x40;

const utf8 = new TextEncoder();

function fail(code: WbxmlErrorCode, offset: number, message: string): never {
  throw new WbxmlError(code, offset, message);
}

/** A growing output buffer that also tracks the current code page (WBXML 1.3 §5.8.4.7.2). */
class Writer {
  buf: Uint8Array;
  pos = 0;
  page = 0;
  private lastNs = '';
  private lastPage: CodePage | undefined;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.buf.set(HEADER);
    this.pos = HEADER.length;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Returns what was written so far and starts a fresh buffer (streaming). */
  take(capacity: number): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = new Uint8Array(capacity);
    this.pos = 0;
    return out;
  }

  /** Writes SWITCH_PAGE if needed and the tag token, with the content bit when asked. */
  tag(element: WbxmlElement, content: boolean): void {
    let page = this.lastPage;
    if (element.ns !== this.lastNs || page === undefined) {
      page = codePageByNamespace(element.ns);
      if (page === undefined) fail('unknown-tag', this.pos, `no code page named ${element.ns}`);
      this.lastNs = element.ns;
      this.lastPage = page;
    }
    const token = page.tokens.get(element.name);
    if (token === undefined) {
      fail('unknown-tag', this.pos, `${element.ns} has no tag ${element.name}`);
    }
    this.ensure(3);
    if (page.number !== this.page) {
      this.buf[this.pos++] = SWITCH_PAGE;
      this.buf[this.pos++] = page.number;
      this.page = page.number;
    }
    this.buf[this.pos++] = content ? token | CONTENT : token;
  }

  end(): void {
    this.ensure(1);
    this.buf[this.pos++] = END;
  }

  /** STR_I: the UTF-8 text and a NUL terminator, so the text itself may hold no NUL. */
  str(s: string): void {
    const n = s.length;
    this.ensure(n * 3 + 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = STR_I;
    if (n > 64) {
      // Long text: native search and transcoding beat a JS loop.
      if (s.includes('\0')) fail('nul-in-string', pos, 'a WBXML inline string cannot contain NUL');
      pos += utf8.encodeInto(s, buf.subarray(pos)).written;
      buf[pos++] = 0;
      this.pos = pos;
      return;
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === 0 || (c >= 0x80 && s.indexOf('\0', i) >= 0)) {
        fail('nul-in-string', pos, 'a WBXML inline string cannot contain NUL');
      }
      if (c >= 0x80) {
        pos += utf8.encodeInto(s.slice(i), buf.subarray(pos)).written;
        break;
      }
      buf[pos++] = c;
    }
    buf[pos++] = 0;
    this.pos = pos;
  }

  /** OPAQUE and its mb_u_int32 length (§5.1); the bytes follow separately. */
  opaqueHeader(length: number): void {
    this.ensure(6);
    this.buf[this.pos++] = OPAQUE;
    this.mbUint32(length);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  private mbUint32(value: number): void {
    if (value >= 0x10000000) this.buf[this.pos++] = 0x80 | (value >>> 28);
    if (value >= 0x200000) this.buf[this.pos++] = 0x80 | ((value >>> 21) & 0x7f);
    if (value >= 0x4000) this.buf[this.pos++] = 0x80 | ((value >>> 14) & 0x7f);
    if (value >= 0x80) this.buf[this.pos++] = 0x80 | ((value >>> 7) & 0x7f);
    this.buf[this.pos++] = value & 0x7f;
  }
}

function isOpaqueSource(v: WbxmlElement['value']): v is OpaqueSource {
  return typeof v === 'object' && !(v instanceof Uint8Array);
}

/** Checks what `encode` and `encodeStream` both refuse; returns whether the element has content. */
function checkElement(element: WbxmlElement, depth: number, offset: number): boolean {
  if (depth > defaultLimits.maxDepth) {
    fail('limit-depth', offset, `elements nested deeper than ${defaultLimits.maxDepth}`);
  }
  const hasChildren = element.children.length > 0;
  if (element.value !== undefined && hasChildren) {
    fail('invalid-tree', offset, `<${element.name}> has both a value and children`);
  }
  return hasChildren || element.value !== undefined;
}

function encodeElement(w: Writer, element: WbxmlElement, depth: number): void {
  const content = checkElement(element, depth, w.pos);
  w.tag(element, content);
  if (!content) return;
  const value = element.value;
  if (typeof value === 'string') {
    w.str(value);
  } else if (value instanceof Uint8Array) {
    w.opaqueHeader(value.length);
    w.bytes(value);
  } else if (value !== undefined) {
    fail('opaque-source', w.pos, `<${element.name}> has streamed opaque content: use encodeStream`);
  } else {
    const children = element.children;
    for (let i = 0; i < children.length; i++) encodeElement(w, children[i]!, depth + 1);
  }
  w.end();
}

/** Encodes a whole document into one buffer. Streamed (OpaqueSource) content is refused. */
export function encode(root: WbxmlElement): Uint8Array {
  const w = new Writer(4096);
  encodeElement(w, root, 1);
  return w.buf.subarray(0, w.pos);
}

export interface EncodeStreamOptions {
  /** Target chunk size in bytes (default 64 KiB); no yielded chunk is larger. */
  chunkSize?: number;
}

/**
 * Encodes a document as a sequence of chunks of at most `chunkSize` bytes, so a large response
 * (ItemOperations with attachments) never sits in memory whole. Uint8Array and long string values
 * are sliced; an OpaqueSource is pulled only when the encoder reaches it and must yield exactly
 * `length` bytes.
 */
export async function* encodeStream(
  root: WbxmlElement,
  options: EncodeStreamOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 16) {
    throw new RangeError(`chunkSize must be an integer ≥ 16, got ${chunkSize}`);
  }
  const w = new Writer(chunkSize);
  let sent = 0;
  // Everything written so far, cut into chunks of at most chunkSize bytes.
  function* drain(all: boolean): Generator<Uint8Array> {
    if (w.pos === 0 || (!all && w.pos < chunkSize)) return;
    const out = w.take(chunkSize);
    for (let i = 0; i < out.length; i += chunkSize) {
      const piece = out.subarray(i, Math.min(out.length, i + chunkSize));
      sent += piece.length;
      yield piece;
    }
  }
  function* slices(data: Uint8Array): Generator<Uint8Array> {
    for (let i = 0; i < data.length; i += chunkSize) {
      const piece = data.subarray(i, Math.min(data.length, i + chunkSize));
      sent += piece.length;
      yield piece;
    }
  }

  // Depth-first walk with an explicit stack: elements[i] is open, next[i] its next child.
  const elements: WbxmlElement[] = [root];
  const next: number[] = [-1];
  while (elements.length > 0) {
    const top = elements.length - 1;
    const element = elements[top]!;
    const i = next[top]!;
    if (i < 0) {
      const content = checkElement(element, elements.length, sent + w.pos);
      w.tag(element, content);
      next[top] = 0;
      const value = element.value;
      if (!content) {
        elements.pop();
        next.pop();
      } else if (typeof value === 'string') {
        if (value.length * 3 <= chunkSize) {
          w.str(value);
        } else {
          if (value.includes('\0')) fail('nul-in-string', sent + w.pos, 'inline string contains NUL');
          w.ensure(1);
          w.buf[w.pos++] = STR_I;
          yield* drain(true);
          yield* slices(utf8.encode(value));
          w.bytes(Uint8Array.of(0));
        }
      } else if (value instanceof Uint8Array) {
        w.opaqueHeader(value.length);
        if (value.length <= chunkSize - w.pos) {
          w.bytes(value);
        } else {
          yield* drain(true);
          yield* slices(value);
        }
      } else if (isOpaqueSource(value)) {
        w.opaqueHeader(value.length);
        yield* drain(true);
        const start = sent;
        for await (const chunk of value.chunks()) {
          if (sent - start + chunk.length > value.length) break;
          yield* slices(chunk);
        }
        if (sent - start !== value.length) {
          fail(
            'opaque-length',
            start,
            `<${element.name}> source did not yield exactly ${value.length} bytes`,
          );
        }
      }
    } else if (i < element.children.length) {
      next[top] = i + 1;
      elements.push(element.children[i]!);
      next.push(-1);
      continue;
    } else {
      w.end();
      elements.pop();
      next.pop();
    }
    // Delegating to drain costs promises even when it yields nothing: test first.
    if (w.pos >= chunkSize) yield* drain(false);
  }
  yield* drain(true);
}
