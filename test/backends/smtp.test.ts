// The SMTP submitter against real SMTP servers: the test stack's recording receiver (AUTH, spool)
// for delivery, envelope, Bcc, large messages and refused recipients (it refuses addresses at
// refused.invalid); a local smtp-server that refuses on purpose for the rest of the error mapping
// (the stack's receiver accepts every sender and sizes up to 50 MiB).
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSmtpSubmitter, smtpErrorKind, type SmtpSubmitterOptions } from '../../backends/smtp/index.js';
import type { Account } from '../../src/backend/contract.js';
import { BackendError, isBackendError, type BackendErrorKind } from '../../src/backend/errors.js';
import { stripBcc } from '../../src/convert/mime-compose.js';
import { readSpool, REFUSED_DOMAIN, type SpoolMessage } from '../stack/smtp.js';

const stack = inject('stack');
const [alice, bob, carol] = stack.users as [
  (typeof stack.users)[0],
  (typeof stack.users)[0],
  (typeof stack.users)[0],
];
const aliceAccount: Account = { user: alice.user, email: alice.email };
const stackUrl = `smtp://${stack.smtp.host}:${stack.smtp.port}`;
const signal = (): AbortSignal => AbortSignal.timeout(20_000);
let seq = 0;
const uniqueId = (): string => `<${process.pid}.${Date.now()}.${++seq}@smtp-test.easd>`;

/** alice's own login, as the IMAP backend would hand it over. */
const passThrough = (extra: Partial<SmtpSubmitterOptions> = {}): SmtpSubmitterOptions => ({
  url: stackUrl,
  auth: 'user',
  credentials: (account) => {
    const u = stack.users.find((x) => x.user === account.user);
    if (u === undefined) throw new Error('unknown test user');
    return { user: u.user, pass: u.password };
  },
  timeoutMs: 10_000,
  ...extra,
});

function message(
  messageId: string,
  opts: { from?: string; to?: string; cc?: string; bcc?: string; body?: string } = {},
): Uint8Array {
  const lines = [
    `From: Alice <${opts.from ?? alice.email}>`,
    `To: ${opts.to ?? `Bob <${bob.email}>`}`,
    ...(opts.cc === undefined ? [] : [`Cc: ${opts.cc}`]),
    ...(opts.bcc === undefined ? [] : [`Bcc: ${opts.bcc}`]),
    'Subject: submitter test',
    `Message-ID: ${messageId}`,
    'Date: Mon, 01 Jun 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.body ?? 'Hello.\r\n.A line that starts with a dot.',
    '',
  ];
  return new Uint8Array(Buffer.from(lines.join('\r\n')));
}

