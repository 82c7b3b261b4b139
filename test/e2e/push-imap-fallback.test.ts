// A Dovecot without NOTIFY (Dovecot offers it only with the mailbox list index): easd's watcher,
// left at its defaults, must see that from the capabilities and watch with IDLE + STATUS polls on
// its one connection, and a held Ping on a folder other than INBOX must still be answered.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { appendMessage, imapConnect, startDovecot, type DovecotInstance } from '../stack/dovecot.js';
import type { TestUser } from '../stack/users.js';
import { HELD, mail, Phone, pingStatus, startPushEasd, within, type PushEasd } from './push-phone.js';

const stack = inject('stack');
const run = `${process.pid}x${Date.now()}`;
const ivy: TestUser = { user: 'ivy', password: 'ivy-pw-4Gd1', email: 'ivy@easd.test' };
const work = `Work ${run}`;

let dir: string;
let dovecot: DovecotInstance;
let easd: PushEasd;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-push-fallback-'));
  await chmod(dir, 0o755);
  dovecot = await startDovecot(path.join(dir, 'dovecot'), [ivy], {
    extraConfig: '\n# no mailbox list index: no NOTIFY\nmailbox_list_index = no\n',
  });
  const c = await imapConnect(dovecot, ivy);
  expect(c.capabilities.has('NOTIFY')).toBe(false);
  await c.mailboxCreate(work);
  await c.logout();
  easd = await startPushEasd({
    imap: dovecot,
    backend: { watchPollMs: 300 },
    stateUrl: stack.redis.url,
    dataDir: dir,
    namespace: `pushfallback${run}`,
  });
});
afterAll(async () => {
  await easd?.close();
  await dovecot?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a server without NOTIFY', () => {
  it('is watched with IDLE + STATUS polls, and a Ping on another folder is answered', async () => {
    const phone = new Phone(easd.app, ivy, `FALLBACK${run}`);
    await phone.setUp();
    await phone.syncAll(work);
    const held = phone.ping([work]);
    expect(await within(held, 700)).toBe(HELD);
    expect(easd.backend.inspect().find((s) => s.login === ivy.user)).toMatchObject({
      watching: true,
      watchMode: 'idle',
    });
    await appendMessage(dovecot, ivy, work, mail(`fallback ${run}`));
    const { status, folders } = await pingStatus(await held);
    expect(status).toBe('2');
    expect(folders).toEqual([phone.id(work)]);
  });
});
