// `easd devices resync` seen from the phone, on both state stores: after a reset of one
// collection its Sync key is refused with Status 3 (MS-ASCMD 2.2.3.177.17: invalid
// synchronization key) and a Sync from key 0 brings every item again; after a reset of
// everything FolderSync answers Status 9 (MS-ASCMD 2.2.3.177.5) and the hierarchy from key 0
// keeps the folders' ServerIds, so the phone recovers without losing its account.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WbxmlElement } from '../../wbxml/index.js';
import { devicesCli } from '../../src/admin/devices.js';
import { defaultPolicy } from '../../src/provision/policy.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;

async function command(c: EasTestClient, cmd: 'Sync' | 'FolderSync', xml: string): Promise<WbxmlElement> {
  const res = await c.command(cmd, xml);
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, cmd);
  return res.doc!;
}
const folderSync = (key: string): string =>
  `<FolderSync xmlns="FolderHierarchy:"><SyncKey>${key}</SyncKey></FolderSync>`;
const sync = (id: string, key: string): string =>
  `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${id}</CollectionId>${
    key === '0' ? '' : '<GetChanges/><WindowSize>512</WindowSize>'
  }</Collection></Collections></Sync>`;

async function resync(c: EasTestClient, collection?: string): Promise<string> {
  const out: string[] = [];
  const argv = ['devices', 'resync', c.opts.user, c.opts.deviceId, ...(collection ? [collection] : [])];
  const code = await devicesCli(argv, {
    store: engine.state,
    policy: defaultPolicy(),
    out: (s) => out.push(s),
  });
  expect(code).toBe(0);
  return out.join('\n');
}

/** Sync from key 0 to the end; the ServerIds it got and the last key. */
async function fullSync(c: EasTestClient, id: string): Promise<{ key: string; ids: string[] }> {
  let key = findText(await command(c, 'Sync', sync(id, '0')), 'SyncKey')!;
  const doc = await command(c, 'Sync', sync(id, key));
  key = findText(doc, 'SyncKey')!;
  return { key, ids: findAll(doc, 'Add').map((a) => findText(a, 'ServerId')!) };
}

describe.each(['sqlite', 'redis'] as const)('devices resync on %s', (kind) => {
  beforeAll(async () => {
    engine = await startTestEngine(kind === 'redis' ? { stateUrl: inject('stack').redis.url } : {});
    const account = await engine.account();
    const inbox = (await engine.backend.listFolders(account, AbortSignal.timeout(5000))).find(
      (f) => f.role === 'inbox',
    )!;
    const mime = Buffer.from('From: b@example.com\r\nSubject: kept\r\n\r\nhi\r\n');
    await engine.backend.createItem(
      account,
      inbox.id,
      { class: 'Email', item: { Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } } },
      AbortSignal.timeout(5000),
    );
  });
  afterAll(async () => engine?.close());

  it('makes the phone resync one collection: Status 3, then everything again from key 0', async () => {
    const c = await engine.client();
    const hierarchy = await command(c, 'FolderSync', folderSync('0'));
    const hkey = findText(hierarchy, 'SyncKey')!;
    const inbox = findText(
      findAll(hierarchy, 'Add').find((a) => findText(a, 'Type') === '2'),
      'ServerId',
    )!;
    const first = await fullSync(c, inbox);
    expect(first.ids.length).toBeGreaterThan(0);

    expect(await resync(c, inbox)).toMatch(/Collection .* reset: the device resyncs it/);
    const refused = await command(c, 'Sync', sync(inbox, first.key));
    expect(findText(refused, 'Status')).toBe('3');
    const again = await fullSync(c, inbox);
    expect(again.ids.sort()).toEqual(first.ids.sort());
    // The hierarchy was left alone.
    expect(findText(await command(c, 'FolderSync', folderSync(hkey)), 'Status')).toBe('1');
  });

  it('makes the phone resync everything: FolderSync Status 9, the same folder ids from key 0', async () => {
    const c = await engine.client();
    const hierarchy = await command(c, 'FolderSync', folderSync('0'));
    const hkey = findText(hierarchy, 'SyncKey')!;
    const folders = findAll(hierarchy, 'Add').map((a) => findText(a, 'ServerId')!);
    const inbox = findText(
      findAll(hierarchy, 'Add').find((a) => findText(a, 'Type') === '2'),
      'ServerId',
    )!;
    const first = await fullSync(c, inbox);

    expect(await resync(c)).toMatch(/Folder hierarchy and 1 collection\(s\) .* reset/);
    expect(findText(await command(c, 'FolderSync', folderSync(hkey)), 'Status')).toBe('9');
    const fresh = await command(c, 'FolderSync', folderSync('0'));
    expect(findText(fresh, 'Status')).toBe('1');
    expect(findAll(fresh, 'Add').map((a) => findText(a, 'ServerId')!)).toEqual(folders);
    expect(findText(await command(c, 'Sync', sync(inbox, first.key)), 'Status')).toBe('3');
    expect((await fullSync(c, inbox)).ids.sort()).toEqual(first.ids.sort());
  });
});
