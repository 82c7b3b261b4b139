// The router's free/busy: asked of the mount that serves Calendar, with the user's address as that
// store knows it (the CalDAV store may name alice otherwise than the mail store does), and
// answered under the addresses the engine asked for. Two memory backends, the calendar one with a
// free/busy source added.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, openMemoryBackend } from '../../backends/memory/index.js';
import type { Backend, BusyPeriod, FreeBusySource } from '../../src/backend/contract.js';
import { BackendRouter } from '../../src/backend/router.js';
import { alice, signal } from './support.js';

const busy: BusyPeriod[] = [
  { start: new Date('2030-01-01T09:00:00Z'), end: new Date('2030-01-01T10:00:00Z'), type: 'busy' },
];

describe('router freeBusy', () => {
  let dirs: string[];
  let router: BackendRouter;
  const asked: Array<{ email: string; addresses: readonly string[] }> = [];

  beforeAll(async () => {
    dirs = await Promise.all([0, 1].map(() => mkdtemp(path.join(tmpdir(), 'easd-router-fb-'))));
    await createAccount(dirs[0]!, { ...alice, email: 'alice@mail.example.org' });
    await createAccount(dirs[1]!, { ...alice, email: 'alice@dav.example.org' });
    const mail = await openMemoryBackend({ dataDir: dirs[0]!, flushDelayMs: 10 });
    const calendars = await openMemoryBackend({ dataDir: dirs[1]!, flushDelayMs: 10 });
    const source: FreeBusySource = {
      freeBusy: (account, addresses) => {
        asked.push({ email: account.email, addresses });
        return Promise.resolve(
          new Map(addresses.filter((a) => a === account.email).map((a) => [a, busy] as const)),
        );
      },
    };
    const withFreeBusy = new Proxy(calendars, {
      get: (t, p) => (p === 'freeBusy' ? source : Reflect.get(t, p, t)),
    }) as Backend;
    router = new BackendRouter([
      { prefix: 'm', backend: mail, classes: ['Email'] },
      { prefix: 'd', backend: withFreeBusy, classes: ['Calendar', 'Contacts', 'Tasks', 'Notes'] },
    ]);
  });
  afterAll(async () => {
    await router?.close();
    await Promise.all((dirs ?? []).map((d) => rm(d, { recursive: true, force: true })));
  });

  it("asks the calendar store with its own name for the user, and answers under the engine's", async () => {
    const account = (await router.authenticate(alice.user, alice.password, signal))!;
    expect(account.email).toBe('alice@mail.example.org');
    const got = await router.freeBusy!.freeBusy(
      account,
      ['ALICE@mail.example.org', 'bob@example.org'],
      new Date('2030-01-01T00:00:00Z'),
      new Date('2030-01-02T00:00:00Z'),
      signal,
    );
    expect(asked).toEqual([
      { email: 'alice@dav.example.org', addresses: ['alice@dav.example.org', 'bob@example.org'] },
    ]);
    expect([...got]).toEqual([['ALICE@mail.example.org', busy]]);
  });

  it('has no freeBusy when the calendar mount has none', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'easd-router-fb-'));
    try {
      const plain = new BackendRouter([
        { prefix: 'm', backend: await openMemoryBackend({ dataDir: dir }), classes: ['Email', 'Calendar'] },
      ]);
      expect(plain.freeBusy).toBeUndefined();
      await plain.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
