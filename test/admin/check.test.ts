// `easd check` against the real test stack: everything reachable and logged into, then the same
// configuration with a wrong port, a wrong password, an unwritable state directory, an
// unreachable Redis — each reported in plain words, with a non-zero exit code.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { explain, runChecks } from '../../src/admin/check.js';
import { loadConfig, type Config } from '../../src/config.js';

const stack = inject('stack');
const alice = stack.users[0]!;
let dir: string;
let closedPort: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-check-'));
  // A port nobody listens on: bind one, note it, close it.
  const s: Server = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  closedPort = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

function stackConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(
    {
      EASD_DATA_DIR: dir,
      EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
      EASD_SMTP_URL: `smtp://${stack.smtp.host}:${stack.smtp.port}`,
      EASD_CARDDAV_URL: stack.dav.url,
      EASD_CALDAV_URL: stack.dav.url,
      ...overrides,
    },
    dir,
  );
}

async function check(
  config: Config,
  account: { user: string; password: string } | null = alice,
): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runChecks({
    config,
    ...(account === null ? {} : { account }),
    timeoutMs: 5000,
    out: (l) => lines.push(l),
  });
  return { code, lines };
}

const line = (lines: string[], name: string): string => lines.find((l) => l.includes(`  ${name} `)) ?? '';

