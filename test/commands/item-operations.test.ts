// ItemOperations on the memory backend, WBXML in and out: one line per Status of MS-ASCMD
// 2.2.3.177.8, attachments inline and in the multipart form (MS-ASCMD 2.2.1.10.1) checked byte
// for byte, a 5 MB attachment through the streaming path, and EmptyFolderContents with the sync
// state that follows it. Every WBXML response is schema-checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode, fromXml, type WbxmlElement } from '../../wbxml/index.js';
import type { Account } from '../../src/backend/contract.js';
import { createItemOperationsHandler } from '../../src/commands/item-operations.js';
import { createMoveItemsHandler } from '../../src/commands/move-items.js';
import { encodeBase64Query } from '../../src/http/query.js';
import {
  multipartResponse,
  parseItemOperationsRequest,
  type PartData,
} from '../../src/protocol/item-operations.js';
import { ProtocolError } from '../../src/protocol/read.js';
import { findAll, findText, type EasReply, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;
const signal = (): AbortSignal => AbortSignal.timeout(20_000);
let seq = 0;

beforeAll(async () => {
  engine = await startTestEngine({
    extraHandlers: (deps) => ({
      ItemOperations: createItemOperationsHandler(deps),
      MoveItems: createMoveItemsHandler(deps),
    }),
  });
});
afterAll(async () => engine?.close());

/** Deterministic bytes that do not compress: a simple LCG. */
function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A message with a text body and the given attachments, stored in `folderId`. */
async function mailWith(
  account: Account,
  folderId: string,
  subject: string,
  files: Buffer[],
): Promise<string> {
  const boundary = `b${++seq}x`;
  const parts = files.map(
    (f, i) =>
      `--${boundary}\r\nContent-Type: application/octet-stream; name="f${i}.bin"\r\nContent-Disposition: attachment; filename="f${i}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${f.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`,
  );
  const mime = Buffer.from(
    `From: bob@example.com\r\nTo: ${account.email}\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n` +
      `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello ${subject}, this is the body text.\r\n${parts.join('')}--${boundary}--\r\n`,
  );
  const item = { Body: { Type: 4 as const, Data: mime, EstimatedDataSize: mime.length } };
  return (await engine.backend.createItem(account, folderId, { class: 'Email', item }, signal())).id;
}

async function fileReferences(account: Account, folderId: string, id: string): Promise<string[]> {
  const [rec] = await engine.backend.getItems(account, folderId, [id], { bodyPreferences: [] }, signal());
  if (rec?.class !== 'Email') throw new Error('no mail');
  return (rec.item.Attachments ?? []).map((a) => a.FileReference);
}

interface Setup {
  c: EasTestClient;
  account: Account;
  folder: string;
  collection: string;
  item: string;
  subject: string;
  files: Buffer[];
  refs: string[];
}

/** A device that knows a fresh mail folder holding one mail with two attachments. */
async function setup(version?: string): Promise<Setup> {
  const c = await engine.client('alice', version === undefined ? {} : { version });
  const account = await engine.account();
  const f = await engine.backend.folders!.createFolder(
    account,
    null,
    `ItemOps ${++seq} ${Date.now()}`,
    'Email',
    signal(),
  );
  const files = [bytes(3000, seq), bytes(17, seq + 1)];
  const subject = `fetch ${seq}`;
  const item = await mailWith(account, f.id, subject, files);
  const res = await c.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  const collection = findText(
    findAll(res.doc, 'Add').find((a) => findText(a, 'DisplayName') === f.displayName),
    'ServerId',
  )!;
  return {
    c,
    account,
    folder: f.id,
    collection,
    item,
    subject,
    files,
    refs: await fileReferences(account, f.id, item),
  };
}

const io = (inner: string): string =>
  `<ItemOperations xmlns="ItemOperations:" xmlns:A="AirSync:" xmlns:B="AirSyncBase:">${inner}</ItemOperations>`;
const fetchItem = (collection: string | null, serverId: string, options = ''): string =>
  `<Fetch><Store>Mailbox</Store>${collection === null ? '' : `<A:CollectionId>${collection}</A:CollectionId>`}<A:ServerId>${serverId}</A:ServerId>${options}</Fetch>`;
const fetchFile = (ref: string, options = ''): string =>
  `<Fetch><Store>Mailbox</Store><B:FileReference>${ref}</B:FileReference>${options}</Fetch>`;
const range = (r: string): string => `<Options><Range>${r}</Range></Options>`;

/** Sends ItemOperations, checks the answer is schema-valid WBXML, returns it. */
async function itemOps(c: EasTestClient, body: string): Promise<WbxmlElement> {
  const res = await c.command('ItemOperations', body);
  expect(res.status).toBe(200);
  expect(res.doc).toBeDefined();
  await validateEasResponse(res.doc!, 'ItemOperations');
  return res.doc!;
}

/** Status of the n-th operation response of a kind (the top-level Status is the first). */
const opStatus = (doc: WbxmlElement, kind = 'Fetch', n = 0): string | undefined =>
  findText(findAll(doc, kind)[n], 'Status');

const dataOf = (e: WbxmlElement | undefined): Buffer => {
  const v = findAll(e, 'Data')[0]?.value;
  return v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(typeof v === 'string' ? v : '');
};

/** MS-ASCMD 2.2.1.10.1.1: the parts of a multipart body; the framing is checked on the way. */
function parseMultipart(buf: Buffer): Buffer[] {
  const count = buf.readInt32LE(0);
  const parts: Buffer[] = [];
  let expected = 4 + 8 * count;
  for (let i = 0; i < count; i++) {
    const offset = buf.readInt32LE(4 + 8 * i);
    const length = buf.readInt32LE(8 + 8 * i);
    expect(offset).toBe(expected);
    parts.push(buf.subarray(offset, offset + length));
    expected += length;
  }
  expect(expected).toBe(buf.length);
  return parts;
}

/** The multipart body a server must send for these parts, built independently. */
function multipartOf(parts: Buffer[]): Buffer {
  const header = Buffer.alloc(4 + 8 * parts.length);
  header.writeInt32LE(parts.length, 0);
  let offset = header.length;
  parts.forEach((p, i) => {
    header.writeInt32LE(offset, 4 + 8 * i);
    header.writeInt32LE(p.length, 8 + 8 * i);
    offset += p.length;
  });
  return Buffer.concat([header, ...parts]);
}

async function multipartDoc(res: EasReply): Promise<{ doc: WbxmlElement; parts: Buffer[] }> {
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('application/vnd.ms-sync.multipart');
  const parts = parseMultipart(res.raw);
  const doc = decode(parts[0]!);
  await validateEasResponse(doc, 'ItemOperations');
  return { doc, parts };
}

describe('ItemOperations Fetch of an item: Status per MS-ASCMD 2.2.3.177.8', () => {
  it('1: a mail by CollectionId and ServerId, its body as BodyPreference asks', async () => {
    const s = await setup();
    const pref =
      '<Options><B:BodyPreference><B:Type>1</B:Type><B:TruncationSize>10</B:TruncationSize></B:BodyPreference></Options>';
    const doc = await itemOps(s.c, io(fetchItem(s.collection, `${s.collection}:${s.item}`, pref)));
    expect(findText(doc, 'Status')).toBe('1');
    expect(opStatus(doc)).toBe('1');
    const fetch = findAll(doc, 'Fetch')[0];
    expect([findText(fetch, 'CollectionId'), findText(fetch, 'ServerId'), findText(fetch, 'Class')]).toEqual([
      s.collection,
      `${s.collection}:${s.item}`,
      'Email',
    ]);
    expect(findText(fetch, 'Subject')).toBe(s.subject);
    expect([
      findText(fetch, 'Type'),
      findText(fetch, 'Truncated'),
      dataOf(findAll(fetch, 'Body')[0]).toString(),
    ]).toEqual(['1', '1', 'Hello fetc']);
    expect(findAll(fetch, 'Attachment')).toHaveLength(2);
  });

  it('1: MIMESupport 2 and BodyPreference 4 give the whole message', async () => {
    const s = await setup();
    const pref =
      '<Options><A:MIMESupport>2</A:MIMESupport><B:BodyPreference><B:Type>4</B:Type></B:BodyPreference></Options>';
    const doc = await itemOps(s.c, io(fetchItem(s.collection, `${s.collection}:${s.item}`, pref)));
    expect(opStatus(doc)).toBe('1');
    const body = findAll(doc, 'Body')[0];
    expect(findText(body, 'Type')).toBe('4');
    expect(dataOf(body).toString()).toContain(s.files[1]!.toString('base64'));
  });

  it('1: ServerId alone (the collection is part of it)', async () => {
    const s = await setup();
    const doc = await itemOps(s.c, io(fetchItem(null, `${s.collection}:${s.item}`)));
    expect(opStatus(doc)).toBe('1');
    expect(findText(doc, 'CollectionId')).toBeUndefined();
  });

  it('6: an item that does not exist', async () => {
    const s = await setup();
    expect(opStatus(await itemOps(s.c, io(fetchItem(s.collection, `${s.collection}:nope`))))).toBe('6');
  });

  it('6: a collection the device does not know', async () => {
    const s = await setup();
    expect(opStatus(await itemOps(s.c, io(fetchItem('999', `999:${s.item}`))))).toBe('6');
  });

  it('6: a ServerId of another collection', async () => {
    const s = await setup();
    expect(opStatus(await itemOps(s.c, io(fetchItem(s.collection, `1:${s.item}`))))).toBe('6');
  });

  it('9: the Document Library store', async () => {
    const s = await setup();
    const doc = await itemOps(
      s.c,
      io(
        '<Fetch><Store>Document Library</Store><LinkId xmlns="DocumentLibrary:">\\\\server\\share\\a.txt</LinkId></Fetch>',
      ),
    );
    expect(opStatus(doc)).toBe('9');
  });

  it('6: a LongId that is no Search result (easd LongIds are ServerIds)', async () => {
    const s = await setup();
    const doc = await itemOps(
      s.c,
      io('<Fetch><Store>Mailbox</Store><LongId xmlns="Search:">RgAAAAD</LongId></Fetch>'),
    );
    expect([opStatus(doc), findText(doc, 'LongId')]).toEqual(['6', 'RgAAAAD']);
  });

  it('2: a Fetch without Store, alone among good ones', async () => {
    const s = await setup();
    const doc = await itemOps(
      s.c,
      io(`<Fetch><B:FileReference>${s.refs[0]}</B:FileReference></Fetch>${fetchFile(s.refs[1]!)}`),
    );
    expect([findText(doc, 'Status'), opStatus(doc, 'Fetch', 0), opStatus(doc, 'Fetch', 1)]).toEqual([
      '1',
      '2',
      '1',
    ]);
  });

  it('2 (top level): no operation at all', async () => {
    const s = await setup();
    const doc = await itemOps(s.c, io(''));
    expect(findText(doc, 'Status')).toBe('2');
    expect(findAll(doc, 'Response')).toHaveLength(0);
  });

  it('2 (top level): an operation easd does not know', async () => {
    const s = await setup();
    expect(findText(await itemOps(s.c, io('<Store>Mailbox</Store>')), 'Status')).toBe('2');
  });
});

describe('ItemOperations Fetch of an attachment', () => {
  it('1: the whole attachment with ContentType, Total and Data', async () => {
    const s = await setup();
    const doc = await itemOps(s.c, io(fetchFile(s.refs[0]!)));
    const props = findAll(doc, 'Properties')[0];
    expect([
      opStatus(doc),
      findText(doc, 'FileReference'),
      findText(props, 'ContentType'),
      findText(props, 'Total'),
      findText(props, 'Range'),
    ]).toEqual(['1', s.refs[0], 'application/octet-stream', '3000', undefined]);
    expect(dataOf(props).equals(s.files[0]!)).toBe(true);
  });

  it('1: Range 0-999 gives the first thousand bytes and says so', async () => {
    const s = await setup();
    const doc = await itemOps(s.c, io(fetchFile(s.refs[0]!, range('0-999'))));
    expect([opStatus(doc), findText(doc, 'Range'), findText(doc, 'Total')]).toEqual(['1', '0-999', '3000']);
    expect(dataOf(doc).equals(s.files[0]!.subarray(0, 1000))).toBe(true);
  });

  it("1: a Range inside the data, across the store's chunks", async () => {
    const s = await setup();
    const doc = await itemOps(s.c, io(fetchFile(s.refs[0]!, range('1000-2499'))));
    expect([opStatus(doc), findText(doc, 'Range')]).toEqual(['1', '1000-2499']);
    expect(dataOf(doc).equals(s.files[0]!.subarray(1000, 2500))).toBe(true);
  });

  it('1: a Range past the end is cut to the last byte', async () => {
    const s = await setup();
    const doc = await itemOps(s.c, io(fetchFile(s.refs[0]!, range('2990-999999'))));
    expect([opStatus(doc), findText(doc, 'Range')]).toEqual(['1', '2990-2999']);
    expect(dataOf(doc).equals(s.files[0]!.subarray(2990))).toBe(true);
  });

  it('8: a Range that starts past the end', async () => {
    const s = await setup();
    expect(opStatus(await itemOps(s.c, io(fetchFile(s.refs[0]!, range('3000-3001')))))).toBe('8');
  });

  it('8: a Range that runs backwards', async () => {
    const s = await setup();
    expect(opStatus(await itemOps(s.c, io(fetchFile(s.refs[0]!, range('10-9')))))).toBe('8');
  });

  it('2: a Range that is not "m-n"', async () => {
    const s = await setup();
    expect(opStatus(await itemOps(s.c, io(fetchFile(s.refs[0]!, range('bytes=0-9')))))).toBe('2');
  });

  it('15: a FileReference the store never gave out', async () => {
    const s = await setup();
    expect(opStatus(await itemOps(s.c, io(fetchFile('no-such-reference'))))).toBe('15');
  });
});

describe('ItemOperations Move and EmptyFolderContents', () => {
  const move = '<Move><ConversationId>AbCd</ConversationId><DstFldId>5</DstFldId></Move>';

  it('156: moving a conversation (14.0+) is not supported; ConversationId echoed', async () => {
    const s = await setup();
    const doc = await itemOps(s.c, io(move));
    expect([
      findText(doc, 'Status'),
      opStatus(doc, 'Move'),
      findText(findAll(doc, 'Move')[0], 'ConversationId'),
    ]).toEqual(['1', '156', 'AbCd']);
  });

  it('2: Move from a 12.1 client, where it does not exist', async () => {
    const s = await setup('12.1');
    expect(opStatus(await itemOps(s.c, io(move)), 'Move')).toBe('2');
  });

  it('1: EmptyFolderContents empties the folder; the next Sync starts over with no ghost items', async () => {
    const s = await setup();
    await mailWith(s.account, s.folder, 'second', []);
    const sync = (key: string): string =>
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${s.collection}</CollectionId></Collection></Collections></Sync>`;
    const init = await s.c.command('Sync', sync('0'));
    const first = await s.c.command('Sync', sync(findText(init.doc, 'SyncKey')!));
    expect(findAll(first.doc, 'Add')).toHaveLength(2);

    const doc = await itemOps(
      s.c,
      io(`<EmptyFolderContents><A:CollectionId>${s.collection}</A:CollectionId></EmptyFolderContents>`),
    );
    expect([
      opStatus(doc, 'EmptyFolderContents'),
      findText(findAll(doc, 'EmptyFolderContents')[0], 'CollectionId'),
    ]).toEqual(['1', s.collection]);
    expect(await engine.backend.listStamps(s.account, s.folder, {}, signal())).toEqual([]);

    // MS-ASCMD 2.2.3.177.17: 3 — the device drops its copy and starts from SyncKey 0.
    const after = await s.c.command('Sync', sync(findText(first.doc, 'SyncKey')!));
    await validateEasResponse(after.doc!, 'Sync');
    expect(findText(after.doc, 'Status')).toBe('3');
    const again = await s.c.command('Sync', sync('0'));
    const fresh = await s.c.command('Sync', sync(findText(again.doc, 'SyncKey')!));
    expect(findAll(fresh.doc, 'Add')).toHaveLength(0);
  });

  it('1: DeleteSubFolders removes the subfolders too', async () => {
    const s = await setup();
    const sub = await engine.backend.folders!.createFolder(
      s.account,
      s.folder,
      `sub ${seq}`,
      'Email',
      signal(),
    );
    const efc = `<EmptyFolderContents><A:CollectionId>${s.collection}</A:CollectionId><Options><DeleteSubFolders/></Options></EmptyFolderContents>`;
    expect(opStatus(await itemOps(s.c, io(efc)), 'EmptyFolderContents')).toBe('1');
    const folders = await engine.backend.listFolders(s.account, signal());
    expect(folders.some((f) => f.id === sub.id)).toBe(false);
    expect(folders.some((f) => f.id === s.folder)).toBe(true);
  });

  it('1: without DeleteSubFolders the subfolders stay', async () => {
    const s = await setup();
    const sub = await engine.backend.folders!.createFolder(
      s.account,
      s.folder,
      `kept ${seq}`,
      'Email',
      signal(),
    );
    const efc = `<EmptyFolderContents><A:CollectionId>${s.collection}</A:CollectionId></EmptyFolderContents>`;
    expect(opStatus(await itemOps(s.c, io(efc)), 'EmptyFolderContents')).toBe('1');
    expect((await engine.backend.listFolders(s.account, signal())).some((f) => f.id === sub.id)).toBe(true);
  });

  it('6: EmptyFolderContents of a collection the device does not know', async () => {
    const s = await setup();
    const doc = await itemOps(
      s.c,
      io('<EmptyFolderContents><A:CollectionId>999</A:CollectionId></EmptyFolderContents>'),
    );
    expect(opStatus(doc, 'EmptyFolderContents')).toBe('6');
  });

  it('runs a mixed request in order and answers grouped by kind, as the response schema orders them', async () => {
    const s = await setup();
    const doc = await itemOps(
      s.c,
      io(`${fetchFile(s.refs[1]!)}${move}${fetchItem(s.collection, `${s.collection}:${s.item}`)}`),
    );
    const response = findAll(doc, 'Response')[0]!;
    expect(response.children.map((c) => c.name)).toEqual(['Move', 'Fetch', 'Fetch']);
    expect([
      findText(response.children[1], 'FileReference'),
      findText(response.children[2], 'ServerId'),
    ]).toEqual([s.refs[1], `${s.collection}:${s.item}`]);
  });
});

describe('ItemOperations multipart (MS-ASCMD 2.2.1.10.1)', () => {
  it('MS-ASAcceptMultiPart: T puts each Data in a part of its own, the WBXML first', async () => {
    const s = await setup();
    const res = await s.c.command('ItemOperations', io(fetchFile(s.refs[0]!) + fetchFile(s.refs[1]!)), {
      headers: { 'ms-asacceptmultipart': 'T' },
    });
    const { doc, parts } = await multipartDoc(res);
    expect(findAll(doc, 'Part').map((p) => p.value)).toEqual(['1', '2']);
    expect(findAll(doc, 'Data')).toHaveLength(0);
    expect(res.raw.equals(multipartOf([parts[0]!, s.files[0]!, s.files[1]!]))).toBe(true);
  });

  it("the base64 query's AcceptMultiPart option does the same", async () => {
    const s = await setup();
    const query = encodeBase64Query({
      protocolVersion: '14.1',
      commandCode: 19,
      deviceId: s.c.opts.deviceId,
      deviceType: 'TestPhone',
      policyKey: s.c.policyKey,
      params: [['Options', 0x02]],
    });
    const res = await engine.app.inject({
      method: 'POST',
      url: `/Microsoft-Server-ActiveSync?${query}`,
      headers: {
        authorization: 'Basic ' + Buffer.from('alice:alice-password').toString('base64'),
        'content-type': 'application/vnd.ms-sync.wbxml',
      },
      payload: Buffer.from(encode(fromXml(io(fetchFile(s.refs[1]!, range('3-9')))))),
    });
    const headers = res.headers as EasReply['headers'];
    const reply: EasReply = { status: res.statusCode, headers, raw: res.rawPayload };
    const { doc, parts } = await multipartDoc(reply);
    expect([findText(doc, 'Range'), findText(doc, 'Part')]).toEqual(['3-9', '1']);
    expect(reply.raw.equals(multipartOf([parts[0]!, s.files[1]!.subarray(3, 10)]))).toBe(true);
  });

  it("an item's body goes to a part at the end of its Body", async () => {
    const s = await setup();
    const pref = '<Options><B:BodyPreference><B:Type>1</B:Type></B:BodyPreference></Options>';
    const res = await s.c.command(
      'ItemOperations',
      io(fetchItem(s.collection, `${s.collection}:${s.item}`, pref)),
      { headers: { 'ms-asacceptmultipart': 'T' } },
    );
    const { doc, parts } = await multipartDoc(res);
    const body = findAll(doc, 'Body')[0]!;
    expect(body.children.at(-1)).toMatchObject({ ns: 'ItemOperations', name: 'Part', value: '1' });
    expect(parts[1]!.toString('utf8')).toContain(`Hello ${s.subject}, this is the body text.`);
  });

  it('a failed operation is still a multipart answer: one part, the WBXML', async () => {
    const s = await setup();
    const res = await s.c.command('ItemOperations', io(fetchFile('nope')), {
      headers: { 'ms-asacceptmultipart': 'T' },
    });
    const { doc, parts } = await multipartDoc(res);
    expect([parts.length, opStatus(doc)]).toEqual([1, '15']);
  });
});

describe('ItemOperations: a 5 MB attachment is streamed from the store', () => {
  const big = bytes(5 * 1024 * 1024 + 123, 42);
  let s: Setup;
  let ref: string;

  beforeAll(async () => {
    s = await setup();
    const id = await mailWith(s.account, s.folder, 'large', [big]);
    [ref] = (await fileReferences(s.account, s.folder, id)) as [string];
  });

  it('inline: OPAQUE Data of exactly its bytes, sent as a stream (no Content-Length)', async () => {
    const res = await s.c.command('ItemOperations', io(fetchFile(ref)));
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['content-type']).toBe('application/vnd.ms-sync.wbxml');
    await validateEasResponse(res.doc!, 'ItemOperations');
    expect([opStatus(res.doc!), findText(res.doc, 'Total')]).toEqual(['1', String(big.length)]);
    expect(dataOf(res.doc).equals(big)).toBe(true);
  });

  it('multipart: the part is the attachment byte for byte', async () => {
    const res = await s.c.command('ItemOperations', io(fetchFile(ref)), {
      headers: { 'ms-asacceptmultipart': 'T' },
    });
    expect(res.headers['content-length']).toBeUndefined();
    const { parts } = await multipartDoc(res);
    expect(parts[1]!.length).toBe(big.length);
    expect(res.raw.equals(multipartOf([parts[0]!, big]))).toBe(true);
  });

  it('a Range from the middle of the large attachment', async () => {
    const doc = await itemOps(s.c, io(fetchFile(ref, range('4000000-4099999'))));
    expect(findText(doc, 'Range')).toBe('4000000-4099999');
    expect(dataOf(doc).equals(big.subarray(4_000_000, 4_100_000))).toBe(true);
  });
});

describe('parseItemOperationsRequest and the multipart framing: malformed input', () => {
  const parse = (inner: string): unknown => parseItemOperationsRequest(fromXml(io(inner)));

  it.each([
    ['no operation', ''],
    ['an unknown operation', '<Options/>'],
    ['EmptyFolderContents without CollectionId', '<EmptyFolderContents/>'],
    ['Move without ConversationId', '<Move><DstFldId>5</DstFldId></Move>'],
    ['Move without DstFldId', '<Move><ConversationId>AB</ConversationId></Move>'],
  ])('refuses the request with %s', (_what, inner) => {
    expect(() => parse(inner)).toThrow(ProtocolError);
  });

  it.each([
    ['no Store', '<Fetch><A:ServerId>1:1</A:ServerId></Fetch>'],
    ['nothing to fetch', '<Fetch><Store>Mailbox</Store></Fetch>'],
    [
      'a bad Range',
      '<Fetch><Store>Mailbox</Store><B:FileReference>r</B:FileReference><Options><Range>1-</Range></Options></Fetch>',
    ],
    [
      'a bad BodyPreference',
      '<Fetch><Store>Mailbox</Store><A:ServerId>1:1</A:ServerId><Options><B:BodyPreference/></Options></Fetch>',
    ],
  ])('makes a Fetch with %s one invalid operation', (_what, inner) => {
    expect(parse(inner)).toMatchObject({ operations: [{ kind: 'InvalidFetch' }] });
  });

  it('reads a Fetch with its options', () => {
    const inner = `<Fetch><Store>Mailbox</Store><B:FileReference>r/1</B:FileReference><Options><Range>0-999</Range><A:MIMESupport>1</A:MIMESupport></Options></Fetch>`;
    expect(parse(inner)).toEqual({
      operations: [
        {
          kind: 'Fetch',
          Store: 'Mailbox',
          FileReference: 'r/1',
          options: { BodyPreference: [], MIMESupport: 1, Range: { start: 0, end: 999 } },
        },
      ],
    });
  });

  it('refuses a part shorter or longer than announced', async () => {
    const source = (n: number): PartData => ({
      length: 4,
      chunks: async function* () {
        yield new Uint8Array(n);
      },
    });
    const drain = async (parts: PartData[]): Promise<void> => {
      for await (const _ of multipartResponse(new Uint8Array(3), parts));
    };
    await expect(drain([source(3)])).rejects.toThrow(/3 bytes instead of 4/);
    await expect(drain([source(5)])).rejects.toThrow(/instead of 4/);
    await expect(drain([source(4)])).resolves.toBeUndefined();
  });
});
