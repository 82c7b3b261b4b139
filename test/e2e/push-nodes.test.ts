// Two easd processes (the compiled server, as `npm start` runs it) sharing the stack's Redis for
// state and push, on the same Dovecot (this file's own instance): a device's newer Ping on node A
// ends the one it had held on node B, and a change made through node A wakes another device's
// Ping held on node B. Requests go over real sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { imapConnect, startDovecot, type DovecotInstance } from '../stack/dovecot.js';
import type { TestUser } from '../stack/users.js';
import { findAll, findText, type EasReply } from '../support/eas-client.js';
import { HELD, mail, Phone, pingStatus, within } from './push-phone.js';

const stack = inject('stack');
const run = `${process.pid}x${Date.now()}`;
const gus: TestUser = { user: 'gus', password: 'gus-pw-9Hb4', email: 'gus@easd.test' };
const secret = `nodes-webhook-secret-${run}`;
const main = path.resolve(import.meta.dirname, '../../dist/src/main.js');

interface Node {
  base: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

let dir: string;
let dovecot: DovecotInstance;
let nodeA: Node;
let nodeB: Node;

/** `node dist/src/main.js` with its own data directory, state and push on the stack's Redis. */
async function startNode(name: string): Promise<Node> {
  const dataDir = path.join(dir, name);
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      EASD_LISTEN: '127.0.0.1:0',
      EASD_DATA_DIR: dataDir,
      EASD_STATE_URL: stack.redis.url,
      EASD_IMAP_URL: `imap://${dovecot.host}:${dovecot.port}?starttls=never`,
      EASD_LOG_LEVEL: 'warn',
      EASD_WEBHOOK_SECRET: secret,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out} ${err}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/[^/\s]+)/.exec(out);
      if (url) {
        clearTimeout(timer);
        resolve(url[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${err}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    base,
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

beforeAll(async () => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" (npm test does it first)`);
  dir = await mkdtemp(path.join(tmpdir(), 'easd-push-nodes-'));
  await chmod(dir, 0o755);
  dovecot = await startDovecot(path.join(dir, 'dovecot'), [gus]);
  [nodeA, nodeB] = await Promise.all([startNode('a'), startNode('b')]);
});
afterAll(async () => {
  await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  await dovecot?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('two easd nodes on one Redis', () => {
  it("ends a device's Ping held on node B when the device sends a newer Ping to node A", async () => {
    const onB = new Phone(nodeB.base, gus, `NODES${run}`);
    await onB.setUp();
    await onB.syncAll('Inbox');
    // the same device, its next request routed to the other node (no stickiness)
    const onA = new Phone(nodeA.base, gus, `NODES${run}`);
    onA.client.policyKey = onB.client.policyKey;
    onA.folders = onB.folders;

    const older = onB.ping(['Inbox']);
    expect(await within(older, 700)).toBe(HELD);
    const newer = onA.ping(['Inbox']);
    const answered = await within(older, 5000);
    expect(answered).not.toBe(HELD);
    expect((await pingStatus(answered as EasReply)).status).toBe('1');
    expect(await within(newer, 300)).toBe(HELD);
    // the newer one is held on A and answers a change as usual
    const c = await imapConnect(dovecot, gus);
    await c.append('INBOX', mail(`nodes ${run}`));
    await c.logout();
    expect((await pingStatus(await newer)).status).toBe('2');
    await onB.syncAll('Inbox');
  });

  it("wakes a Ping held on node B when another device's change goes through node A", async () => {
    const watcher = new Phone(nodeB.base, gus, `NODESB${run}`);
    const actor = new Phone(nodeA.base, gus, `NODESA${run}`);
    await watcher.setUp();
    await actor.setUp();
    await watcher.syncAll('Inbox');
    // the actor's first Sync: the ServerId of a message to mark read
    const key0 = await actor.client.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${actor.id('Inbox')}</CollectionId></Collection></Collections></Sync>`,
    );
    const first = await actor.client.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${findText(key0.doc, 'SyncKey')}</SyncKey><CollectionId>${actor.id('Inbox')}</CollectionId><GetChanges/><WindowSize>100</WindowSize></Collection></Collections></Sync>`,
    );
    const serverId = findText(findAll(first.doc, 'Add')[0], 'ServerId')!;

    const { published, quit } = await listenToPushChannel();
    try {
      const held = watcher.ping(['Inbox']);
      expect(await within(held, 700)).toBe(HELD);
      const change = await actor.client.command(
        'Sync',
        `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${findText(first.doc, 'SyncKey')}</SyncKey><CollectionId>${actor.id('Inbox')}</CollectionId><Commands><Change><ServerId>${serverId}</ServerId><ApplicationData><Read xmlns="Email:">1</Read></ApplicationData></Change></Commands></Collection></Collections></Sync>`,
      );
      expect(findText(change.doc, 'Status')).toBe('1');
      const { status, folders } = await pingStatus(await held);
      expect(status).toBe('2');
      expect(folders).toEqual([watcher.id('Inbox')]);
      expect(published).toContainEqual({ folderIds: ['inbox'] });
    } finally {
      await quit();
    }
  });

  it('wakes a Ping held on node B when the mail server posts the webhook to node A', async () => {
    const phone = new Phone(nodeB.base, gus, `NODESH${run}`);
    await phone.setUp();
    await phone.syncAll('Inbox');
    const { published, quit } = await listenToPushChannel();
    try {
      const held = phone.ping(['Inbox']);
      expect(await within(held, 700)).toBe(HELD);
      const c = await imapConnect(dovecot, gus);
      await c.append('INBOX', mail(`hooked ${run}`));
      await c.logout();
      const res = await fetch(`${nodeA.base}/easd/push`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'gus', event: 'messageNew', folder: 'INBOX' }),
      });
      expect(res.status).toBe(204);
      expect((await pingStatus(await held)).status).toBe('2');
      expect(published).toContainEqual({});
    } finally {
      await quit();
    }
  });
});

/**
 * What the nodes say on the user's push channel, as Redis carries it. (Each node's own IMAP
 * watcher sees Dovecot's changes too; this shows the signal also crossed between the nodes.)
 */
async function listenToPushChannel(): Promise<{ published: unknown[]; quit: () => Promise<void> }> {
  const sub = createClient({ url: stack.redis.url });
  await sub.connect();
  const published: unknown[] = [];
  await sub.subscribe('easd:push:u:gus', (m) => published.push(JSON.parse(m)));
  return { published, quit: async () => void (await sub.quit()) };
}
