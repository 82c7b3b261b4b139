// encode / encodeStream: the exact bytes MS-ASWBXML 2.1.1 prescribes, refusals as WbxmlError, and
// streaming in bounded chunks that pulls OpaqueSource content only when it is reached.
import { describe, expect, it } from 'vitest';
import {
  decode,
  el,
  encode,
  encodeStream,
  WbxmlError,
  type OpaqueSource,
  type WbxmlElement,
} from '../../wbxml/index.js';
import { collect, hex } from './helpers.js';

const bytesOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function refusal(tree: WbxmlElement): string {
  try {
    encode(tree);
  } catch (e) {
    expect(e).toBeInstanceOf(WbxmlError);
    return (e as WbxmlError).code;
  }
  return 'ok';
}

describe('encode', () => {
  it('writes the EAS header, switches pages only when needed, and keeps the page across END', () => {
    const tree = el('AirSync', 'Sync', [
      el('AirSyncBase', 'Body', el('AirSyncBase', 'Type', 1)),
      el('AirSyncBase', 'Data', 'x'),
      el('AirSync', 'Status', 1),
    ]);
    expect(bytesOf(encode(tree))).toBe(
      bytesOf(hex('03 01 6a 00 45 00 11 4a 46 03 31 00 01 01 4b 03 78 00 01 00 00 4e 03 31 00 01 01')),
    );
  });

  it('writes no content flag for an empty element and STR_I for an empty string', () => {
    expect(bytesOf(encode(el('AirSync', 'Sync', el('AirSync', 'MoreAvailable'))))).toBe('03016a00451401');
    expect(bytesOf(encode(el('AirSync', 'SyncKey', '')))).toBe('03016a004b030001');
  });

  it('writes OPAQUE with an mb_u_int32 length', () => {
    const value = new Uint8Array(200).fill(7);
    const out = encode(el('Email2', 'ConversationId', value));
    expect(bytesOf(out.subarray(0, 10))).toBe('03016a00001649c38148');
    expect(out.length).toBe(10 + 200 + 1);
  });

  it('writes UTF-8, including characters outside the BMP', () => {
    expect(bytesOf(encode(el('Email', 'Subject', 'Grüße 😀')))).toBe(
      '03016a0000025403' + bytesOf(new TextEncoder().encode('Grüße 😀')) + '0001',
    );
  });

  it.each([
    ['an unknown namespace', el('AirSyncX', 'Sync'), 'unknown-tag'],
    ['a name not on the page', el('AirSync', 'Truncation', '1'), 'unknown-tag'],
    [
      'value and children together',
      { ...el('AirSync', 'Sync', el('AirSync', 'Status', 1)), value: 'x' },
      'invalid-tree',
    ],
    ['NUL in an ASCII string', el('AirSync', 'SyncKey', 'a\0b'), 'nul-in-string'],
    ['NUL after non-ASCII', el('AirSync', 'SyncKey', 'é\0'), 'nul-in-string'],
  ] as const)('refuses %s', (_name, tree, codeWanted) => {
    expect(refusal(tree as WbxmlElement)).toBe(codeWanted);
  });

  it('refuses an OpaqueSource, which only encodeStream can write', () => {
    const source: OpaqueSource = { length: 1, chunks: async function* () {} };
    expect(refusal({ ns: 'ComposeMail', name: 'Mime', children: [], value: source })).toBe('opaque-source');
  });
});

function sourceOf(
  parts: Uint8Array[],
  log: string[],
  length = parts.reduce((n, p) => n + p.length, 0),
): OpaqueSource {
  return {
    length,
    chunks: async function* () {
      log.push('pulled');
      for (const p of parts) yield p;
    },
  };
}

describe('encodeStream', () => {
  const big = (n: number, seed: number): Uint8Array =>
    Uint8Array.from({ length: n }, (_, i) => (i * seed) & 0xff);

  it('yields exactly the bytes of encode, in chunks no larger than chunkSize', async () => {
    const tree = el('ItemOperations', 'ItemOperations', [
      el('ItemOperations', 'Status', 1),
      el('ItemOperations', 'Response', [
        el('ItemOperations', 'Fetch', [el('ItemOperations', 'Data', big(100_000, 7))]),
        el('ItemOperations', 'Fetch', [el('AirSyncBase', 'Data', 'é'.repeat(30_000))]),
      ]),
    ]);
    const chunks: Uint8Array[] = [];
    for await (const c of encodeStream(tree, { chunkSize: 4096 })) chunks.push(c);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(4096);
    expect(chunks.length).toBeGreaterThan(160000 / 4096);
    expect(bytesOf(await collect(chunks as unknown as AsyncIterable<Uint8Array>))).toBe(
      bytesOf(encode(tree)),
    );
  });

  it('pulls an OpaqueSource only when the bytes before it have been taken', async () => {
    const log: string[] = [];
    const attachment = big(10_000, 3);
    const tree = el('ItemOperations', 'ItemOperations', [
      el('ItemOperations', 'Status', 'x'.repeat(3000)),
      {
        ns: 'ItemOperations',
        name: 'Data',
        children: [],
        value: sourceOf([attachment.subarray(0, 7000), attachment.subarray(7000)], log),
      },
    ]);
    const out: Uint8Array[] = [];
    for await (const c of encodeStream(tree, { chunkSize: 1024 })) {
      log.push(`chunk ${c.length}`);
      out.push(c);
    }
    expect(log.indexOf('pulled')).toBeGreaterThan(1);
    expect(log.slice(0, log.indexOf('pulled')).every((l) => l.startsWith('chunk'))).toBe(true);
    const whole = await collect(out as unknown as AsyncIterable<Uint8Array>);
    const decoded = decode(whole);
    expect(bytesOf(decoded.children[1]!.value as Uint8Array)).toBe(bytesOf(attachment));
  });

  it.each([
    ['shorter', [new Uint8Array(5)], 6],
    ['longer', [new Uint8Array(5), new Uint8Array(5)], 7],
  ])('fails when the OpaqueSource yields %s than its length', async (_name, parts, length) => {
    const tree: WbxmlElement = {
      ns: 'ComposeMail',
      name: 'Mime',
      children: [],
      value: sourceOf(parts, [], length),
    };
    await expect(collect(encodeStream(tree))).rejects.toMatchObject({
      name: 'WbxmlError',
      code: 'opaque-length',
    });
  });

  it('rejects a chunk size below 16', async () => {
    await expect(collect(encodeStream(el('AirSync', 'Sync'), { chunkSize: 8 }))).rejects.toThrow(RangeError);
  });
});
