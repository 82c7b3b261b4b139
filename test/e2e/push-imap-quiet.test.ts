// Quiet folders (docs/push.md) on the real Dovecot, in the two cases where the IMAP watcher's
// silence about a folder used to be taken as "nothing new" although it was not (review finding 1):
// - a folder joining an IDLE + STATUS watch that already runs: mail landing between the joining
//   Ping's first look and the watcher's first STATUS of the folder was in that STATUS's baseline,
//   never hinted, and later Pings skipped the folder;
// - a server without CONDSTORE: STATUS (and NOTIFY) report no flag change outside INBOX, so such
//   folders must not be vouched quiet.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { appendMessage, imapConnect, startDovecot, type DovecotInstance } from '../stack/dovecot.js';
import { ImapProxy } from '../stack/imap-proxy.js';
import type { TestUser } from '../stack/users.js';
import type { EasReply } from '../support/eas-client.js';
import { HELD, mail, Phone, pingStatus, startPushEasd, within } from './push-phone.js';

const stack = inject('stack');
const run = `${process.pid}x${Date.now()}`;
const olga: TestUser = { user: 'olga', password: 'olga-pw-2Nd7', email: 'olga@easd.test' };
const pia: TestUser = { user: 'pia', password: 'pia-pw-6Ws3', email: 'pia@easd.test' };
const quinn: TestUser = { user: 'quinn', password: 'quinn-pw-4Lx9', email: 'quinn@easd.test' };
const work = `Work ${run}`;

let dir: string;
let dovecot: DovecotInstance;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-push-quiet-'));
  await chmod(dir, 0o755);
  dovecot = await startDovecot(path.join(dir, 'dovecot'), [olga, pia, quinn]);
  for (const user of [olga, pia, quinn]) {
    const c = await imapConnect(dovecot, user);
    await c.mailboxCreate(work);
    await c.append(work, mail(`work first ${run}`));
    await c.logout();
  }
});
afterAll(async () => {
  await dovecot?.stop();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function expectChanges(reply: Promise<EasReply>, folder: string): Promise<void> {
  const answered = await within(reply, 10_000);
  expect(answered).not.toBe(HELD);
  const { status, folders } = await pingStatus(answered as EasReply);
  expect(status).toBe('2');
  expect(folders).toEqual([folder]);
}

describe('a folder joining a running IDLE + STATUS watch', () => {
  it('mail landing between the joining Ping’s look and the watcher’s first STATUS of it answers that Ping', async () => {
    const easd = await startPushEasd({
      imap: dovecot,
      // polls only when poked (a folder joins); the watcher lingers, so the joining folder's
      // subscription joins the running session instead of starting a new one
      backend: { watchNotify: false, watchPollMs: 600_000, watchLingerMs: 60_000 },
      stateUrl: stack.redis.url,
      dataDir: dir,
      namespace: `pushquietjoin${run}`,
    });
    try {
      const a = new Phone(easd.app, olga, `JOINA${run}`);
      const b = new Phone(easd.app, olga, `JOINB${run}`);
      for (const p of [a, b]) {
        await p.setUp();
        await p.syncAll('Inbox');
        await p.syncAll(work);
      }
      // device A holds a Ping on Inbox alone: the watcher runs, Work is not watched
      const heldA = a.ping(['Inbox']);
      expect(await within(heldA, 700)).toBe(HELD);
      expect(easd.backend.inspect().find((s) => s.login === olga.user)).toMatchObject({ watchMode: 'idle' });

      // The exact order of the race: device B's first look finds Work quiet (noteQuiet), then a
      // message lands in Work, then the watcher sends its first STATUS of Work.
      const order: string[] = [];
      let noted!: () => void;
      const workNoted = new Promise<void>((resolve) => (noted = resolve));
      const noteQuiet = easd.hub.noteQuiet.bind(easd.hub);
      vi.spyOn(easd.hub, 'noteQuiet').mockImplementation((...args) => {
        noteQuiet(...args);
        if (args[2] === b.id(work)) {
          order.push('look noted Work quiet');
          noted();
        }
      });
      let landed = false;
      const status = ImapFlow.prototype.status;
      // only the watcher sends STATUS; its first one of Work waits for B's look and the delivery
      vi.spyOn(ImapFlow.prototype, 'status').mockImplementation(async function (this: ImapFlow, p, q) {
        if (p === work && !landed) {
          landed = true;
          await Promise.race([workNoted, new Promise((r) => setTimeout(r, 5000))]);
          await appendMessage(dovecot, olga, work, mail(`between ${run}`));
          order.push('delivered, first STATUS of Work');
        }
        return status.call(this, p, q);
      });

      const heldB = b.ping(['Inbox', work]);
      await expectChanges(heldB, b.id(work));
      expect(order).toEqual(['look noted Work quiet', 'delivered, first STATUS of Work']);
      expect(await within(heldA, 300)).toBe(HELD);
    } finally {
      await easd.close();
    }
  });
});

describe.each([
  ['IDLE + STATUS polls', 'idle', pia],
  ['NOTIFY', 'notify', quinn],
] as const)('a server without CONDSTORE, watched with %s', (_name, mode, user) => {
  it('a flag changed in another folder while a Ping was held is reported by the next Ping', async () => {
    const hide = ['CONDSTORE', 'QRESYNC', ...(mode === 'idle' ? ['NOTIFY'] : [])];
    const proxy = new ImapProxy(dovecot, { hide });
    const port = await proxy.listen();
    const easd = await startPushEasd({
      imap: { host: dovecot.host, port },
      backend: { watchPollMs: 300 },
      stateUrl: stack.redis.url,
      dataDir: dir,
      namespace: `pushquietnomodseq${run}${mode}`,
    });
    try {
      const phone = new Phone(easd.app, user, `NOMODSEQ${mode}${run}`);
      await phone.setUp();
      await phone.syncAll('Inbox');
      await phone.syncAll(work);
      const first = phone.ping(['Inbox', work]);
      expect(await within(first, 700)).toBe(HELD);
      expect(easd.backend.inspect().find((s) => s.login === user.user)).toMatchObject({ watchMode: mode });
      // another client flags the message in Work: STATUS without HIGHESTMODSEQ cannot tell
      const c = await imapConnect(dovecot, user);
      try {
        const lock = await c.getMailboxLock(work);
        try {
          await c.messageFlagsAdd({ subject: `work first ${run}` }, ['\\Flagged']);
        } finally {
          lock.release();
        }
      } finally {
        await c.logout();
      }
      // the device's next Ping (ending the first) looks at Work instead of trusting the silence
      const next = phone.ping(['Inbox', work]);
      await expectChanges(next, phone.id(work));
      await first;
    } finally {
      await easd.close();
      await proxy.close();
    }
  });
});
