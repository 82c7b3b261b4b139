// MoveItems on the memory backend, WBXML in and out: one line per Status of MS-ASCMD 2.2.3.177.10,
// and the sync states of both collections after a move (no echo in the source, no duplicate in
// the destination). Every response is schema-checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromXml, type WbxmlElement } from '../../wbxml/index.js';
import type { Account } from '../../src/backend/contract.js';
import { createItemOperationsHandler } from '../../src/commands/item-operations.js';
import { createMoveItemsHandler } from '../../src/commands/move-items.js';
import { parseMoveItemsRequest } from '../../src/protocol/move-items.js';
import { ProtocolError } from '../../src/protocol/read.js';
import { SyncStateStore } from '../../src/state/sync-state.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;
const signal = (): AbortSignal => AbortSignal.timeout(10_000);
let seq = 0;

beforeAll(async () => {
  engine = await startTestEngine({
    extraHandlers: (deps) => ({
      MoveItems: createMoveItemsHandler(deps, { lockWaitMs: 300 }),
      ItemOperations: createItemOperationsHandler(deps),
    }),
  });
});
afterAll(async () => engine?.close());

/** A mail folder (or one of `cls`) of alice's own for one test. */
async function newFolder(
  account: Account,
  cls: 'Email' | 'Calendar' = 'Email',
): Promise<{ id: string; name: string }> {
  const f = await engine.backend.folders!.createFolder(
    account,
    null,
    `Move ${++seq} ${Date.now()}`,
    cls,
    signal(),
  );
  return { id: f.id, name: f.displayName };
}

async function mail(account: Account, folderId: string, subject: string): Promise<string> {
  const mime = Buffer.from(
    `From: bob@example.com\r\nSubject: ${subject}\r\nContent-Type: text/plain\r\n\r\n${subject} body\r\n`,
  );
  const item = { Body: { Type: 4 as const, Data: mime, EstimatedDataSize: mime.length } };
  return (await engine.backend.createItem(account, folderId, { class: 'Email', item }, signal())).id;
}

/** FolderSync from 0; returns a folder's ServerId by display name. */
async function hierarchy(c: EasTestClient): Promise<(name: string) => string> {
  const res = await c.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  return (name) =>
    findText(
      findAll(res.doc, 'Add').find((a) => findText(a, 'DisplayName') === name),
      'ServerId',
    )!;
}

const syncXml = (id: string, key: string, getChanges = key !== '0'): string =>
  `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${id}</CollectionId>${getChanges ? '<GetChanges/>' : ''}</Collection></Collections></Sync>`;

/** One Sync round: the server's commands for the collection and the key to go on with. */
async function sync(
  c: EasTestClient,
  id: string,
  key: string,
): Promise<{ key: string; adds: string[]; changes: string[]; deletes: string[] }> {
  const res = await c.command('Sync', syncXml(id, key));
  expect(res.status).toBe(200);
  if (res.doc === undefined) return { key, adds: [], changes: [], deletes: [] };
  await validateEasResponse(res.doc, 'Sync');
  const ids = (name: string): string[] =>
    findAll(findAll(res.doc, 'Commands')[0], name).map((e) => findText(e, 'ServerId')!);
  return {
    key: findText(res.doc, 'SyncKey')!,
    adds: ids('Add'),
    changes: ids('Change'),
    deletes: ids('Delete'),
  };
}

/** SyncKey 0 then the first window. */
async function initialSync(c: EasTestClient, id: string): Promise<{ key: string; adds: string[] }> {
  const init = await sync(c, id, '0');
  return sync(c, id, init.key);
}

const moveXml = (moves: Array<[src: string, from: string, to: string]>): string =>
  `<MoveItems xmlns="Move:">${moves.map(([s, f, t]) => `<Move><SrcMsgId>${s}</SrcMsgId><SrcFldId>${f}</SrcFldId><DstFldId>${t}</DstFldId></Move>`).join('')}</MoveItems>`;

async function moveItems(
  c: EasTestClient,
  moves: Array<[string, string, string]>,
): Promise<Array<{ status: string; dst?: string }>> {
  const res = await c.command('MoveItems', moveXml(moves));
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, 'MoveItems');
  const responses = findAll(res.doc, 'Response');
  expect(responses.map((r) => findText(r, 'SrcMsgId'))).toEqual(moves.map((m) => m[0]));
  return responses.map((r) => ({ status: findText(r, 'Status')!, dst: findText(r, 'DstMsgId') }));
}

interface Setup {
  c: EasTestClient;
  account: Account;
  src: string;
  dst: string;
  srcFolder: string;
  dstFolder: string;
  item: string;
}

/** A device that knows two fresh mail folders; one mail waits in the first. */
async function setup(): Promise<Setup> {
  const c = await engine.client();
  const account = await engine.account();
  const a = await newFolder(account);
  const b = await newFolder(account);
  const item = await mail(account, a.id, `move ${seq}`);
  const ids = await hierarchy(c);
  return { c, account, src: ids(a.name), dst: ids(b.name), srcFolder: a.id, dstFolder: b.id, item };
}

