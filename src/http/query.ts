// The request line of an EAS command: MS-ASHTTP 2.2.1.1.1 allows a plain text query
// (`?Cmd=Sync&User=…&DeviceId=…&DeviceType=…`) or a base64-encoded binary one. Both decode into
// one EasRequestLine so nothing downstream knows which form the client used.
import { EasHttpError } from '../errors.js';

/** MS-ASHTTP 2.2.1.1.1.1.2: command codes of the base64 form. */
export const commandCodes: Readonly<Record<number, string>> = {
  0: 'Sync',
  1: 'SendMail',
  2: 'SmartForward',
  3: 'SmartReply',
  4: 'GetAttachment',
  9: 'FolderSync',
  10: 'FolderCreate',
  11: 'FolderDelete',
  12: 'FolderUpdate',
  13: 'MoveItems',
  14: 'GetItemEstimate',
  15: 'MeetingResponse',
  16: 'Search',
  17: 'Settings',
  18: 'Ping',
  19: 'ItemOperations',
  20: 'Provision',
  21: 'ResolveRecipients',
  22: 'ValidateCert',
  23: 'Find',
};

export interface EasRequestLine {
  form: 'plain' | 'base64';
  /** Command name as the client sent it (plain) or as its code names it (base64). */
  command: string;
  /** The User parameter; informational only (MS-ASHTTP 2.2.1.1.1.2.3): auth decides who it is. */
  user?: string;
  deviceId: string;
  deviceType: string;
  /** From the base64 form; the plain form carries it in MS-ASProtocolVersion. */
  protocolVersion?: string;
  /** From the base64 form; the plain form carries it in X-MS-PolicyKey. */
  policyKey?: number;
  locale?: number;
  attachmentName?: string;
  collectionId?: string;
  itemId?: string;
  longId?: string;
  occurrence?: string;
  saveInSent: boolean;
  acceptMultiPart: boolean;
}

const maxIdLength = 128;

/** Parses the raw query string (without `?`) of a POST to the EAS endpoint. */
export function parseRequestLine(rawQuery: string): EasRequestLine {
  if (rawQuery === '') throw new EasHttpError('bad-request', 'Missing query string');
  return /(^|&)cmd=/i.test(rawQuery) ? parsePlain(rawQuery) : parseBase64(rawQuery);
}

function parsePlain(rawQuery: string): EasRequestLine {
  const params = new Map<string, string>();
  // Names are matched case-insensitively: clients differ (`DeviceID`, `deviceId`).
  // A `+` in DeviceType means a space, as in any form-encoded query.
  let decoded: URLSearchParams;
  try {
    decoded = new URLSearchParams(rawQuery);
  } catch {
    throw new EasHttpError('bad-request', 'Query string cannot be decoded');
  }
  for (const [name, value] of decoded) params.set(name.toLowerCase(), value);
  const get = (name: string): string | undefined => {
    const v = params.get(name.toLowerCase());
    return v === undefined || v === '' ? undefined : v;
  };
  const command = get('Cmd');
  if (command === undefined) throw new EasHttpError('bad-request', 'Missing Cmd parameter');
  return {
    form: 'plain',
    command,
    user: get('User'),
    deviceId: requireId(get('DeviceId'), 'DeviceId'),
    deviceType: requireId(get('DeviceType'), 'DeviceType'),
    attachmentName: get('AttachmentName'),
    collectionId: get('CollectionId'),
    itemId: get('ItemId'),
    longId: get('LongId'),
    occurrence: get('Occurrence'),
    // MS-ASHTTP 2.2.1.1.1.2.5: SaveInSent is "T" or "F", default F.
    saveInSent: get('SaveInSent')?.toUpperCase() === 'T',
    acceptMultiPart: false,
  };
}

function requireId(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new EasHttpError('bad-request', `Missing ${name} parameter`);
  if (value.length > maxIdLength) throw new EasHttpError('bad-request', `${name} is too long`);
  // Control characters would end up in logs and state keys; no client sends them.
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new EasHttpError('bad-request', `${name} has control characters`);
  return value;
}

// MS-ASHTTP 2.2.1.1.1.1.3: command parameter tags of the base64 form.
const paramTags = {
  AttachmentName: 0,
  CollectionId: 1,
  ItemId: 3,
  LongId: 4,
  Occurrence: 6,
  Options: 7,
  User: 8,
} as const;

// MS-ASHTTP 2.2.1.1.1.1.3: bits of the Options parameter.
const optionSaveInSent = 0x01;
const optionAcceptMultiPart = 0x02;

