// Starts easd: configuration from the environment, then the server, until SIGTERM/SIGINT. With
// EASD_WORKERS=n (n > 1) this process becomes a node:cluster primary that forks n workers sharing
// the listening socket: each runs the whole server; the primary only relays push signals between
// them (src/push/bus.ts), restarts a worker that dies and passes shutdown signals on.
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import pino, { type Logger } from 'pino';
import { ensureDemoAccount } from '../backends/memory/index.js';
import { openEasd, StartupError } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { PolicyError } from './provision/policy.js';
import { relayBusMessages } from './push/bus.js';

/** EASD_WORKERS: how many processes serve; 1 (the default) serves in this process. */
function workerCount(): number {
  const raw = process.env['EASD_WORKERS'];
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    process.stderr.write(`EASD_WORKERS must be a whole number from 1 to 256: ${raw}\n`);
    process.exit(1);
  }
  return n;
}

export async function serve(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { service: 'easd' } });
  const workers = workerCount();
  if (workers > 1 && cluster.isPrimary) return runPrimary(workers, config, log);
  let easd;
  try {
    easd = await openEasd(config, log);
  } catch (err) {
    if (err instanceof StartupError || err instanceof PolicyError) {
      process.stderr.write(`easd: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const { app, demo } = easd;
  // A restart or a network blip brings thousands of phones back within seconds; Node's default
  // accept backlog (511) then overflows and the kernel resets connections (measured: 1,874 of
  // 19,000 Pings arriving 2 ms apart). The kernel caps this at net.core.somaxconn.
  const address = await app.listen({ host: config.listen.host, port: config.listen.port, backlog: 8192 });
  log.info({ address, dataDir: config.dataDir }, 'easd listening');
  // Printed for a person at a terminal, not only logged: this is how a newcomer signs in.
  process.stdout.write(`easd listening on ${address}/Microsoft-Server-ActiveSync\n`);
  if (demo !== null)
    process.stdout.write(`demo account created: user "${demo.user}", password "${demo.password}"\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (process.env['EASD_BENCH_GC'] === '1') installBenchMemoryProbe();
}

/**
 * Benchmark aid, off unless EASD_BENCH_GC=1 (bench/push.ts sets it and starts node with
 * --expose-gc): on SIGUSR2, collect garbage, then print one line `easd memory {json}` with
 * process.memoryUsage(), so memory per held request is measured without uncollected garbage.
 * Two full collections a second apart (the second also shrinks the young generation a burst
 * grew), then a second more: V8 gives freed pages back to the OS in the background.
 */
function installBenchMemoryProbe(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    process.stderr.write('easd: EASD_BENCH_GC=1 needs node --expose-gc; memory probe not installed\n');
    return;
  }
  const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  process.on('SIGUSR2', () => {
    gc();
    void later(1000)
      .then(() => gc())
      .then(() => later(1000))
      .then(() => {
        // The young generation is reported apart: V8 grows it (up to 32 MiB) in a burst of
        // requests and shrinks it only when idle for a while, whatever is held.
        const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
        const report = { pid: process.pid, ...process.memoryUsage(), newSpace: young?.space_size ?? 0 };
        process.stdout.write(`easd memory ${JSON.stringify(report)}\n`);
      });
  });
}

/**
 * The cluster's primary: forks the workers, relays their bus messages, forks a replacement for a
 * worker that dies (at most one a second, so a worker that cannot start does not spin), and on
 * SIGTERM/SIGINT stops them all — each answers its held requests first — then exits.
 */
async function runPrimary(count: number, config: Config, log: Logger): Promise<void> {
  if (config.imapUrl === undefined) {
    // Made here, once, rather than by each worker at the same time (each with its own password).
    // The path is the one app.ts opens the built-in store on.
    const demo = await ensureDemoAccount(path.join(config.dataDir, 'memory'));
    if (demo !== null)
      process.stdout.write(`demo account created: user "${demo.user}", password "${demo.password}"\n`);
    log.warn(
      'EASD_WORKERS with the built-in store: every worker keeps its own copy of the mailboxes, so a change made through one worker is not seen by the others; use it for trials and benchmarks, and a mail server (EASD_IMAP_URL) in production',
    );
  }
  let stopping = false;
  let lastFork = 0;
  const alive = new Set<Worker>();
  const fork = (): void => {
    if (stopping) return;
    lastFork = Date.now();
    const worker = cluster.fork();
    alive.add(worker);
    relayBusMessages(worker, () => alive);
  };
  cluster.on('exit', (worker, code, signal) => {
    alive.delete(worker);
    if (stopping) {
      if (alive.size === 0) process.exit(0);
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, Math.max(0, lastFork + 1000 - Date.now()));
  });
  for (let i = 0; i < count; i++) fork();
  log.info({ workers: count }, 'easd primary started');
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down the workers');
    for (const w of alive) w.process.kill(signal);
    if (alive.size === 0) process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

// `node dist/src/main.js` (npm start) runs the server; cli.ts imports serve() for `easd serve`.
if (import.meta.url === `file://${process.argv[1]}`) {
  serve().catch((err: unknown) => {
    process.stderr.write(`easd: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
