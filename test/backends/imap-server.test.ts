// What only the IMAP backend promises, against the stack's Dovecot: roles from SPECIAL-USE and
// names, ids across UIDVALIDITY changes, changes by other IMAP clients (stamps and watch hints),
// a 10,000-message folder, charsets and malformed MIME, attachment streaming, the pool bound,
// watcher teardown, logins; through a proxy, a server without CONDSTORE/QRESYNC, cut connections and
// STARTTLS required. Mailboxes get a per-run name: other test files share this Dovecot.
import { randomBytes } from 'node:crypto';
import { ImapFlow, type ListResponse } from 'imapflow';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ImapBackend, mapUser, openImapBackend } from '../../backends/imap/index.js';
import { mailboxesFrom, foldersFrom } from '../../backends/imap/folders.js';
import { expectBackendError } from '../../backends/testkit/index.js';
import type { Account, ChangeHint, Folder } from '../../src/backend/contract.js';
import type { EmailItem } from '../../src/backend/model.js';
import { appendMessage, imapConnect } from '../stack/dovecot.js';
import { ImapProxy } from '../stack/imap-proxy.js';

const stack = inject('stack');
const carol = stack.users[2];
if (carol === undefined) throw new Error('test user carol missing');
const url = `imap://${stack.imap.host}:${stack.imap.port}?starttls=never`;
const signal = new AbortController().signal;
const run = randomBytes(3).toString('hex');
const plain = [{ Type: 1 as const }];

let backend: ImapBackend;
let account: Account;

const folderNamed = async (name: string): Promise<Folder> => {
  const f = (await backend.listFolders(account, signal)).find((x) => x.displayName === name);
  if (f === undefined) throw new Error(`no folder ${name}`);
  return f;
};

const msg = (subject: string, extra = '', body = 'Hello\r\n'): string =>
  `From: sender@example.com\r\nTo: carol@easd.test\r\nSubject: ${subject}\r\nDate: Mon, 03 Mar 2025 12:00:00 +0000\r\nMessage-ID: <${randomBytes(6).toString('hex')}@easd.test>\r\n${extra}\r\n${body}`;

async function withClient<T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = await imapConnect(stack.imap, carol!, { disableAutoIdle: true });
  try {
    return await fn(c);
  } finally {
    await c.logout();
  }
}

beforeAll(async () => {
  backend = await openImapBackend({ url, domain: 'easd.test', poolSize: 2, watchPollMs: 300 });
  const a = await backend.authenticate(carol.user, carol.password, signal);
  if (a === null) throw new Error('carol cannot log in');
  account = a;
});

afterAll(async () => {
  await backend.close();
});

describe('logins', () => {
  it('maps DOMAIN\\user and user@domain to the login, and gives the address', async () => {
    expect(mapUser('CORP\\carol')).toBe('carol');
    expect(mapUser('carol@easd.test')).toBe('carol@easd.test');
    expect(mapUser('CORP\\carol@easd.test', 'strip-domain')).toBe('carol');
    expect(mapUser('CORP\\carol', 'keep')).toBe('CORP\\carol');
    const a = await backend.authenticate('CORP\\carol', carol.password, signal);
    expect(a).toMatchObject({ user: 'CORP\\carol', email: 'carol@easd.test' });
    const b = await openImapBackend({ url, domain: 'easd.test', userMapping: 'strip-domain' });
    try {
      expect(await b.authenticate('carol@easd.test', carol.password, signal)).toMatchObject({
        email: 'carol@easd.test',
      });
      expect(await b.authenticate('carol@easd.test', 'wrong', signal)).toBeNull();
    } finally {
      await b.close();
    }
  });

  it('keeps no password on the account', async () => {
    expect(JSON.stringify(account)).not.toContain(carol.password);
  });

  it("says 'unavailable' when the server cannot be reached", async () => {
    const b = await openImapBackend({ url: 'imap://127.0.0.1:1?starttls=never', connectAttempts: 1 });
    await expectBackendError(b.authenticate('carol', 'x', signal), 'unavailable');
    await b.close();
  });

  it("an account whose credentials were forgotten gets 'auth'", async () => {
    await expectBackendError(
      backend.listFolders({ ...account, handle: { backend: 'imap', login: `nobody-${run}` } }, signal),
      'auth',
    );
  });
});

