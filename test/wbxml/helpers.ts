// Shared by the WBXML tests, the fuzz test and scripts/fuzz-wbxml.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = fileURLToPath(new URL('../fixtures/wbxml/', import.meta.url));

/** Bytes of a hex dump: pairs of hex digits, whitespace between, `#` starts a comment. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/#.*$/gm, '').replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`not a hex dump: ${text.slice(0, 40)}`);
  return Uint8Array.from(digits.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export interface Fixture {
  name: string;
  bytes: Uint8Array;
  xml: string;
}

/** Every `<name>.hex` + `<name>.xml` pair in a fixtures directory. */
export function loadFixtures(dir = fixturesDir): Fixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.hex'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -4);
      return {
        name,
        bytes: hex(readFileSync(join(dir, f), 'utf8')),
        xml: readFileSync(join(dir, `${name}.xml`), 'utf8'),
      };
    });
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** xorshift32: the fuzzers must be reproducible from a seed. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}
