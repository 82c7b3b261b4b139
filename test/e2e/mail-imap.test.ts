// Mail on the real stack (issue 5), the parts imap-sync.test.ts does not cover: easd on Dovecot and
// the SMTP receiver, a scripted phone speaking WBXML, results checked on the servers themselves and
// every EAS response validated against Microsoft's schemas.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { WbxmlElement } from '../../wbxml/index.js';
import { openEasd, type Easd } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { imapConnect } from '../stack/dovecot.js';
import { readSpool, REFUSED_DOMAIN } from '../stack/smtp.js';
import type { TestUser } from '../stack/users.js';
import { EasTestClient, findAll, findText, type EasReply } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const run = `${process.pid}-${Date.now()}`;
let easd: Easd;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'easd-mail-imap-'));
  easd = await openEasd(
    loadConfig({
      EASD_DATA_DIR: dataDir,
      EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
      EASD_SMTP_URL: `smtp://${stack.smtp.host}:${stack.smtp.port}`,
    }),
    pino({ level: 'silent' }),
  );
});
afterAll(async () => {
  await easd?.app.close();
  await rm(dataDir, { recursive: true, force: true });
});

let devices = 0;

/** A provisioned phone with its folder list; every response it gets is schema-checked. */
class Phone {
  readonly folders = new Map<string, string>(); // display name → ServerId
  readonly types = new Map<string, string>(); // FolderSync Type → ServerId
  readonly keys = new Map<string, string>(); // CollectionId → SyncKey

  private constructor(readonly client: EasTestClient) {}

  static async open(user: TestUser, version = '16.1', login = user.user): Promise<Phone> {
    const client = EasTestClient.inject(easd.app, {
      user: login,
      password: user.password,
      deviceId: `MAILIMAP${process.pid}x${++devices}`,
      version,
    });
    await client.provision();
    const phone = new Phone(client);
    await phone.folderSync();
    return phone;
  }

  async command(cmd: string, body?: WbxmlElement | string | Buffer, extra = {}): Promise<EasReply> {
    const res = await this.client.command(cmd, body, extra);
    if (res.doc !== undefined) await validateEasResponse(res.doc, cmd);
    return res;
  }

  async folderSync(): Promise<void> {
    const res = await this.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    this.folders.clear();
    for (const a of findAll(res.doc, 'Add')) {
      this.folders.set(findText(a, 'DisplayName')!, findText(a, 'ServerId')!);
      this.types.set(findText(a, 'Type')!, findText(a, 'ServerId')!);
    }
  }

