// Real-client byte sequences (header 03 01 6a 00) and server responses: each fixture decodes to its
// XML and the XML encodes back to the same bytes, buffered and streamed. The bytes of every fixture
// on pages 0–24 were produced by libwbxml's xml2wbxml from the XML, independently of this codec.
import { describe, expect, it } from 'vitest';
import { decode, encode, encodeStream, fromXml, toXml } from '../../wbxml/index.js';
import { collect, loadFixtures } from './helpers.js';

const fixtures = loadFixtures();

describe('golden WBXML fixtures', () => {
  it('has the corpus the fuzzer and the CLI test rely on', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(20);
    for (const f of fixtures) expect(Array.from(f.bytes.subarray(0, 4)), f.name).toEqual([3, 1, 0x6a, 0]);
  });

  for (const f of fixtures) {
    it(`${f.name}: decodes to its XML and re-encodes to the same bytes`, async () => {
      const tree = decode(f.bytes);
      expect(toXml(tree)).toBe(f.xml);
      expect(fromXml(f.xml)).toEqual(tree);
      expect(Buffer.from(encode(tree)).toString('hex')).toBe(Buffer.from(f.bytes).toString('hex'));
      const streamed = await collect(encodeStream(tree, { chunkSize: 16 }));
      expect(Buffer.from(streamed).equals(Buffer.from(f.bytes))).toBe(true);
    });
  }

  it('reads the MS-ASWBXML example Sync response as the spec describes it', () => {
    const f = fixtures.find((x) => x.name === 'ms-aswbxml-sync-response-contact')!;
    const add = decode(f.bytes).children[0]!.children[0]!.children[4]!.children[0]!;
    const data = add.children[1]!;
    expect(data.children.map((c) => `${c.ns}:${c.name}=${String(c.value ?? '')}`)).toEqual([
      'AirSyncBase:Body=',
      'Contacts:FileAs=Funk, Don',
      'Contacts:FirstName=Don',
      'Contacts:LastName=Funk',
      'AirSyncBase:NativeBodyType=1',
    ]);
  });

  it('keeps OPAQUE content as bytes (MIME of SendMail, ConversationId)', () => {
    const send = decode(fixtures.find((x) => x.name === 'sendmail-request')!.bytes);
    const mime = send.children.find((c) => c.name === 'Mime')!.value;
    expect(mime).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(mime as Uint8Array)).toMatch(/^From: ann@example.com\r\n/);
    expect(send.children.find((c) => c.name === 'SaveInSentItems')).toEqual({
      ns: 'ComposeMail',
      name: 'SaveInSentItems',
      children: [],
    });
  });
});
