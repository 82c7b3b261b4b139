// EASD_MAIL_CA, EASD_MAIL_DOMAIN and EASD_LOGIN_MAP (src/config.ts) and app.ts reading the CA
// file: the settings read, checked and refused with a message naming the setting.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openEasd, StartupError } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';

const cwd = '/srv/easd';
const imap = { EASD_IMAP_URL: 'imaps://mail.example.com' };

describe('mail account settings', () => {
  it('unset: no CA file, no domain, no login map (the backend defaults apply)', () => {
    const c = loadConfig(imap, cwd);
    expect([c.mailCaFile, c.mailDomain, c.loginMap]).toEqual([undefined, undefined, undefined]);
  });

  it('read: the CA path resolved against the working directory, the domain in lower case', () => {
    const c = loadConfig(
      {
        ...imap,
        EASD_MAIL_CA: 'tls/ca.pem',
        EASD_MAIL_DOMAIN: 'Example.COM',
        EASD_LOGIN_MAP: 'strip-domain',
      },
      cwd,
    );
    expect([c.mailCaFile, c.mailDomain, c.loginMap]).toEqual([
      '/srv/easd/tls/ca.pem',
      'example.com',
      'strip-domain',
    ]);
  });

  it.each([
    [{ EASD_LOGIN_MAP: 'strip' }, 'EASD_LOGIN_MAP must be one of strip-windows-domain, strip-domain, keep'],
    [{ EASD_MAIL_DOMAIN: 'alice@example.com' }, 'EASD_MAIL_DOMAIN must be a domain name'],
    [{ EASD_MAIL_DOMAIN: 'exa mple.com' }, 'EASD_MAIL_DOMAIN must be a domain name'],
    [{ EASD_MAIL_DOMAIN: '-example.com' }, 'EASD_MAIL_DOMAIN must be a domain name'],
  ])('%o is refused', (env, message) => {
    expect(() => loadConfig({ ...imap, ...env }, cwd)).toThrow(message);
  });

  it('without EASD_IMAP_URL they are refused (they concern the mail server)', () => {
    expect(() => loadConfig({ EASD_MAIL_DOMAIN: 'example.com' }, cwd)).toThrow(
      new ConfigError(['EASD_MAIL_CA, EASD_MAIL_DOMAIN and EASD_LOGIN_MAP need EASD_IMAP_URL']),
    );
  });

  it('a CA file that is missing or holds no certificate stops the start with a StartupError', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'easd-config-mail-'));
    try {
      await writeFile(path.join(dir, 'not-a-cert.pem'), 'hello\n');
      for (const [file, message] of [
        ['missing.pem', /EASD_MAIL_CA=.*missing\.pem cannot be read/],
        ['not-a-cert.pem', /EASD_MAIL_CA=.*not-a-cert\.pem holds no PEM certificate/],
      ] as const) {
        const config = loadConfig(
          { ...imap, EASD_DATA_DIR: path.join(dir, 'data'), EASD_MAIL_CA: path.join(dir, file) },
          cwd,
        );
        const opening = openEasd(config, pino({ level: 'silent' }));
        await expect(opening).rejects.toBeInstanceOf(StartupError);
        await expect(opening).rejects.toThrow(message);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
