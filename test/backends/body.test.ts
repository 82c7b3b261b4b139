import { describe, expect, it } from 'vitest';
import {
  applyBodyPreferences,
  byteLength,
  previewOf,
  truncateUtf8,
  type BodySource,
} from '../../src/backend/body.js';
import type { BodyType } from '../../src/backend/model.js';

const mime = new TextEncoder().encode('Subject: hi\r\n\r\nHello world\r\n');
const html = '<p>Hello <b>world</b>, this is a longer HTML body</p>';
const plain = 'Hello world, this is a longer plain body';

function source(
  native: BodyType,
  types: Partial<Record<BodyType, string | Uint8Array>> = { 1: plain, 2: html, 4: mime },
  smime = false,
): BodySource {
  return { native, get: (t) => types[t], smime };
}

describe('applyBodyPreferences', () => {
  it('returns the whole native body when there are no preferences, plain instead of MIME', () => {
    expect(applyBodyPreferences(source(2), [])).toEqual({
      Type: 2,
      EstimatedDataSize: byteLength(html),
      Data: html,
    });
    expect(applyBodyPreferences(source(4), [])?.Type).toBe(1);
    expect(applyBodyPreferences(source(4), [], 2)?.Type).toBe(4);
  });

  it('truncates to TruncationSize and marks Truncated, EstimatedDataSize stays the full size', () => {
    const b = applyBodyPreferences(source(1), [{ Type: 1, TruncationSize: 5 }]);
    expect(b).toEqual({ Type: 1, EstimatedDataSize: byteLength(plain), Data: 'Hello', Truncated: true });
  });

  it('does not mark a body that fits as truncated', () => {
    expect(applyBodyPreferences(source(1), [{ Type: 1, TruncationSize: 1000 }])?.Truncated).toBeUndefined();
  });

  it('prefers the native type when several are asked for (MS-ASAIRS 2.2.2.3.2)', () => {
    const b = applyBodyPreferences(source(2), [{ Type: 1 }, { Type: 2 }]);
    expect(b?.Type).toBe(2);
  });

  it('skips an AllOrNone preference whose body is too large, for the next one', () => {
    const b = applyBodyPreferences(source(2), [
      { Type: 2, TruncationSize: 10, AllOrNone: true },
      { Type: 1, TruncationSize: 10 },
    ]);
    expect(b).toMatchObject({ Type: 1, Data: 'Hello worl', Truncated: true });
  });

  it('says Truncated without data when every preference is AllOrNone and too large', () => {
    const b = applyBodyPreferences(source(2), [{ Type: 2, TruncationSize: 10, AllOrNone: true }]);
    expect(b).toEqual({ Type: 2, EstimatedDataSize: byteLength(html), Truncated: true });
  });

  it('gives MIME only when MIMESupport allows it', () => {
    expect(applyBodyPreferences(source(2), [{ Type: 4 }, { Type: 2 }], 0)?.Type).toBe(2);
    expect(applyBodyPreferences(source(2), [{ Type: 4 }], 2)).toMatchObject({ Type: 4, Data: mime });
    // a plain (not S/MIME) message under MIMESupport 1: the MIME preference is dropped, native body instead
    expect(applyBodyPreferences(source(2), [{ Type: 4 }], 1)?.Type).toBe(2);
    expect(applyBodyPreferences(source(2, undefined, true), [{ Type: 4 }], 1)?.Type).toBe(4);
  });

  it('truncates MIME by bytes', () => {
    const b = applyBodyPreferences(source(4), [{ Type: 4, TruncationSize: 7 }], 2);
    expect(b?.Data).toEqual(mime.subarray(0, 7));
    expect(b?.Truncated).toBe(true);
    expect(b?.EstimatedDataSize).toBe(mime.byteLength);
  });

  it('adds a Preview from the plain text', () => {
    const b = applyBodyPreferences(source(2), [{ Type: 2, Preview: 11 }]);
    expect(b?.Preview).toBe('Hello world');
  });

  it('falls back to plain text when no asked-for type exists (RTF)', () => {
    const b = applyBodyPreferences(source(2), [{ Type: 3, TruncationSize: 5 }]);
    expect(b).toMatchObject({ Type: 1, Data: 'Hello', Truncated: true });
  });

  it('returns undefined for an item without a body', () => {
    expect(applyBodyPreferences(source(1, {}), [{ Type: 1 }])).toBeUndefined();
    expect(applyBodyPreferences(source(1, {}), [])).toBeUndefined();
  });
});

describe('truncateUtf8 / previewOf', () => {
  it('never splits a character and never exceeds the byte budget', () => {
    const text = 'aé€😀b';
    for (let max = 0; max <= byteLength(text); max++) {
      const t = truncateUtf8(text, max);
      expect(byteLength(t)).toBeLessThanOrEqual(max);
      expect(text.startsWith(t)).toBe(true);
      expect(t).not.toContain('\uFFFD');
    }
  });

  it('collapses whitespace and caps at 255 characters', () => {
    expect(previewOf('  a\n\n b\tc ', 10)).toBe('a b c');
    expect(previewOf('x'.repeat(400), 400)).toHaveLength(255);
  });
});
