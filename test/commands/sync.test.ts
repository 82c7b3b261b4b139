// Sync on the memory backend, WBXML in and out: initial sync, windows, replay, client and server
// changes both ways, conflicts, the request cache, and errors. Every response is schema-checked.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WbxmlElement } from '../../wbxml/index.js';
import type { Account } from '../../src/backend/contract.js';
import type { ContactItem } from '../../src/backend/model.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;

const signal = (): AbortSignal => AbortSignal.timeout(10_000);

async function folderOf(account: Account, role: string | null, cls = 'Email'): Promise<string> {
  const folders = await engine.backend.listFolders(account, signal());
  const f = folders.find((x) => x.role === role && x.class === cls);
  if (f === undefined) throw new Error(`no ${cls} folder with role ${role}`);
  return f.id;
}

async function deliver(account: Account, subject: string): Promise<string> {
  const mime = Buffer.from(
    `From: Bob <bob@example.com>\r\nTo: ${account.email}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@example.com>\r\nDate: ${new Date().toUTCString()}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello ${subject}\r\n`,
  );
  const stamp = await engine.backend.createItem(
    account,
    await folderOf(account, 'inbox'),
    { class: 'Email', item: { Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } } },
    signal(),
  );
  return stamp.id;
}

/** The contacts with this LastName in the user's default address book, read from the store. */
async function contactsNamed(account: Account, lastName: string): Promise<ContactItem[]> {
  const folderId = await folderOf(account, 'default', 'Contacts');
  const stamps = await engine.backend.listStamps(account, folderId, {}, signal());
  const items = await engine.backend.getItems(
    account,
    folderId,
    stamps.map((s) => s.id),
    { bodyPreferences: [] },
    signal(),
  );
  return items.map((r) => r.item as ContactItem).filter((c) => c.LastName === lastName);
}

/** A client that has done FolderSync; returns the ServerId of a folder by Type. */
async function withHierarchy(c: EasTestClient): Promise<(type: string) => string> {
  const res = await c.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  const adds = findAll(res.doc, 'Add');
  return (type) => {
    const f = adds.find((a) => findText(a, 'Type') === type);
    if (f === undefined) throw new Error(`no folder of type ${type}`);
    return findText(f, 'ServerId')!;
  };
}

const syncBody = (collectionId: string, key: string, inner = '', opts = ''): string =>
  `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${collectionId}</CollectionId>${opts}${inner}</Collection></Collections></Sync>`;
const bodyPref =
  '<Options><BodyPreference xmlns="AirSyncBase:"><Type>1</Type><TruncationSize>200</TruncationSize></BodyPreference></Options>';

async function sync(
  c: EasTestClient,
  body: string,
): Promise<{ doc?: WbxmlElement; key?: string; status: number; raw: Buffer }> {
  const res = await c.command('Sync', body);
  if (res.doc !== undefined) await validateEasResponse(res.doc, 'Sync');
  return { doc: res.doc, key: findText(res.doc, 'SyncKey'), status: res.status, raw: res.raw };
}

/** Initial sync of a collection: key 0, then the first window. */
async function start(
  c: EasTestClient,
  collectionId: string,
  window = 100,
): Promise<{ doc?: WbxmlElement; key: string }> {
  const init = await sync(c, syncBody(collectionId, '0'));
  expect(findText(init.doc, 'Status')).toBe('1');
  expect(findAll(init.doc, 'Add')).toHaveLength(0);
  const first = await sync(
    c,
    syncBody(collectionId, init.key!, `<WindowSize>${window}</WindowSize>`, bodyPref).replace(
      '<WindowSize>',
      '<GetChanges/><WindowSize>',
    ),
  );
  return { doc: first.doc, key: first.key ?? init.key! };
}

