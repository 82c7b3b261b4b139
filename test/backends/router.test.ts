// The router: the conformance kit over two memory backends (mail from one, the rest from the
// other), then what only the router does (prefixes, partial logins, constructor checks).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, openMemoryBackend, type MemoryBackend } from '../../backends/memory/index.js';
import { describeBackendConformance } from '../../backends/testkit/index.js';
import { alice, bob, everyCapability, mailFromBob, signal } from './support.js';
import type { Account, Backend, ChangeHint } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import { BackendRouter } from '../../src/backend/router.js';

interface Pair {
  router: BackendRouter;
  mail: MemoryBackend;
  dav: MemoryBackend;
  dirs: string[];
  close(): Promise<void>;
}

async function openPair(extraMailUsers: Array<{ user: string; password: string }> = []): Promise<Pair> {
  const dirs = await Promise.all([0, 1].map(() => mkdtemp(path.join(tmpdir(), 'easd-router-'))));
  const [mailDir, davDir] = dirs as [string, string];
  for (const dir of dirs) {
    await createAccount(dir, { ...alice, email: 'alice@example.org' });
    await createAccount(dir, { ...bob, email: 'bob@example.org' });
  }
  for (const u of extraMailUsers) await createAccount(mailDir, u);
  const mail = await openMemoryBackend({ dataDir: mailDir, flushDelayMs: 10 });
  const dav = await openMemoryBackend({ dataDir: davDir, flushDelayMs: 10 });
  const router = new BackendRouter([
    { prefix: 'm', backend: mail, classes: ['Email'] },
    { prefix: 'd', backend: dav, classes: ['Calendar', 'Contacts', 'Tasks', 'Notes'] },
  ]);
  return {
    router,
    mail,
    dav,
    dirs,
    close: async () => {
      await router.close();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

describeBackendConformance(
  'router (mail memory + DAV memory)',
  async () => {
    const pair = await openPair();
    return {
      backend: pair.router,
      credentials: alice,
      otherCredentials: bob,
      injectExternalChange: mailFromBob(pair.router),
      teardown: () => pair.close(),
    };
  },
  everyCapability,
);

describe('BackendRouter', () => {
  let pair: Pair;
  let a: Account;

  beforeAll(async () => {
    pair = await openPair([{ user: 'carol', password: 'carol-password' }]);
    a = (await pair.router.authenticate(alice.user, alice.password, signal)) as Account;
  });
  afterAll(async () => {
    await pair.close();
  });

  it('prefixes folder ids per mount and shows each class from its own mount only', async () => {
    const folders = await pair.router.listFolders(a, signal);
    expect(folders.filter((f) => f.class === 'Email').every((f) => f.id.startsWith('m:'))).toBe(true);
    expect(folders.filter((f) => f.class !== 'Email').every((f) => f.id.startsWith('d:'))).toBe(true);
    expect(folders.filter((f) => f.class === 'Calendar')).toHaveLength(1);
    expect(folders.filter((f) => f.role === 'inbox')).toHaveLength(1);
  });

  it.each(['x:1', '1', ':1', ''])('answers not-found for the folder id "%s"', async (id) => {
    await expect(pair.router.listStamps(a, id, {}, signal)).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('routes writes to the right store', async () => {
    const contacts = (await pair.router.listFolders(a, signal)).find((f) => f.class === 'Contacts')?.id ?? '';
    const stamp = await pair.router.createItem(
      a,
      contacts,
      { class: 'Contacts', item: { FirstName: 'Routed' } },
      signal,
    );
    const inner = (await pair.dav.authenticate(alice.user, alice.password, signal)) as Account;
    const got = await pair.dav.getItems(
      inner,
      contacts.slice(2),
      [stamp.id],
      { bodyPreferences: [] },
      signal,
    );
    expect(got[0]?.item).toMatchObject({ FirstName: 'Routed' });
  });

  it("polls a mount that cannot watch: its folders are blind, then hinted at the mount's pace", async () => {
    // the DAV side as CardDAV/CalDAV are: no watch of their own
    const noWatch = Object.create(pair.dav, { watch: { value: undefined } }) as Backend;
    const router = new BackendRouter([
      { prefix: 'm', backend: pair.mail, classes: ['Email'] },
      { prefix: 'd', backend: noWatch, classes: ['Contacts'], pollMs: 20 },
    ]);
    const contacts = (await router.listFolders(a, signal)).find((f) => f.class === 'Contacts')?.id ?? '';
    const hints: ChangeHint[] = [];
    const ac = new AbortController();
    const watching = router.watch!(a, [contacts], (h) => hints.push(h), ac.signal);
    expect(hints).toEqual([{ folderId: contacts, blind: true }]);
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await watching;
    const polled = hints.length;
    expect(hints.slice(1).every((h) => h.folderId === contacts && h.blind === undefined)).toBe(true);
    expect(polled).toBeGreaterThan(1);
    // the watch ended: no more hints
    await new Promise((r) => setTimeout(r, 60));
    expect(hints.length).toBe(polled);
  });

  it('prefixes FileReferences and watch hints, and routes them back', async () => {
    const inbox = (await pair.router.listFolders(a, signal)).find((f) => f.role === 'inbox')?.id ?? '';
    const hints: ChangeHint[] = [];
    const ac = new AbortController();
    const watching = pair.router.watch!(a, [inbox], (h) => hints.push(h), ac.signal);
    const raw = new TextEncoder().encode(
      'Subject: file\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="x.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n',
    );
    const stamp = await pair.router.createItem(
      a,
      inbox,
      { class: 'Email', item: { Body: { Type: 4, EstimatedDataSize: raw.byteLength, Data: raw } } },
      signal,
    );
    expect(hints).toContainEqual({ folderId: inbox });
    ac.abort();
    await watching;
    const [rec] = await pair.router.getItems(a, inbox, [stamp.id], { bodyPreferences: [] }, signal);
    const ref =
      (rec?.item as { Attachments?: Array<{ FileReference: string }> }).Attachments?.[0]?.FileReference ?? '';
    expect(ref.startsWith('m:')).toBe(true);
    const content = await pair.router.attachments!.getAttachment(a, ref, signal);
    expect(content.length).toBe(3);
    await expect(pair.router.attachments!.getAttachment(a, ref.slice(2), signal)).rejects.toMatchObject({
      kind: 'not-found',
    });
  });

  it('lets a user in whose other stores refuse the password, with mail folders only', async () => {
    const carol = (await pair.router.authenticate('carol', 'carol-password', signal)) as Account;
    expect(carol).not.toBeNull();
    const folders = await pair.router.listFolders(carol, signal);
    expect(folders.length).toBeGreaterThan(0);
    expect(folders.every((f) => f.class === 'Email')).toBe(true);
  });

  it('fails the folder list with unavailable when a secondary store was down at login', async () => {
    // the DAV store, except that it cannot be reached at login
    const down: Backend = Object.assign(Object.create(pair.dav) as MemoryBackend, {
      authenticate: () => Promise.reject(new BackendError('unavailable', 'connection refused')),
    });
    const router = new BackendRouter([
      { prefix: 'm', backend: pair.mail, classes: ['Email'] },
      { prefix: 'd', backend: down, classes: ['Contacts'] },
    ]);
    const acc = await router.authenticate(alice.user, alice.password, signal);
    expect(acc).not.toBeNull();
    await expect(router.listFolders(acc as Account, signal)).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('refuses to log in when the primary store refuses', async () => {
    expect(await pair.router.authenticate(alice.user, 'wrong-password', signal)).toBeNull();
  });

  it('refuses an account it did not sign in', async () => {
    await expect(
      pair.router.listFolders({ user: 'alice', email: 'alice@example.org' }, signal),
    ).rejects.toMatchObject({ kind: 'auth' });
  });

  it.each([
    ['no mounts', []],
    ['a bad prefix', [{ prefix: 'm:', classes: ['Email'] }]],
    [
      'a prefix twice',
      [
        { prefix: 'm', classes: ['Email'] },
        { prefix: 'm', classes: ['Contacts'] },
      ],
    ],
    [
      'a class twice',
      [
        { prefix: 'm', classes: ['Email'] },
        { prefix: 'd', classes: ['Email'] },
      ],
    ],
  ] as const)('refuses %s', (_name, mounts) => {
    expect(() => new BackendRouter(mounts.map((m) => ({ ...m, backend: pair.mail })))).toThrow();
  });
});
