// Long mutation-fuzz run of the WBXML decoder (test/wbxml/fuzz.test.ts runs 10^5 inputs in npm test).
//
// Node 20 cannot run TypeScript and tsx is not installed, so compile this file and what it imports,
// then run it from the repository root (it reads test/fixtures/wbxml/):
//
//   npx tsc --ignoreConfig --module nodenext --target es2022 --types node --skipLibCheck \
//     --rootDir . --outDir dist/fuzz scripts/fuzz-wbxml.ts
//   node dist/fuzz/scripts/fuzz-wbxml.js [inputs=10000000] [seed=random]
//
// It stops at the first input that breaks the contract (printed as hex, with the seed to replay),
// and otherwise prints how many inputs decoded and which error codes the rest ended in.
import { join } from 'node:path';
import { loadFixtures, prng } from '../test/wbxml/helpers.js';
import { check, mutate, type FuzzTally } from '../test/wbxml/mutate.js';

const total = Number(process.argv[2] ?? 10_000_000);
const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 0xffffffff));
const corpus = loadFixtures(join(process.cwd(), 'test/fixtures/wbxml')).map((f) => f.bytes);
const random = prng(seed);
const tally: FuzzTally = { valid: 0, errors: new Map() };
const tight = { maxDepth: 6, maxElements: 12, maxStringLength: 24, maxOpaqueLength: 64 };
const started = Date.now();

console.log(`fuzzing ${total} inputs from ${corpus.length} fixtures, seed ${seed}`);
for (let i = 1; i <= total; i++) {
  try {
    check(mutate(corpus, random), tally, i % 10 === 0 ? tight : undefined, i % 50 === 0);
  } catch (e) {
    console.error(`input ${i} (seed ${seed}): ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  if (i % 1_000_000 === 0) console.log(`${i} inputs, ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
console.log(`${tally.valid} decoded, ${total - tally.valid} rejected:`);
for (const [code, n] of [...tally.errors].sort((a, b) => b[1] - a[1])) console.log(`  ${code} ${n}`);
