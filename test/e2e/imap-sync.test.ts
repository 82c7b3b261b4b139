// Mail end to end on the real stack (issue 5): easd on Dovecot and the SMTP receiver, a scripted
// phone speaking WBXML, and another IMAP client changing the mailbox behind easd's back. Results
// are checked on the servers themselves.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { el, type WbxmlElement } from '../../wbxml/index.js';
import { openEasd, type Easd } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { imapConnect } from '../stack/dovecot.js';
import { readSpool } from '../stack/smtp.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';

const stack = inject('stack');
const bob = stack.users.find((u) => u.user === 'bob')!;
const run = `${process.pid}-${Date.now()}`;
let easd: Easd;
let dataDir: string;
let phone: EasTestClient;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'easd-imap-sync-'));
  easd = await openEasd(
    loadConfig({
      EASD_DATA_DIR: dataDir,
      EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
      EASD_SMTP_URL: `smtp://${stack.smtp.host}:${stack.smtp.port}`,
    }),
    pino({ level: 'silent' }),
  );
  phone = EasTestClient.inject(easd.app, {
    user: bob.user,
    password: bob.password,
    deviceId: `IMAPSYNC${Date.now()}`,
    version: '14.1',
  });
  await phone.provision();
});
afterAll(async () => {
  await easd?.app.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function withImap<T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = await imapConnect(stack.imap, bob);
  try {
    return await fn(c);
  } finally {
    await c.logout();
  }
}

const msg = (subject: string, body = 'hello', headers = ''): string =>
  `From: Alice <alice@easd.test>\r\nTo: bob@easd.test\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@easd.test>\r\n${headers}\r\n${body}\r\n`;

/** FolderSync from scratch; ServerId of a folder by display name. */
async function folderIdOf(name: string): Promise<string> {
  const res = await phone.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  const add = findAll(res.doc, 'Add').find((a) => findText(a, 'DisplayName') === name);
  if (add === undefined) throw new Error(`no folder ${name}`);
  return findText(add, 'ServerId')!;
}

const syncReq = (id: string, key: string, extra = ''): string =>
  `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${id}</CollectionId>${extra}</Collection></Collections></Sync>`;
const changes = (window = 100): string =>
  `<GetChanges/><WindowSize>${window}</WindowSize><Options><BodyPreference xmlns="AirSyncBase:"><Type>1</Type><TruncationSize>2000</TruncationSize></BodyPreference></Options>`;

async function syncOnce(
  id: string,
  key: string,
  window = 100,
): Promise<{ key: string; doc?: WbxmlElement; more: boolean }> {
  const res = await phone.command('Sync', syncReq(id, key, changes(window)));
  return {
    key: findText(res.doc, 'SyncKey') ?? key,
    doc: res.doc,
    more: findAll(res.doc, 'MoreAvailable').length > 0,
  };
}

async function startSync(id: string): Promise<string> {
  const res = await phone.command('Sync', syncReq(id, '0'));
  return findText(res.doc, 'SyncKey')!;
}

describe('mail on Dovecot through easd', () => {
  it('syncs a 10,000-message folder in windows with MoreAvailable, each message once', async () => {
    const name = `Bulk ${run}`;
    await withImap(async (c) => {
      await c.mailboxCreate(name);
      // MULTIAPPEND (RFC 3502): 500 messages per command keeps the set-up short.
      const exec = (
        c as unknown as { exec: (cmd: string, attrs: unknown[]) => Promise<{ next(): void }> }
      ).exec.bind(c);
      for (let i = 0; i < 10_000; i += 500) {
        const attrs: unknown[] = [{ type: 'STRING', value: name }];
        for (let j = i; j < i + 500; j++)
          attrs.push({ type: 'LITERAL', value: Buffer.from(msg(`bulk ${j}`, `message ${j}`)) });
        (await exec('APPEND', attrs)).next();
      }
    });
    const id = await folderIdOf(name);
    let key = await startSync(id);
    const seen = new Set<string>();
    const windows: number[] = [];
    for (let round = 0; round < 40; round++) {
      const r = await syncOnce(id, key, 512);
      key = r.key;
      const adds = findAll(r.doc, 'Add').map((a) => findText(a, 'ServerId')!);
      windows.push(adds.length);
      for (const a of adds) seen.add(a);
      if (!r.more) break;
    }
    expect(seen.size).toBe(10_000);
    expect(windows.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(windows.slice(0, -1).every((n) => n === 512)).toBe(true);
    const after = await phone.command('Sync', syncReq(id, key, changes()));
    expect(after.raw.length).toBe(0); // nothing left, nothing twice
  }, 300_000);

  it("sees another IMAP client's flag, delete, new mail and move on the next Sync", async () => {
    const name = `Changes ${run}`;
    const other = `Elsewhere ${run}`;
    await withImap(async (c) => {
      await c.mailboxCreate(name);
      await c.mailboxCreate(other);
      for (const s of ['keep', 'flag me', 'delete me', 'move me']) await c.append(name, msg(`${s} ${run}`));
    });
    const id = await folderIdOf(name);
    const otherId = await folderIdOf(other);
    let key = (await syncOnce(id, await startSync(id))).key;
    let otherKey = (await syncOnce(otherId, await startSync(otherId))).key;
    const bySubject = async (mailbox: string, subject: string): Promise<string> =>
      withImap(async (c) => {
        const lock = await c.getMailboxLock(mailbox);
        try {
          const uids = await c.search({ subject }, { uid: true });
          return String((uids || [])[0]);
        } finally {
          lock.release();
        }
      });
    await withImap(async (c) => {
      const lock = await c.getMailboxLock(name);
      try {
        await c.messageFlagsAdd({ subject: `flag me ${run}` }, ['\\Flagged']);
        await c.messageDelete({ subject: `delete me ${run}` });
        await c.messageMove({ subject: `move me ${run}` }, other);
      } finally {
        lock.release();
      }
      await c.append(name, msg(`new ${run}`));
    });
    expect(await bySubject(other, `move me ${run}`)).not.toBe('undefined');

    const r = await syncOnce(id, key);
    key = r.key;
    const subjectsOf = (kind: string): string[] =>
      findAll(r.doc, kind).map((e) => findText(e, 'Subject') ?? '');
    expect(subjectsOf('Add')).toEqual([`new ${run}`]);
    const change = findAll(r.doc, 'Change');
    expect(change).toHaveLength(1);
    expect(findText(findAll(change[0], 'Flag')[0], 'Status')).toBe('2');
    expect(findAll(r.doc, 'Delete')).toHaveLength(2); // deleted, and moved away
    const o = await syncOnce(otherId, otherKey);
    otherKey = o.key;
    expect(findAll(o.doc, 'Add').map((e) => findText(e, 'Subject'))).toEqual([`move me ${run}`]);
  }, 60_000);

  it('resyncs without duplicates when a mailbox is recreated (new UIDVALIDITY)', async () => {
    const name = `Validity ${run}`;
    await withImap(async (c) => {
      await c.mailboxCreate(name);
      await c.append(name, msg(`before ${run}`));
    });
    const firstId = await folderIdOf(name);
    await syncOnce(firstId, await startSync(firstId));
    await withImap(async (c) => {
      await c.mailboxDelete(name);
      await c.mailboxCreate(name);
      await c.append(name, msg(`after ${run}`));
    });
    const secondId = await folderIdOf(name);
    expect(secondId).not.toBe(firstId); // a new collection: the device drops the old one whole
    const r = await syncOnce(secondId, await startSync(secondId));
    expect(findAll(r.doc, 'Add').map((e) => findText(e, 'Subject'))).toEqual([`after ${run}`]);
  }, 60_000);

  it('shows non-ASCII and broken messages with what can be shown', async () => {
    const name = `Charsets ${run}`;
    await withImap(async (c) => {
      await c.mailboxCreate(name);
      await c.append(
        name,
        Buffer.from(
          msg(
            '=?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=',
            'Gr\xfc\xdfe',
            'Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n',
          ),
          'latin1',
        ),
      );
      await c.append(
        name,
        Buffer.concat([
          Buffer.from(
            msg(
              '=?ISO-2022-JP?B?GyRCJEYkOSRIGyhC?=',
              '',
              'Content-Type: text/plain; charset=ISO-2022-JP\r\n',
            ).replace(/\r\n\r\n\r\n$/, '\r\n\r\n'),
          ),
          Buffer.from('\x1b$B$3$s$K$A$O\x1b(B\r\n', 'latin1'),
        ]),
      );
      await c.append(
        name,
        msg(
          `broken ${run}`,
          '--b1\r\nContent-Type: text/plain\r\n\r\nvisible part\r\n',
          'Content-Type: multipart/mixed; boundary="b1"\r\n',
        ),
      );
    });
    const id = await folderIdOf(name);
    const r = await syncOnce(id, await startSync(id));
    const subjects = findAll(r.doc, 'Add').map((e) => findText(e, 'Subject'));
    expect(subjects).toEqual(expect.arrayContaining(['Grüße aus Köln', 'てすと', `broken ${run}`]));
    const japanese = findAll(r.doc, 'Add').find((e) => findText(e, 'Subject') === 'てすと');
    expect(findText(japanese, 'Data')).toContain('こんにちは');
    const latin = findAll(r.doc, 'Add').find((e) => findText(e, 'Subject') === 'Grüße aus Köln');
    expect(findText(latin, 'Data')).toContain('Grüße');
    const broken = findAll(r.doc, 'Add').find((e) => findText(e, 'Subject') === `broken ${run}`);
    expect(findText(broken, 'Data')).toContain('visible part');
  }, 60_000);

  it("forwards a message with the original's attachment: it reaches the SMTP receiver and Sent", async () => {
    const subject = `with attachment ${run}`;
    const attachment = Buffer.from(`attachment bytes ${run}`).toString('base64');
    await withImap(async (c) => {
      await c.append(
        'INBOX',
        msg(
          subject,
          `--b2\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b2\r\nContent-Type: application/octet-stream; name="report.bin"\r\nContent-Disposition: attachment; filename="report.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${attachment}\r\n--b2--\r\n`,
          'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b2"\r\n',
        ),
      );
    });
    const inbox = await (async () => {
      const res = await phone.command(
        'FolderSync',
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
      );
      return findText(
        findAll(res.doc, 'Add').find((a) => findText(a, 'Type') === '2'),
        'ServerId',
      )!;
    })();
    let key = await startSync(inbox);
    let serverId: string | undefined;
    for (let i = 0; i < 20 && serverId === undefined; i++) {
      const r = await syncOnce(inbox, key, 512);
      key = r.key;
      serverId = findText(
        findAll(r.doc, 'Add').find((a) => findText(a, 'Subject') === subject),
        'ServerId',
      );
      if (!r.more) break;
    }
    expect(serverId).toBeDefined();
    const forward = `From: bob@easd.test\r\nTo: carol@easd.test\r\nSubject: Fwd: ${subject}\r\n\r\nFYI\r\n`;
    const res = await phone.command(
      'SmartForward',
      el(
        'ComposeMail',
        'SmartForward',
        el('ComposeMail', 'ClientId', `fwd-${run}`),
        el('ComposeMail', 'SaveInSentItems'),
        el(
          'ComposeMail',
          'Source',
          el('ComposeMail', 'FolderId', inbox),
          el('ComposeMail', 'ItemId', serverId!),
        ),
        el('ComposeMail', 'Mime', forward),
      ),
    );
    expect(res.status).toBe(200);
    const spooled = (await readSpool(stack.smtp.spoolDir)).find((m) =>
      m.raw.toString().includes(`Fwd: ${subject}`),
    );
    expect(spooled?.user).toBe('bob');
    expect(spooled?.raw.toString()).toContain('report.bin');
    expect(spooled?.raw.toString().replace(/\r?\n/g, '')).toContain(attachment);
    const inSent = await withImap(async (c) => {
      const lock = await c.getMailboxLock('Sent');
      try {
        const found = await c.search({ subject: `Fwd: ${subject}` });
        return found === false || found === undefined ? 0 : found.length;
      } finally {
        lock.release();
      }
    });
    expect(inSent).toBe(1);
  }, 60_000);
});