describe('easd check', () => {
  it('passes on the real stack with a test account, naming what it found', async () => {
    const { code, lines } = await check(stackConfig());
    expect(lines.join('\n')).toContain('Everything checked is fine.');
    expect(code).toBe(0);
    expect(line(lines, 'state')).toMatch(/^OK +state +SQLite .*state\.sqlite: writable/);
    expect(line(lines, 'IMAP')).toMatch(
      /^OK .*logged in as alice, \d+ mailboxes, special-use .*\\Drafts.*\\Sent.*\\Trash/,
    );
    expect(line(lines, 'SMTP')).toMatch(/^OK .*logged in as alice/);
    expect(line(lines, 'CardDAV')).toMatch(/^OK .*logged in as alice, \d+ address book/);
    expect(line(lines, 'CalDAV')).toMatch(/^OK .*logged in as alice, \d+ calendar/);
    expect(line(lines, 'TLS')).toMatch(/^SKIP .*plain HTTP/);
  });

  it('passes without a test account by reaching every server, and checks Redis state', async () => {
    const { code, lines } = await check(stackConfig({ EASD_STATE_URL: stack.redis.url }), null);
    expect(lines[0]).toMatch(/No test account given/);
    expect(line(lines, 'state')).toMatch(/^OK +state +Redis at redis:\/\/127\.0\.0\.1:\d+: writable/);
    expect(line(lines, 'IMAP')).toMatch(/^OK .*reachable \(greeting \* OK/);
    expect(line(lines, 'SMTP')).toMatch(/^OK .*reachable/);
    expect(line(lines, 'CardDAV')).toMatch(/^OK .*reachable \(HTTP \d+/);
    expect(code).toBe(0);
  });

  it('says which server refuses connections, with the usual cause', async () => {
    const { code, lines } = await check(
      stackConfig({
        EASD_IMAP_URL: `imap://127.0.0.1:${closedPort}`,
        EASD_SMTP_URL: `smtp://127.0.0.1:${closedPort}`,
        EASD_CARDDAV_URL: `http://127.0.0.1:${closedPort}/`,
        EASD_STATE_URL: `redis://127.0.0.1:${closedPort}`,
      }),
    );
    expect(code).toBe(1);
    expect(line(lines, 'IMAP')).toBe(
      `FAIL  IMAP     IMAP at imap://127.0.0.1:${closedPort}: connection refused — is the IMAP server (Dovecot, …) running and listening on 127.0.0.1:${closedPort}?`,
    );
    expect(line(lines, 'SMTP')).toMatch(/^FAIL .*connection refused — is the mail server running/);
    expect(line(lines, 'CardDAV')).toMatch(
      /^FAIL .*connection refused — is the CardDAV server \(Radicale, …\) running/,
    );
    expect(line(lines, 'state')).toMatch(/^FAIL .*Redis at .*connection refused — is Redis running\?/);
    expect(line(lines, 'CalDAV')).toMatch(/^OK /);
    expect(lines.at(-1)).toBe('4 problem(s) found.');
  });

  it('reports TLS spoken to a plain port, and a URL that is no DAV server', async () => {
    const web = createHttpServer((_req, res) => res.writeHead(404).end('no DAV here'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    try {
      const port = (web.address() as { port: number }).port;
      const { code, lines } = await check(
        stackConfig({
          EASD_IMAP_URL: `imaps://${stack.imap.host}:${stack.imap.port}`,
          EASD_SMTP_URL: `smtps://${stack.smtp.host}:${stack.smtp.port}`,
          EASD_CARDDAV_URL: `http://127.0.0.1:${port}/`,
        }),
      );
      expect(code).toBe(1);
      expect(line(lines, 'IMAP')).toMatch(
        /^FAIL .*TLS handshake failed: .* — TLS on a plain port or plain on a TLS port\?/,
      );
      expect(line(lines, 'SMTP')).toMatch(/^FAIL .*TLS handshake failed/);
      expect(line(lines, 'CardDAV')).toMatch(
        /^FAIL .*discovery failed: the URL answers but names no current-user-principal \(RFC 5397\) — is EASD_CARDDAV_URL the CardDAV server's URL\?$/,
      );
    } finally {
      web.close();
    }
  });

  it('reports a wrong password as a refused login on every server, never printing it', async () => {
    const wrong = { user: 'alice', password: 'not-the-password-31337' };
    const { code, lines } = await check(stackConfig(), wrong);
    expect(code).toBe(1);
    expect(line(lines, 'IMAP')).toMatch(/^FAIL .*login as alice refused.* — wrong user name or password\?$/);
    expect(line(lines, 'SMTP')).toMatch(/^FAIL .*login as alice refused.* — wrong user name or password\?$/);
    expect(line(lines, 'CardDAV')).toMatch(/^FAIL .*login as alice refused \(HTTP 401\)/);
    expect(line(lines, 'CalDAV')).toMatch(/^FAIL .*login as alice refused \(HTTP 401\)/);
    expect(lines.join('\n')).not.toContain(wrong.password);
  });

  it('reports an SMTP server that offers no AUTH instead of calling it a login', async () => {
    // An MTA port (25) instead of submission: it takes mail without a login, so nodemailer's
    // verify() skips AUTH and succeeds.
    const mta = new SMTPServer({ disabledCommands: ['AUTH', 'STARTTLS'], logger: false });
    await new Promise<void>((resolve) => mta.listen(0, '127.0.0.1', resolve));
    try {
      const port = (mta.server.address() as { port: number }).port;
      const { code, lines } = await check(stackConfig({ EASD_SMTP_URL: `smtp://127.0.0.1:${port}` }));
      expect(code).toBe(1);
      expect(line(lines, 'SMTP')).toBe(
        `FAIL  SMTP     SMTP at smtp://127.0.0.1:${port}: the server offers no AUTH (and no STARTTLS) — easd sends as the user with their password, so use the submission port (587 or 465) where the server asks for a login`,
      );
      // Without a test account the server is only reached.
      expect(
        line((await check(stackConfig({ EASD_SMTP_URL: `smtp://127.0.0.1:${port}` }), null)).lines, 'SMTP'),
      ).toMatch(/^OK .*reachable \(log in not tried without a test account\)$/);
    } finally {
      await new Promise<void>((resolve) => mta.close(() => resolve()));
    }
  });

  it('hides the relay password of EASD_SMTP_URL', async () => {
    const { lines } = await check(
      stackConfig({ EASD_SMTP_URL: `smtp://relay:s3cret-relay-pw@${stack.smtp.host}:${stack.smtp.port}` }),
    );
    expect(line(lines, 'SMTP')).toMatch(/^FAIL .*smtp:\/\/relay:\*\*\*@.*login as relay refused/);
    expect(lines.join('\n')).not.toContain('s3cret-relay-pw');
  });

  it('reports a state directory easd cannot create or write', async () => {
    // A file where the data directory should be: fails for root too (chmod would not).
    const blocker = path.join(dir, 'not-a-directory');
    await writeFile(blocker, 'x');
    const { code, lines } = await check(stackConfig({ EASD_DATA_DIR: path.join(blocker, 'data') }), null);
    expect(code).toBe(1);
    expect(line(lines, 'state')).toMatch(
      /^FAIL .*ENOTDIR.* — is the directory writable by the user easd runs as\?/,
    );
  });

  it('reports a TLS file that cannot be read', async () => {
    const { code, lines } = await check(
      stackConfig({ EASD_TLS_CERT: path.join(dir, 'none.pem'), EASD_TLS_KEY: path.join(dir, 'none.key') }),
      null,
    );
    expect(code).toBe(1);
    expect(line(lines, 'TLS')).toMatch(/^FAIL .*cannot read .*none\.pem/);
  });

  it.each([
    [{ code: 'ENOTFOUND' }, /host name not found/],
    [
      { message: 'x', cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' } },
      /TLS certificate not accepted: .*NODE_EXTRA_CA_CERTS/,
    ],
    [{ code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'wrong version number' }, /TLS handshake failed/],
    [{ code: 'ETIMEDOUT', message: 'connect ETIMEDOUT' }, /no answer in time/],
  ])('explains %j in plain words', (err, expected) => {
    expect(explain(err, 'hint')).toMatch(expected);
  });
});
