// Malformed input: one line per case. Every failure is a WbxmlError with a stable code and the
// byte offset where the input went wrong (issue 3; WAP-192-WBXML 1.3 and MS-ASWBXML 2.1.1).
import { describe, expect, it } from 'vitest';
import { decode, WbxmlError, type WbxmlErrorCode } from '../../wbxml/index.js';
import { hex } from './helpers.js';

const H = '03 01 6a 00'; // WBXML 1.3, unknown public id, UTF-8, empty string table

function failure(bytes: string): { code: string; offset: number } {
  try {
    decode(hex(bytes));
  } catch (e) {
    expect(e).toBeInstanceOf(WbxmlError);
    const err = e as WbxmlError;
    return { code: err.code, offset: err.offset };
  }
  throw new Error('decoded without error');
}

const cases: [string, string, WbxmlErrorCode, number][] = [
  ['empty input', '', 'truncated', 0],
  ['WBXML 1.2 version byte', '02 01 6a 00 05', 'bad-version', 0],
  ['charset other than UTF-8', '03 01 04 00 05', 'bad-charset', 2],
  ['header only', H, 'no-root', 4],
  ['header cut inside the charset', '03 01 ea', 'truncated', 3],
  ['mb_u_int32 longer than 5 bytes', '03 01 ea 80 80 80 80 00', 'bad-integer', 2],
  ['mb_u_int32 above 32 bits', '03 01 9f ff ff ff 7f 00', 'bad-integer', 2],
  ['string table longer than the input', '03 01 6a 05 41 00', 'truncated', 4],
  ['unterminated inline string', `${H} 45 03 41 42`, 'truncated', 6],
  ['root left open', `${H} 45 5c`, 'truncated', 6],
  ['SWITCH_PAGE at the end', `${H} 00`, 'truncated', 5],
  ['code page 26', `${H} 00 1a 45 01`, 'unknown-page', 5],
  ['code page 255', `${H} 00 ff 45 01`, 'unknown-page', 5],
  ['token not in the AirSync table (0x11, 2.5 Version)', `${H} 11`, 'unknown-token', 4],
  ['any token of the unused AirNotify page', `${H} 00 03 05`, 'unknown-token', 6],
  ['token 0x3f on the Notes page', `${H} 00 17 3f`, 'unknown-token', 6],
  ['tag with attributes', `${H} c5 01 01`, 'attributes', 4],
  ['tag with attributes, no content', `${H} 85 01`, 'attributes', 4],
  ['END before any element', `${H} 01`, 'unbalanced-end', 4],
  ['END after the root closed', `${H} 45 01 01`, 'trailing-bytes', 6],
  ['a second root element', `${H} 05 05`, 'trailing-bytes', 5],
  ['SWITCH_PAGE after the root', `${H} 05 00 01`, 'trailing-bytes', 5],
  ['string before the root', `${H} 03 41 00`, 'content-outside-element', 4],
  ['opaque before the root', `${H} c3 00`, 'content-outside-element', 4],
  ['text then a child element', `${H} 45 03 41 00 0b 01`, 'mixed-content', 8],
  ['a child element then text', `${H} 45 0b 03 41 00 01`, 'mixed-content', 6],
  ['text then opaque', `${H} 45 03 41 00 c3 01 42 01`, 'mixed-content', 8],
  ['opaque then text', `${H} 45 c3 01 42 03 41 00 01`, 'mixed-content', 8],
  ['two opaque values', `${H} 45 c3 01 42 c3 01 43 01`, 'mixed-content', 8],
  ['opaque then a child', `${H} 45 c3 01 42 0b 01`, 'mixed-content', 8],
  ['invalid UTF-8 (lone continuation)', `${H} 45 03 80 00 01`, 'bad-utf8', 6],
  ['invalid UTF-8 (truncated sequence)', `${H} 45 03 41 c3 00 01`, 'bad-utf8', 6],
  ['invalid UTF-8 (overlong NUL)', `${H} 45 03 c0 80 00 01`, 'bad-utf8', 6],
  ['invalid UTF-8 (surrogate)', `${H} 45 03 ed a0 80 00 01`, 'bad-utf8', 6],
  ['opaque longer than the input', `${H} 45 c3 05 41 42 01`, 'truncated', 7],
  ['opaque length cut off', `${H} 45 c3 81`, 'truncated', 7],
  ['opaque length of 2^32-1', `${H} 45 c3 8f ff ff ff 7f 01`, 'limit-opaque', 5],
  ['ENTITY', `${H} 45 02 41 01`, 'unsupported-token', 5],
  ['LITERAL', `${H} 04 00`, 'unsupported-token', 4],
  ['EXT_I_0', `${H} 45 40 41 00 01`, 'unsupported-token', 5],
  ['PI', `${H} 43 05 01`, 'unsupported-token', 4],
  ['LITERAL_C', `${H} 44 00 01`, 'unsupported-token', 4],
  ['EXT_T_1', `${H} 45 81 00 01`, 'unsupported-token', 5],
  ['LITERAL_A', `${H} 84 00 01`, 'unsupported-token', 4],
  ['EXT_0', `${H} 45 c0 01`, 'unsupported-token', 5],
  ['LITERAL_AC', `${H} c4 00 01 01`, 'unsupported-token', 4],
  ['STR_T without a string table', `${H} 45 83 00 01`, 'bad-string-reference', 6],
  ['STR_T past the string table', '03 01 6a 02 41 00 45 83 02 01', 'bad-string-reference', 8],
  ['STR_T into an unterminated table entry', '03 01 6a 02 41 42 45 83 00 01', 'bad-string-reference', 8],
  ['public id index outside the string table', '03 00 05 6a 00 05', 'bad-string-reference', 1],
];

