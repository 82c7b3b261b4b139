// The push webhook end to end with Dovecot's push_notification plugin (issue 6): Dovecots of this
// file's own (the stack's is left as it is) load the plugin pointed at easd's /easd/push with the
// shared secret — the OX driver (deliveries to INBOX) and the Lua driver easd ships (every APPEND,
// flag change, expunge). easd's IMAP backend does not watch here, so the only way a held Ping can
// learn of a change is the webhook.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WebhookEvent } from '../../src/http/webhook.js';
import {
  deliverLda,
  enablePushNotification,
  imapConnections,
  imapConnect,
  pushNotificationConfig,
  pushNotificationLuaConfig,
  startDovecot,
  type DovecotInstance,
} from '../stack/dovecot.js';
import { freePort, HOST } from '../stack/process.js';
import type { TestUser } from '../stack/users.js';
import { HELD, mail, Phone, pingStatus, startPushEasd, within, type PushEasd } from './push-phone.js';

const stack = inject('stack');
const run = `${process.pid}x${Date.now()}`;
const secret = `webhook-secret-${run}`;
const fay: TestUser = { user: 'fay', password: 'fay-pw-3Rn6', email: 'fay@easd.test' };

interface Hooked {
  dir: string;
  dovecot: DovecotInstance;
  easd: PushEasd;
  events: WebhookEvent[];
}

/** A Dovecot with the plugin configured by `config(easd's webhook URL)`, and an easd that does not watch. */
async function startHooked(name: string, config: (port: number) => string): Promise<Hooked> {
  const dir = await mkdtemp(path.join(tmpdir(), `easd-push-${name}-`));
  await chmod(dir, 0o755);
  const port = await freePort();
  const dovecot = await startDovecot(path.join(dir, 'dovecot'), [fay], { extraConfig: config(port) });
  const events: WebhookEvent[] = [];
  const easd = await startPushEasd({
    imap: dovecot,
    watch: false,
    stateUrl: stack.redis.url,
    dataDir: dir,
    namespace: `push${name}${run}`,
    webhook: { secret, onEvent: (e) => events.push(e) },
  });
  await easd.app.listen({ host: HOST, port });
  return { dir, dovecot, easd, events };
}

async function stopHooked(h: Hooked | undefined): Promise<void> {
  await h?.easd.close();
  await h?.dovecot.stop();
  if (h !== undefined) await rm(h.dir, { recursive: true, force: true });
}

/** Holds a Ping on `folder`, checks nothing watches, runs `change`, expects Status 2 naming it. */
async function wakesThroughWebhook(h: Hooked, phone: Phone, folder: string, change: () => Promise<unknown>) {
  const held = phone.ping([folder]);
  expect(await within(held, 700)).toBe(HELD);
  // nobody watches: the pool's connections are the only ones, and the hub polls nothing soon
  expect(h.easd.hub.stats()).toMatchObject({ watchers: 0, listeners: 1 });
  await change();
  const reply = await within(held, 10_000);
  expect(reply).not.toBe(HELD);
  const { status, folders } = await pingStatus(reply as Awaited<typeof held>);
  expect(status).toBe('2');
  expect(folders).toEqual([phone.id(folder)]);
  await phone.syncAll(folder);
}

describe('webhook from Dovecot push_notification (OX driver)', () => {
  let h: Hooked;
  beforeAll(async () => {
    h = await startHooked('ox', (port) =>
      pushNotificationConfig(`http://dovecot:${secret}@${HOST}:${port}/easd/push`),
    );
    await enablePushNotification(h.dovecot, fay.user);
  });
  afterAll(() => stopHooked(h));

  it('wakes a held Ping when dovecot-lda delivers to INBOX, with no IMAP connection watching', async () => {
    const phone = new Phone(h.easd.app, fay, `HOOK${run}`);
    await phone.setUp();
    await phone.syncAll('Inbox');
    await wakesThroughWebhook(h, phone, 'Inbox', () =>
      deliverLda(h.dovecot, fay.user, mail(`delivered ${run}`)),
    );
    // what Dovecot sent, as easd read it
    expect(h.events).toContainEqual({ user: fay.user, event: 'messageNew', folder: 'INBOX' });
    expect(await imapConnections(h.dovecot, fay.user)).toBeLessThanOrEqual(3); // the pool's, no watcher
  });
});

describe('webhook from Dovecot push_notification (Lua driver, docs/dovecot/easd-push.lua)', () => {
  let h: Hooked;
  let phone: Phone;
  const work = `Work ${run}`;
  beforeAll(async () => {
    h = await startHooked('lua', (port) =>
      pushNotificationLuaConfig(`http://${HOST}:${port}/easd/push`, secret),
    );
    const c = await imapConnect(h.dovecot, fay);
    await c.mailboxCreate(work);
    await c.append(work, mail(`first ${run}`));
    await c.logout();
    phone = new Phone(h.easd.app, fay, `HOOKLUA${run}`);
    await phone.setUp();
    await phone.syncAll(work);
  });
  afterAll(() => stopHooked(h));

  const withImap = async (fn: (c: ImapFlow) => Promise<unknown>): Promise<void> => {
    const c = await imapConnect(h.dovecot, fay);
    try {
      await fn(c);
    } finally {
      await c.logout();
    }
  };

  it("wakes a held Ping on another IMAP client's APPEND, flag change and expunge", async () => {
    await wakesThroughWebhook(h, phone, work, () => withImap((c) => c.append(work, mail(`appended ${run}`))));
    await wakesThroughWebhook(h, phone, work, () =>
      withImap(async (c) => {
        await c.mailboxOpen(work);
        await c.messageFlagsAdd('1', ['\\Flagged']);
      }),
    );
    await wakesThroughWebhook(h, phone, work, () =>
      withImap(async (c) => {
        await c.mailboxOpen(work);
        await c.messageDelete('1');
      }),
    );
    for (const event of ['messageAppend', 'flagsSet', 'messageExpunge'])
      expect(h.events).toContainEqual({ user: fay.user, event, folder: work });
  });
});
