// GetItemEstimate on the memory backend, WBXML in and out: counts that follow Sync and server
// changes, FilterType, both request shapes (12.x and 14.0+), and each failure Status. Every
// response is schema-checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WbxmlElement } from '../../wbxml/index.js';
import type { Account } from '../../src/backend/contract.js';
import { createGetItemEstimateHandler } from '../../src/commands/get-item-estimate.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;

const signal = (): AbortSignal => AbortSignal.timeout(10_000);
const day = 86_400_000;

beforeAll(async () => {
  engine = await startTestEngine({
    extraHandlers: (deps) => ({ GetItemEstimate: createGetItemEstimateHandler(deps) }),
  });
});
afterAll(async () => engine?.close());

async function addMail(
  account: Account,
  folderId: string,
  subject: string,
  received = new Date(),
): Promise<void> {
  const mime = Buffer.from(
    `Subject: ${subject}\r\nFrom: a@example.com\r\nDate: ${received.toUTCString()}\r\n\r\nx\r\n`,
  );
  await engine.backend.createItem(
    account,
    folderId,
    {
      class: 'Email',
      item: { DateReceived: received, Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } },
    },
    signal(),
  );
}

/** A mail folder of the test's own with `count` new messages, known to the client's hierarchy. */
async function setup(
  version: string,
  count: number,
): Promise<{
  c: EasTestClient;
  account: Account;
  folderId: string;
  id: string;
  byType: (t: string) => string;
}> {
  const c = await engine.client('alice', { version });
  const account = await engine.account();
  const folder = await engine.backend.folders!.createFolder(
    account,
    null,
    `Estimate ${version} ${Date.now()}`,
    'Email',
    signal(),
  );
  for (let i = 0; i < count; i++) await addMail(account, folder.id, `m${i}`);
  const res = await c.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  const adds = findAll(res.doc, 'Add');
  const idOf = (pick: (a: WbxmlElement) => boolean): string => findText(adds.find(pick), 'ServerId')!;
  return {
    c,
    account,
    folderId: folder.id,
    id: idOf((a) => findText(a, 'DisplayName') === folder.displayName),
    byType: (t) => idOf((a) => findText(a, 'Type') === t),
  };
}

const syncBody = (id: string, key: string, inner = ''): string =>
  `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${id}</CollectionId>${inner}</Collection></Collections></Sync>`;

/** Sync: the key after it (the same one when nothing changed). */
async function sync(c: EasTestClient, id: string, key: string, inner = ''): Promise<string> {
  const res = await c.command('Sync', syncBody(id, key, inner));
  expect(res.status).toBe(200);
  return findText(res.doc, 'SyncKey') ?? key;
}

/** A Collection in the request shape of the client's version (GetItemEstimate request schema). */
function collection(version: string, id: string, key: string, filterType?: number, extra = ''): string {
  if (version.startsWith('12.')) {
    // 12.x: Class?, CollectionId, airsync:FilterType (required), airsync:SyncKey.
    return `<Collection><Class>Email</Class><CollectionId>${id}</CollectionId><FilterType xmlns="AirSync:">${filterType ?? 0}</FilterType><SyncKey xmlns="AirSync:">${key}</SyncKey></Collection>`;
  }
  const options =
    filterType === undefined
      ? ''
      : `<Options xmlns="AirSync:"><Class>Email</Class><FilterType>${filterType}</FilterType></Options>`;
  return `<Collection><SyncKey xmlns="AirSync:">${key}</SyncKey><CollectionId>${id}</CollectionId>${extra}${options}</Collection>`;
}

const request = (...collections: string[]): string =>
  `<GetItemEstimate xmlns="GetItemEstimate:"><Collections>${collections.join('')}</Collections></GetItemEstimate>`;

interface Estimate {
  Status?: string;
  CollectionId?: string;
  Estimate?: string;
}

async function estimate(
  c: EasTestClient,
  body: string,
): Promise<{ doc: WbxmlElement; responses: Estimate[] }> {
  const res = await c.command('GetItemEstimate', body);
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, 'GetItemEstimate');
  const responses = findAll(res.doc, 'Response').map((r) => {
    const e: Estimate = {};
    for (const name of ['Status', 'CollectionId', 'Estimate'] as const) {
      const v = findText(r, name);
      if (v !== undefined) e[name] = v;
    }
    return e;
  });
  return { doc: res.doc!, responses };
}

