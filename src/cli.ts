#!/usr/bin/env node
// The easd command: `easd [serve]`, `easd wbxml …`, `easd devices …`, `easd policy show`.
import { wbxmlCli } from '../wbxml/cli.js';
import { devicesCli } from './admin/devices.js';
import { ConfigError, loadConfig } from './config.js';
import { serve } from './main.js';
import { loadPolicy, PolicyError } from './provision/policy.js';
import { openStateStore } from './state/store.js';

const usage = `Usage:
  easd [serve]                         run the server (configuration: docs/configuration.md)
  easd wbxml decode|encode [--hex] [file|-]
  easd devices list|show|wipe|account-wipe|remove|resync …   (easd devices help)
  easd policy show
`;

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      await serve();
      return -1; // keeps running
    case 'wbxml':
      return wbxmlCli(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    case 'devices':
    case 'policy': {
      const config = loadConfig();
      const policy = await loadPolicy(config.policyFile);
      const store = await openStateStore({ url: config.stateUrl, dataDir: config.dataDir });
      try {
        return await devicesCli(argv, {
          store,
          policy,
          out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
          err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
        });
      } finally {
        await store.close();
      }
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return 0;
    default:
      process.stderr.write(`easd: unknown command "${command}"\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof PolicyError)
      process.stderr.write(`easd: ${err.message}\n`);
    else process.stderr.write(`easd: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
