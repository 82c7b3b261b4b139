// Direct Push on the real Dovecot and Redis (issue 6): a phone's Ping held by easd on the IMAP
// backend is answered when another IMAP client APPENDs, changes a flag, expunges or creates a
// folder; a body-less Ping reuses the last one; a newer Ping ends the older; and once the Pings
// end, nothing is left — no watcher, timer or socket in easd, no connection on Dovecot. The
// Dovecot is this file's own instance (its users, connection count and log are only ours);
// state and push signals go through the stack's Redis.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  imapConnect,
  imapConnections,
  imapLogins,
  startDovecot,
  type DovecotInstance,
} from '../stack/dovecot.js';
import { EasdMetrics } from '../../src/metrics/index.js';
import { spawnDaemon, tcpExchange, waitUntilReady } from '../stack/process.js';
import type { TestUser } from '../stack/users.js';
import type { EasReply } from '../support/eas-client.js';
import { HELD, mail, Phone, pingStatus, startPushEasd, within, type PushEasd } from './push-phone.js';

const stack = inject('stack');
const run = `${process.pid}x${Date.now()}`;
const dana: TestUser = { user: 'dana', password: 'dana-pw-5Tq1', email: 'dana@easd.test' };
const erin: TestUser = { user: 'erin', password: 'erin-pw-2Wm8', email: 'erin@easd.test' };
const hal: TestUser = { user: 'hal', password: 'hal-pw-7Kc3', email: 'hal@easd.test' };
const kim: TestUser = { user: 'kim', password: 'kim-pw-9Hs6', email: 'kim@easd.test' };
const lee: TestUser = { user: 'lee', password: 'lee-pw-3Vb8', email: 'lee@easd.test' };
const mia: TestUser = { user: 'mia', password: 'mia-pw-6Jp2', email: 'mia@easd.test' };

let dir: string;
let dovecot: DovecotInstance;

