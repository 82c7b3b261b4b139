import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../src/state/codec.js';

const roundTrip = <T>(v: T): T => decodeValue<T>(encodeValue(v));

describe('state codec', () => {
  it.each([
    ['a Date', new Date('2024-02-29T12:34:56.789Z')],
    ['a Uint8Array', new Uint8Array([0, 1, 2, 254, 255])],
    ['an empty Uint8Array', new Uint8Array()],
    [
      'a Map with non-string keys',
      new Map<unknown, unknown>([
        [1, 'a'],
        ['b', new Date(0)],
      ]),
    ],
    ['a Set', new Set(['x', 'y'])],
    ['nested', { a: [new Uint8Array([7]), { d: new Date(5) }], m: new Map([['k', new Set([1])]]) }],
    ['an object that has a "$t" key', { $t: 'Date', v: 'not a date' }],
    ['a "$t" object inside an array', [{ $t: 'u8', v: 'AAAA' }]],
  ])('round-trips %s', (_name, value) => {
    expect(roundTrip(value)).toEqual(value);
  });

  it('gives back Uint8Array (not Buffer) and Date instances', () => {
    const back = roundTrip({ b: Buffer.from('hi'), d: new Date(1) });
    expect(Object.getPrototypeOf(back.b)).toBe(Uint8Array.prototype);
    expect(back.b).toEqual(new Uint8Array([104, 105]));
    expect(back.d).toBeInstanceOf(Date);
  });

  it('encodes a view into a larger buffer as the view only', () => {
    const big = new Uint8Array([9, 9, 1, 2, 3, 9]);
    expect(roundTrip(big.subarray(2, 5))).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('refuses what it cannot represent', () => {
    expect(() => encodeValue(undefined)).toThrow(TypeError);
    expect(() => encodeValue({ n: 1n })).toThrow(/bigint/);
    expect(() => decodeValue('{"$t":"Nope","v":1}')).toThrow(/unknown tag/);
  });

  it('round-trips arbitrary JSON-like values with dates and bytes', () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.date({ noInvalidDate: true }),
      fc.uint8Array({ maxLength: 16 }),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        expect(roundTrip(v)).toEqual(v);
      }),
    );
  });
});
