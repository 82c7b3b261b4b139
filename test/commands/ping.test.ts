// Ping (Direct Push) on the memory backend: parameters and bounds, held requests woken by new
// mail, server-side changes and other devices' changes, heartbeat expiry, a newer request
// superseding an older one, empty-body reuse, two nodes over Redis, and nothing left behind.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Account, Backend } from '../../src/backend/contract.js';
import { defaultPushSettings, type EngineDeps } from '../../src/commands/deps.js';
import { createEngineGate, createHandlers } from '../../src/commands/index.js';
import { redisBus, type PushBus } from '../../src/push/bus.js';
import { PushHub } from '../../src/push/hub.js';
import { buildServer } from '../../src/server.js';
import type { StateStore } from '../../src/state/store.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';
import { startTestEngine, testPolicy, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine({ pushSettings: { heartbeatMin: 1, maxFolders: 5 } });
});
afterAll(async () => engine?.close());

const signal = (): AbortSignal => AbortSignal.timeout(10_000);
const ping = (hb: number, folders: Array<[string, string]>): string =>
  `<Ping xmlns="Ping:"><HeartbeatInterval>${hb}</HeartbeatInterval><Folders>${folders
    .map(([id, cls]) => `<Folder><Id>${id}</Id><Class>${cls}</Class></Folder>`)
    .join('')}</Folders></Ping>`;

