// Starts easd: configuration from the environment, then the server, until SIGTERM/SIGINT.
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
}

// `node dist/src/main.js` (npm start) runs the server; cli.ts imports serve() for `easd serve`.
if (import.meta.url === `file://${process.argv[1]}`) {
  serve().catch((err: unknown) => {
    process.stderr.write(`easd: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
