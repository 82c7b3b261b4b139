// Mail servers behind TLS (issue 5): easd on a Dovecot that speaks TLS on connect (imaps://) and
// STARTTLS (imap://), and on SMTP receivers that do the same, with a private CA given by
// EASD_MAIL_CA. A certificate easd cannot trust is refused with a clear answer and log line.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openEasd, type Easd } from '../../src/app.js';
import { runChecks } from '../../src/admin/check.js';
import { loadConfig } from '../../src/config.js';
import { appendMessage, imapConnect, startDovecot, type DovecotInstance } from '../stack/dovecot.js';
import { HOST } from '../stack/process.js';
import type { TestUser } from '../stack/users.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

const run = promisify(execFile);
const tina: TestUser = { user: 'tina', password: 'tina-pw-3Rv8', email: 'tina@easd.test' };

let dir: string;
let dovecot: DovecotInstance;
let ca: string;
let otherCa: string;
/** Messages the TLS SMTP receivers got: which server, whether the session was encrypted, the bytes. */
const received: Array<{ server: string; secure: boolean; user: unknown; raw: string }> = [];
const smtpServers: Array<{ name: string; server: SMTPServer; port: number }> = [];

/** A CA and a server certificate it signed for 127.0.0.1 (openssl, as an admin would). */
async function makeCerts(): Promise<void> {
  const f = (n: string): string => path.join(dir, n);
  for (const name of ['ca', 'other-ca'])
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=easd test ${name}`,
      '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`),
    ]); // prettier-ignore
  await run('openssl', [
    'req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${HOST}`, '-keyout', f('server.key'), '-out', f('server.csr'),
  ]); // prettier-ignore
  await writeFile(f('ext'), `subjectAltName=IP:${HOST}\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', [
    'x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', f('ext'), '-out', f('server.pem'),
  ]); // prettier-ignore
  ca = f('ca.pem');
  otherCa = f('other-ca.pem');
}

async function startSmtp(name: string, secure: boolean): Promise<number> {
  const server = new SMTPServer({
    secure, // true: TLS on connect (smtps); false: plain, STARTTLS offered
    key: await readFile(path.join(dir, 'server.key')),
    cert: await readFile(path.join(dir, 'server.pem')),
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, session, cb) {
      if (!session.secure) return cb(new Error('encryption required'));
      if (auth.username === tina.user && auth.password === tina.password) cb(null, { user: tina.user });
      else cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          server: name,
          secure: session.secure,
          user: session.user,
          raw: Buffer.concat(chunks).toString(),
        });
        cb();
      });
    },
  });
  server.on('error', () => undefined); // a client refusing our certificate is what some tests want
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.server.address() as AddressInfo).port;
  smtpServers.push({ name, server, port });
  return port;
}

let smtpsPort: number;
let starttlsPort: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-mail-tls-'));
  await chmod(dir, 0o755); // Dovecot's mail user (nobody, as root) reaches the Maildirs below
  await makeCerts();
  dovecot = await startDovecot(path.join(dir, 'dovecot'), [tina], {
    tls: { certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') },
  });
  smtpsPort = await startSmtp('smtps', true);
  starttlsPort = await startSmtp('starttls', false);
}, 60_000);

const opened: Easd[] = [];
afterAll(async () => {
  for (const easd of opened) await easd.app.close();
  for (const { server } of smtpServers) await new Promise<void>((resolve) => server.close(() => resolve()));
  await dovecot?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** easd on the TLS servers; what it logs at warn and above is kept in `log`. */
async function easdWith(
  env: Record<string, string>,
): Promise<{ easd: Easd; log: Array<Record<string, unknown>> }> {
  const log: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') log.push(JSON.parse(line));
      cb();
    },
  });
  const easd = await openEasd(
    loadConfig({ EASD_DATA_DIR: await mkdtemp(path.join(dir, 'data-')), ...env }),
    pino({ level: 'warn' }, sink),
  );
  opened.push(easd);
  return { easd, log };
}

let devices = 0;
const phoneOf = (easd: Easd): EasTestClient =>
  EasTestClient.inject(easd.app, {
    user: tina.user,
    password: tina.password,
    deviceId: `MAILTLS${process.pid}x${++devices}`,
  });

/** Provisions, lists folders and syncs the Inbox; the subjects it holds. */
async function syncInbox(phone: EasTestClient): Promise<string[]> {
  await phone.provision();
  const folders = await phone.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  await validateEasResponse(folders.doc!, 'FolderSync');
  const inbox = findText(
    findAll(folders.doc, 'Add').find((a) => findText(a, 'Type') === '2'),
    'ServerId',
  )!;
  const first = await phone.command(
    'Sync',
    `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${inbox}</CollectionId></Collection></Collections></Sync>`,
  );
  const res = await phone.command(
    'Sync',
    `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${findText(first.doc, 'SyncKey')}</SyncKey><CollectionId>${inbox}</CollectionId><GetChanges/><WindowSize>100</WindowSize></Collection></Collections></Sync>`,
  );
  await validateEasResponse(res.doc!, 'Sync');
  return findAll(res.doc, 'Add').map((a) => findText(a, 'Subject') ?? '');
}

/** Dovecot's login lines for tina: "TLS" marks a session encrypted by TLS on connect or STARTTLS. */
async function logins(): Promise<string[]> {
  const text = await readFile(dovecot.logFile, 'utf8');
  return text.split('\n').filter((l) => /imap-login: (?:Info: )?Login: user=<tina>/.test(l));
}

const sendMail = (phone: EasTestClient, subject: string): ReturnType<EasTestClient['command']> =>
  phone.command(
    'SendMail',
    `<SendMail xmlns="ComposeMail:"><ClientId>${subject.replace(/\W/g, '')}</ClientId><Mime>From: ${tina.email}&#13;&#10;To: bob@easd.test&#13;&#10;Subject: ${subject}&#13;&#10;&#13;&#10;over TLS&#13;&#10;</Mime></SendMail>`,
  );

