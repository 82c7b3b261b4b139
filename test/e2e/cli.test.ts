// The `easd` command as installed (dist/src/cli.js): reading a device trace, writing WBXML back,
// the admin commands on a real state directory, and `easd check` against the real test stack.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decode } from '../../wbxml/index.js';
import { touchDevice } from '../../src/state/devices.js';
import { openStateStore } from '../../src/state/store.js';

const run = promisify(execFile);
const cli = path.resolve(import.meta.dirname, '../../dist/src/cli.js');
const fixture = path.resolve(import.meta.dirname, '../fixtures/wbxml/foldersync-request-initial.hex');
let dir: string;

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" (npm test does it first)`);
  dir = await mkdtemp(path.join(tmpdir(), 'easd-cli-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const easd = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [cli, ...args], { env: { ...process.env, EASD_DATA_DIR: dir, ...env } });

describe('easd wbxml', () => {
  it('decodes a phone request to XML and encodes it back to the same bytes', async () => {
    const { stdout: xml } = await easd(['wbxml', 'decode', '--hex', fixture]);
    expect(xml).toContain('<FolderSync xmlns="FolderHierarchy:">');
    expect(xml).toContain('<SyncKey>0</SyncKey>');
    const xmlFile = path.join(dir, 'trace.xml');
    await writeFile(xmlFile, xml);
    const out = path.join(dir, 'trace.wbxml');
    const { stdout } = await run(process.execPath, [cli, 'wbxml', 'encode', '--hex', xmlFile]);
    const original = (await readFile(fixture, 'utf8'))
      .replace(/#[^\n]*/g, '')
      .replace(/\s+/g, '')
      .toLowerCase();
    expect(stdout.replace(/\s+/g, '').toLowerCase()).toBe(original);
    await writeFile(out, Buffer.from(original, 'hex'));
    expect(decode(await readFile(out)).name).toBe('FolderSync');
  });

  it('says what is wrong with a broken document and exits non-zero', async () => {
    const bad = path.join(dir, 'bad.hex');
    await writeFile(bad, '03 01 6a 00 00 07 56');
    await expect(easd(['wbxml', 'decode', '--hex', bad])).rejects.toMatchObject({ code: 1 });
  });
});

describe('easd devices and policy', () => {
  it('lists a device recorded in the state store, and shows the policy', async () => {
    const store = await openStateStore({ dataDir: dir });
    await touchDevice(store.device('alice', 'PHONE1'), {
      deviceType: 'iPhone',
      userAgent: 'Apple-iPhone15C2/2101.1',
      protocolVersion: '16.1',
    });
    await store.close();
    const { stdout } = await easd(['devices', 'list']);
    expect(stdout).toContain('alice');
    expect(stdout).toContain('PHONE1');
    expect(stdout).toContain('iPhone');
    const policy = await easd(['policy', 'show']);
    expect(policy.stdout).toMatch(/DevicePasswordEnabled/);
  });

  it('refuses an unknown command with usage', async () => {
    await expect(easd(['frobnicate'])).rejects.toMatchObject({ code: 2 });
  });
});

describe('easd trace', () => {
  it('switches a device trace on in the state store', async () => {
    const on = await easd(['trace', 'on', 'alice/PHONE1']);
    expect(on.stdout).toMatch(/^Tracing alice\/PHONE1; every node picks this up within a few seconds/);
    expect((await easd(['trace', 'list'])).stdout).toBe('Traced: alice/PHONE1\n');
  });
});

describe('easd check', () => {
  const stack = inject('stack');
  const alice = stack.users[0]!;
  const servers = {
    EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
    EASD_SMTP_URL: `smtp://${stack.smtp.host}:${stack.smtp.port}`,
    EASD_CARDDAV_URL: stack.dav.url,
    EASD_CALDAV_URL: stack.dav.url,
    EASD_STATE_URL: stack.redis.url,
  };

  it('exits 0 when every configured server works for the test account', async () => {
    const { stdout } = await easd(['check', '--user', alice.user], {
      ...servers,
      EASD_CHECK_PASSWORD: alice.password,
    });
    expect(stdout).toMatch(/^OK +IMAP .*logged in as alice/m);
    expect(stdout).toMatch(/^OK +state +Redis at /m);
    expect(stdout.trim().split('\n').at(-1)).toBe('Everything checked is fine.');
  });

  it('exits 1 and says what is wrong with a wrong password, reading it from stdin', async () => {
    const child = execFile(process.execPath, [cli, 'check', '--user', alice.user, '--password-file', '-'], {
      env: { ...process.env, EASD_DATA_DIR: dir, ...servers },
    });
    child.stdin?.end('wrong-password-42\n');
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL +IMAP .*login as alice refused.*wrong user name or password\?$/m);
    expect(stdout).not.toContain('wrong-password-42');
  });

  it('refuses a user without a password with usage exit 2', async () => {
    await expect(easd(['check', '--user', 'alice'], { EASD_CHECK_PASSWORD: '' })).rejects.toMatchObject({
      code: 2,
    });
  });
});