/** The spooled message with this Message-ID (the spool is shared by every test file). */
async function spooled(messageId: string): Promise<SpoolMessage> {
  for (let i = 0; i < 50; i++) {
    const found = (await readSpool(stack.smtp.spoolDir)).filter((m) => m.raw.includes(messageId));
    if (found.length === 1) return found[0]!;
    if (found.length > 1) throw new Error(`${messageId} spooled ${found.length} times`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${messageId} not spooled`);
}

async function failure(p: Promise<unknown>): Promise<BackendError> {
  const err: unknown = await p.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  if (!isBackendError(err)) throw err;
  return err;
}

describe('SMTP submitter on the test stack', () => {
  it("submits with the user's own credentials: envelope from the message, Bcc only in the envelope", async () => {
    const smtp = createSmtpSubmitter(passThrough());
    const id = uniqueId();
    const mime = message(id, { cc: carol.email, bcc: `Secret <${alice.email}>, hidden@elsewhere.example` });
    await smtp.submit(aliceAccount, mime, signal());
    await smtp.close();
    const got = await spooled(id);
    expect(got.user).toBe('alice');
    expect(got.mailFrom).toBe(alice.email);
    expect(got.rcptTo.sort()).toEqual(
      [alice.email, bob.email, carol.email, 'hidden@elsewhere.example'].sort(),
    );
    const text = got.raw.toString('latin1');
    expect(text).not.toMatch(/^bcc:/im);
    expect(text).toContain('\r\n.A line that starts with a dot.');
    expect(got.raw.equals(Buffer.from(stripBcc(mime)))).toBe(true);
  });

  it('refused recipients (the receiver refuses refused.invalid): delivered to the rest, refused ones returned', async () => {
    const smtp = createSmtpSubmitter(passThrough());
    const id = uniqueId();
    const result = await smtp.submit(
      aliceAccount,
      message(id, { to: `Bob <${bob.email}>, ghost@${REFUSED_DOMAIN}` }),
      signal(),
    );
    expect(result.refused).toEqual([
      { address: `ghost@${REFUSED_DOMAIN}`, reply: expect.stringMatching(/^550 5\.1\.1 /) },
    ]);
    expect((await spooled(id)).rcptTo).toEqual([bob.email]);
    // every recipient refused: nothing goes out, 'not-found' (EAS 116)
    const none = uniqueId();
    expect(
      (await failure(smtp.submit(aliceAccount, message(none, { to: `x@${REFUSED_DOMAIN}` }), signal()))).kind,
    ).toBe('not-found');
    expect((await readSpool(stack.smtp.spoolDir)).some((m) => m.raw.includes(none))).toBe(false);
    await smtp.close();
  });

  it('takes MAIL FROM from Sender when there is one, or from the account by rule', async () => {
    const smtp = createSmtpSubmitter(passThrough());
    const id = uniqueId();
    const withSender = Buffer.from(message(id))
      .toString('latin1')
      .replace('Subject:', `Sender: <${carol.email}>\r\nSubject:`);
    await smtp.submit(aliceAccount, new Uint8Array(Buffer.from(withSender, 'latin1')), signal());
    expect((await spooled(id)).mailFrom).toBe(carol.email);

    const byAccount = createSmtpSubmitter(passThrough({ envelope: { mailFrom: 'account' } }));
    const id2 = uniqueId();
    await byAccount.submit({ ...aliceAccount, email: 'alice-alias@easd.test' }, message(id2), signal());
    expect((await spooled(id2)).mailFrom).toBe('alice-alias@easd.test');
    await Promise.all([smtp.close(), byAccount.close()]);
  });

  it('relays with a configured account, pooled, for several users', async () => {
    const smtp = createSmtpSubmitter({
      url: stackUrl,
      auth: { user: bob.user, pass: bob.password },
      pool: true,
      timeoutMs: 10_000,
    });
    const ids = [uniqueId(), uniqueId(), uniqueId()];
    await Promise.all(ids.map((id) => smtp.submit(aliceAccount, message(id), signal())));
    for (const id of ids) expect((await spooled(id)).user).toBe('bob');
    await smtp.close();
  });

  it('keeps one pool per user with pass-through logins', async () => {
    const smtp = createSmtpSubmitter(passThrough({ pool: { maxUsers: 1 } }));
    const a = uniqueId();
    const b = uniqueId();
    await smtp.submit(aliceAccount, message(a), signal());
    await smtp.submit(
      { user: bob.user, email: bob.email },
      message(b, { from: bob.email, to: alice.email }),
      signal(),
    );
    expect((await spooled(a)).user).toBe('alice');
    expect((await spooled(b)).user).toBe('bob');
    await smtp.close();
    expect((await failure(smtp.submit(aliceAccount, message(uniqueId()), signal()))).kind).toBe(
      'unavailable',
    );
  });

  it('wrong credentials: auth for a pass-through login, unavailable for a relay account', async () => {
    const own = createSmtpSubmitter({
      ...passThrough(),
      credentials: () => ({ user: alice.user, pass: 'wrong' }),
    });
    expect((await failure(own.submit(aliceAccount, message(uniqueId()), signal()))).kind).toBe('auth');
    const relay = createSmtpSubmitter({
      url: stackUrl,
      auth: { user: 'alice', pass: 'wrong' },
      timeoutMs: 10_000,
    });
    expect((await failure(relay.submit(aliceAccount, message(uniqueId()), signal()))).kind).toBe(
      'unavailable',
    );
    await Promise.all([own.close(), relay.close()]);
  });

  it('a 5 MB message arrives intact', async () => {
    const smtp = createSmtpSubmitter(passThrough());
    const id = uniqueId();
    const payload = randomBytes(3_800_000).toString('base64').replace(/.{76}/g, '$&\r\n');
    const mime = message(id, { body: payload });
    expect(mime.byteLength).toBeGreaterThan(5_000_000);
    await smtp.submit(aliceAccount, mime, signal());
    await smtp.close();
    const got = await spooled(id);
    expect(got.raw.byteLength).toBe(mime.byteLength);
    expect(got.raw.equals(Buffer.from(mime))).toBe(true);
  });

  it('refuses before connecting: no recipients, a foreign From by rule, over the size limit, aborted', async () => {
    const smtp = createSmtpSubmitter(
      passThrough({ envelope: { requireOwnAddress: true }, maxMessageBytes: 1000 }),
    );
    const noRcpt = Buffer.from(message(uniqueId()))
      .toString('latin1')
      .replace(/^To: .*\r\n/m, '');
    expect(
      (await failure(smtp.submit(aliceAccount, new Uint8Array(Buffer.from(noRcpt, 'latin1')), signal())))
        .kind,
    ).toBe('denied');
    expect(
      (await failure(smtp.submit(aliceAccount, message(uniqueId(), { from: bob.email }), signal()))).kind,
    ).toBe('denied');
    expect(
      (await failure(smtp.submit(aliceAccount, message(uniqueId(), { body: 'x'.repeat(2000) }), signal())))
        .kind,
    ).toBe('too-large');
    const aborted = AbortSignal.abort();
    await expect(smtp.submit(aliceAccount, message(uniqueId()), aborted)).rejects.toThrow();
    await smtp.close();
  });

  it('checks its configuration', () => {
    expect(() =>
      createSmtpSubmitter({ url: 'http://x', auth: 'user', credentials: () => ({ user: '', pass: '' }) }),
    ).toThrow();
    expect(() => createSmtpSubmitter({ url: stackUrl, auth: 'user' })).toThrow(/credentials/);
    expect(() => createSmtpSubmitter({ url: 'smtp://u:p@host', auth: { user: 'u', pass: 'p' } })).toThrow(
      /url/,
    );
  });
});

describe('SMTP refusals (a local server that refuses on purpose)', () => {
  let server: SMTPServer;
  let url = '';
  let accepted: string[][] = [];

  beforeAll(async () => {
    const opts: SMTPServerOptions = {
      secure: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authOptional: true,
      size: 64 * 1024,
      logger: false,
      onAuth(auth, _s, cb) {
        if (auth.password === 'pw') cb(null, { user: auth.username });
        else cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
      },
      onMailFrom(address, _s, cb) {
        if (address.address.startsWith('forbidden@'))
          return cb(
            Object.assign(new Error('5.7.1 Sender address rejected: not owned by user'), {
              responseCode: 553,
            }),
          );
        if (address.address.startsWith('busy@'))
          return cb(Object.assign(new Error('4.3.2 Try again later'), { responseCode: 451 }));
        cb();
      },
      onRcptTo(address, _s, cb) {
        if (address.address.startsWith('nobody@'))
          return cb(Object.assign(new Error('5.1.1 User unknown'), { responseCode: 550 }));
        if (address.address.startsWith('later@'))
          return cb(Object.assign(new Error('4.2.1 Mailbox busy'), { responseCode: 450 }));
        cb();
      },
      onData(stream, session, cb) {
        stream.on('data', () => undefined);
        stream.on('end', () => {
          if (stream.sizeExceeded)
            return cb(Object.assign(new Error('5.3.4 Message too big'), { responseCode: 552 }));
          accepted.push(session.envelope.rcptTo.map((r) => r.address));
          cb();
        });
      },
    };
    server = new SMTPServer(opts);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const submit = async (opts: {
    from?: string;
    to?: string;
    body?: string;
    pass?: string;
  }): Promise<BackendErrorKind | 'ok'> => {
    const smtp = createSmtpSubmitter({
      url,
      auth: 'user',
      credentials: () => ({ user: 'u', pass: opts.pass ?? 'pw' }),
      timeoutMs: 5000,
    });
    try {
      await smtp.submit(aliceAccount, message(uniqueId(), opts), signal());
      return 'ok';
    } catch (err) {
      if (!isBackendError(err)) throw err;
      return err.kind;
    } finally {
      await smtp.close();
    }
  };

  it.each([
    ['every recipient refused (550)', { to: 'nobody@example.com' }, 'not-found'],
    ['a recipient deferred (450)', { to: 'later@example.com' }, 'unavailable'],
    ['the sender refused (553 5.7.1)', { from: 'forbidden@example.com' }, 'denied'],
    ['the sender deferred (451)', { from: 'busy@example.com' }, 'unavailable'],
    ['over the SIZE limit (552)', { body: 'y'.repeat(100 * 1024) }, 'too-large'],
    ['a wrong password (535)', { pass: 'nope' }, 'auth'],
  ] as const)('%s → %s', async (_name, opts, kind) => {
    expect(await submit(opts)).toBe(kind);
  });

  it('some recipients refused: sent to the others, the refused ones reported with their replies', async () => {
    accepted = [];
    const smtp = createSmtpSubmitter({ url, auth: { user: 'u', pass: 'pw' }, timeoutMs: 5000 });
    try {
      const to = `${bob.email}, nobody@example.com, later@example.com`;
      const result = await smtp.submit(aliceAccount, message(uniqueId(), { to }), signal());
      expect(result.refused).toEqual([
        { address: 'nobody@example.com', reply: expect.stringMatching(/^550 5\.1\.1 /) },
        { address: 'later@example.com', reply: expect.stringMatching(/^450 4\.2\.1 /) },
      ]);
    } finally {
      await smtp.close();
    }
    expect(accepted).toEqual([[bob.email]]);
  });

  it('a server that cannot be reached is unavailable', async () => {
    const closed = createSmtpSubmitter({
      url: 'smtp://127.0.0.1:1',
      auth: { user: 'u', pass: 'p' },
      timeoutMs: 2000,
    });
    expect((await failure(closed.submit(aliceAccount, message(uniqueId()), signal()))).kind).toBe(
      'unavailable',
    );
  });
});

describe('smtpErrorKind', () => {
  it.each([
    [{ code: 'EAUTH', responseCode: 535 }, 'user', 'auth'],
    [{ code: 'EAUTH', responseCode: 535 }, 'relay', 'unavailable'],
    [{ code: 'ENOAUTH' }, 'user', 'unavailable'],
    [
      { code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO', response: '550 5.1.1 unknown' },
      'user',
      'not-found',
    ],
    [{ code: 'EENVELOPE', responseCode: 452, command: 'RCPT TO' }, 'user', 'unavailable'],
    [{ code: 'EENVELOPE', responseCode: 553, command: 'MAIL FROM' }, 'user', 'denied'],
    [{ code: 'EENVELOPE', responseCode: 552, command: 'MAIL FROM' }, 'user', 'too-large'],
    [
      { code: 'EMESSAGE', responseCode: 554, command: 'DATA', response: '554 5.3.4 too big' },
      'user',
      'too-large',
    ],
    [{ code: 'EMESSAGE', responseCode: 554, command: 'DATA', response: '554 5.7.1 spam' }, 'user', 'denied'],
    [
      { code: 'EMESSAGE', responseCode: 554, command: 'DATA', response: '554 5.6.0 bad content' },
      'user',
      'unsupported',
    ],
    [{ code: 'EMESSAGE', responseCode: 421, command: 'DATA' }, 'user', 'unavailable'],
    [{ code: 'ETIMEDOUT' }, 'user', 'unavailable'],
    [{ code: 'ECONNREFUSED' }, 'user', 'unavailable'],
    [{ code: 'ETLS' }, 'user', 'unavailable'],
    [{ responseCode: 530, command: 'MAIL FROM' }, 'user', 'unavailable'],
    [{}, 'user', 'unavailable'],
  ] as const)('%o (%s) → %s', (err, mode, kind) => {
    expect(smtpErrorKind(err, mode)).toBe(kind);
  });
});