describe('MoveItems: Status per MS-ASCMD 2.2.3.177.10', () => {
  it('3: moves the item and answers its ServerId in the destination', async () => {
    const s = await setup();
    const [r] = await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, s.dst]]);
    expect(r?.status).toBe('3');
    const newId = r!.dst!.slice(`${s.dst}:`.length);
    expect(r!.dst).toBe(`${s.dst}:${newId}`);
    expect((await engine.backend.listStamps(s.account, s.srcFolder, {}, signal())).map((x) => x.id)).toEqual(
      [],
    );
    expect((await engine.backend.listStamps(s.account, s.dstFolder, {}, signal())).map((x) => x.id)).toEqual([
      newId,
    ]);
  });

  it('1: source folder unknown to the device', async () => {
    const s = await setup();
    expect(await moveItems(s.c, [[`999:${s.item}`, '999', s.dst]])).toEqual([{ status: '1' }]);
  });

  it('1: SrcMsgId not in SrcFldId', async () => {
    const s = await setup();
    expect(await moveItems(s.c, [[`${s.dst}:${s.item}`, s.src, s.dst]])).toEqual([{ status: '1' }]);
  });

  it('1: the item was moved away already', async () => {
    const s = await setup();
    expect((await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, s.dst]]))[0]?.status).toBe('3');
    expect(await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, s.dst]])).toEqual([{ status: '1' }]);
  });

  it('2: destination folder unknown to the device', async () => {
    const s = await setup();
    expect(await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, '999']])).toEqual([{ status: '2' }]);
  });

  it('2: destination of another class (a calendar)', async () => {
    const s = await setup();
    const cal = await newFolder(s.account, 'Calendar');
    const ids = await hierarchy(s.c);
    expect(await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, ids(cal.name)]])).toEqual([{ status: '2' }]);
  });

  it('4: source and destination are the same', async () => {
    const s = await setup();
    expect(await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, s.src]])).toEqual([{ status: '4' }]);
  });

  it('7: the destination stays locked (a Sync working on it)', async () => {
    const s = await setup();
    let release = (): void => {};
    const held = new Promise<void>((r) => (release = r));
    let taken = (): void => {};
    const lockTaken = new Promise<void>((r) => (taken = r));
    const holder = engine.state.device('alice', s.c.opts.deviceId).lock(s.dst, async () => {
      taken();
      await held;
    });
    await lockTaken;
    try {
      expect(await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, s.dst]])).toEqual([{ status: '7' }]);
    } finally {
      release();
      await holder;
    }
    // Nothing moved: the client may retry.
    expect((await engine.backend.listStamps(s.account, s.srcFolder, {}, signal())).map((x) => x.id)).toEqual([
      s.item,
    ]);
  });

  it('answers several moves in order, each with its own Status', async () => {
    const s = await setup();
    const second = await mail(s.account, s.srcFolder, 'second');
    const got = await moveItems(s.c, [
      [`${s.src}:${s.item}`, s.src, s.dst],
      [`${s.src}:nope`, s.src, s.dst],
      [`${s.src}:${second}`, s.src, s.src],
    ]);
    expect(got.map((g) => g.status)).toEqual(['3', '1', '4']);
  });

  it('103 (top level, 14.0+) for a request without Move', async () => {
    const s = await setup();
    const res = await s.c.command('MoveItems', '<MoveItems xmlns="Move:"/>');
    await validateEasResponse(res.doc!, 'MoveItems');
    expect(findText(res.doc, 'Status')).toBe('103');
    expect(findAll(res.doc, 'Response')).toHaveLength(0);
  });

  it('HTTP 400 for a broken request from a 12.1 client', async () => {
    const c = await engine.client('alice', { version: '12.1' });
    const res = await c.command(
      'MoveItems',
      '<MoveItems xmlns="Move:"><Move><SrcMsgId>1:1</SrcMsgId></Move></MoveItems>',
    );
    expect(res.status).toBe(400);
  });
});

