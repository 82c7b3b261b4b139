// SendMail, SmartReply and SmartForward on the memory backend, WBXML (14.0+) and raw MIME (12.x)
// in: delivery, Bcc, Sent copies, quoting and forwarding of the original, ReplaceMime, threading
// headers, LastVerbExecuted, duplicates by ClientId, and every failure as a Status (14.0+) or an
// HTTP status (12.x). Every WBXML response is schema-checked.
import PostalMime, { type Email } from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { el, type WbxmlElement } from '../../wbxml/index.js';
import type { Account, Backend, MailTransport } from '../../src/backend/contract.js';
import { BackendError, type BackendErrorKind } from '../../src/backend/errors.js';
import type { EngineDeps } from '../../src/commands/deps.js';
import {
  createSendMailHandler,
  createSmartForwardHandler,
  createSmartReplyHandler,
} from '../../src/commands/send-mail.js';
import { findAll, findText, type EasReply, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;
/** What the next mail.send of the "failing" engine throws. */
let failWith: BackendErrorKind = 'not-found';
let failing: TestEngine;

const ALICE = 'alice@easd.local';
const BOB = 'bob@easd.local';
const signal = (): AbortSignal => AbortSignal.timeout(10_000);
let seq = 0;
const uniq = (): string => `${process.pid}-${Date.now()}-${++seq}`;

const handlers = (deps: EngineDeps) => ({
  SendMail: createSendMailHandler(deps),
  SmartReply: createSmartReplyHandler(deps),
  SmartForward: createSmartForwardHandler(deps),
});

/** The memory backend, except that mail.send fails with `failWith`. */
function failingBackend(real: Backend): Backend {
  const mail: MailTransport = {
    send: async () => {
      throw new BackendError(failWith, 'test failure');
    },
  };
  return Object.assign(Object.create(real) as Backend, { mail });
}

beforeAll(async () => {
  engine = await startTestEngine({ extraHandlers: handlers });
  failing = await startTestEngine({
    extraHandlers: (deps) => handlers({ ...deps, backend: failingBackend(deps.backend) }),
  });
});

afterAll(async () => {
  await engine?.close();
  await failing?.close();
});

function mime(opts: {
  subject: string;
  from?: string;
  to?: string;
  cc?: string;
  bcc?: string;
  body?: string;
  headers?: string[];
}): Buffer {
  const lines = [
    `From: ${opts.from ?? `Alice <${ALICE}>`}`,
    ...(opts.to === '' ? [] : [`To: ${opts.to ?? `Bob <${BOB}>`}`]),
    ...(opts.cc === undefined ? [] : [`Cc: ${opts.cc}`]),
    ...(opts.bcc === undefined ? [] : [`Bcc: ${opts.bcc}`]),
    `Subject: ${opts.subject}`,
    'MIME-Version: 1.0',
    ...(opts.headers ?? ['Content-Type: text/plain; charset=utf-8']),
    '',
    opts.body ?? `Body of ${opts.subject}`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

function compose(
  command: 'SendMail' | 'SmartReply' | 'SmartForward',
  message: Uint8Array,
  opts: {
    clientId?: string | null;
    save?: boolean;
    replaceMime?: boolean;
    source?: { FolderId?: string; ItemId?: string; LongId?: string };
  } = {},
): WbxmlElement {
  const ns = 'ComposeMail';
  const source = opts.source;
  return el(
    ns,
    command,
    opts.clientId === null ? null : el(ns, 'ClientId', opts.clientId ?? uniq().slice(-40)),
    source === undefined
      ? null
      : el(
          ns,
          'Source',
          source.FolderId === undefined ? null : el(ns, 'FolderId', source.FolderId),
          source.ItemId === undefined ? null : el(ns, 'ItemId', source.ItemId),
          source.LongId === undefined ? null : el(ns, 'LongId', source.LongId),
        ),
    opts.save === true ? el(ns, 'SaveInSentItems') : null,
    opts.replaceMime === true ? el(ns, 'ReplaceMime') : null,
    el(ns, 'Mime', new Uint8Array(message)),
  );
}

async function folderOf(e: TestEngine, account: Account, role: string): Promise<string> {
  const f = (await e.backend.listFolders(account, signal())).find(
    (x) => x.role === role && x.class === 'Email',
  );
  if (f === undefined) throw new Error(`no folder ${role}`);
  return f.id;
}

interface Stored {
  id: string;
  raw: Buffer;
  email: Email;
  LastVerbExecuted?: number;
}

/** Every message in a user's folder, with its raw MIME. */
async function messages(user: string, role = 'inbox', e = engine): Promise<Stored[]> {
  const account = await e.account(user);
  const folderId = await folderOf(e, account, role);
  const stamps = await e.backend.listStamps(account, folderId, {}, signal());
  const recs = await e.backend.getItems(
    account,
    folderId,
    stamps.map((s) => s.id),
    { bodyPreferences: [{ Type: 4 }], MIMESupport: 2 },
    signal(),
  );
  const out: Stored[] = [];
  for (const r of recs) {
    if (r.class !== 'Email') continue;
    const raw = Buffer.from(r.item.Body?.Data as Uint8Array);
    out.push({
      id: r.id,
      raw,
      email: await PostalMime.parse(raw),
      ...(r.item.LastVerbExecuted !== undefined && { LastVerbExecuted: r.item.LastVerbExecuted }),
    });
  }
  return out;
}

async function received(user: string, subject: string, role = 'inbox', e = engine): Promise<Stored> {
  const found = (await messages(user, role, e)).filter((m) => m.email.subject === subject);
  expect(found, `${user}/${role} has "${subject}" once`).toHaveLength(1);
  return found[0]!;
}

const headerOf = (m: Stored, name: string): string | undefined =>
  m.email.headers.find((h) => h.key === name)?.value;

/**
 * Puts a message from Bob into Alice's Inbox behind easd's back; returns the Source a client
 * names it by (the Inbox CollectionId and the ServerId as Sync hands it out).
 */
async function deliverToAlice(
  message: Buffer,
  inbox: string,
  e = engine,
): Promise<{ FolderId: string; ItemId: string }> {
  const account = await e.account('alice');
  const stamp = await e.backend.createItem(
    account,
    await folderOf(e, account, 'inbox'),
    { class: 'Email', item: { Body: { Type: 4, Data: message, EstimatedDataSize: message.length } } },
    signal(),
  );
  return { FolderId: inbox, ItemId: `${inbox}:${stamp.id}` };
}

/** A client that has done FolderSync; returns the Inbox CollectionId. */
async function inboxOf(c: EasTestClient): Promise<string> {
  const res = await c.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  const inbox = findAll(res.doc, 'Add').find((a) => findText(a, 'Type') === '2');
  return findText(inbox, 'ServerId')!;
}

async function expectStatus(reply: EasReply, command: string, status: number): Promise<void> {
  expect(reply.status).toBe(200);
  expect(reply.doc).toBeDefined();
  await validateEasResponse(reply.doc!, command);
  expect(findText(reply.doc, 'Status')).toBe(String(status));
}

function expectSent(reply: EasReply): void {
  // MS-ASCMD 2.2.1.17: success is HTTP 200 with an empty body.
  expect(reply.status).toBe(200);
  expect(reply.raw.length).toBe(0);
}

describe('SendMail', () => {
  it('sends the message to To, Cc and Bcc, without the Bcc line, adding Date and Message-ID', async () => {
    const c = await engine.client('alice');
    const subject = `hello ${uniq()}`;
    const res = await c.command('SendMail', compose('SendMail', mime({ subject, to: BOB, bcc: ALICE })));
    expectSent(res);
    const atBob = await received('bob', subject);
    expect(atBob.raw.toString('latin1')).not.toMatch(/^bcc:/im);
    expect(atBob.email.messageId).toMatch(/^<[^@]+@easd\.local>$/);
    expect(headerOf(atBob, 'date')).toBeDefined();
    // Bcc'd to herself: Alice gets it too, and nothing lands in her Sent Items.
    expect((await received('alice', subject)).raw.toString('latin1')).not.toMatch(/^bcc:/im);
    expect((await messages('alice', 'sent')).filter((m) => m.email.subject === subject)).toHaveLength(0);
  });

  it('keeps a client Message-ID and files a Sent copy with SaveInSentItems', async () => {
    const c = await engine.client('alice', { version: '14.0' });
    const subject = `saved ${uniq()}`;
    const id = `<${uniq()}@phone.example>`;
    const res = await c.command(
      'SendMail',
      compose(
        'SendMail',
        mime({
          subject,
          bcc: 'carol@elsewhere.example',
          headers: [`Message-ID: ${id}`, 'Content-Type: text/plain'],
        }),
        { save: true },
      ),
    );
    expectSent(res);
    expect((await received('bob', subject)).email.messageId).toBe(id);
    const sent = await received('alice', subject, 'sent');
    expect(sent.email.messageId).toBe(id);
    // The Sent copy is the user's own record: it keeps the Bcc line.
    expect(sent.email.bcc?.[0]).toMatchObject({ address: 'carol@elsewhere.example' });
  });

  it('12.x: takes the raw MIME body and SaveInSent from the query', async () => {
    const c = await engine.client('alice', { version: '12.1' });
    const subject = `legacy ${uniq()}`;
    const res = await c.command('SendMail', mime({ subject }), {
      params: { SaveInSent: 'T' },
      headers: { 'content-type': 'message/rfc822' },
    });
    expectSent(res);
    await received('bob', subject);
    await received('alice', subject, 'sent');
  });

  it('12.x: the base64 query form carries SaveInSent too', async () => {
    const c = await engine.client('alice', { version: '12.1', base64: true });
    const subject = `legacy64 ${uniq()}`;
    const res = await c.command('SendMail', mime({ subject }), {
      headers: { 'content-type': 'message/rfc822' },
    });
    expectSent(res);
    await received('bob', subject);
  });

  it('answers 118 when a ClientId is sent again, and does not send twice', async () => {
    const c = await engine.client('alice');
    const subject = `once ${uniq()}`;
    const clientId = uniq().slice(-40);
    expectSent(await c.command('SendMail', compose('SendMail', mime({ subject }), { clientId })));
    await expectStatus(
      await c.command('SendMail', compose('SendMail', mime({ subject }), { clientId })),
      'SendMail',
      118,
    );
    await received('bob', subject);
  });

  it('answers 119 for a message without recipients', async () => {
    const c = await engine.client('alice');
    await expectStatus(
      await c.command('SendMail', compose('SendMail', mime({ subject: `nobody ${uniq()}`, to: '' }))),
      'SendMail',
      119,
    );
  });

  it('answers the backend kind as SendMail Status: denied 130 (sending as someone else)', async () => {
    const c = await engine.client('alice');
    const res = await c.command(
      'SendMail',
      compose('SendMail', mime({ subject: `spoof ${uniq()}`, from: BOB, to: ALICE })),
    );
    await expectStatus(res, 'SendMail', 130);
  });

  it.each([
    ['not-found', 116],
    ['too-large', 122],
    ['unsupported', 120],
  ] as const)('a submission failing with %s answers Status %i', async (kind, status) => {
    failWith = kind;
    const c = await failing.client('alice');
    await expectStatus(
      await c.command('SendMail', compose('SendMail', mime({ subject: `fail ${uniq()}` }))),
      'SendMail',
      status,
    );
  });

  it('a store that is down answers 503 with Retry-After, so the phone retries', async () => {
    failWith = 'unavailable';
    const c = await failing.client('alice');
    const res = await c.command('SendMail', compose('SendMail', mime({ subject: `down ${uniq()}` })));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('12.x: a failed submission is HTTP 500', async () => {
    failWith = 'not-found';
    const c = await failing.client('alice', { version: '12.1' });
    const res = await c.command('SendMail', mime({ subject: `fail12 ${uniq()}` }), {
      headers: { 'content-type': 'message/rfc822' },
    });
    expect(res.status).toBe(500);
  });

  it('answers 166 for an AccountId it never gave out, and accepts the account itself', async () => {
    const c = await engine.client('alice');
    const withAccount = (id: string, subject: string): WbxmlElement => {
      const req = compose('SendMail', mime({ subject }));
      req.children.splice(1, 0, el('ComposeMail', 'AccountId', id));
      return req;
    };
    await expectStatus(
      await c.command('SendMail', withAccount('someone-else', `acct ${uniq()}`)),
      'SendMail',
      166,
    );
    const subject = `acct-ok ${uniq()}`;
    expectSent(await c.command('SendMail', withAccount(ALICE, subject)));
    await received('bob', subject);
  });

  describe('malformed requests', () => {
    it('a missing Mime is 103, a missing ClientId is 103', async () => {
      const c = await engine.client('alice');
      await expectStatus(
        await c.command('SendMail', el('ComposeMail', 'SendMail', el('ComposeMail', 'ClientId', '1'))),
        'SendMail',
        103,
      );
      await expectStatus(
        await c.command('SendMail', compose('SendMail', mime({ subject: 'x' }), { clientId: null })),
        'SendMail',
        103,
      );
    });

    it('a ClientId over 40 characters is 103', async () => {
      const c = await engine.client('alice');
      const res = await c.command(
        'SendMail',
        compose('SendMail', mime({ subject: 'x' }), { clientId: 'x'.repeat(41) }),
      );
      await expectStatus(res, 'SendMail', 103);
    });

    it('a Mime that is no message is 107', async () => {
      const c = await engine.client('alice');
      await expectStatus(
        await c.command('SendMail', compose('SendMail', Buffer.from('\r\njust text, no header\r\n'))),
        'SendMail',
        107,
      );
      await expectStatus(
        await c.command('SendMail', compose('SendMail', new Uint8Array(0))),
        'SendMail',
        107,
      );
    });

    it('12.x: an empty body is HTTP 400', async () => {
      const c = await engine.client('alice', { version: '12.1' });
      const res = await c.command('SendMail', Buffer.alloc(0), {
        headers: { 'content-type': 'message/rfc822' },
      });
      expect(res.status).toBe(400);
    });
  });
});

describe('SmartReply', () => {
  const original = (subject: string, messageId: string): Buffer =>
    mime({
      subject,
      from: `Bob <${BOB}>`,
      to: `Alice <${ALICE}>`,
      headers: [
        `Message-ID: ${messageId}`,
        'References: <root@example.com>',
        'Content-Type: text/plain; charset=utf-8',
      ],
      body: 'Line one of the original\r\nLine two',
    });

  it('quotes the original under the reply, sets In-Reply-To/References, marks the original replied', async () => {
    const c = await engine.client('alice');
    const inbox = await inboxOf(c);
    const subject = `question ${uniq()}`;
    const origId = `<${uniq()}@bob.example>`;
    await deliverToAlice(original(subject, origId), inbox);

    // The ServerId as Sync hands it out.
    const init = await c.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${inbox}</CollectionId></Collection></Collections></Sync>`,
    );
    const first = await c.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${findText(init.doc, 'SyncKey')}</SyncKey><CollectionId>${inbox}</CollectionId><GetChanges/><WindowSize>100</WindowSize></Collection></Collections></Sync>`,
    );
    const add = findAll(first.doc, 'Add').find((a) => findText(a, 'Subject') === subject);
    const serverId = findText(add, 'ServerId');
    expect(serverId).toMatch(new RegExp(`^${inbox}:`));

    const reply = mime({ subject: `Re: ${subject}`, to: `Bob <${BOB}>`, body: 'Thanks, Bob!' });
    const res = await c.command(
      'SmartReply',
      compose('SmartReply', reply, { source: { FolderId: inbox, ItemId: serverId! }, save: true }),
    );
    expectSent(res);

    const got = await received('bob', `Re: ${subject}`);
    expect(got.email.text).toContain('Thanks, Bob!');
    expect(got.email.text).toContain('Bob <bob@easd.local> wrote:');
    expect(got.email.text).toContain('> Line one of the original');
    expect(got.email.text).toContain('> Line two');
    expect(got.email.inReplyTo).toBe(origId);
    expect(got.email.references).toContain('<root@example.com>');
    expect(got.email.references).toContain(origId);
    await received('alice', `Re: ${subject}`, 'sent');
    const orig = await received('alice', subject);
    expect(orig.LastVerbExecuted).toBe(1);
  });

  it('finds an Inbox original by ItemId alone (MS-ASCMD 2.2.3.93) and marks a reply-all', async () => {
    const c = await engine.client('alice');
    const inbox = await inboxOf(c);
    const subject = `all ${uniq()}`;
    const source = await deliverToAlice(original(subject, `<${uniq()}@bob.example>`), inbox);
    const reply = mime({ subject: `Re: ${subject}`, to: BOB, cc: 'dave@elsewhere.example' });
    expectSent(
      await c.command('SmartReply', compose('SmartReply', reply, { source: { ItemId: source.ItemId } })),
    );
    await received('bob', `Re: ${subject}`);
    expect((await received('alice', subject)).LastVerbExecuted).toBe(2);
  });

  it('puts the quoted original inside the HTML body, not after </html>', async () => {
    const c = await engine.client('alice');
    const inbox = await inboxOf(c);
    const subject = `html ${uniq()}`;
    const origHtml = mime({
      subject,
      from: BOB,
      to: ALICE,
      headers: [`Message-ID: <${uniq()}@bob.example>`, 'Content-Type: text/html; charset=utf-8'],
      body: '<html><head><style>p{color:red}</style></head><body><p>Original &amp; HTML</p></body></html>',
    });
    const source = await deliverToAlice(origHtml, inbox);
    const boundary = 'b1';
    const reply = mime({
      subject: `Re: ${subject}`,
      headers: [`Content-Type: multipart/alternative; boundary="${boundary}"`],
      body: [
        `--${boundary}`,
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Plain reply',
        `--${boundary}`,
        'Content-Type: text/html; charset=utf-8',
        '',
        '<html><body><p>HTML reply</p></body></html>',
        `--${boundary}--`,
      ].join('\r\n'),
    });
    expectSent(await c.command('SmartReply', compose('SmartReply', reply, { source })));
    const got = await received('bob', `Re: ${subject}`);
    const html = got.email.html ?? '';
    expect(html).toMatch(
      /<p>HTML reply<\/p>[\s\S]*<blockquote[^>]*><p>Original &amp; HTML<\/p><\/blockquote>[\s\S]*<\/body><\/html>\s*$/,
    );
    expect(html).not.toContain('color:red');
    expect(got.email.text).toContain('Plain reply');
    expect(got.email.text).toContain('> Original & HTML');
  });

  it('with ReplaceMime sends the client message unchanged but for the threading fields', async () => {
    const c = await engine.client('alice');
    const inbox = await inboxOf(c);
    const subject = `replace ${uniq()}`;
    const origId = `<${uniq()}@bob.example>`;
    const source = await deliverToAlice(original(subject, origId), inbox);
    const reply = mime({
      subject: `Re: ${subject}`,
      headers: [
        `Message-ID: <${uniq()}@phone>`,
        'Date: Mon, 1 Jun 2026 10:00:00 +0000',
        'Content-Type: text/plain',
      ],
      body: 'Edited inline, nothing to add',
    });
    expectSent(
      await c.command(
        'SmartReply',
        compose('SmartReply', reply, {
          replaceMime: true,
          source,
        }),
      ),
    );
    const got = await received('bob', `Re: ${subject}`);
    expect(got.email.text?.trim()).toBe('Edited inline, nothing to add');
    expect(got.email.inReplyTo).toBe(origId);
    // Byte for byte the client's message, after the two added fields.
    const text = got.raw.toString('latin1');
    expect(text.replace(/^In-Reply-To:.*\r\n/m, '').replace(/^References:.*\r\n(?:[ \t].*\r\n)*/m, '')).toBe(
      reply.toString('latin1'),
    );
  });

  it('answers 150 for an original that does not exist, or a collection the device does not know', async () => {
    const c = await engine.client('alice');
    const inbox = await inboxOf(c);
    const reply = mime({ subject: 'Re: ghost' });
    await expectStatus(
      await c.command(
        'SmartReply',
        compose('SmartReply', reply, { source: { FolderId: inbox, ItemId: `${inbox}:999999` } }),
      ),
      'SmartReply',
      150,
    );
    await expectStatus(
      await c.command(
        'SmartReply',
        compose('SmartReply', reply, { source: { FolderId: '4711', ItemId: '4711:1' } }),
      ),
      'SmartReply',
      150,
    );
  });

  it('a Source with LongId and ItemId, or no Source at all, is 103', async () => {
    const c = await engine.client('alice');
    const reply = mime({ subject: 'Re: bad' });
    await expectStatus(
      await c.command('SmartReply', compose('SmartReply', reply, { source: { ItemId: '1:1', LongId: 'x' } })),
      'SmartReply',
      103,
    );
    await expectStatus(await c.command('SmartReply', compose('SmartReply', reply)), 'SmartReply', 103);
  });

  it('an unresolved recipient answers 116, not the item Status 150', async () => {
    failWith = 'not-found';
    const c = await failing.client('alice');
    const inbox = await inboxOf(c);
    const subject = `unresolved ${uniq()}`;
    const source = await deliverToAlice(original(subject, `<${uniq()}@bob.example>`), inbox, failing);
    const res = await c.command(
      'SmartReply',
      compose('SmartReply', mime({ subject: `Re: ${subject}` }), {
        source,
      }),
    );
    await expectStatus(res, 'SmartReply', 116);
  });

  it('12.x: ItemId and CollectionId come from the query; a missing original is HTTP 500, no ItemId 400', async () => {
    const c = await engine.client('alice', { version: '12.1' });
    const inbox = await inboxOf(c);
    const subject = `legacy reply ${uniq()}`;
    const origId = `<${uniq()}@bob.example>`;
    const source = await deliverToAlice(original(subject, origId), inbox);
    const headers = { 'content-type': 'message/rfc822' };
    const reply = mime({ subject: `Re: ${subject}`, body: 'Legacy reply' });
    expectSent(
      await c.command('SmartReply', reply, {
        params: { ItemId: source.ItemId, CollectionId: inbox, SaveInSent: 'T' },
        headers,
      }),
    );
    const got = await received('bob', `Re: ${subject}`);
    expect(got.email.text).toContain('> Line one of the original');
    expect(got.email.inReplyTo).toBe(origId);
    await received('alice', `Re: ${subject}`, 'sent');

    const missing = await c.command('SmartReply', reply, {
      params: { ItemId: `${inbox}:999999`, CollectionId: inbox },
      headers,
    });
    expect(missing.status).toBe(500);
    const noId = await c.command('SmartReply', reply, { params: { CollectionId: inbox }, headers });
    expect(noId.status).toBe(400);
  });
});

describe('SmartForward', () => {
  const pdf = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
  const withAttachment = (subject: string, messageId: string): Buffer =>
    mime({
      subject,
      from: `Bob <${BOB}>`,
      to: ALICE,
      headers: [`Message-ID: ${messageId}`, 'Content-Type: multipart/mixed; boundary="mix"'],
      body: [
        '--mix',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'See the report attached.',
        '--mix',
        'Content-Type: application/pdf; name="report.pdf"',
        'Content-Disposition: attachment; filename="report.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        pdf.toString('base64').replace(/.{76}/g, '$&\r\n'),
        '--mix--',
      ].join('\r\n'),
    });

  it("adds the original under a Forwarded block with the original's attachments, marks it forwarded", async () => {
    const c = await engine.client('alice');
    const inbox = await inboxOf(c);
    const subject = `report ${uniq()}`;
    const origId = `<${uniq()}@bob.example>`;
    const source = await deliverToAlice(withAttachment(subject, origId), inbox);
    const fwd = mime({ subject: `Fwd: ${subject}`, to: BOB, body: 'FYI' });
    expectSent(await c.command('SmartForward', compose('SmartForward', fwd, { source })));

    const got = await received('bob', `Fwd: ${subject}`);
    expect(got.email.text).toMatch(
      /^FYI[\s\S]*---------- Forwarded message ----------[\s\S]*From: Bob <bob@easd\.local>[\s\S]*See the report attached\./,
    );
    expect(got.email.attachments).toHaveLength(1);
    const att = got.email.attachments[0]!;
    expect(att.filename).toBe('report.pdf');
    expect(att.mimeType).toBe('application/pdf');
    expect(Buffer.from(att.content as ArrayBuffer).equals(pdf)).toBe(true);
    // A forward is no reply: References threads it for the sender, In-Reply-To stays unset.
    expect(got.email.references).toContain(origId);
    expect(got.email.inReplyTo).toBeUndefined();
    expect((await received('alice', subject)).LastVerbExecuted).toBe(3);
  });

  it('does not attach the same file twice when the client already attached it', async () => {
    const c = await engine.client('alice');
    const inbox = await inboxOf(c);
    const subject = `dup ${uniq()}`;
    const source = await deliverToAlice(withAttachment(subject, `<${uniq()}@bob.example>`), inbox);
    const fwd = withAttachment(`Fwd: ${subject}`, `<${uniq()}@phone>`)
      .toString('latin1')
      .replace(`From: Bob <${BOB}>`, `From: ${ALICE}`)
      .replace(`To: ${ALICE}`, `To: ${BOB}`);
    expectSent(
      await c.command(
        'SmartForward',
        compose('SmartForward', Buffer.from(fwd, 'latin1'), {
          source,
        }),
      ),
    );
    const got = await received('bob', `Fwd: ${subject}`);
    expect(got.email.attachments).toHaveLength(1);
  });

  it('with ReplaceMime leaves the original and its attachments out', async () => {
    const c = await engine.client('alice');
    const inbox = await inboxOf(c);
    const subject = `fwd-replace ${uniq()}`;
    const source = await deliverToAlice(withAttachment(subject, `<${uniq()}@bob.example>`), inbox);
    const fwd = mime({ subject: `Fwd: ${subject}`, to: BOB, body: 'Only this' });
    expectSent(
      await c.command(
        'SmartForward',
        compose('SmartForward', fwd, {
          replaceMime: true,
          source,
        }),
      ),
    );
    const got = await received('bob', `Fwd: ${subject}`);
    expect(got.email.attachments).toHaveLength(0);
    expect(got.email.text?.trim()).toBe('Only this');
  });

  it('answers 150 for an unknown original', async () => {
    const c = await engine.client('alice');
    const inbox = await inboxOf(c);
    await expectStatus(
      await c.command(
        'SmartForward',
        compose('SmartForward', mime({ subject: 'Fwd: ghost' }), {
          source: { FolderId: inbox, ItemId: `${inbox}:424242` },
        }),
      ),
      'SmartForward',
      150,
    );
  });
});