describe('folders', () => {
  it('gives roles from SPECIAL-USE; \\Archive stays a plain folder', async () => {
    const folders = await backend.listFolders(account, signal);
    const role = (r: string) => folders.filter((f) => f.role === r).map((f) => f.displayName);
    expect(role('inbox')).toEqual(['Inbox']);
    expect(role('drafts')).toEqual(['Drafts']);
    expect(role('sent')).toEqual(['Sent']);
    expect(role('deleted')).toEqual(['Trash']);
    expect(role('junk')).toEqual(['Junk']);
    expect(folders.find((f) => f.displayName === 'Archive')?.role).toBeNull();
    expect(folders.find((f) => f.role === 'inbox')?.id).toBe('inbox');
  });

  it('falls back to names without SPECIAL-USE, one folder per role, children under parents', () => {
    const entry = (path: string, uidValidity: number, flags: string[] = []): ListResponse => ({
      path,
      pathAsListed: path,
      name: path.split('.').pop() ?? path,
      delimiter: '.',
      parent: [],
      parentPath: '',
      flags: new Set(flags),
      listed: true,
      subscribed: true,
      status: { path, uidValidity: BigInt(uidValidity) },
    });
    const boxes = mailboxesFrom([
      entry('INBOX', 1),
      entry('INBOX.Sent Items', 2),
      entry('Deleted Items', 3),
      entry('Spam', 4),
      entry('Junk', 5),
      entry('Drafts', 6),
      entry('Projects', 7),
      entry('Projects.Sent', 8),
      entry('Twin', 9),
      entry('Other', 9),
      entry('Container', 10, ['\\Noselect']),
    ]);
    const folders = foldersFrom(boxes);
    const byName = (n: string) => folders.find((f) => f.displayName === n);
    expect(byName('Sent Items')).toMatchObject({ role: 'sent', id: 'sent', parentId: 'inbox' });
    expect(byName('Deleted Items')?.role).toBe('deleted');
    expect(byName('Drafts')?.role).toBe('drafts');
    // the first name wins a role; the second stays a folder
    expect([byName('Spam')?.role, byName('Junk')?.role]).toEqual(['junk', null]);
    expect(byName('Sent')).toMatchObject({ role: null, id: 'u8', parentId: 'u7' });
    // a repeated UIDVALIDITY and a \Noselect container get path ids
    expect(byName('Twin')?.id).toMatch(/^p/);
    expect(byName('Container')?.id).toMatch(/^p/);
    expect(folders.every((f) => f.id.length <= 64)).toBe(true);
    expect(folders.findIndex((f) => f.displayName === 'Projects')).toBeLessThan(
      folders.findIndex((f) => f.displayName === 'Sent'),
    );
  });

  it('keeps a folder id across a rename, also for its subfolders', async () => {
    const parent = await backend.folders!.createFolder(account, null, `Parent ${run}`, 'Email', signal);
    const child = await backend.folders!.createFolder(account, parent.id, 'Child', 'Email', signal);
    const renamed = await backend.folders!.updateFolder(
      account,
      parent.id,
      { displayName: `Renamed ${run}`, parentId: null },
      signal,
    );
    expect(renamed.id).toBe(parent.id);
    const listed = await backend.listFolders(account, signal);
    expect(listed.find((f) => f.id === child.id)).toMatchObject({
      parentId: parent.id,
      displayName: 'Child',
    });
    await backend.folders!.deleteFolder(account, parent.id, signal);
    expect((await backend.listFolders(account, signal)).map((f) => f.id)).not.toContain(child.id);
  });
});