describe('IMAP and SMTP over TLS with a private CA (EASD_MAIL_CA)', () => {
  // the SMTP receivers refuse AUTH on a plain session: a message there came over TLS
  it.each([
    ['imaps:// and smtps:// (TLS on connect)', 'imaps', () => `imaps://${HOST}:${dovecot.tlsPort}`, 'smtps'],
    [
      'imap:// and smtp:// with STARTTLS',
      'imap-starttls',
      () => `imap://${HOST}:${dovecot.port}?starttls=required`,
      'starttls',
    ],
  ])(
    '%s: logs in, syncs and sends over TLS',
    async (_name, tag, imapUrl, smtp) => {
      const subject = `over ${tag} ${process.pid}`;
      await appendMessage(dovecot, tina, 'INBOX', `From: bob@easd.test\r\nSubject: ${subject}\r\n\r\nhi\r\n`);
      const before = (await logins()).length;
      const smtpPort = smtp === 'smtps' ? smtpsPort : starttlsPort;
      const { easd } = await easdWith({
        EASD_IMAP_URL: imapUrl(),
        EASD_SMTP_URL: `${smtp === 'smtps' ? 'smtps' : 'smtp'}://${HOST}:${smtpPort}`,
        EASD_MAIL_CA: ca,
      });
      const phone = phoneOf(easd);
      expect(await syncInbox(phone)).toContain(subject);
      const fresh = (await logins()).slice(before);
      expect(fresh.length).toBeGreaterThan(0);
      for (const line of fresh) expect(line).toMatch(/, TLS[,:]/); // Dovecot says "secured" for plain loopback
      const sent = await sendMail(phone, `sent ${subject}`);
      expect([sent.status, sent.raw.length]).toEqual([200, 0]);
      expect(
        received.filter((m) => m.raw.includes(`sent ${subject}`)).map((m) => [m.server, m.secure, m.user]),
      ).toEqual([[smtp, true, tina.user]]);
    },
    60_000,
  );

  it.each([
    ['imaps:// without EASD_MAIL_CA', () => ({ EASD_IMAP_URL: `imaps://${HOST}:${dovecot.tlsPort}` })],
    [
      'STARTTLS with another CA',
      () => ({ EASD_IMAP_URL: `imap://${HOST}:${dovecot.port}`, EASD_MAIL_CA: otherCa }),
    ],
    [
      'a host name the certificate does not name',
      () => ({ EASD_IMAP_URL: `imaps://localhost:${dovecot.tlsPort}`, EASD_MAIL_CA: ca }),
    ],
  ])(
    'an untrusted certificate (%s): 503 to the phone, a log line naming the certificate, no login',
    async (_name, env) => {
      const before = (await logins()).length;
      const { easd, log } = await easdWith(env());
      const phone = phoneOf(easd);
      const res = await phone.command(
        'FolderSync',
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
      );
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.raw.toString()).not.toMatch(/at .*\.js/); // no stack
      const said = log.map((l) => String(l['msg'])).filter((m) => m.startsWith('mail login failed'));
      expect(said[0]).toMatch(/IMAP server certificate not trusted: [A-Z_]+ \(.+\)/);
      expect((await logins()).slice(before)).toEqual([]);
      // a plain client on the same server still works: the server is fine, easd refused it
      const c = await imapConnect(dovecot, tina);
      await c.logout();
    },
    60_000,
  );

  it.each([
    [
      'imap://…?starttls=required at a server without STARTTLS',
      '?starttls=required',
      'imap',
      'the IMAP server offers no STARTTLS, which the URL requires (starttls=required)',
    ],
    [
      'imaps:// at a port without TLS',
      '',
      'imaps',
      'TLS with the IMAP server failed: ERR_SSL_WRONG_VERSION_NUMBER (imaps:// pointed at a port without TLS?)',
    ],
  ])(
    '%s: 503 and a log line that says so',
    async (_name, query, scheme, reason) => {
      const stack = inject('stack'); // the shared Dovecot: plain IMAP only
      const { easd, log } = await easdWith({
        EASD_IMAP_URL: `${scheme}://${stack.imap.host}:${stack.imap.port}${query}`,
      });
      const res = await phoneOf(easd).command(
        'FolderSync',
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
      );
      expect(res.status).toBe(503);
      expect(log.map((l) => String(l['msg']))).toContain(`mail login failed: ${reason}`);
    },
    60_000,
  );

  it('an SMTP server whose certificate does not name the host: SendMail answered 503, nothing sent', async () => {
    const { easd } = await easdWith({
      EASD_IMAP_URL: `imaps://${HOST}:${dovecot.tlsPort}`,
      EASD_SMTP_URL: `smtps://localhost:${smtpsPort}`,
      EASD_MAIL_CA: ca,
    });
    const phone = phoneOf(easd);
    await syncInbox(phone);
    const subject = `refused smtps ${process.pid}`;
    const res = await sendMail(phone, subject);
    // the store is unreachable for now: 503 with Retry-After (MS-ASHTTP 2.2.2.1.1), the phone keeps it in its Outbox
    expect([res.status, res.headers['retry-after'] !== undefined]).toEqual([503, true]);
    expect(received.some((m) => m.raw.includes(subject))).toBe(false);
  }, 60_000);

  it('easd check trusts EASD_MAIL_CA and maps DOMAIN\\user as the server does; without the CA it fails on the certificate', async () => {
    const env = {
      EASD_DATA_DIR: await mkdtemp(path.join(dir, 'check-')),
      EASD_IMAP_URL: `imaps://${HOST}:${dovecot.tlsPort}`,
      EASD_SMTP_URL: `smtps://${HOST}:${smtpsPort}`,
    };
    const check = async (extra: Record<string, string>): Promise<string[]> => {
      const lines: string[] = [];
      await runChecks({
        config: loadConfig({ ...env, ...extra }),
        account: { user: `CORP\\${tina.user}`, password: tina.password },
        timeoutMs: 10_000,
        out: (l) => lines.push(l),
      });
      return lines.filter((l) => /^\S+\s+(IMAP|SMTP)\s/.test(l));
    };
    const trusted = await check({ EASD_MAIL_CA: ca });
    expect(trusted.map((l) => l.slice(0, 4))).toEqual(['OK  ', 'OK  ']);
    expect(trusted[0]).toContain(`logged in as ${tina.user}`);
    const untrusted = await check({});
    expect(untrusted.map((l) => l.slice(0, 4))).toEqual(['FAIL', 'FAIL']);
  }, 60_000);
});
