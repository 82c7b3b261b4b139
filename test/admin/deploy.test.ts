// deploy/: the systemd unit names paths of the built checkout and of the settings file that
// exist and agree with each other; the example settings load; the admin wrapper runs the CLI
// with the server's settings.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const repo = path.resolve(import.meta.dirname, '../..');
const installDir = '/opt/easd';
const unitText = readFileSync(path.join(repo, 'deploy/easd.service'), 'utf8');
const envText = readFileSync(path.join(repo, 'deploy/easd.env'), 'utf8');

/** The unit's settings (later lines win, as for systemd's single-valued keys). */
function unit(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of unitText.split('\n')) {
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (kv) m.set(kv[1]!, kv[2]!);
  }
  return m;
}

function envFile(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of envText.split('\n')) {
    const kv = /^([A-Z_]+)=(.*)$/.exec(line);
    if (kv) env[kv[1]!] = kv[2]!;
  }
  return env;
}

/** A path of the installed checkout, in this repository. */
const inRepo = (p: string): string => {
  expect(p.startsWith(`${installDir}/`) || p === installDir, p).toBe(true);
  return path.join(repo, path.relative(installDir, p));
};

describe('deploy/easd.service', () => {
  it('starts the compiled server of the checkout it runs in', () => {
    const u = unit();
    expect(u.get('WorkingDirectory')).toBe(installDir);
    const [node, script, ...rest] = (u.get('ExecStart') ?? '').split(' ');
    expect(node).toBe('/usr/bin/node');
    expect(rest).toEqual([]);
    // dist/ is what `npm run build` writes (the test run builds it first).
    expect(existsSync(inRepo(script!)), script).toBe(true);
    expect(script).toBe(`${installDir}/dist/src/main.js`);
    expect(JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).scripts.start).toBe(
      'node dist/src/main.js',
    );
  });

  it('reads the settings file deploy/easd.env is the template of, with the state where systemd puts it', () => {
    const u = unit();
    expect(u.get('EnvironmentFile')).toBe('/etc/easd/easd.env');
    expect(unitText).toContain('start from deploy/easd.env');
    const env = envFile();
    expect(`/var/lib/${u.get('StateDirectory')}`).toBe(env['EASD_DATA_DIR']);
    expect(u.get('ProtectSystem')).toBe('strict'); // so only StateDirectory is writable
    expect(u.get('KillSignal')).toBe('SIGTERM'); // held Pings are answered on SIGTERM
  });

  it('ships example settings that easd accepts as they are', () => {
    const env = envFile();
    const config = loadConfig(env, '/');
    expect(config.dataDir).toBe('/var/lib/easd');
    expect(config.trustProxy).toBe(true);
    expect(config.metricsListen).toEqual({ host: '127.0.0.1', port: 9464 });
    // Commented-out settings are real settings too.
    const commented = [...envText.matchAll(/^#(EASD_[A-Z_]+)=/gm)].map((m) => m[1]!);
    const known = Object.keys(envFile()).concat(commented);
    const documented = readFileSync(path.join(repo, 'docs/configuration.md'), 'utf8');
    for (const name of known) expect(documented, name).toContain(`\`${name}\``);
  });
});

describe('deploy/easd-admin', () => {
  it('runs the CLI with the settings file of the server', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'easd-deploy-'));
    try {
      const envPath = path.join(dir, 'easd.env');
      await writeFile(envPath, envText.replace('EASD_DATA_DIR=/var/lib/easd', `EASD_DATA_DIR=${dir}/state`));
      const { stdout } = await promisify(execFile)(
        path.join(repo, 'deploy/easd-admin'),
        ['devices', 'list'],
        {
          env: { ...process.env, EASD_ENV_FILE: envPath, EASD_HOME: repo },
        },
      );
      expect(stdout).toBe('No devices.\n');
      expect(existsSync(path.join(dir, 'state', 'state.sqlite'))).toBe(true);
      await expect(
        promisify(execFile)(path.join(repo, 'deploy/easd-admin'), ['devices', 'list'], {
          env: { ...process.env, EASD_ENV_FILE: path.join(dir, 'missing.env'), EASD_HOME: repo },
        }),
      ).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/cannot read .*missing\.env/) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
