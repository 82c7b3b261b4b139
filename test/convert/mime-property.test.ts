// Property tests: whatever the bytes, reading a message gives an item (a mailbox with one odd
// message must still sync), and body shaping keeps its promises.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyBodyPreferences, byteLength } from '../../src/backend/body.js';
import { mimeToEmail } from '../../src/convert/mime-to-email.js';

const headerLine = fc.constantFrom(
  'From: a@x',
  'To: b@y, "C, D" <c@z>',
  'Subject: =?utf-8?B?w6k=?=',
  'Content-Type: multipart/mixed; boundary="b"',
  'Content-Transfer-Encoding: base64',
  'Date: nonsense',
  '--b',
  '--b--',
  'X-Priority: 9',
);
const message = fc
  .tuple(
    fc.array(fc.oneof(headerLine, fc.string()), { maxLength: 8 }),
    fc.array(fc.oneof(headerLine, fc.string()), { maxLength: 8 }),
  )
  .map(([head, body]) => new TextEncoder().encode(`${head.join('\r\n')}\r\n\r\n${body.join('\r\n')}`));

describe('mimeToEmail on arbitrary input', () => {
  it('always gives an item with a Subject and a body shaped as asked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(message, fc.uint8Array({ maxLength: 300 })),
        fc.integer({ min: 0, max: 50 }),
        async (raw, size) => {
          const e = await mimeToEmail(raw, {
            bodyPreferences: [{ Type: 1, TruncationSize: size }],
            fileReference: (i) => `r${i}`,
          });
          expect(typeof e.Subject).toBe('string');
          if (e.Body?.Data !== undefined) expect(byteLength(e.Body.Data)).toBeLessThanOrEqual(size);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('applyBodyPreferences properties', () => {
  it('gives a prefix within the budget, marked Truncated exactly when it is shorter', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 80 }),
        fc.integer({ min: 0, max: 120 }),
        (text, size) => {
          const b = applyBodyPreferences({ native: 1, get: (t) => (t === 1 ? text : undefined) }, [
            { Type: 1, TruncationSize: size },
          ]);
          const data = String(b?.Data ?? '');
          expect(text.startsWith(data)).toBe(true);
          expect(byteLength(data)).toBeLessThanOrEqual(size);
          expect(b?.EstimatedDataSize).toBe(byteLength(text));
          expect(b?.Truncated === true).toBe(data.length < text.length);
        },
      ),
    );
  });
});
