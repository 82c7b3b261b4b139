// Mail on the real stack (issue 5), the parts imap-sync.test.ts does not cover: easd on Dovecot and
// the SMTP receiver, a scripted phone speaking WBXML, results checked on the servers themselves and
// every EAS response validated against Microsoft's schemas.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { decode, type WbxmlElement } from '../../wbxml/index.js';
import { openEasd, type Easd } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { appendMessage, imapConnect } from '../stack/dovecot.js';
import { readSpool, REFUSED_DOMAIN } from '../stack/smtp.js';
import type { TestUser } from '../stack/users.js';
import { EasTestClient, findAll, findText, type EasReply } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

// A submission that reached the SMTP server and then the process died (the request gets no answer).
const submission = vi.hoisted(() => ({ dieAfter: false }));
vi.mock('../../backends/smtp/index.js', async (importOriginal) => {
  const smtp = await importOriginal<typeof import('../../backends/smtp/index.js')>();
  return {
    ...smtp,
    createSmtpSubmitter: (...args: Parameters<typeof smtp.createSmtpSubmitter>) => {
      const submitter = smtp.createSmtpSubmitter(...args);
      return {
        ...submitter,
        submit: async (...a: Parameters<typeof submitter.submit>) => {
          const result = await submitter.submit(...a);
          if (submission.dieAfter) throw new Error('process died here');
          return result;
        },
      };
    },
  };
});

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const run = `${process.pid}-${Date.now()}`;
let easd: Easd;
let dataDir: string;

/**
 * easd reaches the SMTP receiver through this gate. While `down`, it answers every connection with
 * 421 (RFC 5321 4.3.2: service not available) and drops the ones already open, as a submission
 * server being restarted does.
 */
