import { describe, expect, it } from 'vitest';
import { EasHttpError } from '../../src/errors.js';
import { encodeBase64Query, parseRequestLine } from '../../src/http/query.js';

/** Hex bytes to base64; `#` starts a comment to the end of the line. */
const hex = (s: string): string =>
  Buffer.from(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex').toString('base64');

describe('plain query (MS-ASHTTP 2.2.1.1.1.2)', () => {
  it.each([
    [
      'Cmd=Sync&User=alice&DeviceId=ABC123&DeviceType=iPhone',
      { command: 'Sync', user: 'alice', deviceId: 'ABC123', deviceType: 'iPhone' },
    ],
    ['Cmd=FolderSync&User=CORP%5Calice&DeviceId=x1&DeviceType=Android', { user: 'CORP\\alice' }],
    ['Cmd=Ping&User=alice@example.com&DeviceId=x1&DeviceType=SAMSUNG', { user: 'alice@example.com' }],
    ['Cmd=Ping&User=alice%40example.com&DeviceId=x1&DeviceType=SAMSUNG', { user: 'alice@example.com' }],
    [
      'Cmd=Sync&DeviceId=x1&DeviceType=Outlook%20for%20iOS',
      { user: undefined, deviceType: 'Outlook for iOS' },
    ],
    ['Cmd=Sync&DeviceId=x1&DeviceType=Samsung+Galaxy', { deviceType: 'Samsung Galaxy' }],
    ['cmd=Sync&user=a&deviceid=x1&devicetype=t', { command: 'Sync', user: 'a', deviceId: 'x1' }],
    [
      'Cmd=SmartReply&User=a&DeviceId=x&DeviceType=t&ItemId=5%3A7&CollectionId=5&SaveInSent=T',
      { itemId: '5:7', collectionId: '5', saveInSent: true },
    ],
    ['Cmd=SendMail&User=a&DeviceId=x&DeviceType=t&SaveInSent=F', { saveInSent: false }],
    [
      'Cmd=GetAttachment&User=a&DeviceId=x&DeviceType=t&AttachmentName=5%3A7%3A1',
      { attachmentName: '5:7:1' },
    ],
  ])('%s', (query, expected) => {
    const line = parseRequestLine(query);
    expect(line.form).toBe('plain');
    expect(line).toMatchObject(expected);
  });

  it.each([
    ['', 'Missing query string'],
    ['Cmd=Sync&User=a&DeviceType=t', 'Missing DeviceId'],
    ['Cmd=Sync&User=a&DeviceId=x', 'Missing DeviceType'],
    ['Cmd=&User=a&DeviceId=x&DeviceType=t', 'Missing Cmd'],
    [`Cmd=Sync&DeviceId=${'x'.repeat(200)}&DeviceType=t`, 'DeviceId is too long'],
    ['Cmd=Sync&DeviceId=a%0Ab&DeviceType=t', 'control characters'],
  ])('refuses %s', (query, message) => {
    expect(() => parseRequestLine(query)).toThrowError(message);
  });
});

describe('base64 query (MS-ASHTTP 2.2.1.1.1.1)', () => {
  it('decodes the example of the specification', () => {
    // 8c=14.0, command 0 (Sync), locale 0x0409, "v140Device", no policy key, "SmartPhone"
    expect(parseRequestLine('jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l')).toEqual({
      form: 'base64',
      command: 'Sync',
      protocolVersion: '14.0',
      locale: 0x0409,
      deviceId: 'v140Device',
      deviceType: 'SmartPhone',
      policyKey: undefined,
      saveInSent: false,
      acceptMultiPart: false,
    });
  });

  it('decodes policy key, parameters and option bits byte by byte', () => {
    const bytes = hex(`
      a1 03 09 04                     # 16.1, SmartReply, en-US
      04 41 42 43 44                  # device id "ABCD"
      04 78 56 34 12                  # policy key 0x12345678 (little-endian)
      06 69 50 68 6f 6e 65            # device type "iPhone"
      01 01 35                        # CollectionId "5"
      03 03 35 3a 37                  # ItemId "5:7"
      08 05 61 6c 69 63 65            # User "alice"
      07 01 03                        # Options SaveInSent|AcceptMultiPart
    `);
    const line = parseRequestLine(bytes);
    expect(line).toMatchObject({
      command: 'SmartReply',
      protocolVersion: '16.1',
      deviceId: 'ABCD',
      policyKey: 0x12345678,
      deviceType: 'iPhone',
      collectionId: '5',
      itemId: '5:7',
      user: 'alice',
      saveInSent: true,
      acceptMultiPart: true,
    });
  });

  it('accepts a URL-escaped base64 query', () => {
    const q = encodeBase64Query({
      protocolVersion: '14.1',
      commandCode: 18,
      deviceId: 'dev/+=',
      deviceType: 'Android',
    });
    const line = parseRequestLine(encodeURIComponent(q));
    expect(line).toMatchObject({
      command: 'Ping',
      deviceId: 'dev/+=',
      deviceType: 'Android',
      protocolVersion: '14.1',
    });
  });

  it('renders a binary device id as hex', () => {
    const q = hex('79 09 09 04 04 de ad be ef 00 02 50 43');
    expect(parseRequestLine(q)).toMatchObject({
      command: 'FolderSync',
      protocolVersion: '12.1',
      deviceId: 'DEADBEEF',
      deviceType: 'PC',
    });
  });

  it('round-trips with its encoder', () => {
    const q = encodeBase64Query({
      protocolVersion: '14.0',
      commandCode: 19,
      deviceId: 'X1',
      deviceType: 'WP8',
      policyKey: 4294967295,
      params: [
        ['AttachmentName', 'a:b'],
        ['Options', 2],
        ['LongId', 'RgAAAA'],
        ['Occurrence', '2026-01-01'],
      ],
    });
    expect(parseRequestLine(q)).toMatchObject({
      command: 'ItemOperations',
      policyKey: 4294967295,
      attachmentName: 'a:b',
      acceptMultiPart: true,
      saveInSent: false,
      longId: 'RgAAAA',
      occurrence: '2026-01-01',
    });
  });

  it.each([
    ['truncated in the header', '8c 00 09'],
    ['truncated device id', '8c 00 09 04 0a 76 31'],
    ['bad policy key length', '8c 00 09 04 01 41 02 00 00 01 50'],
    ['truncated parameter', '8c 00 09 04 01 41 00 01 50 01 05 41'],
    ['unknown command code', '8c 63 09 04 01 41 00 01 50'],
    ['empty device id', '8c 00 09 04 00 00 01 50'],
    ['device type not UTF-8', '8c 00 09 04 01 41 00 01 ff'],
  ])('refuses %s with a 400-class error', (_name, bytes) => {
    let error: unknown;
    try {
      parseRequestLine(hex(bytes));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EasHttpError);
    expect((error as EasHttpError).httpStatus).toBe(400);
  });

  it('refuses a query that is neither form', () => {
    expect(() => parseRequestLine('hello world!')).toThrowError(/neither/);
  });
});