describe('ids and changes', () => {
  it('a mailbox deleted and created again under its name: every id changes', async () => {
    const name = `Recreated ${run}`;
    await withClient((c) => c.mailboxCreate(name));
    await appendMessage(stack.imap, carol, name, msg('one'));
    await appendMessage(stack.imap, carol, name, msg('two'));
    const before = await folderNamed(name);
    const oldIds = (await backend.listStamps(account, before.id, {}, signal)).map((s) => s.id);
    expect(oldIds).toHaveLength(2);
    await withClient(async (c) => {
      await c.mailboxDelete(name);
      await c.mailboxCreate(name);
    });
    await appendMessage(stack.imap, carol, name, msg('one'));
    await appendMessage(stack.imap, carol, name, msg('two'));
    const after = await folderNamed(name);
    expect(after.id).not.toBe(before.id);
    await expectBackendError(backend.listStamps(account, before.id, {}, signal), 'not-found');
    const newIds = (await backend.listStamps(account, after.id, {}, signal)).map((s) => s.id);
    expect(newIds).toHaveLength(2);
    expect(newIds.filter((id) => oldIds.includes(id))).toEqual([]);
    // an old id no longer reads, even addressed to the new folder
    expect(await backend.getItems(account, after.id, oldIds, { bodyPreferences: plain }, signal)).toEqual([]);
    await backend.folders!.deleteFolder(account, after.id, signal);
  });

  it('sees what another IMAP client does: new mail, flags, expunges, and cursor-expired on UIDVALIDITY', async () => {
    const name = `Others ${run}`;
    await withClient((c) => c.mailboxCreate(name));
    const folder = await folderNamed(name);
    const cursor = await backend.changes!.currentCursor(account, folder.id, signal);
    const { uid } = await appendMessage(stack.imap, carol, name, msg('from elsewhere'));
    const stamps = await backend.listStamps(account, folder.id, {}, signal);
    expect(stamps).toHaveLength(1);
    await withClient(async (c) => {
      await c.mailboxOpen(name);
      await c.messageFlagsAdd(String(uid), ['\\Flagged', 'Work'], { uid: true });
    });
    const flagged = await backend.listStamps(account, folder.id, {}, signal);
    expect(flagged[0]?.version).not.toBe(stamps[0]?.version);
    const [item] = await backend.getItems(
      account,
      folder.id,
      [flagged[0]!.id],
      { bodyPreferences: plain },
      signal,
    );
    expect(item?.item).toMatchObject({
      Subject: 'from elsewhere',
      Read: false,
      Flag: { Status: 2 },
      Categories: ['Work'],
    });
    const batch = await backend.changes!.changesSince(account, folder.id, cursor, signal);
    expect(batch.changes).toEqual([{ kind: 'upsert', id: flagged[0]!.id, version: flagged[0]!.version }]);
    await withClient(async (c) => {
      await c.mailboxOpen(name);
      await c.messageDelete(String(uid), { uid: true });
    });
    const gone = await backend.changes!.changesSince(account, folder.id, batch.cursor, signal);
    expect(gone.changes).toEqual([{ kind: 'delete', id: flagged[0]!.id }]);
    await withClient(async (c) => {
      await c.mailboxDelete(name);
      await c.mailboxCreate(name);
    });
    const again = await folderNamed(name);
    await expectBackendError(
      backend.changes!.changesSince(account, again.id, gone.cursor, signal),
      'cursor-expired',
    );
    await backend.folders!.deleteFolder(account, again.id, signal);
  });

  it('lists only what SINCE asks for (and maybe a day more), newest first', async () => {
    const name = `Since ${run}`;
    await withClient(async (c) => {
      await c.mailboxCreate(name);
      await c.append(name, msg('old'), [], new Date('2020-01-01T00:00:00Z'));
      await c.append(name, msg('new'), [], new Date());
      await c.append(name, msg('middle'), [], new Date('2024-06-01T00:00:00Z'));
    });
    const folder = await folderNamed(name);
    const all = await backend.listStamps(account, folder.id, {}, signal);
    const subjects = async (ids: string[]) =>
      (await backend.getItems(account, folder.id, ids, { bodyPreferences: plain }, signal))
        .sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id))
        .map((r) => (r.item as EmailItem).Subject);
    expect(await subjects(all.map((s) => s.id))).toEqual(['new', 'middle', 'old']);
    const recent = await backend.listStamps(
      account,
      folder.id,
      { since: new Date(Date.now() - 7 * 86_400_000) },
      signal,
    );
    expect(await subjects(recent.map((s) => s.id))).toEqual(['new']);
    await backend.folders!.deleteFolder(account, folder.id, signal);
  });
});

describe('a 10,000-message folder', () => {
  const name = `Big ${run}`;
  const count = 10_000;

  beforeAll(async () => {
    // MULTIAPPEND (RFC 3502): 500 messages per APPEND command
    await withClient(async (c) => {
      await c.mailboxCreate(name);
      const exec = (
        c as unknown as { exec: (cmd: string, attrs: unknown[]) => Promise<{ next(): void }> }
      ).exec.bind(c);
      for (let i = 0; i < count; i += 500) {
        const attrs: unknown[] = [{ type: 'STRING', value: name }];
        for (let j = i; j < Math.min(count, i + 500); j++)
          attrs.push({ type: 'LITERAL', value: Buffer.from(msg(`bulk ${j}`)) });
        (await exec('APPEND', attrs)).next();
      }
    });
  }, 120_000);

  it('lists its stamps in one FETCH, quickly', async () => {
    const folder = await folderNamed(name);
    await backend.listStamps(account, folder.id, {}, signal); // warm: connection, SELECT
    const spy = vi.spyOn(ImapFlow.prototype as unknown as { exec: () => unknown }, 'exec');
    const t0 = performance.now();
    const stamps = await backend.listStamps(account, folder.id, {}, signal);
    const ms = performance.now() - t0;
    const commands = spy.mock.calls.map((c) => String((c as unknown[])[0]));
    spy.mockRestore();
    expect(stamps).toHaveLength(count);
    expect(new Set(stamps.map((s) => s.id)).size).toBe(count);
    console.log(
      `imap: listStamps of ${count} messages: ${ms.toFixed(0)} ms, IMAP commands: ${commands.join(', ')}`,
    );
    expect(commands.length).toBeLessThanOrEqual(2);
    expect(ms).toBeLessThan(5000);
    const t1 = performance.now();
    const cursor = await backend.changes!.currentCursor(account, folder.id, signal);
    const none = await backend.changes!.changesSince(account, folder.id, cursor, signal);
    console.log(`imap: currentCursor + empty changesSince: ${(performance.now() - t1).toFixed(0)} ms`);
    expect(none.changes).toEqual([]);
  });

  afterAll(async () => {
    await withClient((c) => c.mailboxDelete(name)).catch(() => undefined);
  });
});

