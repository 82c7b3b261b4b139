// The push webhook: a mail server's event wakes a held Ping even when the store cannot watch
// (no IMAP connection per user), and the endpoint refuses anyone without the shared secret.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account, Backend } from '../../src/backend/contract.js';
import { defaultPushSettings, type EngineDeps } from '../../src/commands/deps.js';
import { createEngineGate, createHandlers } from '../../src/commands/index.js';
import { localBus } from '../../src/push/bus.js';
import { PushHub } from '../../src/push/hub.js';
import { buildServer } from '../../src/server.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';
import { startTestEngine, testPolicy, type TestEngine } from '../support/engine.js';

const secret = 'a-long-shared-secret-for-tests';
let engine: TestEngine;
let app: FastifyInstance;
let hub: PushHub;

beforeAll(async () => {
  engine = await startTestEngine();
  // A store that cannot watch, polled only every ten minutes: only the webhook can wake a Ping.
  const blind = Object.create(engine.backend, { watch: { value: undefined } }) as Backend;
  hub = new PushHub({ backend: blind, bus: localBus(), coalesceMs: 5, pollMs: 600_000 });
  const deps: EngineDeps = {
    backend: blind,
    state: engine.state,
    policy: testPolicy,
    push: { hub, settings: defaultPushSettings },
  };
  app = await buildServer<Account>({
    logger: false,
    authenticate: (u, p, s) => blind.authenticate(u, p, s),
    handlers: createHandlers(deps),
    gate: createEngineGate(deps),
    webhook: { secret, onEvent: (e) => hub.notify(e.user, {}) },
  });
});
afterAll(async () => {
  await app?.close();
  await hub?.close();
  await engine?.close();
});

const post = (body: string, authorization?: string, method: 'POST' | 'PUT' = 'POST') =>
  app.inject({
    method,
    url: '/easd/push',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    payload: body,
  });
const basic = (user: string, pass: string): string =>
  'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

describe('push webhook', () => {
  it('wakes a held Ping for the user named in a Dovecot-style event', async () => {
    const c = EasTestClient.inject(app, {
      user: 'alice',
      password: 'alice-password',
      deviceId: `HOOK${Date.now()}`,
    });
    await c.provision();
    const fs = await c.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    const inbox = findText(
      findAll(fs.doc, 'Add').find((a) => findText(a, 'Type') === '2'),
      'ServerId',
    )!;
    const init = await c.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${inbox}</CollectionId></Collection></Collections></Sync>`,
    );
    const all = await c.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${findText(init.doc, 'SyncKey')}</SyncKey><CollectionId>${inbox}</CollectionId><GetChanges/><WindowSize>512</WindowSize></Collection></Collections></Sync>`,
    );
    expect(all.status).toBe(200);

    const held = c.command(
      'Ping',
      `<Ping xmlns="Ping:"><HeartbeatInterval>120</HeartbeatInterval><Folders><Folder><Id>${inbox}</Id><Class>Email</Class></Folder></Folders></Ping>`,
    );
    await new Promise((r) => setTimeout(r, 150));
    // Mail arrives behind easd's back (no watch fires), then the mail server calls the webhook.
    const account = await engine.account();
    const inboxId = (await engine.backend.listFolders(account, AbortSignal.timeout(5000))).find(
      (f) => f.role === 'inbox',
    )!.id;
    const mime = Buffer.from('From: x@example.com\r\nSubject: hook\r\n\r\nhi\r\n');
    await engine.backend.createItem(
      account,
      inboxId,
      { class: 'Email', item: { Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } } },
      AbortSignal.timeout(5000),
    );
    const started = Date.now();
    const res = await post(
      JSON.stringify({ user: 'alice', event: 'messageNew', folder: 'INBOX', 'imap-uid': 7 }),
      basic('dovecot', secret),
    );
    expect(res.statusCode).toBe(204);
    const woken = await held;
    expect(findText(woken.doc, 'Status')).toBe('2');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("accepts PUT, which Dovecot's OX driver sends, with its full body", async () => {
    const body = JSON.stringify({
      user: 'alice',
      event: 'messageNew',
      folder: 'INBOX',
      'imap-uidvalidity': 1795332601,
      'imap-uid': 3,
      from: 'Bob <bob@example.com>',
      subject: 'Hi',
      snippet: 'hello',
      unseen: 1,
    });
    expect((await post(body, basic('dovecot', secret), 'PUT')).statusCode).toBe(204);
    expect((await post(body, basic('dovecot', 'wrong-secret-wrong-secret'), 'PUT')).statusCode).toBe(401);
  });

  it.each([
    ['no credentials', '{"user":"alice"}', undefined, 401],
    ['a wrong secret', '{"user":"alice"}', basic('dovecot', 'wrong-secret-wrong-secret'), 401],
    ['a Bearer token', '{"user":"alice"}', `Bearer ${secret}`, 204],
    ['no JSON', 'user=alice', `Bearer ${secret}`, 400],
    ['no user', '{"event":"messageNew"}', `Bearer ${secret}`, 400],
  ])('answers %s with %i', async (_name, body, authorization, status) => {
    const res = await post(body, authorization);
    expect(res.statusCode).toBe(status);
  });
});