const smtpGate = {
  server: undefined as net.Server | undefined,
  open: new Set<net.Socket>(),
  down: false,
  setDown(down: boolean): void {
    this.down = down;
    if (down) for (const s of this.open) s.destroy();
  },
};

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'easd-mail-imap-'));
  const gate = net.createServer((phoneSide) => {
    if (smtpGate.down) {
      phoneSide.on('error', () => undefined);
      phoneSide.end('421 4.3.2 Service not available\r\n');
      return;
    }
    const upstream = net.connect(stack.smtp.port, stack.smtp.host);
    for (const s of [phoneSide, upstream]) {
      smtpGate.open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        smtpGate.open.delete(s);
        phoneSide.destroy();
        upstream.destroy();
      });
    }
    phoneSide.pipe(upstream).pipe(phoneSide);
  });
  smtpGate.server = gate;
  await new Promise<void>((resolve) => gate.listen(0, stack.smtp.host, resolve));
  const port = (gate.address() as net.AddressInfo).port;
  easd = await openEasd(
    loadConfig({
      EASD_DATA_DIR: dataDir,
      EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
      EASD_SMTP_URL: `smtp://${stack.smtp.host}:${port}`,
    }),
    pino({ level: 'silent' }),
  );
});
afterAll(async () => {
  await easd?.app.close();
  smtpGate.setDown(true);
  await new Promise((resolve) => smtpGate.server?.close(resolve));
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

describe('16.x email2:Send of a draft (MS-ASEMAIL 2.2.2.69) on Dovecot and SMTP', () => {
  const draftData = (subject: string, to: string, words: string, send: boolean): string =>
    `<ApplicationData><To xmlns="Email:">${to}</To><Subject xmlns="Email:">${subject}</Subject><Body xmlns="AirSyncBase:"><Type>1</Type><Data>${words}</Data></Body>${send ? '<Send xmlns="Email2:"/>' : ''}</ApplicationData>`;
  const spooled = async (
    subject: string,
  ): Promise<Array<{ rcptTo: string[]; user: string | null; raw: string }>> =>
    (await readSpool(stack.smtp.spoolDir))
      .filter((m) => m.raw.includes(subject))
      .map((m) => ({ rcptTo: m.rcptTo, user: m.user, raw: m.raw.toString() }));
  /** The Delete the phone is sent for `serverId`, in this response's Commands or the next Sync's. */
  const deletesOf = (doc: WbxmlElement | undefined): Array<string | undefined> =>
    commandsOf(doc)
      .filter((c) => c.name === 'Delete')
      .map((c) => findText(c, 'ServerId'));

  it('an Add with <Send/> is sent through SMTP as carol, filed in Sent, gone from Drafts; the phone is told to delete it', async () => {
    const phone = await Phone.open(carol);
    const drafts = phone.types.get('3')!;
    await phone.drain(drafts);
    const subject = `Send on add ${run}`;
    const addCommand = `<Add><ClientId>send-add-${run}</ClientId>${draftData(subject, 'bob@easd.test', 'sent from drafts', true)}</Add>`;
    const before = phone.keys.get(drafts)!;
    const res = await phone.sync(drafts, { commands: addCommand });
    expect(res.status).toBe('1');
    const response = findAll(res.doc, 'Responses')[0];
    expect(findText(response, 'Status')).toBe('1');
    const serverId = findText(response, 'ServerId')!;
    const [sent, ...more] = await spooled(subject);
    expect(more).toEqual([]);
    expect([sent!.rcptTo, sent!.user]).toEqual([['bob@easd.test'], carol.user]);
    expect(sent!.raw).toContain('sent from drafts');
    expect(sent!.raw).toMatch(/^Message-ID: <.+>\r$/m);
    expect(sent!.raw).toMatch(/^Date: /m);
    const [inSent] = await imapFind(carol, 'Sent', subject);
    expect([...inSent!.flags]).toContain('\\Seen');
    expect([...inSent!.flags]).not.toContain('\\Draft');
    expect(await imapFind(carol, 'Drafts', subject)).toEqual([]);
    // the same request again (a phone retrying after a lost answer): answered alike, not sent twice
    const after = phone.keys.get(drafts)!;
    phone.keys.set(drafts, before);
    const again = await phone.sync(drafts, { commands: addCommand });
    expect(findText(findAll(again.doc, 'Responses')[0], 'ServerId')).toBe(serverId);
    expect(await spooled(subject)).toHaveLength(1);
    phone.keys.set(drafts, after);
    const deletes = [...deletesOf(res.doc), ...deletesOf((await phone.sync(drafts)).doc)];
    expect(deletes).toEqual([serverId]);
  }, 60_000);

  it("a Change with <Send/> sends the draft as changed, keeps the phone's ServerId and removes the draft", async () => {
    const phone = await Phone.open(carol);
    const drafts = phone.types.get('3')!;
    await phone.drain(drafts);
    const subject = `Send on change ${run}`;
    const added = await phone.sync(drafts, {
      commands: `<Add><ClientId>send-ch-${run}</ClientId>${draftData(subject, 'bob@easd.test', 'first version', false)}</Add>`,
    });
    const serverId = findText(findAll(added.doc, 'Responses')[0], 'ServerId')!;
    expect(await spooled(subject)).toEqual([]);
    expect(await imapFind(carol, 'Drafts', subject)).toHaveLength(1);
    const changed = await phone.sync(drafts, {
      commands: `<Change><ServerId>${serverId}</ServerId>${draftData(subject, 'bob@easd.test, alice@easd.test', 'final version', true)}</Change>`,
    });
    expect(changed.status).toBe('1');
    expect(findAll(changed.doc, 'Responses')).toHaveLength(0); // a successful Change has no response
    const [sent] = await spooled(subject);
    expect(sent!.rcptTo.sort()).toEqual(['alice@easd.test', 'bob@easd.test']);
    expect(sent!.raw).toContain('final version');
    expect(sent!.raw).not.toContain('first version');
    expect(await imapFind(carol, 'Drafts', subject)).toEqual([]);
    expect(await imapFind(carol, 'Sent', subject)).toHaveLength(1);
    expect([...deletesOf(changed.doc), ...deletesOf((await phone.sync(drafts)).doc)]).toEqual([serverId]);
  }, 60_000);

  /** A phone with its Drafts folder synced up. */
  const draftsPhone = async (): Promise<{ phone: Phone; drafts: string }> => {
    const phone = await Phone.open(carol);
    const drafts = phone.types.get('3')!;
    await phone.drain(drafts);
    return { phone, drafts };
  };
  /** A request made while the SMTP gate answers 421. */
  const whileSmtpDown = async <T>(fn: () => Promise<T>): Promise<T> => {
    smtpGate.setDown(true);
    try {
      return await fn();
    } finally {
      smtpGate.setDown(false);
    }
  };
  /** The draft went out once with `words` (one message in the spool), is gone from Drafts and is in Sent. */
  const expectSentOnce = async (subject: string, words: string): Promise<void> => {
    const [sent, ...twice] = await spooled(subject);
    expect(twice).toEqual([]);
    expect(sent!.raw).toContain(words);
    expect(await imapFind(carol, 'Drafts', subject)).toEqual([]);
    expect(await imapFind(carol, 'Sent', subject)).toHaveLength(1);
  };
  /** The Add or Change response for the draft: [ServerId, Status]. */
  const answerOf = (doc: WbxmlElement | undefined): Array<string | undefined> => {
    const response = findAll(doc, 'Responses')[0];
    return [findText(response, 'ServerId'), findText(response, 'Status')];
  };

  it('every recipient refused: Status 6 for the Add, nothing sent; the draft stays in Drafts under its ServerId', async () => {
    const { phone, drafts } = await draftsPhone();
    const subject = `Send refused ${run}`;
    const res = await phone.sync(drafts, {
      commands: `<Add><ClientId>send-no-${run}</ClientId>${draftData(subject, `ghost@${REFUSED_DOMAIN}`, 'nobody', true)}</Add>`,
    });
    expect(res.status).toBe('1');
    const [serverId, status] = answerOf(res.doc);
    expect([serverId !== undefined, status]).toEqual([true, '6']);
    expect(await spooled(subject)).toEqual([]);
    const [kept, ...more] = await imapFind(carol, 'Drafts', subject);
    expect(more).toEqual([]);
    expect(kept!.raw).toContain('nobody');
    expect(await imapFind(carol, 'Sent', subject)).toEqual([]);
    // nothing for the phone: it holds the draft under that ServerId already
    expect(commandsOf((await phone.sync(drafts)).doc)).toEqual([]);
  }, 60_000);

  it('an Add with <Send/> while SMTP is down: Status 16 with a ServerId, the draft kept; a Change with <Send/> later sends it once', async () => {
    const { phone, drafts } = await draftsPhone();
    const subject = `Send add down ${run}`;
    const res = await whileSmtpDown(() =>
      phone.sync(drafts, {
        commands: `<Add><ClientId>send-down-${run}</ClientId>${draftData(subject, 'bob@easd.test', 'while down', true)}</Add>`,
      }),
    );
    expect(res.status).toBe('1');
    const [serverId, status] = answerOf(res.doc);
    expect([serverId !== undefined, status]).toEqual([true, '16']);
    expect(await spooled(subject)).toEqual([]);
    expect(await imapFind(carol, 'Drafts', subject)).toHaveLength(1);
    expect(commandsOf((await phone.sync(drafts)).doc)).toEqual([]);

    const retried = await phone.sync(drafts, {
      commands: `<Change><ServerId>${serverId}</ServerId>${draftData(subject, 'bob@easd.test', 'while down', true)}</Change>`,
    });
    expect(findAll(retried.doc, 'Responses')).toHaveLength(0);
    await expectSentOnce(subject, 'while down');
    expect([...deletesOf(retried.doc), ...deletesOf((await phone.sync(drafts)).doc)]).toEqual([serverId]);
  }, 60_000);

  it('an Add with <Send/> whose request dies after the submission is not sent again by the repeated request', async () => {
    const { phone, drafts } = await draftsPhone();
    const subject = `Send add died ${run}`;
    const add = `<Add><ClientId>send-died-${run}</ClientId>${draftData(subject, 'bob@easd.test', 'once only', true)}</Add>`;
    // The message reaches SMTP, then the process "dies": no Sync answer, no new sync key stored.
    submission.dieAfter = true;
    const key = phone.keys.get(drafts);
    let died;
    try {
      died = await phone.sync(drafts, { commands: add });
    } finally {
      submission.dieAfter = false;
    }
    expect([died.doc, phone.keys.get(drafts)]).toEqual([undefined, key]);
    expect(await spooled(subject)).toHaveLength(1);

    // the phone repeats the request: the Add is answered from the journal and not sent again
    const repeat = await phone.sync(drafts, { commands: add });
    expect(repeat.status).toBe('1');
    const [serverId, status] = answerOf(repeat.doc);
    expect([serverId !== undefined, status]).toEqual([true, '1']);
    expect(await spooled(subject)).toHaveLength(1);
  }, 60_000);

  describe("a Change with <Send/> that fails keeps the changed draft under the phone's ServerId", () => {
    /** A draft added without Send: its subject and ServerId. */
    const addDraft = async (phone: Phone, drafts: string, name: string): Promise<[string, string]> => {
      const subject = `Send ${name} ${run}`;
      const added = await phone.sync(drafts, {
        commands: `<Add><ClientId>${name}-${run}</ClientId>${draftData(subject, 'bob@easd.test', 'first version', false)}</Add>`,
      });
      return [subject, findText(findAll(added.doc, 'Responses')[0], 'ServerId')!];
    };

    it('a refused recipient gets Status 6; the next Change with <Send/> to another sends it once', async () => {
      const { phone, drafts } = await draftsPhone();
      const [subject, serverId] = await addDraft(phone, drafts, 'change-refused');
      const refused = await phone.sync(drafts, {
        commands: `<Change><ServerId>${serverId}</ServerId>${draftData(subject, `ghost@${REFUSED_DOMAIN}`, 'to the ghost', true)}</Change>`,
      });
      expect(answerOf(refused.doc)).toEqual([serverId, '6']);
      expect(await spooled(subject)).toEqual([]);
      const [draft] = await imapFind(carol, 'Drafts', subject);
      expect(draft!.raw).toContain('to the ghost');

      const fixed = await phone.sync(drafts, {
        commands: `<Change><ServerId>${serverId}</ServerId>${draftData(subject, 'bob@easd.test', 'to bob after all', true)}</Change>`,
      });
      expect(findAll(fixed.doc, 'Responses')).toHaveLength(0);
      await expectSentOnce(subject, 'to bob after all');
      expect((await spooled(subject))[0]!.rcptTo).toEqual(['bob@easd.test']);
    }, 60_000);

    it('SMTP down gets Status 16; the same Change repeated sends it exactly once', async () => {
      const { phone, drafts } = await draftsPhone();
      const [subject, serverId] = await addDraft(phone, drafts, 'change-down');
      const change = `<Change><ServerId>${serverId}</ServerId>${draftData(subject, 'bob@easd.test', 'final version', true)}</Change>`;
      const failed = await whileSmtpDown(() => phone.sync(drafts, { commands: change }));
      expect(failed.status).toBe('1');
      expect(answerOf(failed.doc)).toEqual([serverId, '16']);
      expect(await spooled(subject)).toEqual([]);
      const [draft, ...others] = await imapFind(carol, 'Drafts', subject);
      expect(others).toEqual([]);
      expect(draft!.raw).toContain('final version');

      // the phone repeats its Change (IMAP stored the edit as a new message meanwhile)
      const repeated = await phone.sync(drafts, { commands: change });
      expect(repeated.status).toBe('1');
      expect(findAll(repeated.doc, 'Responses')).toHaveLength(0);
      await expectSentOnce(subject, 'final version');
      expect([...deletesOf(repeated.doc), ...deletesOf((await phone.sync(drafts)).doc)]).toEqual([serverId]);
    }, 60_000);
  });
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

/** Puts a message into one of carol's mailboxes straight on Dovecot (a delivery, another client). */
async function deliver(
  mailbox: string,
  subject: string,
  opts: { body?: string; headers?: string } = {},
): Promise<void> {
  await appendMessage(
    stack.imap,
    carol,
    mailbox,
    `From: Bob <bob@easd.test>\r\nTo: ${carol.email}\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${subject.replace(/\W+/g, '.')}@easd.test>\r\n${opts.headers ?? ''}\r\n${opts.body ?? 'hello'}\r\n`,
  );
}

async function createMailbox(path: string): Promise<void> {
  await withImap(carol, async (c) => {
    await c.mailboxCreate(path);
  });
}

/** The ServerId of the Add with this subject among `adds`. */
const serverIdOf = (adds: WbxmlElement[], subject: string): string => {
  const id = findText(
    adds.find((a) => findText(a, 'Subject') === subject),
    'ServerId',
  );
  if (id === undefined) throw new Error(`no Add for ${subject}`);
  return id;
};

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** MS-ASCMD 2.2.1.10.1.1: the parts of a multipart ItemOperations body. */
function multipartParts(buf: Buffer): Buffer[] {
  const count = buf.readInt32LE(0);
  return Array.from({ length: count }, (_, i) =>
    buf.subarray(buf.readInt32LE(4 + 8 * i), buf.readInt32LE(4 + 8 * i) + buf.readInt32LE(8 + 8 * i)),
  );
}

describe('issue 5 on Dovecot and SMTP: what the other tests leave out', () => {
  it('a phone signing in as DOMAIN\\user reads the mailbox and sends as the user', async () => {
    const phone = await Phone.open(carol, '14.1', `EASD\\${carol.user}`);
    const inbox = phone.types.get('2')!;
    await phone.drain(inbox);
    const subject = `Windows login ${run}`;
    await deliver('INBOX', subject);
    expect((await phone.drain(inbox)).map((a) => findText(a, 'Subject'))).toContain(subject);
    const messageId = `<winlogin-${run}@easd.test>`;
    const res = await phone.command(
      'SendMail',
      `<SendMail xmlns="ComposeMail:"><ClientId>win-${run}</ClientId><Mime>${escapeXml(`From: ${carol.email}\r\nTo: bob@easd.test\r\nSubject: sent by ${subject}\r\nMessage-ID: ${messageId}\r\n\r\nhi\r\n`)}</Mime></SendMail>`,
    );
    expect([res.status, res.raw.length]).toEqual([200, 0]);
    const spooled = (await readSpool(stack.smtp.spoolDir)).filter((m) => m.raw.includes(messageId));
    expect(spooled.map((m) => m.user)).toEqual([carol.user]);
  }, 60_000);

  it('Delete with DeletesAsMoves moves to Trash; without it the message is expunged', async () => {
    const name = `Deletes ${run}`;
    await createMailbox(name);
    await deliver(name, `to trash ${run}`);
    await deliver(name, `for good ${run}`);
    const phone = await Phone.open(carol);
    const id = phone.folders.get(name)!;
    const adds = await phone.drain(id);
    const moves = await phone.sync(id, {
      extra: '<DeletesAsMoves>1</DeletesAsMoves>',
      commands: `<Delete><ServerId>${serverIdOf(adds, `to trash ${run}`)}</ServerId></Delete>`,
    });
    expect(moves.status).toBe('1');
    const expunges = await phone.sync(id, {
      extra: '<DeletesAsMoves>0</DeletesAsMoves>',
      commands: `<Delete><ServerId>${serverIdOf(adds, `for good ${run}`)}</ServerId></Delete>`,
    });
    expect(expunges.status).toBe('1');
    expect(await imapFind(carol, name, run)).toEqual([]);
    expect((await imapFind(carol, 'Trash', `to trash ${run}`)).length).toBe(1);
    expect(await imapFind(carol, 'Trash', `for good ${run}`)).toEqual([]);
    expect(commandsOf((await phone.sync(id)).doc)).toEqual([]);
  }, 60_000);

  it('ItemOperations EmptyFolderContents empties the mailbox and its subfolders; the phone starts over', async () => {
    const name = `Empty ${run}`;
    await createMailbox(name);
    await createMailbox(`${name}/Inner`);
    for (const n of [1, 2, 3]) await deliver(name, `empty me ${n} ${run}`);
    const phone = await Phone.open(carol);
    const id = phone.folders.get(name)!;
    expect(await phone.drain(id)).toHaveLength(3);
    const res = await phone.command(
      'ItemOperations',
      `<ItemOperations xmlns="ItemOperations:"><EmptyFolderContents><CollectionId xmlns="AirSync:">${id}</CollectionId><Options><DeleteSubFolders/></Options></EmptyFolderContents></ItemOperations>`,
    );
    expect(findText(findAll(res.doc, 'EmptyFolderContents')[0], 'Status')).toBe('1');
    expect(await imapFind(carol, name, run)).toEqual([]);
    const left = await withImap(carol, (c) => c.list());
    expect(left.map((b) => b.path)).not.toContain(`${name}/Inner`);
    expect(left.map((b) => b.path)).toContain(name);
    expect((await phone.sync(id)).status).toBe('3'); // MS-ASCMD 2.2.3.177.17: start over
    phone.keys.delete(id);
    expect(commandsOf((await phone.sync(id)).doc)).toEqual([]);
  }, 60_000);

  it('ItemOperations Fetch in the multipart form: the attachment and the whole message as parts', async () => {
    const subject = `Multipart ${run}`;
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    await deliver('INBOX', subject, {
      headers: 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="mp"\r\n',
      body: `--mp\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--mp\r\nContent-Type: application/octet-stream; name="data.bin"\r\nContent-Disposition: attachment; filename="data.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${bytes.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n--mp--`,
    });
    const phone = await Phone.open(carol);
    const inbox = phone.types.get('2')!;
    const adds = await phone.drain(inbox);
    const add = adds.find((a) => findText(a, 'Subject') === subject)!;
    const ref = findText(add, 'FileReference')!;
    const res = await phone.client.command(
      'ItemOperations',
      `<ItemOperations xmlns="ItemOperations:"><Fetch><Store>Mailbox</Store><FileReference xmlns="AirSyncBase:">${ref}</FileReference></Fetch><Fetch><Store>Mailbox</Store><ServerId xmlns="AirSync:">${findText(add, 'ServerId')}</ServerId><CollectionId xmlns="AirSync:">${inbox}</CollectionId><Options><MIMESupport xmlns="AirSync:">2</MIMESupport><BodyPreference xmlns="AirSyncBase:"><Type>4</Type></BodyPreference></Options></Fetch></ItemOperations>`,
      { headers: { 'ms-asacceptmultipart': 'T' } },
    );
    expect(res.headers['content-type']).toBe('application/vnd.ms-sync.multipart');
    const [wbxml, ...parts] = multipartParts(res.raw);
    const doc = decode(wbxml!);
    await validateEasResponse(doc, 'ItemOperations');
    const fetches = findAll(doc, 'Fetch');
    expect(fetches.map((f) => findText(f, 'Status'))).toEqual(['1', '1']);
    // Part elements name the parts in order (MS-ASCMD 2.2.3.133)
    expect(findAll(doc, 'Part').map((p) => p.value)).toEqual(['1', '2']);
    expect(parts[0]!.equals(bytes)).toBe(true);
    expect(parts[1]!.toString('latin1')).toContain(`Subject: ${subject}`);
    expect(parts[1]!.toString('latin1')).toContain('filename="data.bin"');
  }, 60_000);

  it('12.x SendMail: raw MIME with SaveInSent=T in the query reaches the receiver and Sent', async () => {
    const phone = await Phone.open(carol, '12.1');
    const subject = `Legacy send ${run}`;
    const res = await phone.command(
      'SendMail',
      Buffer.from(
        `From: ${carol.email}\r\nTo: bob@easd.test\r\nSubject: ${subject}\r\n\r\nfrom a 12.1 phone\r\n`,
      ),
      { params: { SaveInSent: 'T' }, headers: { 'content-type': 'message/rfc822' } },
    );
    expect([res.status, res.raw.length]).toEqual([200, 0]);
    const spooled = (await readSpool(stack.smtp.spoolDir)).filter((m) => m.raw.includes(subject));
    expect(spooled.map((m) => [m.user, m.rcptTo])).toEqual([[carol.user, ['bob@easd.test']]]);
    // easd added what the phone left out (RFC 5322 3.6: Date and Message-ID)
    expect(spooled[0]!.raw.toString()).toMatch(/^Message-ID: <.+>$/im);
    expect(await imapFind(carol, 'Sent', subject)).toHaveLength(1);
  }, 60_000);

  it('SmartReply with ReplaceMime: the client message as written plus threading headers; the original answered', async () => {
    const subject = `Reply to me ${run}`;
    await deliver('INBOX', subject, { body: 'original text' });
    const phone = await Phone.open(carol);
    const inbox = phone.types.get('2')!;
    const itemId = serverIdOf(await phone.drain(inbox), subject);
    const reply = `From: ${carol.email}\r\nTo: bob@easd.test\r\nSubject: Re: ${subject}\r\n\r\nmy own full text\r\n`;
    const res = await phone.command(
      'SmartReply',
      `<SmartReply xmlns="ComposeMail:"><ClientId>rm-${run}</ClientId><Source><FolderId>${inbox}</FolderId><ItemId>${itemId}</ItemId></Source><SaveInSentItems/><ReplaceMime/><Mime>${escapeXml(reply)}</Mime></SmartReply>`,
    );
    expect([res.status, res.raw.length]).toEqual([200, 0]);
    const [sent] = (await readSpool(stack.smtp.spoolDir)).filter((m) => m.raw.includes(`Re: ${subject}`));
    const raw = sent!.raw.toString();
    const originalId = `<${subject.replace(/\W+/g, '.')}@easd.test>`;
    expect(raw).toContain(`In-Reply-To: ${originalId}`);
    expect(raw).toMatch(
      new RegExp(`^References: .*${originalId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'),
    );
    expect(raw).toContain('my own full text');
    expect(raw).not.toContain('original text');
    const [original] = await imapFind(carol, 'INBOX', subject);
    expect([...original!.flags]).toContain('\\Answered');
    expect(await imapFind(carol, 'Sent', `Re: ${subject}`)).toHaveLength(1);
  }, 60_000);

  it('Search with DeepTraversal and a Range, and Find (16.1), on IMAP folders', async () => {
    const parent = `Searchable ${run}`;
    await createMailbox(parent);
    await createMailbox(`${parent}/Deeper`);
    const word = `zorblax${Date.now()}`;
    for (const n of [1, 2, 3]) await deliver(parent, `top ${n} ${word}`);
    for (const n of [1, 2]) await deliver(`${parent}/Deeper`, `deep ${n} ${word}`);
    await deliver(parent, `no match ${run}`);
    const phone = await Phone.open(carol);
    const id = phone.folders.get(parent)!;
    const search = (options: string): Promise<EasReply> =>
      phone.command(
        'Search',
        `<Search xmlns="Search:"><Store><Name>Mailbox</Name><Query><And><Class xmlns="AirSync:">Email</Class><CollectionId xmlns="AirSync:">${id}</CollectionId><FreeText>${word}</FreeText></And></Query><Options>${options}</Options></Store></Search>`,
      );
    const deep = await search('<Range>0-1</Range><DeepTraversal/>');
    expect([
      findText(deep.doc, 'Total'),
      findText(deep.doc, 'Range'),
      findAll(deep.doc, 'Result').length,
    ]).toEqual(['5', '0-1', 2]);
    const shallow = await search('<Range>0-9</Range>');
    expect(findText(shallow.doc, 'Total')).toBe('3');
    expect(
      findAll(shallow.doc, 'Result')
        .map((r) => findText(r, 'Subject'))
        .sort(),
    ).toEqual([1, 2, 3].map((n) => `top ${n} ${word}`));
    const find = await phone.command(
      'Find',
      `<Find xmlns="Find:"><SearchId>5B3C1A2E-0F1D-4E6A-9B7C-8D9E0A1B2C3D</SearchId><ExecuteSearch><MailBoxSearchCriterion><Query><Class xmlns="AirSync:">Email</Class><CollectionId xmlns="AirSync:">${id}</CollectionId><FreeText>${word}</FreeText></Query><Options><Range>0-9</Range><DeepTraversal/></Options></MailBoxSearchCriterion></ExecuteSearch></Find>`,
    );
    expect(findText(find.doc, 'Status')).toBe('1');
    expect(
      findAll(find.doc, 'Result')
        .map((r) => findText(r, 'Subject'))
        .sort(),
    ).toEqual([...[1, 2].map((n) => `deep ${n} ${word}`), ...[1, 2, 3].map((n) => `top ${n} ${word}`)]);
  }, 60_000);

  it('shows Windows-1252 and Windows-1251 bodies and RFC 2231 file names as Unicode', async () => {
    const name = `Codepages ${run}`;
    await createMailbox(name);
    await withImap(carol, async (c) => {
      await c.append(
        name,
        Buffer.concat([
          Buffer.from(
            `From: bob@easd.test\r\nSubject: =?windows-1251?B?${Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]).toString('base64')}?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="cp"\r\n\r\n--cp\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`,
          ),
          Buffer.from([0x93, 0x43, 0x61, 0x66, 0xe9, 0x94, 0x20, 0x80, 0x35]), // “Café” €5
          Buffer.from(
            `\r\n--cp\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=windows-1251''%D4%E0%E9%EB.txt\r\n\r\nx\r\n--cp--\r\n`,
          ),
        ]),
      );
    });
    const phone = await Phone.open(carol);
    const [add] = await phone.drain(phone.folders.get(name)!);
    expect(findText(add, 'Subject')).toBe('Привет');
    expect(findText(add, 'Data')).toContain('“Café” €5');
    expect(findText(add, 'DisplayName')).toBe('Файл.txt');
  }, 60_000);
});

describe('a rich message through easd (16.1)', () => {
  it('shows the MS-ASEMAIL properties of a real message, and the phone’s Read/Flag/Categories land as IMAP flags', async () => {
    const name = `Rich ${run}`;
    await createMailbox(name);
    const subject = `Rich message ${run}`;
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    await withImap(carol, async (c) => {
      await c.append(
        name,
        [
          'From: "Bob Builder" <bob@easd.test>',
          `To: "Carol C" <${carol.email}>, dave@example.com`,
          'Cc: eve@example.com',
          'Reply-To: replies@example.com',
          `Subject: ${subject}`,
          'Date: Tue, 03 Nov 2026 10:00:00 +0000',
          `Message-ID: <rich-${run}@easd.test>`,
          `References: <root-${run}@easd.test>`,
          // Outlook's conversation header (MS-ASEMAIL 2.2.2.27): 22 bytes, no replies yet
          `Thread-Index: ${Buffer.alloc(22, 7).toString('base64')}`,
          'Importance: high',
          'MIME-Version: 1.0',
          'Content-Type: multipart/mixed; boundary="m1"',
          '',
          '--m1',
          'Content-Type: multipart/related; boundary="r1"',
          '',
          '--r1',
          'Content-Type: multipart/alternative; boundary="a1"',
          '',
          '--a1',
          'Content-Type: text/plain; charset=utf-8',
          '',
          'Plain words',
          '--a1',
          'Content-Type: text/html; charset=utf-8',
          '',
          '<p>HTML <b>words</b><img src="cid:logo@easd"></p>',
          '--a1--',
          '--r1',
          'Content-Type: image/png',
          'Content-ID: <logo@easd>',
          'Content-Disposition: inline; filename="logo.png"',
          'Content-Transfer-Encoding: base64',
          '',
          png.toString('base64'),
          '--r1--',
          '--m1',
          'Content-Type: application/pdf; name="plan.pdf"',
          'Content-Disposition: attachment; filename="plan.pdf"',
          'Content-Transfer-Encoding: base64',
          '',
          Buffer.from('%PDF-1.4 plan').toString('base64'),
          '--m1--',
          '',
        ].join('\r\n'),
        ['$label2'],
        new Date('2026-11-03T10:00:05Z'),
      );
    });
    const phone = await Phone.open(carol);
    const id = phone.folders.get(name)!;
    const [add] = await phone.drain(id);
    const text = (n: string): string | undefined => findText(add, n);
    expect({
      To: text('To'),
      Cc: text('Cc'),
      From: text('From'),
      ReplyTo: text('ReplyTo'),
      Subject: text('Subject'),
      DateReceived: text('DateReceived'),
      DisplayTo: text('DisplayTo'),
      Importance: text('Importance'),
      Read: text('Read'),
      MessageClass: text('MessageClass'),
      ContentClass: text('ContentClass'),
      InternetCPID: text('InternetCPID'),
      NativeBodyType: text('NativeBodyType'),
      Category: text('Category'),
    }).toEqual({
      To: `"Carol C" <${carol.email}>, dave@example.com`,
      Cc: 'eve@example.com',
      From: '"Bob Builder" <bob@easd.test>',
      ReplyTo: 'replies@example.com',
      Subject: subject,
      DateReceived: '2026-11-03T10:00:05.000Z',
      DisplayTo: 'Carol C; dave@example.com',
      Importance: '2',
      Read: '0',
      MessageClass: 'IPM.Note',
      ContentClass: 'urn:content-classes:message',
      InternetCPID: '65001',
      NativeBodyType: '2',
      Category: 'Work',
    });
    expect(findAll(add, 'ConversationId')).toHaveLength(1);
    expect(findAll(add, 'ConversationIndex')).toHaveLength(1);
    const attachments = findAll(add, 'Attachment').map((a) => ({
      name: findText(a, 'DisplayName'),
      inline: findText(a, 'IsInline') ?? '0',
      cid: findText(a, 'ContentId'),
      size: Number(findText(a, 'EstimatedDataSize')),
      ref: findText(a, 'FileReference') !== undefined,
    }));
    expect(attachments).toEqual([
      { name: 'logo.png', inline: '1', cid: 'logo@easd', size: png.length, ref: true },
      { name: 'plan.pdf', inline: '0', cid: undefined, size: 13, ref: true },
    ]);

    // the phone marks it read, flags it and files it under a second category
    const serverId = findText(add, 'ServerId')!;
    const changed = await phone.sync(id, {
      commands: `<Change><ServerId>${serverId}</ServerId><ApplicationData><Read xmlns="Email:">1</Read><Flag xmlns="Email:"><Status>2</Status><FlagType>Follow up</FlagType></Flag><Categories xmlns="Email:"><Category>Work</Category><Category>Big Plans</Category></Categories></ApplicationData></Change>`,
    });
    expect(changed.status).toBe('1');
    const [stored] = await imapFind(carol, name, subject);
    expect([...stored!.flags].sort()).toEqual(
      ['$label2', '\\Flagged', '\\Seen', `$easd.${Buffer.from('Big Plans').toString('base64url')}`].sort(),
    );
  }, 60_000);
});

describe('BodyPartPreference / BodyPart (MS-ASAIRS 2.2.2.10, 2.2.2.11) on Dovecot', () => {
  const quotedHtml = (marker: string): string =>
    `<html><body><p>Sounds good, see you at ${marker}.</p><div class="gmail_quote"><div>On Mon, Bob wrote:</div><blockquote class="gmail_quote">Shall we meet at noon? EARLIER-${marker}</blockquote></div></body></html>`;

  it('Sync: BodyPart is the HTML of the new part (quoted history left out), with Preview; truncation and AllOrNone (Status 176)', async () => {
    const name = `BodyPart ${run}`;
    await createMailbox(name);
    await deliver(name, `html reply ${run}`, {
      headers: 'MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n',
      body: quotedHtml('noon'),
    });
    await deliver(name, `plain reply ${run}`, {
      headers: 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n',
      body: 'Yes <please>, noon works.\r\n\r\nOn Mon, 7 Dec 2026, Bob <bob@easd.test> wrote:\r\n> Shall we meet at noon? EARLIER-plain\r\n',
    });
    const phone = await Phone.open(carol);
    const id = phone.folders.get(name)!;
    const part = (add: WbxmlElement | undefined): Record<string, string | undefined> => {
      const p = findAll(add, 'BodyPart')[0];
      return Object.fromEntries(
        ['Status', 'Type', 'EstimatedDataSize', 'Truncated', 'Data', 'Preview'].map((n) => [
          n,
          findText(p, n),
        ]),
      );
    };
    const options = (pref: string): string =>
      `<BodyPreference xmlns="AirSyncBase:"><Type>1</Type><TruncationSize>500</TruncationSize></BodyPreference><BodyPartPreference xmlns="AirSyncBase:"><Type>2</Type>${pref}</BodyPartPreference>`;
    const whole = await phone.sync(id, { options: options('<Preview>40</Preview>') });
    const adds = findAll(whole.doc, 'Add');
    const html = adds.find((a) => findText(a, 'Subject') === `html reply ${run}`);
    const plain = adds.find((a) => findText(a, 'Subject') === `plain reply ${run}`);
    expect(findText(html, 'Data')).toContain('EARLIER-noon'); // the Body is the whole message, in plain text
    const htmlPart = part(html);
    expect([htmlPart['Status'], htmlPart['Type'], htmlPart['Truncated']]).toEqual(['1', '2', undefined]);
    expect(htmlPart['Data']).toContain('Sounds good, see you at noon.');
    expect(htmlPart['Data']).not.toContain('EARLIER');
    expect(Number(htmlPart['EstimatedDataSize'])).toBe(Buffer.byteLength(htmlPart['Data']!));
    expect(htmlPart['Preview']).toBe('Sounds good, see you at noon.');
    const plainPart = part(plain);
    expect(plainPart['Data']).toContain('Yes &lt;please&gt;, noon works.');
    expect(plainPart['Data']).not.toContain('EARLIER');
    expect(plainPart['Preview']).toBe('Yes <please>, noon works.');

    // a new phone asks for at most 20 bytes, then for all or none of 20 bytes
    const cut = await Phone.open(carol);
    const cutAdds = findAll(
      (await cut.sync(id, { options: options('<TruncationSize>20</TruncationSize>') })).doc,
      'Add',
    );
    const cutPart = part(cutAdds.find((a) => findText(a, 'Subject') === `html reply ${run}`));
    expect([cutPart['Status'], cutPart['Truncated'], cutPart['EstimatedDataSize']]).toEqual([
      '1',
      '1',
      htmlPart['EstimatedDataSize'],
    ]);
    expect(Buffer.byteLength(cutPart['Data']!)).toBeLessThanOrEqual(20);
    const none = await Phone.open(carol);
    const noneAdds = findAll(
      (
        await none.sync(id, {
          options: options('<TruncationSize>20</TruncationSize><AllOrNone>1</AllOrNone>'),
        })
      ).doc,
      'Add',
    );
    const nonePart = part(noneAdds.find((a) => findText(a, 'Subject') === `html reply ${run}`));
    expect([nonePart['Status'], nonePart['Truncated'], nonePart['Data']]).toEqual(['176', '1', undefined]);

    // 14.0 has no BodyPart (MS-ASAIRS 2.2.2.10: 14.1+)
    const old = await Phone.open(carol, '14.0');
    const oldAdds = findAll((await old.sync(id, { options: options('') })).doc, 'Add');
    expect(oldAdds.length).toBe(2);
    expect(findAll(oldAdds[0], 'BodyPart')).toEqual([]);
  }, 60_000);

  it('ItemOperations Fetch and Search (Mailbox) give the BodyPart they are asked for', async () => {
    const name = `BodyPart ops ${run}`;
    await createMailbox(name);
    const word = `partword${Date.now()}`;
    await deliver(name, `ops reply ${word}`, {
      headers: 'MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n',
      body: quotedHtml(word),
    });
    const phone = await Phone.open(carol);
    const id = phone.folders.get(name)!;
    const [add] = await phone.drain(id);
    const partPref =
      '<BodyPartPreference xmlns="AirSyncBase:"><Type>2</Type><Preview>100</Preview></BodyPartPreference>';
    const fetched = await phone.command(
      'ItemOperations',
      `<ItemOperations xmlns="ItemOperations:"><Fetch><Store>Mailbox</Store><ServerId xmlns="AirSync:">${findText(add, 'ServerId')}</ServerId><CollectionId xmlns="AirSync:">${id}</CollectionId><Options><BodyPreference xmlns="AirSyncBase:"><Type>2</Type></BodyPreference>${partPref}</Options></Fetch></ItemOperations>`,
    );
    const fetchedPart = findAll(fetched.doc, 'BodyPart')[0];
    expect(findText(fetchedPart, 'Status')).toBe('1');
    expect(findText(fetchedPart, 'Data')).toContain(`see you at ${word}`);
    expect(findText(fetchedPart, 'Data')).not.toContain('EARLIER');
    expect(findText(fetchedPart, 'Preview')).toBe(`Sounds good, see you at ${word}.`);
    expect(findText(findAll(fetched.doc, 'Body')[0], 'Data')).toContain(`EARLIER-${word}`);

    const found = await phone.command(
      'Search',
      `<Search xmlns="Search:"><Store><Name>Mailbox</Name><Query><And><Class xmlns="AirSync:">Email</Class><CollectionId xmlns="AirSync:">${id}</CollectionId><FreeText>${word}</FreeText></And></Query><Options><Range>0-9</Range><BodyPreference xmlns="AirSyncBase:"><Type>1</Type></BodyPreference>${partPref}</Options></Store></Search>`,
    );
    expect(findAll(found.doc, 'Result')).toHaveLength(1);
    const foundPart = findAll(found.doc, 'BodyPart')[0];
    expect([findText(foundPart, 'Status'), findText(foundPart, 'Type')]).toEqual(['1', '2']);
    expect(findText(foundPart, 'Data')).not.toContain('EARLIER');
  }, 60_000);
});