  /** One Sync round of a collection (SyncKey 0 first when the phone has none), optional commands. */
  async sync(
    id: string,
    opts: { commands?: string; window?: number; extra?: string; options?: string } = {},
  ): Promise<{ doc?: WbxmlElement; status?: string; more: boolean }> {
    if (!this.keys.has(id)) {
      const first = await this.command(
        'Sync',
        `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${id}</CollectionId></Collection></Collections></Sync>`,
      );
      this.keys.set(id, findText(first.doc, 'SyncKey')!);
    }
    const options =
      opts.options ??
      '<BodyPreference xmlns="AirSyncBase:"><Type>1</Type><TruncationSize>20000</TruncationSize></BodyPreference>';
    const res = await this.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${this.keys.get(id)}</SyncKey><CollectionId>${id}</CollectionId>${opts.extra ?? ''}<GetChanges/><WindowSize>${opts.window ?? 100}</WindowSize><Options>${options}</Options>${opts.commands === undefined ? '' : `<Commands>${opts.commands}</Commands>`}</Collection></Collections></Sync>`,
    );
    const key = findText(res.doc, 'SyncKey');
    if (key !== undefined) this.keys.set(id, key);
    return {
      ...(res.doc !== undefined && { doc: res.doc }),
      ...(findText(res.doc, 'Status') !== undefined && { status: findText(res.doc, 'Status') }),
      more: findAll(res.doc, 'MoreAvailable').length > 0,
    };
  }

  /** Syncs until nothing more is available; the Adds seen on the way. */
  async drain(id: string): Promise<WbxmlElement[]> {
    const adds: WbxmlElement[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await this.sync(id, { window: 512 });
      adds.push(...findAll(r.doc, 'Add'));
      if (!r.more) break;
    }
    return adds;
  }
}

async function withImap<T>(user: TestUser, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = await imapConnect(stack.imap, user);
  try {
    return await fn(c);
  } finally {
    await c.logout();
  }
}

/** Messages of a mailbox whose subject contains `subject`: UID, flags and source. */
async function imapFind(
  user: TestUser,
  mailbox: string,
  subject: string,
): Promise<Array<{ uid: number; flags: Set<string>; raw: string }>> {
  return withImap(user, async (c) => {
    const lock = await c.getMailboxLock(mailbox);
    try {
      const uids = await c.search({ subject }, { uid: true });
      if (uids === false || uids === undefined || uids.length === 0) return [];
      const msgs = await c.fetchAll(uids, { uid: true, flags: true, source: true }, { uid: true });
      return msgs.map((m) => ({ uid: m.uid, flags: m.flags ?? new Set(), raw: m.source?.toString() ?? '' }));
    } finally {
      lock.release();
    }
  });
}

const commandsOf = (doc: WbxmlElement | undefined): WbxmlElement[] =>
  findAll(doc, 'Commands').flatMap((c) => c.children);

describe('16.x drafts on Dovecot', () => {
  it('a draft edited on the phone keeps its ServerId though IMAP stores it as a new message', async () => {
    const phone = await Phone.open(carol);
    const drafts = phone.types.get('3')!;
    await phone.drain(drafts);
    const subject = `Draft ${run}`;
    const data = (words: string): string =>
      `<ApplicationData><To xmlns="Email:">bob@easd.test</To><Subject xmlns="Email:">${subject}</Subject><Body xmlns="AirSyncBase:"><Type>1</Type><Data>${words}</Data></Body></ApplicationData>`;

    const added = await phone.sync(drafts, {
      commands: `<Add><ClientId>draft-${run}</ClientId>${data('first words')}</Add>`,
    });
    const serverId = findText(findAll(added.doc, 'Responses')[0], 'ServerId')!;
    expect(serverId).toBeDefined();
    const [first] = await imapFind(carol, 'Drafts', subject);
    expect(first?.raw).toContain('first words');

    const edited = await phone.sync(drafts, {
      commands: `<Change><ServerId>${serverId}</ServerId>${data('second words')}</Change>`,
    });
    expect(edited.status).toBe('1');
    expect(findAll(edited.doc, 'Responses')).toHaveLength(0); // a successful Change has no response
    expect(commandsOf(edited.doc)).toEqual([]); // no Delete of the old message, no Add of the new
    const [second, ...others] = await imapFind(carol, 'Drafts', subject);
    expect(others).toEqual([]);
    expect(second!.uid).not.toBe(first!.uid);
    expect(second!.raw).toContain('second words');

    // the next Sync has nothing for the phone; the old ServerId reads, changes and sees the new message
    const quiet = await phone.sync(drafts);
    expect(commandsOf(quiet.doc)).toEqual([]);
    const fetched = await phone.sync(drafts, { commands: `<Fetch><ServerId>${serverId}</ServerId></Fetch>` });
    const fetchResponse = findAll(fetched.doc, 'Fetch')[0];
    expect(findText(fetchResponse, 'Status')).toBe('1');
    expect(findText(fetchResponse, 'Data')).toContain('second words');
    const op = await phone.command(
      'ItemOperations',
      `<ItemOperations xmlns="ItemOperations:"><Fetch><Store>Mailbox</Store><ServerId xmlns="AirSync:">${serverId}</ServerId><CollectionId xmlns="AirSync:">${drafts}</CollectionId><Options><BodyPreference xmlns="AirSyncBase:"><Type>1</Type></BodyPreference></Options></Fetch></ItemOperations>`,
    );
    expect(findText(findAll(op.doc, 'Fetch')[0], 'Status')).toBe('1');
    expect(findText(op.doc, 'Data')).toContain('second words');

    const again = await phone.sync(drafts, {
      commands: `<Change><ServerId>${serverId}</ServerId>${data('third words')}</Change>`,
    });
    expect(again.status).toBe('1');
    expect(commandsOf(again.doc)).toEqual([]);
    const [third] = await imapFind(carol, 'Drafts', subject);
    expect(third!.raw).toContain('third words');

    // another client flags it: the phone hears of it under its own ServerId
    await withImap(carol, async (c) => {
      const lock = await c.getMailboxLock('Drafts');
      try {
        await c.messageFlagsAdd(String(third!.uid), ['\\Flagged'], { uid: true });
      } finally {
        lock.release();
      }
    });
    const flagged = await phone.sync(drafts);
    const changes = commandsOf(flagged.doc);
    expect(changes.map((c) => [c.name, findText(c, 'ServerId')])).toEqual([['Change', serverId]]);

    const deleted = await phone.sync(drafts, {
      commands: `<Delete><ServerId>${serverId}</ServerId></Delete>`,
    });
    expect(deleted.status).toBe('1');
    expect(findAll(deleted.doc, 'Responses')).toHaveLength(0);
    expect(await imapFind(carol, 'Drafts', subject)).toEqual([]);
    expect(commandsOf((await phone.sync(drafts)).doc)).toEqual([]);
  }, 60_000);

  it('MoveItems finds an edited draft by the ServerId the phone holds', async () => {
    const phone = await Phone.open(carol);
    const drafts = phone.types.get('3')!;
    const trash = phone.types.get('4')!;
    await phone.drain(drafts);
    await phone.drain(trash);
    const subject = `Moved draft ${run}`;
    const data = (words: string): string =>
      `<ApplicationData><Subject xmlns="Email:">${subject}</Subject><Body xmlns="AirSyncBase:"><Type>1</Type><Data>${words}</Data></Body></ApplicationData>`;
    const added = await phone.sync(drafts, {
      commands: `<Add><ClientId>m-${run}</ClientId>${data('one')}</Add>`,
    });
    const serverId = findText(findAll(added.doc, 'Responses')[0], 'ServerId')!;
    await phone.sync(drafts, { commands: `<Change><ServerId>${serverId}</ServerId>${data('two')}</Change>` });
    const moved = await phone.command(
      'MoveItems',
      `<MoveItems xmlns="Move:"><Move><SrcMsgId>${serverId}</SrcMsgId><SrcFldId>${drafts}</SrcFldId><DstFldId>${trash}</DstFldId></Move></MoveItems>`,
    );
    expect(findText(moved.doc, 'Status')).toBe('3');
    expect(await imapFind(carol, 'Drafts', subject)).toEqual([]);
    const [inTrash] = await imapFind(carol, 'Trash', subject);
    expect(inTrash?.raw).toContain('two');
    // both collections already match the phone: no Delete, no second Add
    expect(commandsOf((await phone.sync(drafts)).doc)).toEqual([]);
    expect(commandsOf((await phone.sync(trash)).doc)).toEqual([]);
  }, 60_000);
});

describe('SendMail with refused recipients (the SMTP receiver refuses refused.invalid)', () => {
  it('sends to the others, files Sent, and reports the refused one with a non-delivery report', async () => {
    const phone = await Phone.open(carol);
    const inbox = phone.types.get('2')!;
    await phone.drain(inbox);
    const subject = `Partly refused ${run}`;
    const messageId = `<refused-${run}@easd.test>`;
    const mime = `From: ${carol.email}\r\nTo: bob@easd.test, ghost@${REFUSED_DOMAIN}\r\nSubject: ${subject}\r\nMessage-ID: ${messageId}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n`;
    const res = await phone.command(
      'SendMail',
      `<SendMail xmlns="ComposeMail:"><ClientId>refused-${run}</ClientId><SaveInSentItems/><Mime>${mime.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</Mime></SendMail>`,
    );
    // sent: no Status (MS-ASCMD 2.2.3.177.14), so the phone does not send it again
    expect(res.status).toBe(200);
    expect(res.raw.length).toBe(0);
    const spool = (await readSpool(stack.smtp.spoolDir)).filter((m) => m.raw.includes(messageId));
    expect(spool.map((m) => m.rcptTo)).toEqual([['bob@easd.test']]);
    expect(await imapFind(carol, 'Sent', subject)).toHaveLength(1);
    const [report] = await imapFind(carol, 'INBOX', `Undeliverable: ${subject}`);
    expect(report?.raw).toMatch(/multipart\/report; report-type=delivery-status/);
    expect(report?.raw).toContain(`Final-Recipient: rfc822; ghost@${REFUSED_DOMAIN}`);
    expect(report?.raw).toContain('Status: 5.1.1');
    // the phone sees the report in its Inbox
    const adds = await phone.drain(inbox);
    const shown = adds.find((a) => findText(a, 'Subject') === `Undeliverable: ${subject}`);
    expect(findText(shown, 'Data')).toContain(`ghost@${REFUSED_DOMAIN}`);
  }, 60_000);

  it('every recipient refused: Status 116, nothing sent, nothing in Sent', async () => {
    const phone = await Phone.open(carol);
    const subject = `All refused ${run}`;
    const mime = `From: ${carol.email}\r\nTo: ghost@${REFUSED_DOMAIN}\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n`;
    const res = await phone.command(
      'SendMail',
      `<SendMail xmlns="ComposeMail:"><ClientId>all-refused-${run}</ClientId><SaveInSentItems/><Mime>${mime.replace(/</g, '&lt;').replace(/>/g, '&gt;')}</Mime></SendMail>`,
    );
    expect(findText(res.doc, 'Status')).toBe('116');
    expect((await readSpool(stack.smtp.spoolDir)).some((m) => m.raw.includes(subject))).toBe(false);
    expect(await imapFind(carol, 'Sent', subject)).toEqual([]);
  }, 60_000);
});
