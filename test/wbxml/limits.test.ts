// Every limit of wbxml/limits.ts, just inside and just past (STYLE.md habit 6).
import { describe, expect, it } from 'vitest';
import {
  decode,
  defaultLimits,
  el,
  encode,
  resolveLimits,
  WbxmlError,
  type WbxmlLimits,
} from '../../wbxml/index.js';
import { hex } from './helpers.js';

function code(bytes: Uint8Array, limits: Partial<WbxmlLimits>): string {
  try {
    decode(bytes, limits);
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(WbxmlError);
    return (e as WbxmlError).code;
  }
}

/** Sync > Collections > Collection > … nested n deep, alternating two container tags. */
function nested(n: number): Uint8Array {
  const open = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 0x5c : 0x4f));
  return Uint8Array.from([3, 1, 0x6a, 0, ...open, ...open.map(() => 1)]);
}

describe('limits', () => {
  it('has the documented defaults', () => {
    expect(defaultLimits).toEqual({
      maxTotalSize: 64 * 1024 * 1024,
      maxDepth: 64,
      maxElements: 1_000_000,
      maxStringLength: 16 * 1024 * 1024,
      maxOpaqueLength: 64 * 1024 * 1024,
      maxStringTableLength: 64 * 1024,
    });
  });

  it('maxTotalSize', () => {
    const doc = hex('03 01 6a 00 45 4b 03 31 32 33 00 01 01');
    expect(code(doc, { maxTotalSize: doc.length })).toBe('ok');
    expect(code(doc, { maxTotalSize: doc.length - 1 })).toBe('limit-size');
  });

  it('maxDepth', () => {
    expect(code(nested(10), { maxDepth: 10 })).toBe('ok');
    expect(code(nested(11), { maxDepth: 10 })).toBe('limit-depth');
    expect(code(nested(65), {})).toBe('limit-depth');
  });

  it('maxElements', () => {
    const doc = encode(
      el(
        'AirSync',
        'Sync',
        Array.from({ length: 9 }, () => el('AirSync', 'Status', 1)),
      ),
    );
    expect(code(doc, { maxElements: 10 })).toBe('ok');
    expect(code(doc, { maxElements: 9 })).toBe('limit-elements');
  });

  it('maxStringLength, for STR_I and STR_T', () => {
    const doc = encode(el('AirSync', 'SyncKey', 'abcdef'));
    expect(code(doc, { maxStringLength: 6 })).toBe('ok');
    expect(code(doc, { maxStringLength: 5 })).toBe('limit-string');
    const tableDoc = hex('03 01 6a 07 61 62 63 64 65 66 00 4b 83 00 01');
    expect(code(tableDoc, { maxStringLength: 6 })).toBe('ok');
    expect(code(tableDoc, { maxStringLength: 5 })).toBe('limit-string');
  });

  it('maxOpaqueLength', () => {
    const doc = encode(el('Email2', 'ConversationId', new Uint8Array(16)));
    expect(code(doc, { maxOpaqueLength: 16 })).toBe('ok');
    expect(code(doc, { maxOpaqueLength: 15 })).toBe('limit-opaque');
  });

  it('maxStringTableLength', () => {
    const doc = hex('03 01 6a 03 61 62 00 05');
    expect(code(doc, { maxStringTableLength: 3 })).toBe('ok');
    expect(code(doc, { maxStringTableLength: 2 })).toBe('limit-string-table');
  });

  it('rejects limits that are not non-negative integers', () => {
    expect(() => resolveLimits({ maxDepth: -1 })).toThrow(RangeError);
    expect(() => resolveLimits({ maxElements: 1.5 })).toThrow(RangeError);
    expect(resolveLimits({ maxDepth: 3 }).maxDepth).toBe(3);
  });

  it('the encoder refuses trees deeper than maxDepth', () => {
    let deep = el('AirSync', 'Status', 1);
    for (let i = 0; i < defaultLimits.maxDepth; i++) deep = el('AirSync', 'Collection', deep);
    expect(() => encode(deep)).toThrow(expect.objectContaining({ code: 'limit-depth' }));
  });
});
