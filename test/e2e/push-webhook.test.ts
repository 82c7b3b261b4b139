// The push webhook end to end with Dovecot's push_notification plugin (issue 6): a Dovecot of this
// file's own (the stack's is left as it is) loads the plugin with the OX driver, pointed at easd's
// /easd/push with the shared secret. easd's IMAP backend does not watch here, so the only way a
// held Ping can learn of the delivery is the webhook: dovecot-lda delivers, the plugin PUTs, the
// Ping answers Status 2.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WebhookEvent } from '../../src/http/webhook.js';
import {
  deliverLda,
  enablePushNotification,
  imapConnections,
  pushNotificationConfig,
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

let dir: string;
let dovecot: DovecotInstance;
let easd: PushEasd;
const events: WebhookEvent[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-push-webhook-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  dovecot = await startDovecot(path.join(dir, 'dovecot'), [fay], {
    extraConfig: pushNotificationConfig(`http://dovecot:${secret}@${HOST}:${port}/easd/push`),
  });
  await enablePushNotification(dovecot, fay.user);

  easd = await startPushEasd({
    imap: dovecot,
    watch: false,
    stateUrl: stack.redis.url,
    dataDir: dir,
    namespace: `pushhook${run}`,
    webhook: { secret, onEvent: (e) => events.push(e) },
  });
  await easd.app.listen({ host: HOST, port });
});
afterAll(async () => {
  await easd?.close();
  await dovecot?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('webhook from Dovecot push_notification (OX driver)', () => {
  it('wakes a held Ping when dovecot-lda delivers to INBOX, with no IMAP connection watching', async () => {
    const phone = new Phone(easd.app, fay, `HOOK${run}`);
    await phone.setUp();
    await phone.syncAll('Inbox');

    const held = phone.ping(['Inbox']);
    expect(await within(held, 700)).toBe(HELD);
    // nobody watches: the pool's connections are the only ones, and the hub polls nothing soon
    expect(easd.hub.stats()).toMatchObject({ watchers: 0, listeners: 1 });
    const subject = `delivered ${run}`;
    await deliverLda(dovecot, fay.user, mail(subject));
    const reply = await within(held, 10_000);
    expect(reply).not.toBe(HELD);
    const { status, folders } = await pingStatus(reply as Awaited<typeof held>);
    expect(status).toBe('2');
    expect(folders).toEqual([phone.id('Inbox')]);
    // what Dovecot sent, as easd read it
    expect(events).toContainEqual({ user: fay.user, event: 'messageNew', folder: 'INBOX' });
    await phone.syncAll('Inbox');
    expect(await imapConnections(dovecot, fay.user)).toBeLessThanOrEqual(3); // the pool's, no watcher
  });
});
