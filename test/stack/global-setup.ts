// vitest globalSetup: starts the real test stack (Dovecot, Radicale, Redis, SMTP receiver) once per
// run, in parallel, in one temporary directory, and provides its addresses as inject('stack').
// Teardown stops every process and removes the directory; process.ts covers interrupted runs.
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDovecot } from './dovecot.js';
import { removeOnExit } from './process.js';
import { startRadicale } from './radicale.js';
import { startRedis } from './redis.js';
import { startSmtpReceiver } from './smtp.js';
import type { TestStack } from './types.js';
import { users } from './users.js';

interface Stoppable {
  stop(): Promise<void>;
}

// EASD_STACK_TIMING=1 prints start and teardown times; EASD_STACK_KEEP=1 keeps the temporary
// directory (configs, logs, Maildirs, spool) after the run and prints where it is.
const timing = process.env.EASD_STACK_TIMING === '1';
const keep = process.env.EASD_STACK_KEEP === '1';

const TMP_PREFIX = 'easd-stack-';

/**
 * A run that was killed outright (SIGKILL, OOM) leaves its directory behind; its daemons went with
 * it (parent-death signal). Remove such directories whose owner process is gone.
 */
async function removeStaleStacks(): Promise<void> {
  // A directory without owner.pid was kept on purpose (EASD_STACK_KEEP) or is not ours.
  const names = (await readdir(tmpdir())).filter((n) => n.startsWith(TMP_PREFIX));
  for (const name of names) {
    const dir = path.join(tmpdir(), name);
    const owner = Number((await readFile(path.join(dir, 'owner.pid'), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    await rm(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = performance.now();
  await removeStaleStacks();
  const tmpDir = await mkdtemp(path.join(tmpdir(), TMP_PREFIX));
  await writeFile(path.join(tmpDir, 'owner.pid'), `${process.pid}\n`);
  removeOnExit(tmpDir, !keep);
  // mkdtemp makes it 0700; Dovecot's unprivileged processes must reach their files inside.
  await chmod(tmpDir, 0o755);

  const results = await Promise.allSettled([
    startDovecot(path.join(tmpDir, 'dovecot'), users),
    startRadicale(path.join(tmpDir, 'radicale'), users),
    startRedis(path.join(tmpDir, 'redis')),
    startSmtpReceiver(path.join(tmpDir, 'smtp', 'spool'), users),
  ]);
  const started = results.flatMap((r): Stoppable[] => (r.status === 'fulfilled' ? [r.value] : []));

  const teardown = async (): Promise<void> => {
    const t1 = performance.now();
    await Promise.allSettled(started.map((s) => s.stop()));
    if (keep) {
      // Without an owner the sweep of later runs leaves the kept directory alone.
      await rm(path.join(tmpDir, 'owner.pid'), { force: true });
      console.error(`test stack: kept ${tmpDir}`);
    } else {
      await rm(tmpDir, { recursive: true, force: true });
    }
    removeOnExit(tmpDir, false);
    if (timing) console.error(`test stack: stopped in ${Math.round(performance.now() - t1)} ms`);
  };

  const [dovecot, radicale, redis, smtp] = results;
  if (
    dovecot.status !== 'fulfilled' ||
    radicale.status !== 'fulfilled' ||
    redis.status !== 'fulfilled' ||
    smtp.status !== 'fulfilled'
  ) {
    await teardown();
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    throw new Error(`test stack failed to start:\n${reasons.join('\n\n')}`);
  }

  const stack: TestStack = {
    tmpDir,
    users: users.map((u) => ({ ...u })),
    imap: { host: dovecot.value.host, port: dovecot.value.port },
    smtp: { host: smtp.value.host, port: smtp.value.port, spoolDir: smtp.value.spoolDir },
    dav: { url: radicale.value.url },
    redis: { url: redis.value.url },
  };
  project.provide('stack', stack);
  if (timing) console.error(`test stack: started in ${Math.round(performance.now() - t0)} ms`);
  return teardown;
}