/** A provisioned client whose Inbox (and Contacts) have been synced to the end. */
async function ready(
  e: TestEngine = engine,
  c?: EasTestClient,
): Promise<{ c: EasTestClient; inbox: string; contacts: string; inboxKey: string }> {
  c ??= await e.client();
  if (c.policyKey === undefined) await c.provision();
  const fs = await c.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  const byType = (t: string): string =>
    findText(
      findAll(fs.doc, 'Add').find((a) => findText(a, 'Type') === t),
      'ServerId',
    )!;
  const inbox = byType('2');
  const contacts = byType('9');
  const keys: Record<string, string> = {};
  for (const id of [inbox, contacts]) {
    const init = await c.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${id}</CollectionId></Collection></Collections></Sync>`,
    );
    let key = findText(init.doc, 'SyncKey')!;
    for (;;) {
      const res = await c.command(
        'Sync',
        `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${id}</CollectionId><GetChanges/><WindowSize>512</WindowSize></Collection></Collections></Sync>`,
      );
      if (res.doc === undefined) break;
      key = findText(res.doc, 'SyncKey')!;
      if (findAll(res.doc, 'MoreAvailable').length === 0) break;
    }
    keys[id] = key;
  }
  return { c, inbox, contacts, inboxKey: keys[inbox]! };
}

async function deliver(e: TestEngine, subject: string): Promise<void> {
  const account = await e.account();
  const inbox = (await e.backend.listFolders(account, signal())).find((f) => f.role === 'inbox')!;
  const mime = Buffer.from(`From: b@example.com\r\nSubject: ${subject}\r\n\r\nhi\r\n`);
  await e.backend.createItem(
    account,
    inbox.id,
    { class: 'Email', item: { Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } } },
    signal(),
  );
}

describe('Ping parameters (MS-ASCMD 2.2.3.177.11)', () => {
  it('answers a body-less Ping with nothing cached with Status 3', async () => {
    const c = await engine.client();
    const res = await c.command('Ping');
    await validateEasResponse(res.doc!, 'Ping');
    expect(findText(res.doc, 'Status')).toBe('3');
  });

  it.each([
    ['below', 0, '1'],
    ['above', 4000, '3540'],
  ])('answers a heartbeat %s the bounds with Status 5 and the bound', async (_n, hb, bound) => {
    const { c, inbox } = await ready();
    const res = await c.command('Ping', ping(hb, [[inbox, 'Email']]));
    await validateEasResponse(res.doc!, 'Ping');
    expect(findText(res.doc, 'Status')).toBe('5');
    expect(findText(res.doc, 'HeartbeatInterval')).toBe(bound);
  });

  it('answers too many folders with Status 6 and MaxFolders', async () => {
    const { c, inbox } = await ready();
    const res = await c.command(
      'Ping',
      ping(
        60,
        Array.from({ length: 6 }, () => [inbox, 'Email'] as [string, string]),
      ),
    );
    await validateEasResponse(res.doc!, 'Ping');
    expect(findText(res.doc, 'Status')).toBe('6');
    expect(findText(res.doc, 'MaxFolders')).toBe('5');
  });

  it('answers an unknown folder with Status 7 and a malformed request with Status 4', async () => {
    const { c } = await ready();
    const unknown = await c.command('Ping', ping(60, [['999', 'Email']]));
    expect(findText(unknown.doc, 'Status')).toBe('7');
    const malformed = await c.command(
      'Ping',
      '<Ping xmlns="Ping:"><HeartbeatInterval>60</HeartbeatInterval><Folders/></Ping>',
    );
    await validateEasResponse(malformed.doc!, 'Ping');
    expect(findText(malformed.doc, 'Status')).toBe('4');
  });
});

describe('held Pings', () => {
  it('answers at once with Status 2 when a folder already has changes', async () => {
    const { c, inbox } = await ready();
    await deliver(engine, `pending-${Date.now()}`);
    const res = await c.command('Ping', ping(60, [[inbox, 'Email']]));
    await validateEasResponse(res.doc!, 'Ping');
    expect(findText(res.doc, 'Status')).toBe('2');
    expect(findAll(res.doc, 'Folder').map((f) => f.value)).toEqual([inbox]);
  });

  it('is woken by new mail with Status 2 naming the folder', async () => {
    const { c, inbox, contacts } = await ready();
    const started = Date.now();
    const held = c.command(
      'Ping',
      ping(60, [
        [inbox, 'Email'],
        [contacts, 'Contacts'],
      ]),
    );
    await new Promise((r) => setTimeout(r, 150));
    await deliver(engine, `push-${Date.now()}`);
    const res = await held;
    expect(findText(res.doc, 'Status')).toBe('2');
    expect(findAll(res.doc, 'Folder').map((f) => f.value)).toEqual([inbox]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('answers Status 1 when the heartbeat runs out, and leaves nothing behind', async () => {
    const { c, contacts } = await ready();
    const res = await c.command('Ping', ping(1, [[contacts, 'Contacts']]));
    expect(findText(res.doc, 'Status')).toBe('1');
    await new Promise((r) => setTimeout(r, 50));
    expect(engine.hub.stats()).toEqual({ users: 0, listeners: 0, claims: 0, watchers: 0, pollers: 0 });
  });

  it('reuses the cached folders and interval for a body-less Ping', async () => {
    const { c, inbox } = await ready();
    const first = await c.command('Ping', ping(1, [[inbox, 'Email']]));
    expect(findText(first.doc, 'Status')).toBe('1');
    const held = c.command('Ping');
    await new Promise((r) => setTimeout(r, 100));
    await deliver(engine, `cached-${Date.now()}`);
    const res = await held;
    expect(findText(res.doc, 'Status')).toBe('2');
  });

  it("is woken by another device's change made through easd", async () => {
    const phone = await ready();
    const tablet = await ready(
      engine,
      EasTestClient.inject(engine.app, { ...phone.c.opts, deviceId: `${phone.c.opts.deviceId}-tablet` }),
    );
    const held = phone.c.command('Ping', ping(60, [[phone.contacts, 'Contacts']]));
    await new Promise((r) => setTimeout(r, 150));
    const tabletKey = await (async () => {
      const r = await tablet.c.command(
        'Sync',
        `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${tablet.contacts}</CollectionId></Collection></Collections></Sync>`,
      );
      return findText(r.doc, 'SyncKey')!;
    })();
    await tablet.c.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${tabletKey}</SyncKey><CollectionId>${tablet.contacts}</CollectionId><Commands><Add><ClientId>t1</ClientId><ApplicationData><FirstName xmlns="Contacts:">Tab</FirstName></ApplicationData></Add></Commands></Collection></Collections></Sync>`,
    );
    const res = await held;
    expect(findText(res.doc, 'Status')).toBe('2');
    expect(findAll(res.doc, 'Folder').map((f) => f.value)).toEqual([phone.contacts]);
  });

  it('ends an older Ping of the same device with Status 1 when a newer one arrives', async () => {
    const { c, contacts } = await ready();
    const first = c.command('Ping', ping(60, [[contacts, 'Contacts']]));
    await new Promise((r) => setTimeout(r, 150));
    const second = c.command('Ping', ping(1, [[contacts, 'Contacts']]));
    const old = await first;
    expect(findText(old.doc, 'Status')).toBe('1');
    expect(findText((await second).doc, 'Status')).toBe('1');
  });

  it('does not answer a 12.1 device Status 7 for a new Notes folder, which it is not shown', async () => {
    const { c, inbox } = await ready(engine, await engine.client('alice', { version: '12.1' }));
    const held = c.command('Ping', ping(2, [[inbox, 'Email']]));
    await new Promise((r) => setTimeout(r, 150));
    await engine.backend.folders!.createFolder(
      await engine.account(),
      null,
      `Notes ${Date.now()}`,
      'Notes',
      signal(),
    );
    const res = await held;
    // the heartbeat's Status 1: the device's folder list (without Notes) has not changed
    expect(findText(res.doc, 'Status')).toBe('1');
    const fs = await c.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    expect(findAll(fs.doc, 'Add').some((a) => ['10', '17'].includes(findText(a, 'Type')!))).toBe(false);
  });

  it('answers Status 7 when the folder list changes', async () => {
    const { c, inbox } = await ready();
    const held = c.command('Ping', ping(60, [[inbox, 'Email']]));
    await new Promise((r) => setTimeout(r, 150));
    await engine.backend.folders!.createFolder(
      await engine.account(),
      null,
      `New ${Date.now()}`,
      'Email',
      signal(),
    );
    const res = await held;
    expect(findText(res.doc, 'Status')).toBe('7');
  });
});