describe('messages', () => {
  let folder: Folder;
  const name = `Messages ${run}`;

  beforeAll(async () => {
    await withClient((c) => c.mailboxCreate(name));
    folder = await folderNamed(name);
  });
  afterAll(async () => {
    await backend.folders!.deleteFolder(account, folder.id, signal).catch(() => undefined);
  });

  const readOne = async (raw: string | Buffer) => {
    const { uid, uidValidity } = await appendMessage(stack.imap, carol, name, raw);
    const id = `${uidValidity}.${uid}`;
    const [r] = await backend.getItems(account, folder.id, [id], { bodyPreferences: plain }, signal);
    return r?.item as EmailItem;
  };

  it('reads ISO-8859-1, ISO-2022-JP, RFC 2047 and RFC 2231 as Unicode', async () => {
    const latin = Buffer.concat([
      Buffer.from(
        'From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <j@example.com>\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n' +
          'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      ),
      Buffer.from('Schöne Grüße\r\n', 'latin1'),
    ]);
    const a = await readOne(latin);
    expect(a.Subject).toBe('Grüße');
    expect(a.From).toContain('Jörg Müller');
    expect(String(a.Body?.Data).trim()).toBe('Schöne Grüße');

    // "日本語" in ISO-2022-JP, encoded-word and body
    const jis = Buffer.from([0x1b, 0x24, 0x42, 0x46, 0x7c, 0x4b, 0x5c, 0x38, 0x6c, 0x1b, 0x28, 0x42]);
    const jp = Buffer.concat([
      Buffer.from(
        `Subject: =?ISO-2022-JP?B?${jis.toString('base64')}?=\r\nMIME-Version: 1.0\r\n` +
          'Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n',
      ),
      jis,
      Buffer.from('\r\n'),
    ]);
    const b = await readOne(jp);
    expect(b.Subject).toBe('日本語');
    expect(String(b.Body?.Data).trim()).toBe('日本語');

    const c = await readOne(
      'Subject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n' +
        'Content-Type: text/plain\r\n\r\nsee attached\r\n--x\r\n' +
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''%C3%BCbersicht.bin\r\n" +
        'Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--x--\r\n',
    );
    expect(c.Attachments?.map((x) => x.DisplayName)).toEqual(['übersicht.bin']);
    // no submit given: a read-only store without `mail` still serves attachments
    expect(backend.mail).toBeUndefined();
    const content = await backend.attachments.getAttachment(
      account,
      c.Attachments![0]!.FileReference,
      signal,
    );
    const chunks: Uint8Array[] = [];
    for await (const chunk of content.chunks(signal)) chunks.push(chunk);
    expect([...Buffer.concat(chunks)]).toEqual([0, 1, 2, 3]);
    expect(content.length).toBe(4);
  });

  it('reads malformed MIME as an item', async () => {
    const broken = await readOne(
      'Subject: broken\r\nContent-Type: multipart/mixed; boundary="never"\r\n\r\nno boundary ever\r\n--nev',
    );
    expect(broken.Subject).toBe('broken');
    const headless = await readOne('\r\n\r\njust a body, no headers\r\n');
    expect(headless.Subject ?? '').toBe('');
    const garbage = await readOne(Buffer.concat([Buffer.from('Subject: bin\r\n\r\n'), randomBytes(2048)]));
    expect(garbage.Subject).toBe('bin');
  });

  it('maps Read, Flag, Categories and verbs to flags and keywords, as other clients see them', async () => {
    const { uid, uidValidity } = await appendMessage(stack.imap, carol, name, msg('flags'));
    const id = `${uidValidity}.${uid}`;
    await backend.updateItem(
      account,
      folder.id,
      id,
      {
        class: 'Email',
        item: {
          Read: true,
          Flag: { Status: 1 },
          Categories: ['Work', 'Rot Grün', 'Plain'],
          LastVerbExecuted: 3,
        },
      },
      {},
      signal,
    );
    const flags = await withClient(async (c) => {
      await c.mailboxOpen(name);
      return [
        ...((await c.fetchOne(String(uid), { flags: true }, { uid: true })) || { flags: new Set() }).flags!,
      ];
    });
    expect(flags).toEqual(expect.arrayContaining(['\\Seen', '$Completed', '$label2', 'Plain', '$Forwarded']));
    expect(flags).not.toContain('\\Flagged');
    const [r] = await backend.getItems(account, folder.id, [id], { bodyPreferences: plain }, signal);
    expect(r?.item).toMatchObject({ Read: true, Flag: { Status: 1 }, LastVerbExecuted: 3 });
    expect((r?.item as EmailItem).Categories?.sort()).toEqual(['Plain', 'Rot Grün', 'Work']);
    await backend.updateItem(
      account,
      folder.id,
      id,
      { class: 'Email', item: { Flag: {}, Categories: [] } },
      {},
      signal,
    );
    const [cleared] = await backend.getItems(account, folder.id, [id], { bodyPreferences: plain }, signal);
    expect((cleared?.item as EmailItem).Flag).toBeUndefined();
    expect((cleared?.item as EmailItem).Categories).toBeUndefined();
  });

  it('refuses stale writes with conflict, also after a change by another client', async () => {
    const { uid, uidValidity } = await appendMessage(stack.imap, carol!, name, msg('stale'));
    const id = `${uidValidity}.${uid}`;
    const [v1] = await backend
      .listStamps(account, folder.id, {}, signal)
      .then((l) => l.filter((x) => x.id === id));
    const v2 = await backend.updateItem(
      account,
      folder.id,
      id,
      { class: 'Email', item: { Read: true } },
      { ifVersion: v1!.version },
      signal,
    );
    expect(v2.version).not.toBe(v1!.version);
    await expectBackendError(
      backend.updateItem(
        account,
        folder.id,
        id,
        { class: 'Email', item: { Read: false } },
        { ifVersion: v1!.version },
        signal,
      ),
      'conflict',
    );
    await withClient(async (c) => {
      await c.mailboxOpen(name);
      await c.messageFlagsAdd(String(uid), ['\\Flagged'], { uid: true });
    });
    await expectBackendError(
      backend.deleteItem(account, folder.id, id, { ifVersion: v2.version }, signal),
      'conflict',
    );
    const [v3] = await backend
      .listStamps(account, folder.id, {}, signal)
      .then((l) => l.filter((x) => x.id === id));
    await backend.deleteItem(account, folder.id, id, { ifVersion: v3!.version }, signal);
    expect(await backend.getItems(account, folder.id, [id], { bodyPreferences: plain }, signal)).toEqual([]);
  });

  it('moves with a new id from COPYUID, and search finds by words, folder depth and dates', async () => {
    const word = `zz${run}`;
    const sub = await backend.folders!.createFolder(account, folder.id, 'Sub', 'Email', signal);
    const { uid, uidValidity } = await appendMessage(stack.imap, carol, name, msg(`about ${word} here`));
    const moved = await backend.moveItem(account, folder.id, `${uidValidity}.${uid}`, sub.id, signal);
    expect(moved.id).not.toBe(`${uidValidity}.${uid}`);
    expect(await backend.listStamps(account, sub.id, {}, signal)).toContainEqual(moved);
    const shallow = await backend.search!.mailbox(
      account,
      { FreeText: `${word} about`, folderIds: [folder.id], limit: 5 },
      signal,
    );
    expect(shallow.total).toBe(0);
    const deep = await backend.search!.mailbox(
      account,
      { FreeText: `${word} about`, folderIds: [folder.id], DeepTraversal: true, limit: 5 },
      signal,
    );
    expect(deep).toEqual({ total: 1, hits: [{ folderId: sub.id, id: moved.id }] });
    const later = await backend.search!.mailbox(
      account,
      { FreeText: word, receivedAfter: new Date(Date.now() + 3_600_000), limit: 5 },
      signal,
    );
    expect(later.total).toBe(0);
    const [movedItem] = await backend.getItems(
      account,
      sub.id,
      [moved.id],
      { bodyPreferences: plain },
      signal,
    );
    const conversation = (movedItem?.item as EmailItem).ConversationId!;
    expect(
      await backend.search!.mailbox(
        account,
        { ConversationId: conversation, folderIds: [sub.id], limit: 5 },
        signal,
      ),
    ).toEqual({ total: 1, hits: [{ folderId: sub.id, id: moved.id }] });
    const missing = await backend.search!.mailbox(
      account,
      { FreeText: `${word} absentword`, limit: 5 },
      signal,
    );
    expect(missing.total).toBe(0);
  });
});

describe('drafts, attachments and sending', () => {
  let b: ImapBackend;
  let acc: Account;
  const submitted: Uint8Array[] = [];

  beforeAll(async () => {
    b = await openImapBackend({
      url,
      domain: 'easd.test',
      submit: async (_a, mime) => {
        submitted.push(mime);
      },
    });
    acc = (await b.authenticate(carol!.user, carol!.password, signal))!;
  });
  afterAll(() => b.close());

  it('streams an attachment part in 64 KiB windows, byte for byte', async () => {
    const data = randomBytes(300_000);
    const raw =
      `Subject: big ${run}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n` +
      'Content-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: text/plain; name=a.txt\r\n' +
      'Content-Disposition: attachment; filename=a.txt\r\n\r\nsmall one\r\n--b\r\n' +
      'Content-Type: image/png; name=big.png\r\nContent-Disposition: attachment; filename=big.png\r\n' +
      `Content-Transfer-Encoding: base64\r\n\r\n${data.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n--b--\r\n`;
    const inbox = (await b.listFolders(acc, signal)).find((f) => f.role === 'inbox')!;
    const stamp = await b.createItem(
      acc,
      inbox.id,
      { class: 'Email', item: { Body: { Type: 4, EstimatedDataSize: 0, Data: Buffer.from(raw) } } },
      signal,
    );
    const [r] = await b.getItems(acc, inbox.id, [stamp.id], { bodyPreferences: plain }, signal);
    const atts = (r?.item as EmailItem).Attachments!;
    expect(atts.map((a) => a.DisplayName)).toEqual(['a.txt', 'big.png']);
    // folder / message / IMAP part number
    expect(atts.map((a) => a.FileReference.split('/').pop())).toEqual(['2', '3']);
    const content = await b.attachments.getAttachment(acc, atts[1]!.FileReference, signal);
    expect(content).toMatchObject({ contentType: 'image/png', length: data.byteLength });
    const chunks: Uint8Array[] = [];
    for await (const c of content.chunks(signal)) chunks.push(c);
    expect(chunks.length).toBe(Math.ceil(data.byteLength / 65536));
    expect(Buffer.compare(Buffer.concat(chunks), data)).toBe(0);
    await expectBackendError(b.attachments.getAttachment(acc, `${inbox.id}/1.999999/2`, signal), 'not-found');
    await b.deleteItem(acc, inbox.id, stamp.id, {}, signal);
  });

  it('edits a draft by replacing the message, keeping its attachments', async () => {
    const drafts = (await b.listFolders(acc, signal)).find((f) => f.role === 'drafts')!;
    const first = await b.createItem(
      acc,
      drafts.id,
      {
        class: 'Email',
        item: {
          Subject: `draft ${run}`,
          To: 'x@example.com',
          Body: { Type: 1, EstimatedDataSize: 2, Data: 'v1' },
          AttachmentsAdd: [
            { ClientId: '1', DisplayName: 'keep.txt', Method: 1, Content: Buffer.from('kept') },
          ],
        },
      },
      signal,
    );
    const next = await b.updateItem(
      acc,
      drafts.id,
      first.id,
      {
        class: 'Email',
        item: { Subject: `draft ${run} v2`, Body: { Type: 1, EstimatedDataSize: 2, Data: 'v2' } },
      },
      {},
      signal,
    );
    expect(next.id).not.toBe(first.id);
    const ids = (await b.listStamps(acc, drafts.id, {}, signal)).map((s) => s.id);
    expect(ids).toContain(next.id);
    expect(ids).not.toContain(first.id);
    const [r] = await b.getItems(acc, drafts.id, [next.id], { bodyPreferences: plain }, signal);
    expect(r?.item).toMatchObject({ Subject: `draft ${run} v2`, IsDraft: true, To: 'x@example.com' });
    expect(String((r?.item as EmailItem).Body?.Data).trim()).toBe('v2');
    expect((r?.item as EmailItem).Attachments?.map((a) => a.DisplayName)).toEqual(['keep.txt']);
    await b.deleteItem(acc, drafts.id, next.id, {}, signal);
  });

  it('send calls submit and files the message in Sent', async () => {
    const raw = Buffer.from(msg(`sent ${run}`));
    await b.mail!.send(acc, raw, { saveInSent: true }, signal);
    expect(submitted.at(-1)).toEqual(raw);
    const sent = (await b.listFolders(acc, signal)).find((f) => f.role === 'sent')!;
    const found = await b.search!.mailbox(
      acc,
      { FreeText: `sent ${run}`, folderIds: [sent.id], limit: 1 },
      signal,
    );
    expect(found.total).toBe(1);
    await b.deleteItem(acc, sent.id, found.hits[0]!.id, {}, signal);
  });
});

describe('connections and watch', () => {
  it('never opens more than poolSize connections, however many calls run at once', async () => {
    const b = await openImapBackend({ url, domain: 'easd.test', poolSize: 2 });
    try {
      const acc = (await b.authenticate(carol!.user, carol!.password, signal))!;
      const folders = await b.listFolders(acc, signal);
      let most = 0;
      const sample = setInterval(() => (most = Math.max(most, b.inspect()[0]?.connections ?? 0)), 1);
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => {
          const f = folders[i % folders.length]!;
          return i % 2 === 0 ? b.listStamps(acc, f.id, {}, signal) : b.listFolders(acc, signal);
        }),
      );
      clearInterval(sample);
      const [state] = b.inspect();
      expect(most).toBeLessThanOrEqual(2);
      expect(state).toMatchObject({ connections: 2, leased: 0 });
      expect(state!.opened).toBeLessThanOrEqual(2);
    } finally {
      await b.close();
    }
    expect(b.inspect()).toEqual([]);
  });

  it('closes idle connections after idleTimeoutMs', async () => {
    const b = await openImapBackend({ url, domain: 'easd.test', idleTimeoutMs: 100 });
    try {
      const acc = (await b.authenticate(carol!.user, carol!.password, signal))!;
      await b.listFolders(acc, signal);
      expect(b.inspect()[0]?.connections).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 400));
      expect(b.inspect()[0]?.connections).toBe(0);
      // and reconnects on the next call
      expect((await b.listFolders(acc, signal)).length).toBeGreaterThan(0);
    } finally {
      await b.close();
    }
  });

  it('one watcher per user: IDLE hints INBOX, STATUS polls hint other folders; it stops with the last subscriber', async () => {
    const name = `Watched ${run}`;
    await withClient((c) => c.mailboxCreate(name));
    const folders = await backend.listFolders(account, signal);
    const watched = folders.find((f) => f.displayName === name)!;
    await backend.listStamps(account, watched.id, {}, signal); // pool connections exist before
    // sockets and timers besides the pool's own (a pooled connection is a socket; its idle timer is unref'd)
    const carolState = () => backend.inspect().find((s) => s.login === 'carol');
    const resources = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap').length -
      (carolState()?.connections ?? 0);
    await new Promise((r) => setTimeout(r, 200)); // sockets of the helper clients above are gone
    const before = resources();

    const one = new AbortController();
    const two = new AbortController();
    const hintsOne: ChangeHint[] = [];
    const hintsTwo: ChangeHint[] = [];
    const w1 = backend.watch(account, ['inbox'], (h) => hintsOne.push(h), one.signal);
    const w2 = backend.watch(account, [watched.id], (h) => hintsTwo.push(h), two.signal);
    await vi.waitFor(() => expect(backend.inspect().find((s) => s.login === 'carol')?.watching).toBe(true));
    await new Promise((r) => setTimeout(r, 400)); // IDLE running, first poll done

    await appendMessage(stack.imap, carol!, 'INBOX', msg(`push ${run}`));
    await vi.waitFor(() => expect(hintsOne).toContainEqual({ folderId: 'inbox' }), { timeout: 5000 });
    await appendMessage(stack.imap, carol!, name, msg(`poll ${run}`));
    await vi.waitFor(() => expect(hintsTwo).toContainEqual({ folderId: watched.id }), { timeout: 5000 });
    expect(hintsTwo).not.toContainEqual({ folderId: 'inbox' });

    one.abort();
    await w1;
    expect(backend.inspect().find((s) => s.login === 'carol')?.watching).toBe(true);
    two.abort();
    await w2;
    await vi.waitFor(() => expect(backend.inspect().find((s) => s.login === 'carol')?.watching).toBe(false));
    // polled by hand: vi.waitFor's own timer would count
    for (let i = 0; i < 30 && resources() > before; i++) await new Promise((r) => setTimeout(r, 100));
    expect(resources()).toBeLessThanOrEqual(before);

    // a watcher started later hints at what changed while nobody watched
    await appendMessage(stack.imap, carol!, 'INBOX', msg(`between ${run}`));
    const three = new AbortController();
    const hintsThree: ChangeHint[] = [];
    const w3 = backend.watch(account, ['inbox'], (h) => hintsThree.push(h), three.signal);
    await vi.waitFor(() => expect(hintsThree).toContainEqual({ folderId: 'inbox' }), { timeout: 5000 });
    three.abort();
    await w3;
    await backend.folders!.deleteFolder(account, watched.id, signal);
  });
});