describe.each(['12.1', '14.0', '14.1', '16.1'])('GetItemEstimate %s', (version) => {
  it('counts what the next Sync brings, 0 after it, 1 after a server-side add → 1', async () => {
    const { c, account, folderId, id } = await setup(version, 3);
    const key = await sync(c, id, '0');
    expect((await estimate(c, request(collection(version, id, key)))).responses).toEqual([
      { Status: '1', CollectionId: id, Estimate: '3' },
    ]);
    const after = await sync(c, id, key, '<GetChanges/>');
    expect(after).not.toBe(key);
    expect((await estimate(c, request(collection(version, id, after)))).responses).toEqual([
      { Status: '1', CollectionId: id, Estimate: '0' },
    ]);
    await addMail(account, folderId, 'late');
    expect((await estimate(c, request(collection(version, id, after)))).responses).toEqual([
      { Status: '1', CollectionId: id, Estimate: '1' },
    ]);
  });

  it('applies the request’s FilterType: mail older than the window is not counted → 1', async () => {
    const { c, account, folderId, id } = await setup(version, 1);
    await addMail(account, folderId, 'old', new Date(Date.now() - 60 * day));
    const key = await sync(c, id, '0');
    // MS-ASCMD 2.2.3.68.1: 5 is one month back, 0 no limit.
    const month = await estimate(c, request(collection(version, id, key, 5)));
    expect(month.responses).toEqual([{ Status: '1', CollectionId: id, Estimate: '1' }]);
    const all = await estimate(c, request(collection(version, id, key, 0)));
    expect(all.responses).toEqual([{ Status: '1', CollectionId: id, Estimate: '2' }]);
  });

  it('does not move the sync state: the same key still syncs every item → 1', async () => {
    const { c, id } = await setup(version, 2);
    const key = await sync(c, id, '0');
    await estimate(c, request(collection(version, id, key)));
    await estimate(c, request(collection(version, id, key)));
    const res = await c.command('Sync', syncBody(id, key, '<GetChanges/>'));
    expect(findText(res.doc, 'Status')).toBe('1');
    expect(findAll(res.doc, 'Add')).toHaveLength(2);
  });

  it('answers each collection of a request on its own → 1, 2, 3', async () => {
    const { c, id, byType } = await setup(version, 1);
    const key = await sync(c, id, '0');
    const inbox = byType('2');
    const { responses } = await estimate(
      c,
      request(
        collection(version, id, key),
        collection(version, '9999', key),
        collection(version, inbox, 'abc'),
      ),
    );
    expect(responses).toEqual([
      { Status: '1', CollectionId: id, Estimate: '1' },
      { Status: '2', CollectionId: '9999' },
      { Status: '3', CollectionId: inbox },
    ]);
  });

  it.each([
    ['an unknown key', 'zzzzzzzz-1', '4'],
    ['SyncKey 0 once the collection is primed', '0', '4'],
  ])('%s → %s', async (_name, badKey, expected) => {
    const { c, id } = await setup(version, 0);
    await sync(c, id, '0');
    expect((await estimate(c, request(collection(version, id, badKey)))).responses).toEqual([
      { Status: expected, CollectionId: id },
    ]);
  });

  it('the previous key (a lost Sync answer) still counts from that state → 1', async () => {
    const { c, account, folderId, id } = await setup(version, 2);
    const key = await sync(c, id, '0');
    await sync(c, id, key, '<GetChanges/>');
    await addMail(account, folderId, 'after');
    expect((await estimate(c, request(collection(version, id, key)))).responses).toEqual([
      { Status: '1', CollectionId: id, Estimate: '3' },
    ]);
  });

  it('a collection this device has not been told of → 2', async () => {
    const { c } = await setup(version, 0);
    const { responses } = await estimate(c, request(collection(version, 'RI', '1')));
    expect(responses).toEqual([{ Status: '2', CollectionId: 'RI' }]);
  });

  it.each([
    ['no Collections', '<GetItemEstimate xmlns="GetItemEstimate:"/>'],
    ['an empty Collections', '<GetItemEstimate xmlns="GetItemEstimate:"><Collections/></GetItemEstimate>'],
    ['a Collection without SyncKey', request('<Collection><CollectionId>1</CollectionId></Collection>')],
    ['a FilterType that is not a number', request(collection('12.1', '1', '1').replace('>0<', '>all<'))],
    [`a CollectionId of 65 characters`, request(collection('14.0', 'x'.repeat(65), '1'))],
  ])('%s → top-level 2', async (_name, body) => {
    const { c } = await setup(version, 0);
    const { doc, responses } = await estimate(c, body);
    expect(findText(doc, 'Status')).toBe('2');
    expect(responses).toEqual([]);
  });
});

describe.each(['14.0', '16.1'])('GetItemEstimate %s options', (version) => {
  it('MaxItems outside the RI collection → 2', async () => {
    const { c, id } = await setup(version, 0);
    const key = await sync(c, id, '0');
    const body = request(
      `<Collection><SyncKey xmlns="AirSync:">${key}</SyncKey><CollectionId>${id}</CollectionId><Options xmlns="AirSync:"><MaxItems>10</MaxItems></Options></Collection>`,
    );
    expect((await estimate(c, body)).responses).toEqual([{ Status: '2', CollectionId: id }]);
  });

  it('ConversationMode on a Contacts folder (MS-ASCON 3.2.5.2) → 4; on mail → 1', async () => {
    const { c, id, byType } = await setup(version, 1);
    const contacts = byType('9');
    const contactsKey = await sync(c, contacts, '0');
    const mailKey = await sync(c, id, '0');
    const { responses } = await estimate(
      c,
      request(
        collection(
          version,
          contacts,
          contactsKey,
          undefined,
          '<ConversationMode xmlns="AirSync:">1</ConversationMode>',
        ),
        collection(
          version,
          id,
          mailKey,
          undefined,
          '<ConversationMode xmlns="AirSync:">1</ConversationMode>',
        ),
      ),
    );
    expect(responses).toEqual([
      { Status: '4', CollectionId: contacts },
      { Status: '1', CollectionId: id, Estimate: '1' },
    ]);
  });
});
