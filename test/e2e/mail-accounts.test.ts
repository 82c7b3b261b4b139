// Accounts on the real Dovecot and SMTP receiver (issue 5): the address of a bare login
// (EASD_MAIL_DOMAIN) and how the name a phone types becomes the login (EASD_LOGIN_MAP), through
// HTTP Basic auth as phones send it. Every EAS response is validated against the schemas.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openEasd, type Easd } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { readSpool } from '../stack/smtp.js';
import { EasTestClient, findText, type EasReply } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const run = `${process.pid}-${Date.now()}`;
let dir: string;
const opened: Easd[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-mail-accounts-'));
});
afterAll(async () => {
  for (const easd of opened) await easd.app.close();
  await rm(dir, { recursive: true, force: true });
});

async function easdWith(env: Record<string, string>): Promise<Easd> {
  const easd = await openEasd(
    loadConfig({
      EASD_DATA_DIR: await mkdtemp(path.join(dir, 'data-')),
      EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
      EASD_SMTP_URL: `smtp://${stack.smtp.host}:${stack.smtp.port}`,
      ...env,
    }),
    pino({ level: 'silent' }),
  );
  opened.push(easd);
  return easd;
}

let devices = 0;
/** A phone signed in with `login` (HTTP Basic) and carol's password; provisioned when it may. */
async function phone(easd: Easd, login: string): Promise<{ client: EasTestClient; folderSync: EasReply }> {
  const client = EasTestClient.inject(easd.app, {
    user: login,
    password: carol.password,
    deviceId: `MAILACC${process.pid}x${++devices}`,
  });
  const folderSync = async (): Promise<EasReply> =>
    client.command('FolderSync', '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>');
  const first = await folderSync();
  if (first.status !== 200) return { client, folderSync: first };
  await client.provision();
  const res = await folderSync();
  await validateEasResponse(res.doc!, 'FolderSync');
  return { client, folderSync: res };
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

async function sendWithoutFrom(client: EasTestClient, subject: string): Promise<void> {
  const mime = `To: bob@easd.test\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi\r\n`;
  const res = await client.command(
    'SendMail',
    `<SendMail xmlns="ComposeMail:"><ClientId>${subject.replace(/\W/g, '')}</ClientId><Mime>${escapeXml(mime)}</Mime></SendMail>`,
  );
  expect([res.status, res.raw.length]).toEqual([200, 0]);
}

describe('EASD_MAIL_DOMAIN: the address of a login without a domain', () => {
  it('is login@EASD_MAIL_DOMAIN in UserInformation and in the From of what the phone sends', async () => {
    const easd = await easdWith({ EASD_MAIL_DOMAIN: 'Corp.Example' });
    const { client } = await phone(easd, carol.user);
    const settings = await client.command(
      'Settings',
      '<Settings xmlns="Settings:"><UserInformation><Get/></UserInformation></Settings>',
    );
    await validateEasResponse(settings.doc!, 'Settings');
    expect(findText(settings.doc, 'PrimarySmtpAddress')).toBe('carol@corp.example');

    const subject = `No From ${run}`;
    await sendWithoutFrom(client, subject);
    const [sent] = (await readSpool(stack.smtp.spoolDir)).filter((m) => m.raw.includes(subject));
    expect(sent!.mailFrom).toBe('carol@corp.example');
    expect(sent!.raw.toString()).toMatch(/^From: carol@corp\.example\r$/m);
    expect(sent!.raw.toString()).toMatch(/^Message-ID: <[^>]+@corp\.example>\r$/m);
  }, 60_000);

  it('unset: the IMAP server host name is the domain, as before', async () => {
    const easd = await easdWith({});
    const { client } = await phone(easd, carol.user);
    const settings = await client.command(
      'Settings',
      '<Settings xmlns="Settings:"><UserInformation><Get/></UserInformation></Settings>',
    );
    expect(findText(settings.doc, 'PrimarySmtpAddress')).toBe(`carol@${stack.imap.host}`);
  }, 60_000);
});

describe('EASD_LOGIN_MAP: the name typed on the phone → the IMAP and SMTP login', () => {
  it('strip-domain: CORP\\carol and carol@corp.example both sign in as carol, and send as carol', async () => {
    const easd = await easdWith({ EASD_LOGIN_MAP: 'strip-domain', EASD_MAIL_DOMAIN: 'easd.test' });
    for (const login of ['CORP\\carol', 'carol@corp.example']) {
      const { client, folderSync } = await phone(easd, login);
      expect([login, folderSync.status, findText(folderSync.doc, 'Status')]).toEqual([login, 200, '1']);
      const subject = `Mapped ${login} ${run}`;
      await sendWithoutFrom(client, subject);
      const spooled = (await readSpool(stack.smtp.spoolDir)).filter((m) => m.raw.includes(subject));
      // the SMTP receiver saw carol's own AUTH; From is the account's address from the mapped login
      expect(spooled.map((m) => [m.user, m.mailFrom])).toEqual([[carol.user, carol.email]]);
    }
  }, 60_000);

  it('strip-windows-domain (the default): CORP\\carol signs in, carol@corp.example is a login Dovecot refuses (401)', async () => {
    const easd = await easdWith({});
    expect((await phone(easd, 'CORP\\carol')).folderSync.status).toBe(200);
    expect((await phone(easd, 'carol@corp.example')).folderSync.status).toBe(401);
  }, 60_000);

  it('keep: the name goes to Dovecot as typed, so CORP\\carol is refused (401) and carol signs in', async () => {
    const easd = await easdWith({ EASD_LOGIN_MAP: 'keep' });
    const refused = await phone(easd, 'CORP\\carol');
    expect(refused.folderSync.status).toBe(401);
    expect(refused.folderSync.headers['www-authenticate']).toBe('Basic realm="easd"');
    expect((await phone(easd, carol.user)).folderSync.status).toBe(200);
  }, 60_000);
});
