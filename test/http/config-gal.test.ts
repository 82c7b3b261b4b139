// EASD_GAL_* (src/config.ts) and how app.ts mounts the GAL: the settings read and checked, and the
// built-in store refusing a GAL without a service account (its passwords are not the book's).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { openEasd, StartupError } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';

const stack = inject('stack');
const cwd = '/srv/easd';
const url = 'https://dav.example.com/directory/gal/';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, cwd);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('EASD_GAL_*', () => {
  it('unset: no GAL', () => {
    expect(loadConfig({}, cwd).gal).toBeUndefined();
  });

  it('the URL alone: each user reads the book, checked every 60 s', () => {
    expect(loadConfig({ EASD_GAL_URL: url }, cwd).gal).toEqual({ url, refreshSeconds: 60 });
  });

  it('an LDAP server with its base DN and a bind DN', () => {
    const gal = loadConfig(
      {
        EASD_GAL_URL: 'ldaps://dir.example.com',
        EASD_GAL_BASE: 'ou=people,dc=example,dc=com',
        EASD_GAL_USER: 'cn=easd,dc=example,dc=com',
        EASD_GAL_PASSWORD: 'pw',
      },
      cwd,
    ).gal;
    expect(gal).toEqual({
      url: 'ldaps://dir.example.com',
      baseDN: 'ou=people,dc=example,dc=com',
      user: 'cn=easd,dc=example,dc=com',
      password: 'pw',
      refreshSeconds: 60,
    });
  });

  it('with a service account and a refresh period', () => {
    const gal = loadConfig(
      { EASD_GAL_URL: url, EASD_GAL_USER: 'directory', EASD_GAL_PASSWORD: 's3cret', EASD_GAL_REFRESH: '0' },
      cwd,
    ).gal;
    expect(gal).toEqual({ url, user: 'directory', password: 's3cret', refreshSeconds: 0 });
  });

  it.each([
    [{ EASD_GAL_USER: 'directory', EASD_GAL_PASSWORD: 'x' }, 'need EASD_GAL_URL'],
    [{ EASD_GAL_URL: url, EASD_GAL_USER: 'directory' }, 'must be set together'],
    [{ EASD_GAL_URL: url, EASD_GAL_REFRESH: '-1' }, 'whole number of seconds'],
    [{ EASD_GAL_URL: url, EASD_GAL_REFRESH: 'soon' }, 'whole number of seconds'],
    [
      { EASD_GAL_URL: 'ftp://dir.example.com/gal/' },
      'must start with http:// or https:// or ldap:// or ldaps://',
    ],
    [{ EASD_GAL_URL: 'ldap://dir.example.com' }, 'needs EASD_GAL_BASE'],
    [{ EASD_GAL_URL: url, EASD_GAL_BASE: 'dc=example' }, 'EASD_GAL_BASE is for an LDAP'],
    [{ EASD_GAL_BASE: 'dc=example' }, 'need EASD_GAL_URL'],
    [{ EASD_GAL_URL: 'https://directory:pw@dav.example.com/gal/' }, 'must not hold credentials'],
    [{ EASD_GAL_URL: 'not a url' }, 'is not a URL'],
  ])('%j is refused (%s)', (env, message) => {
    expect(problems(env).join('\n')).toContain(message);
  });

  it('the service password never shows in a message', () => {
    expect(problems({ EASD_GAL_URL: url, EASD_GAL_PASSWORD: 'hunter2-secret' }).join('\n')).not.toContain(
      'hunter2',
    );
  });
});

describe('mounting the GAL', () => {
  it('the built-in store needs a service account for it', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'easd-gal-config-'));
    try {
      await expect(
        openEasd(loadConfig({ EASD_DATA_DIR: dataDir, EASD_GAL_URL: url }), pino({ level: 'silent' })),
      ).rejects.toThrow(StartupError);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('with one, directory lookups go to the book, not the built-in accounts', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'easd-gal-config-'));
    const carol = stack.users.find((u) => u.user === 'carol')!;
    const easd = await openEasd(
      loadConfig({
        EASD_DATA_DIR: dataDir,
        // A book that does not exist: the built-in directory would answer [], the GAL is refused.
        EASD_GAL_URL: `${stack.dav.url}carol/no-such-book-${Date.now()}/`,
        EASD_GAL_USER: carol.user,
        EASD_GAL_PASSWORD: carol.password,
      }),
      pino({ level: 'silent' }),
    );
    try {
      const search = easd.backend.search!;
      await expect(
        search.directory!({ user: 'demo', email: 'demo@localhost' }, 'demo', 10, AbortSignal.timeout(5000)),
      ).rejects.toMatchObject({ kind: 'denied' });
      expect(typeof search.mailbox).toBe('function');
    } finally {
      await easd.app.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
