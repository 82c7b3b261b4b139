// The value codec of the state store: JSON with tags for the types JSON loses. keyv's default
// JSON.stringify turns a Date into a string and a Uint8Array into an object of indices, so a sync
// state read back would not equal the one written.
//
// Tagged forms: {"$t":"Date","v":"<ISO>"}, {"$t":"u8","v":"<base64>"}, {"$t":"Map","v":[[k,v]…]},
// {"$t":"Set","v":[…]}. A plain object that itself has a "$t" key is written as
// {"$t":"obj","v":[[k,v]…]} so that no stored value can be mistaken for a tag.
// As in JSON, undefined object properties are dropped and undefined array items become null.

const TAG = '$t';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function encodeValue(value: unknown): string {
  const text = JSON.stringify(
    value,
    function replacer(this: Record<string, unknown>, key: string, v: unknown) {
      // `this[key]` is the value before toJSON ran: a Date arrives here as its ISO string.
      const raw = this[key];
      if (raw instanceof Date)
        return { [TAG]: 'Date', v: Number.isNaN(raw.getTime()) ? null : raw.toISOString() };
      if (raw instanceof Uint8Array)
        return { [TAG]: 'u8', v: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
      if (raw instanceof Map) return { [TAG]: 'Map', v: [...raw.entries()] };
      if (raw instanceof Set) return { [TAG]: 'Set', v: [...raw] };
      if (typeof raw === 'bigint') throw new TypeError('state values cannot hold a bigint');
      if (
        v !== null &&
        typeof v === 'object' &&
        !Array.isArray(v) &&
        Object.prototype.hasOwnProperty.call(v, TAG)
      ) {
        return { [TAG]: 'obj', v: Object.entries(v) };
      }
      return v;
    },
  );
  // JSON.stringify(undefined) is undefined; the store never holds that.
  if (text === undefined) throw new TypeError('state values must be JSON-representable');
  return text;
}

export function decodeValue<T = unknown>(text: string): T {
  return JSON.parse(text, (_key, v: Json) => {
    if (
      v === null ||
      typeof v !== 'object' ||
      Array.isArray(v) ||
      !Object.prototype.hasOwnProperty.call(v, TAG)
    )
      return v;
    const tag = v[TAG];
    const inner = v['v'];
    switch (tag) {
      case 'Date':
        return new Date(typeof inner === 'string' ? inner : Number.NaN);
      case 'u8': {
        const buf = Buffer.from(typeof inner === 'string' ? inner : '', 'base64');
        // A plain Uint8Array, not a Buffer view into Node's shared pool.
        return new Uint8Array(buf);
      }
      case 'Map':
        return new Map(Array.isArray(inner) ? (inner as [unknown, unknown][]) : []);
      case 'Set':
        return new Set(Array.isArray(inner) ? inner : []);
      case 'obj':
        return Object.fromEntries(Array.isArray(inner) ? (inner as [string, unknown][]) : []);
      default:
        throw new SyntaxError(`unknown tag ${JSON.stringify(tag)} in a stored state value`);
    }
  }) as T;
}
