// Starts easd: configuration from the environment, then the server, until SIGTERM/SIGINT.
import { getHeapSpaceStatistics } from 'node:v8';
import pino from 'pino';
import { openEasd, StartupError } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { PolicyError } from './provision/policy.js';

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
  const address = await app.listen({ host: config.listen.host, port: config.listen.port });
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
        const report = { ...process.memoryUsage(), newSpace: young?.space_size ?? 0 };
        process.stdout.write(`easd memory ${JSON.stringify(report)}\n`);
      });
  });
}

// `node dist/src/main.js` (npm start) runs the server; cli.ts imports serve() for `easd serve`.
if (import.meta.url === `file://${process.argv[1]}`) {
  serve().catch((err: unknown) => {
    process.stderr.write(`easd: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