describe('MoveItems and Sync', () => {
  it('neither echoes the move in the source nor duplicates it in the destination', async () => {
    const s = await setup();
    const stay = await mail(s.account, s.srcFolder, 'stays');
    const src0 = await initialSync(s.c, s.src);
    expect(src0.adds.sort()).toEqual([`${s.src}:${s.item}`, `${s.src}:${stay}`].sort());
    const dst0 = await initialSync(s.c, s.dst);
    expect(dst0.adds).toEqual([]);

    const [r] = await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, s.dst]]);
    expect(r?.status).toBe('3');

    // Nothing new for either collection: the keys stay and the answers are empty.
    expect(await sync(s.c, s.src, src0.key)).toEqual({ key: src0.key, adds: [], changes: [], deletes: [] });
    expect(await sync(s.c, s.dst, dst0.key)).toEqual({ key: dst0.key, adds: [], changes: [], deletes: [] });

    // The destination knows the moved item under its new id: a later change comes as a Change.
    const newId = r!.dst!.slice(`${s.dst}:`.length);
    await engine.backend.updateItem(
      s.account,
      s.dstFolder,
      newId,
      { class: 'Email', item: { Read: true } },
      {},
      signal(),
    );
    const after = await sync(s.c, s.dst, dst0.key);
    expect(after).toMatchObject({ adds: [], changes: [r!.dst], deletes: [] });
    // And a deletion in the source still reaches the device.
    await engine.backend.deleteItem(s.account, s.srcFolder, stay, {}, signal());
    expect(await sync(s.c, s.src, src0.key)).toMatchObject({ adds: [], deletes: [`${s.src}:${stay}`] });
  });

  it("keeps the source's sync key and drops the item from what it knows", async () => {
    const s = await setup();
    const src0 = await initialSync(s.c, s.src);
    const states = new SyncStateStore<{ known: Map<string, string> }>(
      engine.state.device('alice', s.c.opts.deviceId),
    );
    const before = await states.current(s.src);
    await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, s.dst]]);
    const after = await states.current(s.src);
    expect(after?.key).toBe(before?.key);
    expect(after?.key).toBe(src0.key);
    expect([...(after?.state.known.keys() ?? [])]).toEqual([]);
  });

  it('a destination the device never synced gets the item once, from SyncKey 0', async () => {
    const s = await setup();
    const [r] = await moveItems(s.c, [[`${s.src}:${s.item}`, s.src, s.dst]]);
    expect(r?.status).toBe('3');
    const first = await initialSync(s.c, s.dst);
    expect(first.adds).toEqual([r!.dst]);
    expect((await sync(s.c, s.dst, first.key)).adds).toEqual([]);
  });

  it('crossed moves at the same time both finish (locks in one order)', async () => {
    const s = await setup();
    const back = await mail(s.account, s.dstFolder, 'other way');
    await initialSync(s.c, s.src);
    await initialSync(s.c, s.dst);
    const [one, two] = await Promise.all([
      moveItems(s.c, [[`${s.src}:${s.item}`, s.src, s.dst]]),
      moveItems(s.c, [[`${s.dst}:${back}`, s.dst, s.src]]),
    ]);
    expect([one[0]?.status, two[0]?.status]).toEqual(['3', '3']);
  });
});

describe('SyncStateStore.update', () => {
  it('rewrites the current generation in place and leaves the previous one', async () => {
    const scope = engine.state.device('alice', `UPDATE${Date.now()}`);
    const states = new SyncStateStore<{ n: number }, WbxmlElement>(scope);
    expect(await states.update('7', (s) => ({ n: s.n + 1 }))).toBe(false);
    expect(await states.current('7')).toBeUndefined();

    await states.commit('7', 'k-1', { n: 1 }, { fromKey: '0' });
    await states.commit('7', 'k-2', { n: 2 }, { fromKey: 'k-1' });
    expect(await states.update('7', (s) => ({ n: s.n * 10 }))).toBe(true);
    expect(await states.load('7', 'k-2')).toEqual({ state: { n: 20 }, replay: false });
    expect((await states.load('7', 'k-1'))?.state).toEqual({ n: 1 });
    // The next commit moves on from the rewritten state as from any other.
    await states.commit('7', 'k-3', { n: 21 }, { fromKey: 'k-2' });
    expect((await states.load('7', 'k-2'))?.state).toEqual({ n: 20 });
  });
});

describe('parseMoveItemsRequest: malformed input', () => {
  const parse = (xml: string): unknown => parseMoveItemsRequest(fromXml(xml));
  const move = (inner: string): string => `<MoveItems xmlns="Move:"><Move>${inner}</Move></MoveItems>`;

  it.each([
    ['another root', '<Sync xmlns="AirSync:"/>'],
    ['no Move', '<MoveItems xmlns="Move:"/>'],
    ['no SrcMsgId', move('<SrcFldId>1</SrcFldId><DstFldId>2</DstFldId>')],
    ['no DstFldId', move('<SrcMsgId>1:1</SrcMsgId><SrcFldId>1</SrcFldId>')],
    ['an empty SrcFldId', move('<SrcMsgId>1:1</SrcMsgId><SrcFldId/><DstFldId>2</DstFldId>')],
    [
      'a SrcMsgId over 64 characters',
      move(`<SrcMsgId>1:${'x'.repeat(64)}</SrcMsgId><SrcFldId>1</SrcFldId><DstFldId>2</DstFldId>`),
    ],
  ])('refuses %s', (_what, xml) => {
    expect(() => parse(xml)).toThrow(ProtocolError);
  });

  it('reads every Move in order', () => {
    const xml = `<MoveItems xmlns="Move:"><Move><SrcMsgId>1:a</SrcMsgId><SrcFldId>1</SrcFldId><DstFldId>2</DstFldId></Move><Move><SrcMsgId>2:b</SrcMsgId><SrcFldId>2</SrcFldId><DstFldId>1</DstFldId></Move></MoveItems>`;
    expect(parse(xml)).toEqual({
      moves: [
        { SrcMsgId: '1:a', SrcFldId: '1', DstFldId: '2' },
        { SrcMsgId: '2:b', SrcFldId: '2', DstFldId: '1' },
      ],
    });
  });
});