function parseBase64(rawQuery: string): EasRequestLine {
  let text: string;
  try {
    text = decodeURIComponent(rawQuery);
  } catch {
    throw new EasHttpError('bad-request', 'Query string cannot be decoded');
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    throw new EasHttpError('bad-request', 'Query is neither a plain nor a base64 EAS query');
  }
  const bytes = Buffer.from(text, 'base64');
  const reader = new ByteReader(bytes);

  // MS-ASHTTP 2.2.1.1.1.1: fixed header fields, then length-prefixed device id, policy key and
  // device type, then tag/length/value command parameters up to the end.
  const versionByte = reader.u8('protocol version');
  const commandCode = reader.u8('command code');
  const locale = reader.u16le('locale');
  const deviceIdBytes = reader.bytes(reader.u8('device id length'), 'device id');
  const policyKeyLength = reader.u8('policy key length');
  let policyKey: number | undefined;
  if (policyKeyLength === 4) policyKey = reader.u32le('policy key');
  else if (policyKeyLength !== 0) throw new EasHttpError('bad-request', 'Policy key length must be 0 or 4');
  const deviceTypeBytes = reader.bytes(reader.u8('device type length'), 'device type');

  const command = commandCodes[commandCode];
  if (command === undefined) throw new EasHttpError('unknown-command', `Unknown command code ${commandCode}`);

  const line: EasRequestLine = {
    form: 'base64',
    command,
    deviceId: requireId(deviceIdText(deviceIdBytes), 'DeviceId'),
    deviceType: requireId(utf8(deviceTypeBytes, 'device type'), 'DeviceType'),
    protocolVersion: `${Math.floor(versionByte / 10)}.${versionByte % 10}`,
    policyKey,
    locale,
    saveInSent: false,
    acceptMultiPart: false,
  };
  while (!reader.done()) {
    const tag = reader.u8('parameter tag');
    const value = reader.bytes(reader.u8('parameter length'), 'parameter value');
    switch (tag) {
      case paramTags.AttachmentName:
        line.attachmentName = utf8(value, 'AttachmentName');
        break;
      case paramTags.CollectionId:
        line.collectionId = utf8(value, 'CollectionId');
        break;
      case paramTags.ItemId:
        line.itemId = utf8(value, 'ItemId');
        break;
      case paramTags.LongId:
        line.longId = utf8(value, 'LongId');
        break;
      case paramTags.Occurrence:
        line.occurrence = utf8(value, 'Occurrence');
        break;
      case paramTags.Options: {
        const flags = value[0] ?? 0;
        line.saveInSent = (flags & optionSaveInSent) !== 0;
        line.acceptMultiPart = (flags & optionAcceptMultiPart) !== 0;
        break;
      }
      case paramTags.User:
        line.user = utf8(value, 'User');
        break;
      default:
        // Tags 2 and 5 (CollectionName, ParentId) are reserved and unused; ignore rather than
        // refuse, as the spec does not forbid them.
        break;
    }
  }
  return line;
}

/** Device ids are ASCII on every current client; old Windows Mobile sent a binary GUID. */
function deviceIdText(bytes: Uint8Array): string {
  const printable = bytes.every((b) => b >= 0x21 && b <= 0x7e);
  return printable ? Buffer.from(bytes).toString('latin1') : Buffer.from(bytes).toString('hex').toUpperCase();
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new EasHttpError('bad-request', `${what} is not valid UTF-8`);
  }
}

class ByteReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}

  done(): boolean {
    return this.offset >= this.buf.length;
  }

  private need(n: number, what: string): void {
    if (this.offset + n > this.buf.length) {
      throw new EasHttpError('bad-request', `Base64 query truncated in ${what} at byte ${this.offset}`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf.readUInt8(this.offset++);
  }

  u16le(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u32le(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
}

/** Builds the base64 form; used by tests and the scripted client, kept beside its parser. */
export function encodeBase64Query(line: {
  protocolVersion: string;
  commandCode: number;
  locale?: number;
  deviceId: string;
  deviceType: string;
  policyKey?: number;
  params?: Array<[tag: keyof typeof paramTags, value: string | number]>;
}): string {
  const parts: number[] = [];
  const [major, minor] = line.protocolVersion.split('.').map(Number);
  parts.push((major ?? 0) * 10 + (minor ?? 0), line.commandCode);
  const locale = line.locale ?? 0x0409;
  parts.push(locale & 0xff, locale >> 8);
  const pushString = (s: string): void => {
    const b = Buffer.from(s, 'utf8');
    parts.push(b.length, ...b);
  };
  pushString(line.deviceId);
  if (line.policyKey === undefined) parts.push(0);
  else {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(line.policyKey);
    parts.push(4, ...k);
  }
  pushString(line.deviceType);
  for (const [name, value] of line.params ?? []) {
    parts.push(paramTags[name]);
    if (typeof value === 'number') parts.push(1, value);
    else pushString(value);
  }
  return Buffer.from(parts).toString('base64');
}
