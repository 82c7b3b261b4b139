// 10^5 mutated golden inputs per run: the decoder only ever returns a valid tree or throws a
// WbxmlError (issue 3). Longer runs: scripts/fuzz-wbxml.ts.
import { describe, expect, it } from 'vitest';
import { check, mutate, type FuzzTally } from './mutate.js';
import { loadFixtures, prng } from './helpers.js';

const corpus = loadFixtures().map((f) => f.bytes);

describe('mutation fuzzer over the golden corpus', () => {
  it('100 000 inputs end in a valid tree or a WbxmlError', () => {
    const random = prng(0x5eed);
    const tally: FuzzTally = { valid: 0, errors: new Map() };
    const tight = { maxDepth: 6, maxElements: 12, maxStringLength: 24, maxOpaqueLength: 64 };
    for (let i = 0; i < 100_000; i++) {
      check(mutate(corpus, random), tally, i % 10 === 0 ? tight : undefined, i % 50 === 0);
    }
    // The mutations reach both outcomes and most error paths.
    expect(tally.valid).toBeGreaterThan(1000);
    expect([...tally.errors.keys()].sort()).toEqual(
      expect.arrayContaining([
        'attributes',
        'bad-utf8',
        'limit-depth',
        'limit-elements',
        'limit-string',
        'mixed-content',
        'trailing-bytes',
        'truncated',
        'unbalanced-end',
        'unknown-page',
        'unknown-token',
        'unsupported-token',
      ]),
    );
  }, 60_000);
});