// The same suite on both state stores: the embedded SQLite default and Redis (several nodes).
describe.each(['sqlite', 'redis'] as const)('on the %s state store', (store) => {
  beforeAll(async () => {
    engine = await startTestEngine(store === 'redis' ? { stateUrl: inject('stack').redis.url } : {});
  });
  afterAll(async () => engine?.close());

  describe('Sync: server to client', () => {
    it('sends the Inbox after SyncKey 0, with bodies as asked', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const tag = `initial-${Date.now()}`;
      await deliver(account, `${tag} one`);
      const inbox = (await withHierarchy(c))('2');
      const { doc } = await start(c, inbox);
      const adds = findAll(doc, 'Add');
      const mine = adds.filter((a) => (findText(a, 'Subject') ?? '').startsWith(tag));
      expect(mine).toHaveLength(1);
      expect(findText(mine[0], 'ServerId')).toMatch(new RegExp(`^${inbox}:`));
      expect(findText(mine[0], 'Data')).toContain(`Hello ${tag} one`);
      expect(findText(mine[0], 'From')).toContain('bob@example.com');
    });

    it('sends a large folder in windows with MoreAvailable, and nothing twice', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const account2 = account;
      // A folder of its own so other tests' mail does not count.
      const folder = await engine.backend.folders!.createFolder(
        account2,
        null,
        `Window ${Date.now()}`,
        'Email',
        signal(),
      );
      for (let i = 0; i < 12; i++) {
        const mime = Buffer.from(`Subject: w${i}\r\nFrom: a@example.com\r\n\r\nbody ${i}\r\n`);
        await engine.backend.createItem(
          account,
          folder.id,
          { class: 'Email', item: { Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } } },
          signal(),
        );
      }
      const res = await c.command(
        'FolderSync',
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
      );
      const id = findText(
        findAll(res.doc, 'Add').find((a) => findText(a, 'DisplayName') === folder.displayName),
        'ServerId',
      )!;
      let { doc, key } = await start(c, id, 5);
      const seen: string[] = [];
      const windows: number[] = [];
      for (let round = 0; round < 5; round++) {
        const adds = findAll(doc, 'Add').map((a) => findText(a, 'ServerId')!);
        windows.push(adds.length);
        seen.push(...adds);
        const more = findAll(doc, 'MoreAvailable').length > 0;
        if (!more) break;
        const next = await sync(c, syncBody(id, key, '<GetChanges/><WindowSize>5</WindowSize>'));
        doc = next.doc;
        key = next.key!;
      }
      expect(windows).toEqual([5, 5, 2]);
      expect(new Set(seen).size).toBe(12);
    });

    it('sends changes and deletions made on the server', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const folder = await engine.backend.folders!.createFolder(
        account,
        null,
        `Changes ${Date.now()}`,
        'Email',
        signal(),
      );
      const mime = Buffer.from('Subject: flag me\r\nFrom: a@example.com\r\n\r\nx\r\n');
      const a = await engine.backend.createItem(
        account,
        folder.id,
        { class: 'Email', item: { Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } } },
        signal(),
      );
      const b = await engine.backend.createItem(
        account,
        folder.id,
        { class: 'Email', item: { Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } } },
        signal(),
      );
      const res = await c.command(
        'FolderSync',
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
      );
      const id = findText(
        findAll(res.doc, 'Add').find((x) => findText(x, 'DisplayName') === folder.displayName),
        'ServerId',
      )!;
      const { key } = await start(c, id);

      await engine.backend.updateItem(
        account,
        folder.id,
        a.id,
        { class: 'Email', item: { Read: true } },
        {},
        signal(),
      );
      await engine.backend.deleteItem(account, folder.id, b.id, {}, signal());
      const next = await sync(c, syncBody(id, key, '<GetChanges/>'));
      const change = findAll(next.doc, 'Change');
      expect(change.map((x) => findText(x, 'ServerId'))).toEqual([`${id}:${a.id}`]);
      expect(findText(change[0], 'Read')).toBe('1');
      expect(findAll(next.doc, 'Delete').map((x) => findText(x, 'ServerId'))).toEqual([`${id}:${b.id}`]);

      // Nothing left: an empty response, and the key stays valid.
      const quiet = await sync(c, syncBody(id, next.key!, '<GetChanges/>'));
      expect(quiet.status).toBe(200);
      expect(quiet.raw.length).toBe(0);
      const still = await sync(c, syncBody(id, next.key!, '<GetChanges/>'));
      expect(still.raw.length).toBe(0);
    });
  });

  describe('Sync: keys', () => {
    it('replays a lost answer byte for byte, and nothing is duplicated afterwards', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const inbox = (await withHierarchy(c))('2');
      const { key } = await start(c, inbox);
      await deliver(account, `replay-${Date.now()}`);
      const lost = await sync(c, syncBody(inbox, key, '<GetChanges/>'));
      const again = await sync(c, syncBody(inbox, key, '<GetChanges/>'));
      expect(again.raw.equals(lost.raw)).toBe(true);
      expect(findAll(lost.doc, 'Add')).toHaveLength(1);
      const after = await sync(c, syncBody(inbox, lost.key!, '<GetChanges/>'));
      expect(after.raw.length).toBe(0);
    });

    it('answers an unknown key with Status 3 and an unknown collection with Status 12', async () => {
      const c = await engine.client();
      const inbox = (await withHierarchy(c))('2');
      await start(c, inbox);
      const bad = await sync(c, syncBody(inbox, 'zzzzzzzz-9', '<GetChanges/>'));
      expect(findText(bad.doc, 'Status')).toBe('3');
      const unknown = await sync(c, syncBody('9999', '0'));
      expect(findText(unknown.doc, 'Status')).toBe('12');
    });

    it("does not let one user's key or collection reach another's", async () => {
      const a = await engine.client('alice');
      const inbox = (await withHierarchy(a))('2');
      const { key } = await start(a, inbox);
      const b = await engine.client('bob', { deviceId: a.opts.deviceId });
      await withHierarchy(b);
      const cross = await sync(b, syncBody(inbox, key, '<GetChanges/>'));
      expect(findText(cross.doc, 'Status')).toBe('3');
    });
  });

  describe('Sync: client to server', () => {
    it('marks read and deletes to Deleted Items (DeletesAsMoves)', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const ids = await withHierarchy(c);
      const inbox = ids('2');
      const subject = `client-${Date.now()}`;
      const itemId = await deliver(account, subject);
      const { key } = await start(c, inbox);
      const serverId = `${inbox}:${itemId}`;

      const read = await sync(
        c,
        syncBody(
          inbox,
          key,
          `<Commands><Change><ServerId>${serverId}</ServerId><ApplicationData><Read xmlns="Email:">1</Read></ApplicationData></Change></Commands>`,
        ),
      );
      expect(findText(read.doc, 'Status')).toBe('1');
      const [stored] = await engine.backend.getItems(
        account,
        await folderOf(account, 'inbox'),
        [itemId],
        { bodyPreferences: [] },
        signal(),
      );
      expect((stored?.item as { Read?: boolean }).Read).toBe(true);
      // The client's own change is not echoed back.
      const echo = await sync(c, syncBody(inbox, read.key!, '<GetChanges/>'));
      expect(findAll(echo.doc, 'Change').filter((x) => findText(x, 'ServerId') === serverId)).toHaveLength(0);

      const del = await sync(
        c,
        syncBody(
          inbox,
          echo.key ?? read.key!,
          `<DeletesAsMoves>1</DeletesAsMoves><Commands><Delete><ServerId>${serverId}</ServerId></Delete></Commands>`,
        ),
      );
      expect(findText(del.doc, 'Status')).toBe('1');
      const inboxItems = await engine.backend.listStamps(
        account,
        await folderOf(account, 'inbox'),
        {},
        signal(),
      );
      expect(inboxItems.map((s) => s.id)).not.toContain(itemId);
      const trash = await engine.backend.listStamps(
        account,
        await folderOf(account, 'deleted'),
        {},
        signal(),
      );
      const trashItems = await engine.backend.getItems(
        account,
        await folderOf(account, 'deleted'),
        trash.map((s) => s.id),
        { bodyPreferences: [] },
        signal(),
      );
      expect(trashItems.some((r) => (r.item as { Subject?: string }).Subject === subject)).toBe(true);
    });

    it('adds a contact, maps its ClientId, and does not add it twice when the request is repeated', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const contacts = (await withHierarchy(c))('9');
      const { key } = await start(c, contacts);
      const name = `Zed${Date.now()}`;
      const add = syncBody(
        contacts,
        key,
        `<Commands><Add><ClientId>c-1</ClientId><ApplicationData><FileAs xmlns="Contacts:">${name}, Ann</FileAs><FirstName xmlns="Contacts:">Ann</FirstName><LastName xmlns="Contacts:">${name}</LastName><Email1Address xmlns="Contacts:">ann@example.com</Email1Address></ApplicationData></Add></Commands>`,
      );
      const first = await sync(c, add);
      const response = findAll(first.doc, 'Add')[0];
      expect(findText(response, 'ClientId')).toBe('c-1');
      expect(findText(response, 'Status')).toBe('1');
      const serverId = findText(response, 'ServerId')!;
      const repeat = await sync(c, add);
      expect(findText(findAll(repeat.doc, 'Add')[0], 'ServerId')).toBe(serverId);

      expect(await contactsNamed(account, name)).toHaveLength(1);
    });

    it('does not add twice when a request died after its first Add (the repeat finds it in the journal)', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const contacts = (await withHierarchy(c))('9');
      const { key } = await start(c, contacts);
      const name = `Kill${Date.now()}`;
      const contact = (id: string, first: string): string =>
        `<Add><ClientId>${id}</ClientId><ApplicationData><FirstName xmlns="Contacts:">${first}</FirstName><LastName xmlns="Contacts:">${name}</LastName></ApplicationData></Add>`;
      const add = syncBody(
        contacts,
        key,
        `<Commands>${contact('k-1', 'One')}${contact('k-2', 'Two')}</Commands>`,
      );
      // The process "dies" in the middle of the request: the first Add is in the store, the
      // second fails with an unexpected error, and no new sync key is stored.
      const createItem = engine.backend.createItem.bind(engine.backend);
      let calls = 0;
      engine.backend.createItem = async (...args) => {
        if (++calls === 2) throw new Error('process died here');
        return createItem(...args);
      };
      const failed = await c.command('Sync', add);
      engine.backend.createItem = createItem;
      expect(failed.status).toBe(500);
      expect(calls).toBe(2);

      const repeat = await sync(c, add);
      const responses = findAll(repeat.doc, 'Add');
      expect(responses.map((r) => [findText(r, 'ClientId'), findText(r, 'Status')])).toEqual([
        ['k-1', '1'],
        ['k-2', '1'],
      ]);
      const mine = await contactsNamed(account, name);
      expect(mine.map((c) => c.FirstName).sort()).toEqual(['One', 'Two']);
      // The phone holds both under its ClientIds: the server does not send them back as Adds.
      const next = await sync(c, syncBody(contacts, repeat.key!, '', '<GetChanges/>'));
      expect(findAll(next.doc, 'ApplicationData')).toHaveLength(0);
    });

    it('keeps ghosted fields a client does not send, and applies a full contact change', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const contacts = (await withHierarchy(c))('9');
      const { key } = await start(c, contacts);
      const add = await sync(
        c,
        syncBody(
          contacts,
          key,
          '<Commands><Add><ClientId>g1</ClientId><ApplicationData><FirstName xmlns="Contacts:">Gus</FirstName><LastName xmlns="Contacts:">Ghost</LastName><JobTitle xmlns="Contacts:">Chef</JobTitle></ApplicationData></Add></Commands>',
        ),
      );
      const serverId = findText(findAll(add.doc, 'Add')[0], 'ServerId')!;
      const change = await sync(
        c,
        syncBody(
          contacts,
          add.key!,
          `<Commands><Change><ServerId>${serverId}</ServerId><ApplicationData><FirstName xmlns="Contacts:">Gus</FirstName><LastName xmlns="Contacts:">Ghostly</LastName></ApplicationData></Change></Commands>`,
        ),
      );
      expect(findText(change.doc, 'Status')).toBe('1');
      const folderId = await folderOf(account, 'default', 'Contacts');
      const [item] = await engine.backend.getItems(
        account,
        folderId,
        [serverId.slice(serverId.indexOf(':') + 1)],
        { bodyPreferences: [] },
        signal(),
      );
      // No Supported element was sent: a Change is the whole contact, so JobTitle goes.
      expect(item?.item).toMatchObject({ LastName: 'Ghostly' });
      expect((item?.item as { JobTitle?: string }).JobTitle).toBeUndefined();
    });

    it('lets the server win a conflict by default (Status 7), then sends the server version', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const inbox = (await withHierarchy(c))('2');
      const itemId = await deliver(account, `conflict-${Date.now()}`);
      const { key } = await start(c, inbox);
      await engine.backend.updateItem(
        account,
        await folderOf(account, 'inbox'),
        itemId,
        { class: 'Email', item: { Flag: { Status: 2, FlagType: 'Follow up' } } },
        {},
        signal(),
      );
      const res = await sync(
        c,
        syncBody(
          inbox,
          key,
          `<GetChanges/><Commands><Change><ServerId>${inbox}:${itemId}</ServerId><ApplicationData><Read xmlns="Email:">1</Read></ApplicationData></Change></Commands>`,
        ),
      );
      const responses = findAll(res.doc, 'Responses')[0];
      expect(findText(findAll(responses, 'Change')[0], 'Status')).toBe('7');
      const commands = findAll(res.doc, 'Commands')[0];
      expect(findAll(commands, 'Change').map((x) => findText(x, 'ServerId'))).toContain(`${inbox}:${itemId}`);
    });

    it('fetches one item on request, and answers an unknown one with Status 8', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const inbox = (await withHierarchy(c))('2');
      const itemId = await deliver(account, `fetch-${Date.now()}`);
      const { key } = await start(c, inbox);
      const res = await sync(
        c,
        syncBody(
          inbox,
          key,
          `<Commands><Fetch><ServerId>${inbox}:${itemId}</ServerId></Fetch><Fetch><ServerId>${inbox}:nope</ServerId></Fetch></Commands>`,
          bodyPref,
        ),
      );
      const fetches = findAll(res.doc, 'Fetch');
      expect(fetches.map((f) => findText(f, 'Status'))).toEqual(['1', '8']);
      expect(findText(fetches[0], 'Subject')).toMatch(/^fetch-/);
    });

    it('answers a malformed item with Status 6 for that item only', async () => {
      const c = await engine.client();
      const contacts = (await withHierarchy(c))('9');
      const { key } = await start(c, contacts);
      const res = await sync(
        c,
        syncBody(
          contacts,
          key,
          '<Commands><Add><ClientId>bad</ClientId><ApplicationData><Birthday xmlns="Contacts:">not a date</Birthday></ApplicationData></Add><Add><ClientId>good</ClientId><ApplicationData><FirstName xmlns="Contacts:">Ok</FirstName></ApplicationData></Add></Commands>',
        ),
      );
      const adds = findAll(res.doc, 'Add');
      expect(adds.map((a) => [findText(a, 'ClientId'), findText(a, 'Status')])).toEqual([
        ['bad', '6'],
        ['good', '1'],
      ]);
    });
  });

  describe('Sync: requests', () => {
    it('reuses the cached request for an empty Sync body', async () => {
      const c = await engine.client();
      const account = await engine.account();
      const inbox = (await withHierarchy(c))('2');
      const { key } = await start(c, inbox);
      await sync(c, syncBody(inbox, key, '<GetChanges/>'));
      await deliver(account, `empty-${Date.now()}`);
      const res = await c.command('Sync');
      expect(res.status).toBe(200);
      await validateEasResponse(res.doc!, 'Sync');
      expect(findAll(res.doc, 'Add')).toHaveLength(1);
    });

    it('answers an empty Sync with nothing cached with Status 13', async () => {
      const c = await engine.client();
      const res = await c.command('Sync');
      await validateEasResponse(res.doc!, 'Sync');
      expect(findText(res.doc, 'Status')).toBe('13');
    });

    it.each([
      ['Wait 0', '<Wait>0</Wait>', '1'],
      ['Wait 60', '<Wait>60</Wait>', '59'],
      ['HeartbeatInterval 30', '<HeartbeatInterval>30</HeartbeatInterval>', '60'],
      ['HeartbeatInterval 4000', '<HeartbeatInterval>4000</HeartbeatInterval>', '3540'],
    ])('answers %s with Status 14 and the Limit', async (_name, element, limit) => {
      const c = await engine.client();
      const res = await c.command(
        'Sync',
        `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>1</CollectionId></Collection></Collections>${element}</Sync>`,
      );
      await validateEasResponse(res.doc!, 'Sync');
      expect(findText(res.doc, 'Status')).toBe('14');
      expect(findText(res.doc, 'Limit')).toBe(limit);
    });

    it('answers a structurally broken request with Status 4', async () => {
      const c = await engine.client();
      const res = await c.command(
        'Sync',
        '<Sync xmlns="AirSync:"><Collections><Collection><CollectionId>1</CollectionId></Collection></Collections></Sync>',
      );
      expect(findText(res.doc, 'Status')).toBe('4');
    });
  });
});
