#!/usr/bin/env node
// The easd command: `easd [serve]`, `easd check`, `easd wbxml …`, `easd devices …`, `easd trace …`,
// `easd policy show`.
import { wbxmlCli } from '../wbxml/cli.js';
import { readFile } from 'node:fs/promises';
import { runChecks } from './admin/check.js';
import { devicesCli } from './admin/devices.js';
import { ConfigError, loadConfig } from './config.js';
import { serve } from './main.js';
import { loadPolicy, PolicyError } from './provision/policy.js';
import { openStateStore } from './state/store.js';

const usage = `Usage:
  easd [serve]                         run the server (configuration: docs/configuration.md)
  easd wbxml decode|encode [--hex] [file|-]
  easd check [--user <user>] [--password-file <file>|-]
                                       test the configured servers (password also from EASD_CHECK_PASSWORD)
  easd devices list|show|wipe|account-wipe|remove|resync …   (easd devices help)
  easd trace on|off <user>[/<device-id>] | easd trace list
  easd policy show
`;

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      await serve();
      return -1; // keeps running
    case 'check': {
      const code = await check(rest);
      // Exits once the report is written: a client library's idle socket must not keep it alive.
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      process.exit(code);
    }
    case 'wbxml':
      return wbxmlCli(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    case 'devices':
    case 'trace':
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

/**
 * `easd check [--user <user>] [--password-file <file>|-]`. The password never comes from the
 * command line (other users see it in ps): EASD_CHECK_PASSWORD, a file, or stdin.
 */
async function check(args: string[]): Promise<number> {
  let user = process.env['EASD_CHECK_USER'] || undefined;
  let passwordFile: string | undefined;
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined || (flag !== '--user' && flag !== '--password-file')) {
      process.stderr.write(`easd check: unknown or incomplete option ${flag ?? ''}\n${usage}`);
      return 2;
    }
    if (flag === '--user') user = value;
    else passwordFile = value;
  }
  let password = process.env['EASD_CHECK_PASSWORD'] || undefined;
  if (passwordFile !== undefined) {
    const text = passwordFile === '-' ? await readStdin() : await readFile(passwordFile, 'utf8');
    password = text.replace(/\r?\n$/, '');
  }
  if ((user === undefined) !== (password === undefined)) {
    process.stderr.write(
      'easd check: a test account needs both --user (or EASD_CHECK_USER) and a password (EASD_CHECK_PASSWORD or --password-file)\n',
    );
    return 2;
  }
  const config = loadConfig();
  return runChecks({
    config,
    ...(user !== undefined && password !== undefined ? { account: { user, password } } : {}),
    out: (line) => process.stdout.write(`${line}\n`),
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
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
