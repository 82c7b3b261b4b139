// The compiled server as `npm start` runs it (dist/src/main.js), over a real socket: OPTIONS,
// 401 without credentials, 400 for a bad body, a full provision + FolderSync, a clean stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EasTestClient, findText } from '../support/eas-client.js';

const main = path.resolve(import.meta.dirname, '../../dist/src/main.js');
let child: ChildProcess;
let base: string;
let demo: { user: string; password: string };
let dataDir: string;
let stderr = '';

beforeAll(async () => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" (npm test does it first)`);
  dataDir = await mkdtemp(path.join(tmpdir(), 'easd-e2e-'));
  child = spawn(process.execPath, [main], {
    env: { ...process.env, EASD_LISTEN: '127.0.0.1:0', EASD_DATA_DIR: dataDir, EASD_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out} ${stderr}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/[^/\s]+)/.exec(out);
      const account = /user "([^"]+)", password "([^"]+)"/.exec(out);
      if (url && account) {
        clearTimeout(timer);
        base = url[1]!;
        demo = { user: account[1]!, password: account[2]! };
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
});

afterAll(async () => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

function http(
  method: string,
  url: string,
  headers: Record<string, string>,
  payload?: Buffer,
): Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(url, base), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('the compiled server over a socket', () => {
  it('answers OPTIONS with versions and commands', async () => {
    const res = await http('OPTIONS', '/Microsoft-Server-ActiveSync', {});
    expect(res.statusCode).toBe(200);
    expect(res.headers['ms-asprotocolversions']).toBe('12.0,12.1,14.0,14.1,16.0,16.1');
    expect(String(res.headers['ms-asprotocolcommands'])).toContain('FolderSync');
  });

  it('answers a POST without credentials with 401', async () => {
    const res = await http(
      'POST',
      '/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=x&DeviceId=D&DeviceType=t',
      { 'content-type': 'application/vnd.ms-sync.wbxml' },
      Buffer.from([3, 1, 0x6a, 0]),
    );
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic/);
  });

  it('answers a POST with a bad body with 400', async () => {
    const res = await http(
      'POST',
      '/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=demo&DeviceId=D&DeviceType=t',
      {
        authorization: 'Basic ' + Buffer.from(`${demo.user}:${demo.password}`).toString('base64'),
        'ms-asprotocolversion': '14.1',
        'content-type': 'application/vnd.ms-sync.wbxml',
      },
      Buffer.from([3, 1, 0x6a, 0, 0, 7, 0x56, 0x52, 0x03, 0x30]),
    );
    expect(res.statusCode).toBe(400);
    expect(res.body.toString()).not.toMatch(/\.js:\d+/);
  });

  it('provisions the demo account and lists its folders', async () => {
    const client = new EasTestClient(
      async (req) => {
        const res = await http(req.method, req.url, req.headers, req.payload);
        return { statusCode: res.statusCode, headers: res.headers, body: res.body };
      },
      { user: demo.user, password: demo.password, deviceId: 'E2E1', version: '16.1' },
    );
    await client.provision();
    const res = await client.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    expect(findText(res.doc, 'Status')).toBe('1');
    expect(findText(res.doc, 'DisplayName')).toBeDefined();
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/Error/);
  });
});
