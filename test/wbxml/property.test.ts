// Random trees over every code page round-trip exactly: tree → WBXML → tree, tree → XML → tree,
// and the streamed encoding equals the buffered one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  codePages,
  decode,
  encode,
  encodeStream,
  fromXml,
  toXml,
  type WbxmlElement,
} from '../../wbxml/index.js';
import { collect } from './helpers.js';

const tags = codePages.flatMap((p) => [...p.tokens.keys()].map((name) => ({ ns: p.namespace, name })));

// Any Unicode scalar value except NUL, which STR_I cannot carry (WBXML 1.3 §5.8.4.1).
const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));
const value = fc.oneof(
  { weight: 4, arbitrary: text },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const tree: fc.Arbitrary<WbxmlElement> = fc.letrec<{ node: WbxmlElement }>((tie) => ({
  node: fc
    .tuple(
      fc.constantFrom(...tags),
      fc.oneof({ depthSize: 'small' }, value, fc.array(tie('node'), { minLength: 1, maxLength: 5 })),
    )
    .map(([tag, content]) =>
      Array.isArray(content)
        ? { ...tag, children: content }
        : content === undefined
          ? { ...tag, children: [] }
          : { ...tag, children: [], value: content },
    ),
})).node;

describe('round trips of random trees over all code pages', () => {
  it('uses every code page that has tags', () => {
    expect(new Set(tags.map((t) => t.ns)).size).toBe(25);
  });

  it('WBXML: decode(encode(t)) equals t', () => {
    fc.assert(
      fc.property(tree, (t) => {
        expect(decode(encode(t))).toStrictEqual(t);
      }),
      { numRuns: 1000 },
    );
  });

  it('XML: fromXml(toXml(t)) equals t', () => {
    fc.assert(
      fc.property(tree, (t) => {
        expect(fromXml(toXml(t))).toStrictEqual(t);
      }),
      { numRuns: 500 },
    );
  });

  it('encodeStream yields the bytes of encode', async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.integer({ min: 16, max: 200 }), async (t, chunkSize) => {
        expect(
          Buffer.from(await collect(encodeStream(t, { chunkSize }))).equals(Buffer.from(encode(t))),
        ).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