/** A proxy to the stack's Dovecot, as an imap:// URL for the backend. */
async function proxyUrl(proxy: ImapProxy, query = '?starttls=never'): Promise<string> {
  return `imap://127.0.0.1:${await proxy.listen()}${query}`;
}

describe('servers that differ from the stack Dovecot', () => {
  it('without CONDSTORE/QRESYNC: versions from flags, no change log, plain STORE, conflicts still caught', async () => {
    const proxy = new ImapProxy(stack.imap, { hide: ['CONDSTORE', 'QRESYNC'] });
    const b = await openImapBackend({ url: await proxyUrl(proxy), domain: 'easd.test' });
    try {
      const acc = (await b.authenticate(carol.user, carol.password, signal))!;
      const name = `NoModseq ${run}`;
      await withClient((c) => c.mailboxCreate(name));
      await appendMessage(stack.imap, carol, name, msg(`one ${run}`));
      await appendMessage(stack.imap, carol, name, msg(`two ${run}`));
      const folder = (await b.listFolders(acc, signal)).find((f) => f.displayName === name)!;
      await expectBackendError(b.changes.currentCursor(acc, folder.id, signal), 'cursor-expired');
      const before = await b.listStamps(acc, folder.id, {}, signal);
      expect(before).toHaveLength(2);
      // another client flags one: only its version moves
      await withClient(async (c) => {
        const lock = await c.getMailboxLock(name);
        try {
          await c.messageFlagsAdd({ subject: `one ${run}` }, ['\\Flagged']);
        } finally {
          lock.release();
        }
      });
      const after = await b.listStamps(acc, folder.id, {}, signal);
      const moved = after.filter((s) => before.find((x) => x.id === s.id)?.version !== s.version);
      expect(moved).toHaveLength(1);
      const [item] = await b.getItems(acc, folder.id, [moved[0]!.id], { bodyPreferences: plain }, signal);
      expect((item?.item as EmailItem).Subject).toBe(`one ${run}`);
      // a write with the version the phone had before the flag is a conflict
      const stale = before.find((s) => s.id === moved[0]!.id)!;
      await expectBackendError(
        b.updateItem(
          acc,
          folder.id,
          stale.id,
          { class: 'Email', item: { Read: true } },
          { ifVersion: stale.version },
          signal,
        ),
        'conflict',
      );
      const written = await b.updateItem(
        acc,
        folder.id,
        stale.id,
        { class: 'Email', item: { Read: true } },
        { ifVersion: moved[0]!.version },
        signal,
      );
      expect(written.version).not.toBe(moved[0]!.version);
      expect(proxy.commands).not.toContain('ENABLE');
      expect(proxy.commands.filter((c) => c === 'UID STORE')).toHaveLength(1);
    } finally {
      await b.close();
      await proxy.close();
    }
  });

  it('reconnects on the next call when every connection was cut', async () => {
    const proxy = new ImapProxy(stack.imap);
    const b = await openImapBackend({ url: await proxyUrl(proxy), domain: 'easd.test', backoffMs: 50 });
    try {
      const acc = (await b.authenticate(carol.user, carol.password, signal))!;
      const inbox = (await b.listFolders(acc, signal)).find((f) => f.role === 'inbox')!;
      const first = await b.listStamps(acc, inbox.id, {}, signal);
      const opened = b.inspect()[0]!.opened;
      proxy.dropAll();
      expect(await b.listStamps(acc, inbox.id, {}, signal)).toEqual(first);
      expect(b.inspect()[0]!.opened).toBeGreaterThan(opened);
    } finally {
      await b.close();
      await proxy.close();
    }
  });

  it('?starttls=required refuses a server without STARTTLS before sending the password', async () => {
    const proxy = new ImapProxy(stack.imap);
    const b = await openImapBackend({ url: await proxyUrl(proxy, '?starttls=required'), connectAttempts: 1 });
    try {
      await expectBackendError(b.authenticate(carol.user, carol.password, signal), 'unavailable');
      expect(proxy.commands.filter((c) => c === 'LOGIN' || c === 'AUTHENTICATE')).toEqual([]);
    } finally {
      await b.close();
      await proxy.close();
    }
  });

  it('a Sync window costs one NOOP: reading what was just listed skips its own, yet sees mail and expunges of the moment', async () => {
    const proxy = new ImapProxy(stack.imap);
    const b = await openImapBackend({ url: await proxyUrl(proxy), domain: 'easd.test', poolSize: 1 });
    try {
      const acc = (await b.authenticate(carol.user, carol.password, signal))!;
      const name = `Window ${run}`;
      await withClient((c) => c.mailboxCreate(name));
      for (const n of [1, 2]) await appendMessage(stack.imap, carol, name, msg(`window ${n} ${run}`));
      const folder = (await b.listFolders(acc, signal)).find((f) => f.displayName === name)!;
      await b.listStamps(acc, folder.id, {}, signal); // selects it
      proxy.take();
      const stamps = await b.listStamps(acc, folder.id, {}, signal);
      const read = await b.getItems(
        acc,
        folder.id,
        stamps.map((s) => s.id),
        { bodyPreferences: plain },
        signal,
      );
      expect(read).toHaveLength(2);
      expect(Object.fromEntries(proxy.take().commands)).toEqual({ NOOP: 1, 'UID FETCH': 2 });

      // another client adds one and expunges one right after the listing: the read still answers
      // for both (the new one found, the expunged one simply absent), never an error
      const listed = await b.listStamps(acc, folder.id, {}, signal);
      const added = await appendMessage(stack.imap, carol, name, msg(`window 3 ${run}`));
      await withClient(async (c) => {
        const lock = await c.getMailboxLock(name);
        try {
          await c.messageDelete({ subject: `window 1 ${run}` });
        } finally {
          lock.release();
        }
      });
      const ids = [...listed.map((s) => s.id), `${added.uidValidity}.${added.uid}`];
      const fresh = await b.getItems(acc, folder.id, ids, { bodyPreferences: plain }, signal);
      expect(fresh.map((r) => (r.item as EmailItem).Subject).sort()).toEqual([
        `window 2 ${run}`,
        `window 3 ${run}`,
      ]);
    } finally {
      await b.close();
      await proxy.close();
    }
  });
});