describe('decode: malformed input raises WbxmlError with code and offset', () => {
  it.each(cases)('%s', (_name, bytes, code, offset) => {
    expect(failure(bytes)).toEqual({ code, offset });
  });
});

describe('decode: what WBXML allows besides the EAS form', () => {
  it('resolves STR_T from the string table and joins adjacent strings', () => {
    const tree = decode(hex('03 01 6a 07 41 42 00 43 c3 b0 00  45 4b 83 00 03 2d 00 83 03 01 01'));
    expect(tree.children[0]).toEqual({ ns: 'AirSync', name: 'SyncKey', children: [], value: 'AB-Cð' });
  });

  it('accepts a public id given as a string table index, and other public ids', () => {
    expect(decode(hex('03 00 00 6a 04 61 62 63 00 05')).name).toBe('Sync');
    expect(decode(hex('03 81 7f 6a 00 05')).name).toBe('Sync');
  });

  it('reads an element with the content flag but no content as empty', () => {
    expect(decode(hex(`${H} 45 01`))).toEqual({ ns: 'AirSync', name: 'Sync', children: [] });
  });

  it('keeps an empty inline string apart from no content', () => {
    expect(decode(hex(`${H} 45 4b 03 00 01 01`)).children[0]!.value).toBe('');
    expect(decode(hex(`${H} 45 0b 01`)).children[0]!.value).toBeUndefined();
  });

  it('keeps the code page across END (MS-ASWBXML example order)', () => {
    const tree = decode(hex(`${H} 45 00 11 4a 46 03 31 00 01 01 4b 01 01`));
    expect(tree.children.map((c) => `${c.ns}:${c.name}`)).toEqual(['AirSyncBase:Body', 'AirSyncBase:Data']);
  });

  it('copies opaque bytes out of the input', () => {
    const input = hex(`${H} 45 c3 02 aa bb 01`);
    const value = decode(input).value as Uint8Array;
    input[7] = 0;
    expect(Array.from(value)).toEqual([0xaa, 0xbb]);
  });

  it('decodes non-ASCII and long strings, with a BOM kept as text', () => {
    const long = 'x'.repeat(5000) + 'é';
    const bytes = new Uint8Array([...hex(`${H} 45 03 ef bb bf`), ...new TextEncoder().encode(long), 0, 1]);
    expect(decode(bytes).value).toBe('\ufeff' + long);
  });
});
