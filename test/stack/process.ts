// Process plumbing for the real test stack: free ports, daemons started in the foreground as our
// own children, readiness polling, and stopping that leaves nothing behind.
//
// Each daemon gets its own process group, so stopping it signals the daemon and every process it
// forked (Dovecot's master alone waits about 1.5 s for its children; the group goes in
// milliseconds). If the vitest process exits or is interrupted before teardown, an 'exit' hook
// kills the groups; if it is killed outright, setpriv's parent-death signal takes the daemons down.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const HOST = '127.0.0.1';

/** A port that was free a moment ago: the caller retries with another if the bind then fails. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr !== null && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port from listen(0)'));
      });
    });
  });
}

export interface Daemon {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** SIGTERM to the group, SIGKILL after graceMs; resolves once the daemon has exited. */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
}

const live = new Set<Daemon>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' covers process.exit(), which vitest calls on SIGINT/SIGTERM; listeners may only do
  // synchronous work, and a signal is all that is needed.
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAllNow();
      // If nobody else handles the signal, adding this listener removed Node's default exit.
      if (process.listenerCount(sig) <= 1) setTimeout(() => process.exit(128 + signalNumber(sig)), 100);
    });
  }
}

function signalNumber(sig: 'SIGINT' | 'SIGTERM' | 'SIGHUP'): number {
  return sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1;
}

const tmpDirs = new Set<string>();

/** Remove this directory on exit if teardown never got to it. */
export function removeOnExit(dir: string, remove = true): void {
  installExitHooks();
  if (remove) tmpDirs.add(dir);
  else tmpDirs.delete(dir);
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function killAllNow(): void {
  // Only synchronous work is possible here, and nothing in the temporary directory needs saving.
  for (const d of live) killGroup(d.child.pid, 'SIGKILL');
  live.clear();
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  tmpDirs.clear();
}

// util-linux's setpriv (always on Debian) sets the parent-death signal and then execs the daemon.
const PDEATHSIG = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : null;

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Start a daemon that stays in the foreground; its stdout and stderr go to logFile. */
export function spawnDaemon(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  opts: SpawnOptions = {},
): Daemon {
  installExitHooks();
  const fd = openSync(logFile, 'a');
  const [cmd, argv] = PDEATHSIG
    ? [PDEATHSIG, ['--pdeathsig', 'KILL', '--', command, ...args]]
    : [command, args];
  let child: ChildProcess;
  try {
    child = spawn(cmd, argv, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  let done = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', () => {
      done = true;
      resolve();
    });
  });
  const daemon: Daemon = {
    name,
    child,
    logFile,
    exited: () => done,
    async stop(graceMs = 5000) {
      live.delete(daemon);
      if (!done) {
        killGroup(child.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), graceMs);
        await exit;
        clearTimeout(timer);
      }
      // Whatever of the group outlived its leader.
      killGroup(child.pid, 'SIGKILL');
    },
  };
  live.add(daemon);
  return daemon;
}

/** The last lines of a log file, for error messages. */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Poll probe until it resolves true. Fails early when the daemon exits, and with the log tail on
 * timeout, so a broken config reads as the daemon's own complaint.
 */
export async function waitUntilReady(
  daemon: Daemon,
  probe: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (daemon.exited()) {
      throw new Error(
        `${daemon.name} exited during start-up (code ${daemon.child.exitCode}):\n${logTail(daemon.logFile)}`,
      );
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(`${daemon.name} not ready after ${timeoutMs} ms:\n${logTail(daemon.logFile)}`);
    }
    await sleep(25);
  }
}

/**
 * Open a TCP connection, optionally send a line, and resolve with what arrives until `until`
 * matches (or reject on close/timeout). Enough for greeting and PING probes.
 */
export function tcpExchange(
  port: number,
  send: string | null,
  until: RegExp,
  timeoutMs = 2000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST);
    let buf = '';
    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(buf);
    };
    const timer = setTimeout(() => finish(new Error(`no answer on port ${port}`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.once('connect', () => {
      if (send !== null) sock.write(send);
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (until.test(buf)) finish(null);
    });
    sock.once('error', finish);
    sock.once('close', () => finish(new Error(`connection closed: ${JSON.stringify(buf)}`)));
  });
}

/**
 * Start something on a fresh free port, trying again with another port when the start fails
 * (another process may take the port between freePort() and the daemon's bind).
 */
export async function withFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await start(await freePort());
    } catch (err) {
      last = err;
      if (!/address already in use|EADDRINUSE|in use/i.test(String(err))) break;
    }
  }
  throw last;
}