/** easd on this file's Dovecot, state and push on the stack's Redis. */
function startEasd(watchNotify: boolean): Promise<PushEasd> {
  return startPushEasd({
    imap: dovecot,
    backend: {
      // pool connections go quickly, so what stays open while Pings are held is the watcher
      idleTimeoutMs: 300,
      watchNotify,
      // without NOTIFY, other folders are polled; with it nothing is, whatever this says
      watchPollMs: watchNotify ? 600_000 : 300,
    },
    stateUrl: stack.redis.url,
    dataDir: dir,
    namespace: `pushimap${run}${watchNotify ? 'n' : 'i'}`,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-push-imap-'));
  await chmod(dir, 0o755);
  dovecot = await startDovecot(path.join(dir, 'dovecot'), [dana, erin, hal, kim, lee, mia]);
});
afterAll(async () => {
  await dovecot?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function withImap<T>(user: TestUser, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = await imapConnect(dovecot, user);
  try {
    return await fn(c);
  } finally {
    await c.logout();
  }
}

/** The hub, the backend's watcher and easd's sockets and timers once every held request ended. */
async function expectNothingHeld(easd: PushEasd, user: string): Promise<void> {
  await vi.waitFor(() =>
    expect(easd.hub.stats()).toMatchObject({ users: 0, listeners: 0, claims: 0, watchers: 0 }),
  );
  await vi.waitFor(() => expect(easd.backend.inspect().find((s) => s.login === user)?.watching).toBe(false));
  // the pool's idle connections close after 300 ms: then Dovecot has none of the user's left
  await vi.waitFor(async () => expect(await imapConnections(dovecot, user)).toBe(0), { timeout: 5000 });
}

describe.each([
  ['NOTIFY', true],
  ['IDLE + STATUS polls', false],
] as const)('Ping on Dovecot, watching with %s', (_name, notify) => {
  let easd: PushEasd;
  let phone: Phone;
  const work = `Work ${run}`;
  const user = notify ? dana : erin;

  beforeAll(async () => {
    easd = await startEasd(notify);
    await withImap(user, async (c) => {
      await c.mailboxCreate(work);
      await c.append('INBOX', mail('first'));
      await c.append(work, mail('work first'));
    });
    phone = new Phone(easd.app, user, `PUSH${notify ? 'N' : 'I'}${run}`);
    await phone.setUp();
    await phone.syncAll('Inbox');
    await phone.syncAll(work);
  });
  afterAll(async () => {
    await easd?.close();
  });

  /** Holds a Ping on Inbox and Work, checks it waits, runs `change`, expects Status 2 naming `name`. */
  async function wakesOn(name: string, change: (c: ImapFlow) => Promise<unknown>): Promise<void> {
    const held = phone.ping(['Inbox', work]);
    expect(await within(held, 700)).toBe(HELD);
    if (notify) expect(easd.backend.inspect().find((s) => s.login === user.user)?.watchMode).toBe('notify');
    await withImap(user, change);
    const reply = await within(held, 10_000);
    expect(reply).not.toBe(HELD);
    const { status, folders } = await pingStatus(reply as EasReply);
    expect(status).toBe('2');
    expect(folders).toEqual([phone.id(name)]);
    await phone.syncAll(name);
  }

  it('answers Status 2 when another client APPENDs to INBOX', async () => {
    await wakesOn('Inbox', (c) => c.append('INBOX', mail(`new ${run}`)));
  });

  it('answers Status 2 when another client APPENDs to another folder', async () => {
    await wakesOn(work, (c) => c.append(work, mail(`work ${run}`)));
  });

  it('answers Status 2 when another client changes a flag (INBOX and another folder)', async () => {
    await wakesOn('Inbox', async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd('1', ['\\Flagged']);
    });
    await wakesOn(work, async (c) => {
      await c.mailboxOpen(work);
      await c.messageFlagsAdd('1', ['\\Seen']);
    });
  });

  it('answers Status 2 when another client deletes (expunges) a message', async () => {
    await wakesOn('Inbox', async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageDelete('1');
    });
    await wakesOn(work, async (c) => {
      await c.mailboxOpen(work);
      await c.messageDelete('1');
    });
  });

  it('answers Status 7 when another client creates a folder', async () => {
    const held = phone.ping(['Inbox', work]);
    expect(await within(held, 700)).toBe(HELD);
    await withImap(user, (c) => c.mailboxCreate(`New ${run}`));
    const reply = await within(held, 10_000);
    expect(reply).not.toBe(HELD);
    expect((await pingStatus(reply as EasReply)).status).toBe('7');
    await phone.folderSync();
    await phone.syncAll('Inbox');
    await phone.syncAll(work);
  });

  it('reuses the last folders and heartbeat for a body-less Ping', async () => {
    // the previous Ping (with a body) was cached for this device
    const first = phone.ping(['Inbox'], 300);
    expect(await within(first, 500)).toBe(HELD);
    await withImap(user, (c) => c.append('INBOX', mail(`cached ${run}`)));
    expect((await pingStatus(await first)).status).toBe('2');
    await phone.syncAll('Inbox');

    const bare = phone.ping(null);
    expect(await within(bare, 700)).toBe(HELD);
    await withImap(user, (c) => c.append('INBOX', mail(`bare ${run}`)));
    const { status, folders } = await pingStatus(await bare);
    expect(status).toBe('2');
    expect(folders).toEqual([phone.id('Inbox')]);
    await phone.syncAll('Inbox');
  });

  it('ends the older Ping when the same device sends a newer one', async () => {
    const older = phone.ping(['Inbox', work]);
    expect(await within(older, 500)).toBe(HELD);
    const newer = phone.ping(['Inbox', work]);
    const answered = await within(older, 5000);
    expect(answered).not.toBe(HELD);
    // Status 1: the phone goes on with the newer request
    expect((await pingStatus(answered as EasReply)).status).toBe('1');
    expect(await within(newer, 300)).toBe(HELD);
    await withImap(user, (c) => c.append(work, mail(`after supersede ${run}`)));
    expect((await pingStatus(await newer)).status).toBe('2');
    await phone.syncAll(work);
  });

  it('uses one IMAP connection per user however many devices, logs in once, and leaves nothing behind', async () => {
    await new Promise((r) => setTimeout(r, 500)); // the helper clients above are gone
    const timersAndSockets = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length;
    const resourcesBefore = timersAndSockets();
    const phones = [phone];
    for (let i = 0; i < 3; i++) {
      const p = new Phone(easd.app, user, `PUSHD${i}${notify ? 'N' : 'I'}${run}`);
      await p.setUp();
      await p.syncAll('Inbox');
      await p.syncAll(work);
      phones.push(p);
    }
    const held = phones.map((p) => p.ping(['Inbox', work]));
    for (const h of held) expect(await within(h, 100)).toBe(HELD);
    // the pool's connections time out after 300 ms; the watcher's stays, alone
    await vi.waitFor(async () => expect(await imapConnections(dovecot, user.user)).toBe(1), {
      timeout: 5000,
    });
    const state = easd.backend.inspect().find((s) => s.login === user.user)!;
    expect(state).toMatchObject({ watching: true, watchLogins: 1, connections: 0 });
    // held for a while: no login at all (nothing polls by logging in again)
    const loginsBefore = await imapLogins(dovecot, user.user);
    expect(loginsBefore).toBeGreaterThan(0); // the log does record logins
    await new Promise((r) => setTimeout(r, 2000));
    expect(await imapLogins(dovecot, user.user)).toBe(loginsBefore);
    expect(await imapConnections(dovecot, user.user)).toBe(1);

    // one APPEND wakes every device
    await withImap(user, (c) => c.append('INBOX', mail(`everyone ${run}`)));
    for (const h of held) expect((await pingStatus(await h)).status).toBe('2');
    await expectNothingHeld(easd, user.user);
    for (let i = 0; i < 30 && timersAndSockets() > resourcesBefore; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(timersAndSockets()).toBeLessThanOrEqual(resourcesBefore);
    for (const p of phones) await p.syncAll('Inbox');
  });
});

describe('a lingering watcher', () => {
  it("keeps the user's watch connection across a device's Ping cycles: no login per new mail", async () => {
    const easd = await startPushEasd({
      imap: dovecot,
      // the pool keeps its connections too, so every login Dovecot logs here is counted below
      backend: { watchLingerMs: 1500, idleTimeoutMs: 60_000 },
      stateUrl: stack.redis.url,
      dataDir: dir,
      namespace: `pushlinger${run}`,
    });
    try {
      const phone = new Phone(easd.app, hal, `LINGER${run}`);
      await phone.setUp();
      await phone.syncAll('Inbox');
      const first = phone.ping(['Inbox']);
      expect(await within(first, 500)).toBe(HELD);
      await withImap(hal, (c) => c.append('INBOX', mail(`cycle 0 ${run}`)));
      expect((await pingStatus(await first)).status).toBe('2');
      await phone.syncAll('Inbox');

      const before = await imapLogins(dovecot, hal.user);
      for (let i = 1; i <= 3; i++) {
        const held = phone.ping(['Inbox']);
        expect(await within(held, 300)).toBe(HELD);
        await withImap(hal, (c) => c.append('INBOX', mail(`cycle ${i} ${run}`)));
        expect((await pingStatus(await held)).status).toBe('2');
        await phone.syncAll('Inbox');
      }
      // three Ping cycles: the three helper clients logged in, easd did not
      expect((await imapLogins(dovecot, hal.user)) - before).toBe(3);
      expect(easd.backend.inspect().find((s) => s.login === hal.user)).toMatchObject({ watchLogins: 1 });
      // then it goes: no held request, no watcher
      await vi.waitFor(
        () => expect(easd.backend.inspect().find((s) => s.login === hal.user)?.watching).toBe(false),
        {
          timeout: 5000,
        },
      );
    } finally {
      await easd.close();
    }
  });
});

describe.each([
  ['NOTIFY', true, lee],
  ['IDLE + STATUS polls', false, mia],
] as const)(
  'Ping cycles with a heartbeat longer than every linger, watching with %s',
  (_name, notify, user) => {
    it('two devices of one user Ping on and on: no IMAP login and at most one connection, the watcher alone', async () => {
      // Scaled down from phones with a 15-minute heartbeat and easd's 60 s: a 2 s heartbeat
      // outlasts the pool's idle close (300 ms), the watcher's linger (300 ms) and the hub's (1 s).
      const metrics = new EasdMetrics();
      const easd = await startPushEasd({
        imap: dovecot,
        // without NOTIFY the watcher checks the other folders with STATUS on its own connection
        backend: { idleTimeoutMs: 300, watchLingerMs: 300, watchNotify: notify, watchPollMs: 300 },
        hubLingerMs: 1000,
        pushSettings: { heartbeatMin: 1 },
        metrics,
        stateUrl: stack.redis.url,
        dataDir: dir,
        namespace: `pushcycles${run}${notify ? 'n' : 'i'}`,
      });
      try {
        const work = `Work ${run}`;
        await withImap(user, async (c) => {
          await c.mailboxCreate(work);
          await c.append('INBOX', mail('first'));
        });
        const phones = [new Phone(easd.app, user, `CYCLEA${run}`), new Phone(easd.app, user, `CYCLEB${run}`)];
        for (const p of phones) {
          await p.setUp();
          await p.syncAll('Inbox');
          await p.syncAll(work);
        }
        const state = (): ReturnType<typeof easd.backend.inspect>[number] | undefined =>
          easd.backend.inspect().find((s) => s.login === user.user);
        /** Each phone Pings `cycles` times, each Ping answered by its heartbeat (Status 1), the next sent at once. */
        const cycles = async (cycles: number, during?: () => Promise<void>): Promise<void> => {
          await Promise.all(
            phones.map(async (p) => {
              for (let i = 0; i < cycles; i++) {
                const held = p.ping(['Inbox', work], 2);
                await during?.();
                expect((await pingStatus(await held)).status).toBe('1');
              }
            }),
          );
        };
        // the first cycle logs in: the watcher, and the pool for the first looks
        await cycles(1);
        await vi.waitFor(() => expect(state()).toMatchObject({ watching: true, watchLogins: 1 }));
        const loginsBefore = await imapLogins(dovecot, user.user);
        const openedBefore = state()!.opened;

        let most = 0;
        await cycles(4, async () => {
          most = Math.max(most, await imapConnections(dovecot, user.user));
        });
        // eight Pings over four heartbeats: nothing asked of Dovecot but the watcher's IDLE
        expect(await imapLogins(dovecot, user.user)).toBe(loginsBefore);
        expect(state()).toMatchObject({
          watching: true,
          watchLogins: 1,
          opened: openedBefore,
          connections: 0,
        });
        expect(most).toBe(1);

        // and a change still wakes both at once
        const both = phones.map((p) => p.ping(['Inbox', work], 60));
        for (const h of both) expect(await within(h, 300)).toBe(HELD);
        expect(await sample(metrics, 'easd_held_requests{command="Ping"}')).toBe(2);
        const wakes = await sample(metrics, 'easd_push_wake_seconds_count');
        await withImap(user, (c) => c.append(work, mail(`cycle news ${run}`)));
        for (const h of both) {
          const { status, folders } = await pingStatus(await h);
          expect([status, folders]).toEqual(['2', [phones[0]!.id(work)]]);
        }
        // the watcher's hint is what woke them: both wakes measured, nothing held
        expect(await sample(metrics, 'easd_push_wake_seconds_count')).toBe(wakes + 2);
        expect(await sample(metrics, 'easd_held_requests{command="Ping"}')).toBe(0);
        // the hub's entry (1 s), the watcher (300 ms) and the pool (300 ms) go in turn
        await vi.waitFor(() => expect(easd.hub.stats()).toMatchObject({ users: 0, watchers: 0 }), {
          timeout: 5000,
        });
        await expectNothingHeld(easd, user.user);
      } finally {
        await easd.close();
      }
    }, 60_000);
  },
);

/** A sample's value in the metrics' text exposition. */
async function sample(metrics: EasdMetrics, name: string): Promise<number> {
  const line = (await metrics.text()).split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.slice(name.length + 1) ?? NaN);
}

/**
 * Stops this file's Dovecot (shutdown_clients: every connection drops), waits for `down` while it
 * is stopped, and starts it again on the same port and data.
 */
async function restartDovecot(down: () => Promise<void>): Promise<void> {
  await dovecot.stop();
  await down();
  const daemon = spawnDaemon(
    'dovecot',
    '/usr/sbin/dovecot',
    ['-F', '-c', path.join(dovecot.dir, 'dovecot.conf')],
    path.join(dovecot.dir, 'stdio-restarted.log'),
  );
  dovecot = { ...dovecot, stop: () => daemon.stop() };
  await waitUntilReady(daemon, async () => /^\* OK/.test(await tcpExchange(dovecot.port, null, /\r\n/)));
}

describe('Dovecot restarted while a Ping is held', () => {
  it('the watcher reconnects, looks at everything, and the new mail answers the held Ping with Status 2', async () => {
    // the watcher's warnings, to see the outage last
    const warnings: Array<{ msg?: string; failures?: number }> = [];
    const easd = await startPushEasd({
      imap: dovecot,
      backend: { idleTimeoutMs: 300 },
      stateUrl: stack.redis.url,
      dataDir: dir,
      namespace: `pushoutage${run}`,
      logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) }),
    });
    try {
      const timersAndSockets = (): number =>
        process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length;
      const phone = new Phone(easd.app, kim, `OUTAGE${run}`);
      await phone.setUp();
      await phone.syncAll('Inbox');
      await new Promise((r) => setTimeout(r, 500)); // the pool's connections are gone
      const resourcesBefore = timersAndSockets();

      const held = phone.ping(['Inbox'], 3000);
      expect(await within(held, 700)).toBe(HELD);
      const watch = (): ReturnType<typeof easd.backend.inspect>[number] | undefined =>
        easd.backend.inspect().find((s) => s.login === kim.user);
      await vi.waitFor(() => expect(watch()).toMatchObject({ watchMode: 'notify', watchLogins: 1 }));

      // down until the watcher failed three times in a row (where it used to give up, leaving
      // held Pings deaf until their heartbeat)
      await restartDovecot(() =>
        vi.waitFor(
          () =>
            expect(warnings.filter((w) => w.msg?.startsWith('imap: watch') && w.failures === 3)).toHaveLength(
              1,
            ),
          { timeout: 20_000 },
        ),
      );
      // the watcher did not give up: it logged in again on the restarted server, and the hub
      // never fell back to checking at its own (here ten-minute) pace
      await vi.waitFor(() => expect(watch()).toMatchObject({ watching: true, watchLogins: 2 }), {
        timeout: 30_000,
      });
      expect(easd.hub.stats()).toMatchObject({ watchers: 1, pollers: 0, listeners: 1 });
      expect(await within(held, 0)).toBe(HELD); // nothing new yet: the look after reconnecting found nothing

      await withImap(kim, (c) => c.append('INBOX', mail(`after restart ${run}`)));
      // answered by the change (Status 2 naming Inbox), not by the heartbeat (3000 s): a Ping
      // left deaf would hold past this test's timeout
      const { status, folders } = await pingStatus(await held);
      expect(status).toBe('2');
      expect(folders).toEqual([phone.id('Inbox')]);
      await phone.syncAll('Inbox');

      await expectNothingHeld(easd, kim.user);
      for (let i = 0; i < 30 && timersAndSockets() > resourcesBefore; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(timersAndSockets()).toBeLessThanOrEqual(resourcesBefore);
    } finally {
      await easd.close();
    }
  }, 60_000);
});
