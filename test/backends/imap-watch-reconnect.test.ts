// The IMAP watcher's backoff when a session logs in and then fails at once (review finding 2): a
// Dovecot whose INBOX cannot be opened (its path is under /proc) accepts the login and refuses the
// EXAMINE. Such a session is no working watch: the reconnect delay must keep doubling instead of
// starting over at the first delay on every login (which made one login every 125–250 ms).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UserWatcher } from '../../backends/imap/watch.js';
import { imapConnect, startDovecot, type DovecotInstance } from '../stack/dovecot.js';
import type { TestUser } from '../stack/users.js';

const nell: TestUser = { user: 'nell', password: 'nell-pw-8Rz4', email: 'nell@easd.test' };

let dir: string;
let dovecot: DovecotInstance;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-watch-reconnect-'));
  await chmod(dir, 0o755);
  dovecot = await startDovecot(path.join(dir, 'dovecot'), [nell], {
    extraConfig:
      '\n# an INBOX nobody can create: login works, EXAMINE INBOX fails\nmail_location = maildir:~/Maildir:INBOX=/proc/easd-no-inbox\n',
  });
});
afterAll(async () => {
  await dovecot?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a watch session that fails right after its login', () => {
  it('backs off further on each attempt instead of starting over at each login', async () => {
    // the server does log in, and then refuses INBOX
    const probe = await imapConnect(dovecot, nell);
    await expect(probe.mailboxOpen('INBOX', { readOnly: true })).rejects.toThrow();
    await probe.logout();

    const warned: Array<{ failures: number; delay: number }> = [];
    const watcher = new UserWatcher({
      connect: () => imapConnect(dovecot, nell),
      folders: () => {},
      seen: new Map(),
      pollMs: 600_000,
      backoffMs: 20,
      reconnectMaxMs: 10_000,
      connectAttempts: 4,
      logger: {
        warn: (o: object) => warned.push(o as { failures: number; delay: number }),
        info: () => {},
        debug: () => {},
        error: () => {},
      } as never,
      onStop: () => {},
    });
    const stop = new AbortController();
    const subscribed = watcher.subscribe(['inbox'], () => {}, stop.signal);
    await vi.waitFor(() => expect(warned.length).toBeGreaterThanOrEqual(4), { timeout: 10_000 });
    stop.abort();
    await subscribed;
    await watcher.stop();
    // each attempt logged in, none reached IDLE: failures 1, 2, 3, 4 (delays 20, 40, 80, 160 ms
    // less up to half at random), where the counter used to start over at 1 after every login
    expect(warned.slice(0, 4).map((w) => w.failures)).toEqual([1, 2, 3, 4]);
    expect(warned[3]!.delay).toBeGreaterThanOrEqual(80);
    expect(watcher.logins).toBeGreaterThanOrEqual(4);
    expect(watcher.watching).toBe(0);
  });
});
