// The mutation fuzzer of the decoder, shared by fuzz.test.ts (10^5 inputs per test run) and
// scripts/fuzz-wbxml.ts (longer runs). Inputs are golden fixtures changed by byte-level mutations
// aimed at WBXML structure: global tokens, content/attribute bits, mb_u_int32 lengths, cuts.
import { decode, encode, fromXml, toXml, WbxmlError, type WbxmlLimits } from '../../wbxml/index.js';
import { isDeepStrictEqual } from 'node:util';

const INTERESTING = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x40, 0x43, 0x45, 0x80, 0x83, 0x84, 0xc3, 0xc4, 0xff, 0x7f, 0x19, 0x1a,
];

export function mutate(corpus: readonly Uint8Array[], random: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(random() * n);
  let bytes = Array.from(corpus[pick(corpus.length)]!);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    const at = pick(bytes.length + 1);
    switch (pick(9)) {
      case 0: // flip a bit
        if (at < bytes.length) bytes[at]! ^= 1 << pick(8);
        break;
      case 1: // a structural byte
        if (at < bytes.length) bytes[at] = INTERESTING[pick(INTERESTING.length)]!;
        break;
      case 2: // a random byte
        if (at < bytes.length) bytes[at] = pick(256);
        break;
      case 3: // insert bytes
        bytes.splice(
          at,
          0,
          ...Array.from({ length: 1 + pick(4) }, () =>
            random() < 0.5 ? INTERESTING[pick(INTERESTING.length)]! : pick(256),
          ),
        );
        break;
      case 4: // delete a run
        bytes.splice(at, 1 + pick(8));
        break;
      case 5: // cut the document
        bytes = bytes.slice(0, at);
        break;
      case 6: // repeat a run
        bytes.splice(at, 0, ...bytes.slice(at, at + 1 + pick(16)));
        break;
      case 7: {
        // splice in a run of another document
        const other = corpus[pick(corpus.length)]!;
        const from = pick(other.length);
        bytes.splice(at, pick(8), ...other.subarray(from, from + 1 + pick(24)));
        break;
      }
      default: // toggle the content flag of a tag-looking byte
        if (at < bytes.length && (bytes[at]! & 0x3f) >= 5) bytes[at]! ^= 0x40;
    }
  }
  return Uint8Array.from(bytes);
}

export interface FuzzTally {
  valid: number;
  errors: Map<string, number>;
}

/**
 * Decodes one input and checks the contract: either a WbxmlError whose offset lies within the
 * input, or a tree that re-encodes and decodes to itself (and survives XML every `xmlEvery` trees).
 * Anything else throws a plain Error describing the input.
 */
export function check(input: Uint8Array, tally: FuzzTally, limits?: Partial<WbxmlLimits>, xml = false): void {
  let tree;
  try {
    tree = decode(input, limits);
  } catch (e) {
    if (!(e instanceof WbxmlError)) {
      throw new Error(`decode threw ${String(e)} on ${Buffer.from(input).toString('hex')}`);
    }
    if (!(e.offset >= 0 && e.offset <= input.length)) {
      throw new Error(
        `offset ${e.offset} outside input of ${input.length}: ${Buffer.from(input).toString('hex')}`,
      );
    }
    tally.errors.set(e.code, (tally.errors.get(e.code) ?? 0) + 1);
    return;
  }
  tally.valid++;
  const again = decode(encode(tree));
  if (!isDeepStrictEqual(again, tree))
    throw new Error(`re-encoding changed ${Buffer.from(input).toString('hex')}`);
  if (xml && !isDeepStrictEqual(fromXml(toXml(tree)), tree)) {
    throw new Error(`XML round trip changed ${Buffer.from(input).toString('hex')}`);
  }
}
