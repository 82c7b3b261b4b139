// The compiled server (dist/src/main.js, as `npm start` runs it) as a child process for the device
// flows: started with EASD_* settings, stopped with SIGTERM, killed with SIGKILL, and started
// again on the same port and data directory, as a phone would meet it after a restart. Also the
// plain HTTP request the device client sends over a real socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { TestStack } from '../stack/types.js';
import { MAIL_DOMAIN } from '../stack/users.js';

const main = path.resolve(import.meta.dirname, '../../dist/src/main.js');
const cli = path.resolve(import.meta.dirname, '../../dist/src/cli.js');

export interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** What an https:// server (origin) is trusted as: its self-signed certificate and its name. */
const trusted = new Map<string, { ca: string; servername: string }>();

/** Trust a test server's certificate, issued for `servername`, as a phone with it installed does. */
export function trustServer(base: string, trust: { ca: string; servername: string }): void {
  trusted.set(new URL(base).origin, trust);
}

/** One HTTP(S) request over a socket; a fresh connection each time, like a phone after a sleep. */
export function httpRequest(
  base: string,
  req: { method: string; url: string; headers: Record<string, string>; payload?: Buffer },
  signal?: AbortSignal,
): Promise<HttpAnswer> {
  const url = new URL(req.url, base);
  const tls = url.protocol === 'https:' ? trusted.get(url.origin) : undefined;
  if (url.protocol === 'https:' && tls === undefined)
    return Promise.reject(new Error(`no trustServer() for ${url.origin}`));
  return new Promise((resolve, reject) => {
    const out = (tls === undefined ? request : httpsRequest)(
      url,
      { method: req.method, headers: { ...req.headers, connection: 'close' }, signal, ...tls },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    out.on('error', reject);
    out.end(req.payload);
  });
}

/** The settings that put easd on the stack's Dovecot, SMTP receiver and Radicale. */
export function stackEnv(stack: TestStack, dataDir: string): Record<string, string> {
  return {
    EASD_DATA_DIR: dataDir,
    EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
    // The stack's logins are bare names ("alice"); their addresses are at the test domain.
    EASD_MAIL_DOMAIN: MAIL_DOMAIN,
    EASD_SMTP_URL: `smtp://${stack.smtp.host}:${stack.smtp.port}`,
    EASD_CARDDAV_URL: stack.dav.url,
    EASD_CALDAV_URL: stack.dav.url,
  };
}

export class CompiledEasd {
  private child: ChildProcess | undefined;
  private output = '';
  base = '';
  port = 0;

  private constructor(private env: Record<string, string>) {}

  /** Starts the server on a free port (or `env.EASD_LISTEN`) and waits until it listens. */
  static async start(env: Record<string, string>): Promise<CompiledEasd> {
    if (!existsSync(main))
      throw new Error(`${main} is missing: run "npm run build" (npm test does it first)`);
    const server = new CompiledEasd(env);
    await server.launch();
    return server;
  }

  /** Everything the server printed on stdout and stderr since it was first started. */
  get log(): string {
    return this.output;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private async launch(extra: Record<string, string> = {}): Promise<void> {
    this.env = { ...this.env, ...extra };
    const listen = this.port === 0 ? (this.env['EASD_LISTEN'] ?? '127.0.0.1:0') : `127.0.0.1:${this.port}`;
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, EASD_LOG_LEVEL: 'warn', ...this.env, EASD_LISTEN: listen },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`easd did not start:\n${this.output}`)), 30_000);
      child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
      child.stdout?.on('data', (d: Buffer) => {
        this.output += d.toString();
        out += d.toString();
        const url = /listening on (https?:\/\/[^/\s]+)/.exec(out);
        if (url) {
          clearTimeout(timer);
          this.base = url[1]!;
          this.port = Number(new URL(this.base).port);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`easd exited (${code ?? signal}) before listening:\n${this.output}`));
      });
    });
  }

  private exited(): Promise<number | null> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null)
      return Promise.resolve(child?.exitCode ?? null);
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** SIGTERM, as systemd stops it; resolves with the exit code. */
  async stop(): Promise<number | null> {
    const done = this.exited();
    this.child?.kill('SIGTERM');
    return done;
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed. */
  async kill(): Promise<void> {
    const done = this.exited();
    this.child?.kill('SIGKILL');
    await done;
  }

  /** Starts it again on the same port and data; `extra` settings are added (a new policy file …). */
  async restart(extra: Record<string, string> = {}): Promise<void> {
    if (this.running) await this.stop();
    await this.launch(extra);
  }

  /** Runs `easd <args>` (the compiled CLI) with this server's settings; resolves with its output. */
  cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, EASD_LOG_LEVEL: 'warn', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
}

/**
 * A flow file's scratch space: a directory (readable by Dovecot's auth user, which is another
 * user when tests run as root), the compiled servers it starts, and whatever else must be
 * stopped — all stopped and removed after the file's tests.
 */
export function useScratch(prefix: string): Scratch {
  const scratch = new Scratch();
  beforeAll(async () => {
    scratch.dir = await mkdtemp(path.join(tmpdir(), prefix));
    await chmod(scratch.dir, 0o755);
  });
  afterAll(async () => {
    for (const s of scratch.servers) if (s.running) await s.stop();
    for (const stop of scratch.stops.reverse()) await stop();
    if (scratch.dir !== '') await rm(scratch.dir, { recursive: true, force: true });
  });
  return scratch;
}

export class Scratch {
  dir = '';
  readonly servers: CompiledEasd[] = [];
  readonly stops: Array<() => Promise<void>> = [];

  /** A path inside the scratch directory. */
  path(name: string): string {
    return path.join(this.dir, name);
  }

  /** Starts a compiled server that is stopped after the file's tests. */
  async start(env: Record<string, string>): Promise<CompiledEasd> {
    const server = await CompiledEasd.start(env);
    this.servers.push(server);
    return server;
  }

  /** Something else to stop after the file's tests (a daemon of the test's own). */
  onCleanup(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }
}