describe('Sync with Wait', () => {
  it('holds an empty Sync until new mail arrives, then sends it', async () => {
    const { c, inbox, inboxKey } = await ready();
    const held = c.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${inboxKey}</SyncKey><CollectionId>${inbox}</CollectionId><GetChanges/></Collection></Collections><Wait>1</Wait></Sync>`,
    );
    await new Promise((r) => setTimeout(r, 150));
    const subject = `wait-${Date.now()}`;
    await deliver(engine, subject);
    const res = await held;
    await validateEasResponse(res.doc!, 'Sync');
    expect(findAll(res.doc, 'Subject').map((s) => s.value)).toContain(subject);
  });
});

describe('two easd nodes sharing Redis', () => {
  let state: StateStore;
  const nodes: Array<{ app: FastifyInstance; hub: PushHub; bus: PushBus }> = [];
  let shared: TestEngine;

  beforeAll(async () => {
    const url = inject('stack').redis.url;
    shared = await startTestEngine({ stateUrl: url });
    state = shared.state;
    // A backend without watch, so only the bus can wake a Ping held on the other node.
    const blind = Object.create(shared.backend, { watch: { value: undefined } }) as Backend;
    for (let i = 0; i < 2; i++) {
      const bus = await redisBus(url, `easd-test-${process.pid}`);
      const hub = new PushHub({ backend: blind, bus, coalesceMs: 5, pollMs: 600_000 });
      const deps: EngineDeps = {
        backend: blind,
        state,
        policy: testPolicy,
        push: { hub, settings: { ...defaultPushSettings, heartbeatMin: 1 } },
      };
      const app = await buildServer<Account>({
        logger: false,
        authenticate: (u, p, s) => blind.authenticate(u, p, s),
        handlers: createHandlers(deps),
        gate: createEngineGate(deps),
      });
      nodes.push({ app, hub, bus });
    }
  });
  afterAll(async () => {
    for (const n of nodes) {
      await n.app.close();
      await n.hub.close();
      await n.bus.close();
    }
    await shared?.close();
  });

  it('wakes a Ping held on node A when a device changes something through node B', async () => {
    const [a, b] = nodes;
    const phone = await ready(
      shared,
      EasTestClient.inject(a!.app, {
        user: 'alice',
        password: 'alice-password',
        deviceId: `NODEA${Date.now()}`,
      }),
    );
    const tablet = await ready(
      shared,
      EasTestClient.inject(b!.app, {
        user: 'alice',
        password: 'alice-password',
        deviceId: `NODEB${Date.now()}`,
      }),
    );
    const held = phone.c.command('Ping', ping(30, [[phone.contacts, 'Contacts']]));
    await new Promise((r) => setTimeout(r, 200));
    const init = await tablet.c.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${tablet.contacts}</CollectionId></Collection></Collections></Sync>`,
    );
    await tablet.c.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${findText(init.doc, 'SyncKey')}</SyncKey><CollectionId>${tablet.contacts}</CollectionId><Commands><Add><ClientId>n1</ClientId><ApplicationData><FirstName xmlns="Contacts:">Node</FirstName></ApplicationData></Add></Commands></Collection></Collections></Sync>`,
    );
    const res = await held;
    expect(findText(res.doc, 'Status')).toBe('2');
  });

  it("ends a device's Ping held on node A when the device's newer Ping reaches node B", async () => {
    const [a, b] = nodes;
    const deviceId = `ROAM${Date.now()}`;
    const onA = await ready(
      shared,
      EasTestClient.inject(a!.app, { user: 'alice', password: 'alice-password', deviceId }),
    );
    const onB = EasTestClient.inject(b!.app, { user: 'alice', password: 'alice-password', deviceId });
    onB.policyKey = onA.c.policyKey;
    const first = onA.c.command('Ping', ping(30, [[onA.contacts, 'Contacts']]));
    await new Promise((r) => setTimeout(r, 200));
    const second = onB.command('Ping', ping(1, [[onA.contacts, 'Contacts']]));
    expect(findText((await first).doc, 'Status')).toBe('1');
    await second;
  });
});
