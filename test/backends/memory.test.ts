// The memory backend: the conformance kit, then what only it promises (persistence, internal
// delivery, the users file, the demo account).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAccount,
  ensureDemoAccount,
  openMemoryBackend,
  readAccounts,
  stripBcc,
  type MemoryBackend,
} from '../../backends/memory/index.js';
import { describeBackendConformance } from '../../backends/testkit/index.js';
import { alice, bob, createTestUsers, everyCapability, mailFromBob, message, signal } from './support.js';
import type { Account, ChangeHint } from '../../src/backend/contract.js';

async function freshDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'easd-memory-'));
}

describeBackendConformance(
  'memory',
  async () => {
    const dir = await freshDir();
    await createTestUsers(dir);
    const backend = await openMemoryBackend({ dataDir: dir, flushDelayMs: 10 });
    return {
      backend,
      credentials: alice,
      otherCredentials: bob,
      injectExternalChange: mailFromBob(backend),
      teardown: async () => {
        await backend.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  everyCapability,
);

describe('memory backend', () => {
  let dir: string;
  let backend: MemoryBackend;
  let a: Account;
  let b: Account;

  beforeEach(async () => {
    dir = await freshDir();
    await createTestUsers(dir);
    backend = await openMemoryBackend({ dataDir: dir, flushDelayMs: 10 });
    a = (await backend.authenticate(alice.user, alice.password, signal)) as Account;
    b = (await backend.authenticate(bob.user, bob.password, signal)) as Account;
  });

  afterEach(async () => {
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  const folderId = async (acc: Account, role: string): Promise<string> => {
    const f = (await backend.listFolders(acc, signal)).find(
      (x) => x.role === role && (role !== 'default' || x.class === 'Contacts'),
    );
    if (f === undefined) throw new Error(`no ${role} folder`);
    return f.id;
  };

  it("never serves one account's message to another, though both count ids and versions alike", async () => {
    const put = async (acc: Account, subject: string): Promise<string> => {
      const mime = Buffer.from(`From: ${acc.email}\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n`);
      const stamp = await backend.createItem(
        acc,
        await folderId(acc, 'inbox'),
        { class: 'Email', item: { Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } } },
        signal,
      );
      return stamp.id;
    };
    const idA = await put(a, 'for alice');
    const idB = await put(b, 'for bob');
    expect(idA).toBe(idB); // the same id in both accounts is what made a shared cache key collide
    const [readA] = await backend.getItems(
      a,
      await folderId(a, 'inbox'),
      [idA],
      { bodyPreferences: [] },
      signal,
    );
    const [readB] = await backend.getItems(
      b,
      await folderId(b, 'inbox'),
      [idB],
      { bodyPreferences: [] },
      signal,
    );
    expect((readA?.item as { Subject?: string }).Subject).toBe('for alice');
    expect((readB?.item as { Subject?: string }).Subject).toBe('for bob');
  });

  it('creates the default folders, one of each role', async () => {
    const folders = await backend.listFolders(a, signal);
    expect(folders.map((f) => `${f.class}/${f.role}/${f.displayName}`)).toEqual([
      'Email/inbox/Inbox',
      'Email/drafts/Drafts',
      'Email/deleted/Deleted Items',
      'Email/sent/Sent Items',
      'Email/outbox/Outbox',
      'Email/junk/Junk',
      'Calendar/default/Calendar',
      'Contacts/default/Contacts',
      'Tasks/default/Tasks',
      'Notes/default/Notes',
    ]);
  });

  it('logs in by address as well as by user name, case-insensitively', async () => {
    expect((await backend.authenticate('ALICE@example.org', alice.password, signal))?.user).toBe('alice');
    expect((await backend.authenticate('Alice', alice.password, signal))?.email).toBe('alice@example.org');
  });

  it('keeps everything across close and reopen, including change-log cursors', async () => {
    const contacts = await folderId(a, 'default');
    const stamp = await backend.createItem(
      a,
      contacts,
      {
        class: 'Contacts',
        item: { FirstName: 'Ada', Birthday: new Date('1815-12-10T00:00:00Z'), Picture: 'iVBORw0KGgo=' },
      },
      signal,
    );
    const drafts = await folderId(a, 'drafts');
    const draft = await backend.createItem(
      a,
      drafts,
      { class: 'Email', item: { Subject: 'kept', Body: { Type: 1, EstimatedDataSize: 5, Data: 'hello' } } },
      signal,
    );
    await backend.updateItem(
      a,
      drafts,
      draft.id,
      { class: 'Email', item: { Read: false, Flag: { Status: 2 } } },
      {},
      signal,
    );
    const cursor = await backend.changes.currentCursor(a, contacts, signal);
    const renamed = await backend.folders.createFolder(a, null, 'Projects', 'Email', signal);
    await backend.oof.set(
      a,
      { OofState: 1, OofMessage: [{ AppliesTo: 'Internal', Enabled: true, ReplyMessage: 'Away' }] },
      signal,
    );
    await backend.close();

    backend = await openMemoryBackend({ dataDir: dir });
    a = (await backend.authenticate(alice.user, alice.password, signal)) as Account;
    const [contact] = await backend.getItems(a, contacts, [stamp.id], { bodyPreferences: [] }, signal);
    expect(contact).toMatchObject({
      id: stamp.id,
      version: stamp.version,
      item: { FirstName: 'Ada', Picture: 'iVBORw0KGgo=' },
    });
    expect((contact?.item as { Birthday?: Date }).Birthday).toEqual(new Date('1815-12-10T00:00:00Z'));
    const [mail] = await backend.getItems(a, drafts, [draft.id], { bodyPreferences: [{ Type: 1 }] }, signal);
    expect(mail?.item).toMatchObject({ Subject: 'kept', Read: false, Flag: { Status: 2 }, IsDraft: true });
    expect((await backend.listFolders(a, signal)).map((f) => f.id)).toContain(renamed.id);
    expect((await backend.oof.get(a, signal)).OofState).toBe(1);
    expect((await backend.changes.changesSince(a, contacts, cursor, signal)).changes).toEqual([]);
  });

  it('writes files atomically: no temporary files left, valid JSON, no passwords in clear', async () => {
    await backend.createItem(
      a,
      await folderId(a, 'default'),
      { class: 'Contacts', item: { FirstName: 'x' } },
      signal,
    );
    await backend.close();
    const files = await readdir(path.join(dir, 'mailboxes'));
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
    for (const f of files) JSON.parse(await readFile(path.join(dir, 'mailboxes', f), 'utf8'));
    const users = await readFile(path.join(dir, 'accounts.json'), 'utf8');
    expect(users).not.toContain(alice.password);
    expect(users).toMatch(/"passwordHash": "scrypt\$/);
    backend = await openMemoryBackend({ dataDir: dir });
  });

  it('delivers mail between its accounts, keeps a Sent copy, strips Bcc, and records remote mail', async () => {
    const hints: ChangeHint[] = [];
    const ac = new AbortController();
    const bobInbox = await folderId(b, 'inbox');
    const watching = backend.watch(b, [bobInbox], (h) => hints.push(h), ac.signal);
    const mime = message(
      'alice@example.org',
      'Bob <BOB@example.org>, carol@remote.example',
      'Lunch?',
      'Bcc: secret@remote.example\r\n',
    );
    await backend.mail.send(a, mime, { saveInSent: true }, signal);

    const stamps = await backend.listStamps(b, bobInbox, {}, signal);
    expect(stamps).toHaveLength(1);
    const [got] = await backend.getItems(
      b,
      bobInbox,
      [stamps[0]?.id ?? ''],
      { bodyPreferences: [{ Type: 4 }], MIMESupport: 2 },
      signal,
    );
    expect(got?.item).toMatchObject({ Subject: 'Lunch?', Read: false, From: 'alice@example.org' });
    const delivered = Buffer.from(
      (got?.item as { Body?: { Data?: Uint8Array } }).Body?.Data ?? new Uint8Array(),
    ).toString();
    expect(delivered).not.toMatch(/secret@remote/);
    expect(hints).toContainEqual({ folderId: bobInbox });

    const sent = await backend.listStamps(a, await folderId(a, 'sent'), {}, signal);
    expect(sent).toHaveLength(1);
    const outbox = (await readFile(path.join(dir, 'outbox.jsonl'), 'utf8')).trim().split('\n');
    expect(outbox).toHaveLength(1);
    const record = JSON.parse(outbox[0] ?? '{}') as { from: string; to: string[]; mime: string };
    expect(record.from).toBe('alice@example.org');
    expect(record.to).toEqual(['carol@remote.example', 'secret@remote.example']);
    expect(Buffer.from(record.mime, 'base64').toString()).not.toMatch(/^Bcc:/im);
    ac.abort();
    await watching;
  });

  it('refuses mail sent as someone else', async () => {
    const spoof = message('bob@example.org', 'carol@remote.example', 'from bob?');
    await expect(backend.mail.send(a, spoof, { saveInSent: false }, signal)).rejects.toMatchObject({
      kind: 'denied',
    });
  });

  it('refuses mail without recipients and mail over the size limit', async () => {
    await expect(
      backend.mail.send(a, new TextEncoder().encode('Subject: none\r\n\r\nx'), { saveInSent: false }, signal),
    ).rejects.toMatchObject({ kind: 'denied' });
    const small = await openMemoryBackend({ dataDir: dir, maxMessageBytes: 10 });
    const sa = (await small.authenticate(alice.user, alice.password, signal)) as Account;
    await expect(
      small.mail.send(sa, message('a@x', 'bob@example.org', 'big'), { saveInSent: false }, signal),
    ).rejects.toMatchObject({ kind: 'too-large' });
    await small.close();
  });

  it('keeps a draft edit: new fields, attachments kept unless deleted', async () => {
    const drafts = await folderId(a, 'drafts');
    const file = (name: string, text: string) => ({
      ClientId: name,
      DisplayName: name,
      Method: 1 as const,
      Content: new TextEncoder().encode(text),
      ContentType: 'text/plain',
    });
    const s = await backend.createItem(
      a,
      drafts,
      {
        class: 'Email',
        item: {
          Subject: 'v1',
          To: 'bob@example.org',
          Body: { Type: 1, EstimatedDataSize: 2, Data: 'v1' },
          AttachmentsAdd: [file('a.txt', 'A'), file('b.txt', 'B')],
        },
      },
      signal,
    );
    const [v1] = await backend.getItems(a, drafts, [s.id], { bodyPreferences: [{ Type: 1 }] }, signal);
    const refs = (
      (v1?.item as { Attachments?: Array<{ FileReference: string; DisplayName?: string }> }).Attachments ?? []
    ).map((x) => x);
    expect(refs.map((r) => r.DisplayName)).toEqual(['a.txt', 'b.txt']);
    await backend.updateItem(
      a,
      drafts,
      s.id,
      {
        class: 'Email',
        item: {
          Subject: 'v2',
          AttachmentsDelete: [refs[0]?.FileReference ?? ''],
          AttachmentsAdd: [file('c.txt', 'C')],
        },
      },
      {},
      signal,
    );
    const [v2] = await backend.getItems(a, drafts, [s.id], { bodyPreferences: [{ Type: 1 }] }, signal);
    expect(v2?.item).toMatchObject({ Subject: 'v2', To: 'bob@example.org', Body: { Data: 'v1' } });
    expect(
      ((v2?.item as { Attachments?: Array<{ DisplayName?: string }> }).Attachments ?? []).map(
        (x) => x.DisplayName,
      ),
    ).toEqual(['b.txt', 'c.txt']);
  });

  it('stores calendar attachments (16.x) and serves them by FileReference', async () => {
    const cal = (await backend.listFolders(a, signal)).find((f) => f.class === 'Calendar')?.id ?? '';
    const s = await backend.createItem(
      a,
      cal,
      {
        class: 'Calendar',
        item: {
          Subject: 'with file',
          AttachmentsAdd: [
            {
              ClientId: '1',
              DisplayName: 'plan.txt',
              Method: 1,
              Content: new TextEncoder().encode('plan'),
              ContentType: 'text/plain',
            },
          ],
        },
      },
      signal,
    );
    const [got] = await backend.getItems(a, cal, [s.id], { bodyPreferences: [] }, signal);
    const ref =
      (got?.item as { Attachments?: Array<{ FileReference: string }> }).Attachments?.[0]?.FileReference ?? '';
    const content = await backend.attachments.getAttachment(a, ref, signal);
    expect(content).toMatchObject({ contentType: 'text/plain', length: 4 });
    await expect(backend.attachments.getAttachment(b, ref, signal)).rejects.toMatchObject({
      kind: 'not-found',
    });
    await expect(backend.attachments.getAttachment(a, 'nonsense', signal)).rejects.toMatchObject({
      kind: 'not-found',
    });
  });

  it('filters listings by date (FilterType) and lists newest first', async () => {
    const inbox = await folderId(a, 'inbox');
    const at = (d: string) => new TextEncoder().encode(`Subject: ${d}\r\nDate: ${d}\r\n\r\nx\r\n`);
    const old = await backend.createItem(
      a,
      inbox,
      {
        class: 'Email',
        item: {
          DateReceived: new Date('2020-01-01T00:00:00Z'),
          Body: { Type: 4, EstimatedDataSize: 0, Data: at('Wed, 01 Jan 2020 00:00:00 +0000') },
        },
      },
      signal,
    );
    const recent = await backend.createItem(
      a,
      inbox,
      {
        class: 'Email',
        item: {
          DateReceived: new Date('2025-01-01T00:00:00Z'),
          Body: { Type: 4, EstimatedDataSize: 0, Data: at('Wed, 01 Jan 2025 00:00:00 +0000') },
        },
      },
      signal,
    );
    expect((await backend.listStamps(a, inbox, {}, signal)).map((s) => s.id)).toEqual([recent.id, old.id]);
    expect(
      (await backend.listStamps(a, inbox, { since: new Date('2024-01-01T00:00:00Z') }, signal)).map(
        (s) => s.id,
      ),
    ).toEqual([recent.id]);
  });

  it('answers cursor-expired once a folder log has been trimmed past the cursor', async () => {
    const notes = (await backend.listFolders(a, signal)).find((f) => f.class === 'Notes')?.id ?? '';
    const cursor = await backend.changes.currentCursor(a, notes, signal);
    const s = await backend.createItem(a, notes, { class: 'Notes', item: { Subject: 'n' } }, signal);
    for (let i = 0; i < 2001; i++)
      await backend.updateItem(a, notes, s.id, { class: 'Notes', item: { Subject: `n${i}` } }, {}, signal);
    await expect(backend.changes.changesSince(a, notes, cursor, signal)).rejects.toMatchObject({
      kind: 'cursor-expired',
    });
    const fresh = await backend.changes.currentCursor(a, notes, signal);
    expect((await backend.changes.changesSince(a, notes, fresh, signal)).changes).toEqual([]);
  });

  it('stops at once when the signal has fired', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(backend.listFolders(a, ac.signal)).rejects.toThrow();
    await expect(backend.watch(a, [], () => undefined, ac.signal)).rejects.toThrow();
  });

  it('refuses an account object that did not come from it', async () => {
    await expect(
      backend.listFolders({ user: 'alice', email: 'alice@example.org' }, signal),
    ).rejects.toMatchObject({ kind: 'auth' });
  });
});

describe('memory backend accounts', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await freshDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a demo account on first start only, with a password that works', async () => {
    const demo = await ensureDemoAccount(dir);
    expect(demo?.user).toBe('demo');
    expect(demo?.password.length).toBeGreaterThanOrEqual(16);
    expect(await ensureDemoAccount(dir)).toBeNull();
    const backend = await openMemoryBackend({ dataDir: dir });
    const acc = await backend.authenticate('demo', demo?.password ?? '', signal);
    expect(acc).toMatchObject({ user: 'demo', email: 'demo@easd.local', displayName: 'Demo User' });
    await backend.close();
  });

  it('does not make a demo account when there are accounts', async () => {
    await createAccount(dir, { user: 'zoe', password: 'zoe-password' });
    expect(await ensureDemoAccount(dir)).toBeNull();
    expect((await readAccounts(dir)).map((x) => x.user)).toEqual(['zoe']);
  });

  it.each([
    ['a taken user name (any case)', { user: 'ZOE', password: 'another-password' }],
    ['a taken address', { user: 'zed', password: 'another-password', email: 'zoe@easd.local' }],
    ['a short password', { user: 'yan', password: 'short' }],
    ['a user name with spaces', { user: 'y a n', password: 'long-enough' }],
  ])('refuses %s', async (_name, account) => {
    await createAccount(dir, { user: 'zoe', password: 'zoe-password' });
    await expect(createAccount(dir, account)).rejects.toThrow();
  });

  it('sees accounts added while it runs', async () => {
    const backend = await openMemoryBackend({ dataDir: dir });
    expect(await backend.authenticate('late', 'late-password', signal)).toBeNull();
    await createAccount(dir, { user: 'late', password: 'late-password' });
    expect(await backend.authenticate('late', 'late-password', signal)).not.toBeNull();
    await backend.close();
  });
});

describe('stripBcc', () => {
  it.each([
    [
      'a one-line Bcc',
      'To: a@x\r\nBcc: b@x\r\nSubject: s\r\n\r\nBcc: body stays\r\n',
      'To: a@x\r\nSubject: s\r\n\r\nBcc: body stays\r\n',
    ],
    ['a folded Bcc', 'Bcc: b@x,\r\n c@x\r\nSubject: s\r\n\r\nx', 'Subject: s\r\n\r\nx'],
    ['no Bcc', 'To: a@x\r\n\r\nx', 'To: a@x\r\n\r\nx'],
  ])('removes %s from the header only', (_name, input, output) => {
    expect(Buffer.from(stripBcc(Buffer.from(input))).toString()).toBe(output);
  });
});
