// FolderSync, FolderCreate, FolderUpdate, FolderDelete on the memory backend, WBXML in and out.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WbxmlElement } from '../../wbxml/index.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;

const folderSync = (key: string): string =>
  `<FolderSync xmlns="FolderHierarchy:"><SyncKey>${key}</SyncKey></FolderSync>`;

interface Entry {
  ServerId: string;
  ParentId: string;
  DisplayName: string;
  Type: string;
}
const entries = (doc: WbxmlElement | undefined, kind: 'Add' | 'Update'): Entry[] =>
  findAll(doc, kind).map((e) => ({
    ServerId: findText(e, 'ServerId') ?? '',
    ParentId: findText(e, 'ParentId') ?? '',
    DisplayName: findText(e, 'DisplayName') ?? '',
    Type: findText(e, 'Type') ?? '',
  }));

async function initial(c: EasTestClient): Promise<{ key: string; folders: Entry[] }> {
  const res = await c.command('FolderSync', folderSync('0'));
  await validateEasResponse(res.doc!, 'FolderSync');
  return { key: findText(res.doc, 'SyncKey')!, folders: entries(res.doc, 'Add') };
}

// The same suite on both state stores: the embedded SQLite default and Redis (several nodes).
describe.each(['sqlite', 'redis'] as const)('on the %s state store', (store) => {
  beforeAll(async () => {
    engine = await startTestEngine(store === 'redis' ? { stateUrl: inject('stack').redis.url } : {});
  });
  afterAll(async () => engine?.close());

  describe('FolderSync', () => {
    it('lists every default folder with its type on SyncKey 0', async () => {
      const c = await engine.client();
      const { key, folders } = await initial(c);
      expect(key).not.toBe('0');
      const byType = new Map(folders.map((f) => [f.Type, f.DisplayName]));
      // MS-ASCMD 2.2.3.186.3: 2 Inbox, 3 Drafts, 4 Deleted, 5 Sent, 6 Outbox, 7 Tasks, 8 Calendar, 9 Contacts, 10 Notes
      for (const t of ['2', '3', '4', '5', '6', '7', '8', '9', '10'])
        expect(byType.has(t), `type ${t}`).toBe(true);
      expect(new Set(folders.map((f) => f.ServerId)).size).toBe(folders.length);
      expect(folders.every((f) => f.ServerId.length <= 64 && f.ParentId === '0')).toBe(true);
    });

    it('shows a 12.1 device no Notes folder (MS-ASNOTE starts at 14.0), and adds it once the device speaks 14.0', async () => {
      const c = await engine.client('alice', { version: '12.1' });
      const { key, folders } = await initial(c);
      expect(folders.some((f) => f.Type === '10' || f.Type === '17')).toBe(false);
      expect(folders.some((f) => f.Type === '9')).toBe(true);
      // The same device after an upgrade: its next FolderSync adds the Notes folder.
      c.opts.version = '14.0';
      const res = await c.command('FolderSync', folderSync(key));
      await validateEasResponse(res.doc!, 'FolderSync');
      expect(entries(res.doc, 'Add').map((f) => f.Type)).toEqual(['10']);
    });

    it('answers an unchanged hierarchy with the same key and no changes', async () => {
      const c = await engine.client();
      const { key } = await initial(c);
      const res = await c.command('FolderSync', folderSync(key));
      await validateEasResponse(res.doc!, 'FolderSync');
      expect(findText(res.doc, 'SyncKey')).toBe(key);
      expect(findText(res.doc, 'Count')).toBe('0');
    });

    it('replays the lost answer when the client repeats its key', async () => {
      const c = await engine.client();
      const first = await c.command('FolderSync', folderSync('0'));
      const key1 = findText(first.doc, 'SyncKey')!;
      // A folder appears on the server; the client syncs but "loses" the answer and repeats.
      const account = await engine.account();
      await engine.backend.folders!.createFolder(
        account,
        null,
        `Replay ${Date.now()}`,
        'Email',
        AbortSignal.timeout(5000),
      );
      const lost = await c.command('FolderSync', folderSync(key1));
      const again = await c.command('FolderSync', folderSync(key1));
      expect(again.raw.equals(lost.raw)).toBe(true);
      expect(entries(again.doc, 'Add')).toHaveLength(1);
      // And the new key works afterwards.
      const next = await c.command('FolderSync', folderSync(findText(lost.doc, 'SyncKey')!));
      expect(findText(next.doc, 'Status')).toBe('1');
    });

    it('answers an unknown key with Status 9', async () => {
      const c = await engine.client();
      await initial(c);
      const res = await c.command('FolderSync', folderSync('bogus-7'));
      await validateEasResponse(res.doc!, 'FolderSync');
      expect(findText(res.doc, 'Status')).toBe('9');
    });

    it('reports folders added, renamed and deleted on the server', async () => {
      const c = await engine.client();
      const { key } = await initial(c);
      const account = await engine.account();
      const signal = AbortSignal.timeout(5000);
      const a = await engine.backend.folders!.createFolder(
        account,
        null,
        `Projects ${Date.now()}`,
        'Email',
        signal,
      );
      const added = await c.command('FolderSync', folderSync(key));
      await validateEasResponse(added.doc!, 'FolderSync');
      const [entry] = entries(added.doc, 'Add');
      expect(entry).toMatchObject({ DisplayName: a.displayName, Type: '12', ParentId: '0' });

      await engine.backend.folders!.updateFolder(
        account,
        a.id,
        { displayName: 'Renamed', parentId: null },
        signal,
      );
      const renamed = await c.command('FolderSync', folderSync(findText(added.doc, 'SyncKey')!));
      expect(entries(renamed.doc, 'Update')).toEqual([{ ...entry, DisplayName: 'Renamed' }]);

      await engine.backend.folders!.deleteFolder(account, a.id, signal);
      const deleted = await c.command('FolderSync', folderSync(findText(renamed.doc, 'SyncKey')!));
      await validateEasResponse(deleted.doc!, 'FolderSync');
      expect(findAll(deleted.doc, 'Delete').map((d) => findText(d, 'ServerId'))).toEqual([entry!.ServerId]);
    });

    it('keeps ServerIds when a device starts over with SyncKey 0', async () => {
      const c = await engine.client();
      const first = await initial(c);
      const again = await initial(c);
      expect(again.folders.map((f) => f.ServerId).sort()).toEqual(
        first.folders.map((f) => f.ServerId).sort(),
      );
    });

    it('keeps users apart', async () => {
      const a = await engine.client('alice');
      const b = await engine.client('bob', { deviceId: a.opts.deviceId });
      const account = await engine.account('alice');
      const secret = `Alice only ${Date.now()}`;
      await engine.backend.folders!.createFolder(account, null, secret, 'Email', AbortSignal.timeout(5000));
      const bob = await initial(b);
      expect(bob.folders.map((f) => f.DisplayName)).not.toContain(secret);
      const res = await b.command('FolderSync', folderSync((await initial(a)).key));
      expect(findText(res.doc, 'Status')).toBe('9');
    });
  });

  describe('FolderCreate, FolderUpdate, FolderDelete', () => {
    it('creates, renames and deletes a folder, moving the hierarchy key on each time', async () => {
      const c = await engine.client();
      const { key } = await initial(c);
      const name = `Receipts ${Date.now()}`;
      const created = await c.command(
        'FolderCreate',
        `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>${key}</SyncKey><ParentId>0</ParentId><DisplayName>${name}</DisplayName><Type>12</Type></FolderCreate>`,
      );
      await validateEasResponse(created.doc!, 'FolderCreate');
      expect(findText(created.doc, 'Status')).toBe('1');
      const serverId = findText(created.doc, 'ServerId')!;
      const key2 = findText(created.doc, 'SyncKey')!;
      const folders = await engine.backend.listFolders(await engine.account(), AbortSignal.timeout(5000));
      expect(folders.map((f) => f.displayName)).toContain(name);

      // The client's own change is not echoed back by the next FolderSync.
      const echo = await c.command('FolderSync', folderSync(key2));
      expect(findText(echo.doc, 'Count')).toBe('0');

      const updated = await c.command(
        'FolderUpdate',
        `<FolderUpdate xmlns="FolderHierarchy:"><SyncKey>${key2}</SyncKey><ServerId>${serverId}</ServerId><ParentId>0</ParentId><DisplayName>${name} (old)</DisplayName></FolderUpdate>`,
      );
      await validateEasResponse(updated.doc!, 'FolderUpdate');
      expect(findText(updated.doc, 'Status')).toBe('1');
      const key3 = findText(updated.doc, 'SyncKey')!;

      const deleted = await c.command(
        'FolderDelete',
        `<FolderDelete xmlns="FolderHierarchy:"><SyncKey>${key3}</SyncKey><ServerId>${serverId}</ServerId></FolderDelete>`,
      );
      await validateEasResponse(deleted.doc!, 'FolderDelete');
      expect(findText(deleted.doc, 'Status')).toBe('1');
      const after = await engine.backend.listFolders(await engine.account(), AbortSignal.timeout(5000));
      expect(after.map((f) => f.displayName).filter((n) => n.startsWith(name))).toEqual([]);
    });

    it.each([
      [
        'a stale key',
        (k: string) =>
          `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>${k}x</SyncKey><ParentId>0</ParentId><DisplayName>X</DisplayName><Type>12</Type></FolderCreate>`,
        'FolderCreate',
        '9',
      ],
      [
        'an unknown parent',
        (k: string) =>
          `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>${k}</SyncKey><ParentId>999</ParentId><DisplayName>X</DisplayName><Type>12</Type></FolderCreate>`,
        'FolderCreate',
        '5',
      ],
      [
        'a type that cannot be created',
        (k: string) =>
          `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>${k}</SyncKey><ParentId>0</ParentId><DisplayName>X</DisplayName><Type>2</Type></FolderCreate>`,
        'FolderCreate',
        '10',
      ],
      [
        'a missing DisplayName',
        (k: string) =>
          `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>${k}</SyncKey><ParentId>0</ParentId><Type>12</Type></FolderCreate>`,
        'FolderCreate',
        '10',
      ],
      [
        'an unknown folder',
        (k: string) =>
          `<FolderDelete xmlns="FolderHierarchy:"><SyncKey>${k}</SyncKey><ServerId>999</ServerId></FolderDelete>`,
        'FolderDelete',
        '4',
      ],
      [
        'renaming an unknown folder',
        (k: string) =>
          `<FolderUpdate xmlns="FolderHierarchy:"><SyncKey>${k}</SyncKey><ServerId>999</ServerId><ParentId>0</ParentId><DisplayName>Y</DisplayName></FolderUpdate>`,
        'FolderUpdate',
        '4',
      ],
    ])('answers %s with its Status', async (_name, body, command, status) => {
      const c = await engine.client();
      const { key } = await initial(c);
      const res = await c.command(command, body(key));
      await validateEasResponse(res.doc!, command);
      expect(findText(res.doc, 'Status')).toBe(status);
    });

    it('refuses to delete the Inbox', async () => {
      const c = await engine.client();
      const { key, folders } = await initial(c);
      const inbox = folders.find((f) => f.Type === '2')!;
      const res = await c.command(
        'FolderDelete',
        `<FolderDelete xmlns="FolderHierarchy:"><SyncKey>${key}</SyncKey><ServerId>${inbox.ServerId}</ServerId></FolderDelete>`,
      );
      expect(findText(res.doc, 'Status')).toBe('3');
    });
  });
});
