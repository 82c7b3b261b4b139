// The `easd` command as installed (dist/src/cli.js): reading a device trace, writing WBXML back,
// and the admin commands on a real state directory.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
