// A lock left in the SQLite file by a process that was killed (SIGKILL, OOM) is taken over at once
// by the next process on the same machine, instead of stalling that device until the lock expires.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { holderIsGone, LockTimeoutError } from '../../src/state/lock.js';
import { openStateStore, type StateStore } from '../../src/state/store.js';

const compiledStore = pathToFileURL(path.resolve(import.meta.dirname, '../../dist/src/state/store.js')).href;

describe('holderIsGone', () => {
  const ns = readlinkSync('/proc/self/ns/pid').replace(/[^A-Za-z0-9:[\]]/g, '');

  it('recognises an earlier process with this pid in this pid namespace, but not this one', () => {
    expect(holderIsGone(`${hostname()}/${ns}/${process.pid}/00000000/x`)).toBe(true);
  });

  it('keeps locks of live processes, other hosts, other pid namespaces and unreadable tokens', () => {
    expect(holderIsGone(`${hostname()}/${ns}/${process.ppid}/00000000/x`)).toBe(false);
    expect(holderIsGone(`elsewhere.example/${ns}/999999999/00000000/x`)).toBe(false);
    // another container with the same hostname: its pids are not ours to look up
    expect(holderIsGone(`${hostname()}/pid:[1]/${process.pid}/00000000/x`)).toBe(false);
    expect(holderIsGone(`${hostname()}/pid:[1]/999999999/00000000/x`)).toBe(false);
    expect(holderIsGone('0f1e2d3c-uuid-only')).toBe(false);
    expect(holderIsGone(`${hostname()}/${ns}/-1/00000000/x`)).toBe(false);
  });
});

describe('a lock held in the SQLite file by another process', () => {
  let dir: string;
  let store: StateStore;
  let child: ChildProcess | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'easd-lock-'));
    store = await openStateStore({ dataDir: dir });
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts a process that takes the device's lock with a 10-minute ttl and holds it forever. */
  async function holderProcess(): Promise<ChildProcess> {
    const script = path.join(dir, 'holder.mjs');
    await writeFile(
      script,
      `import { openStateStore } from ${JSON.stringify(compiledStore)};
       const store = await openStateStore({ dataDir: ${JSON.stringify(dir)} });
       await store.device('alice', 'D1').lock('5', () => {
         process.stdout.write('holding\\n');
         return new Promise(() => {});
       }, { ttlMs: 600000 });`,
    );
    const p = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [chunk] = (await once(p.stdout!, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('holding\n');
    return p;
  }

  it('waits for a live holder', async () => {
    child = await holderProcess();
    await expect(store.device('alice', 'D1').lock('5', async () => 1, { waitMs: 300 })).rejects.toThrow(
      LockTimeoutError,
    );
  });

  it('takes the lock of a holder killed with SIGKILL long before its ttl ends', async () => {
    child = await holderProcess();
    child.kill('SIGKILL');
    await once(child, 'exit');
    // The ttl has nine minutes left: only the takeover can answer within waitMs.
    const ran = await store.device('alice', 'D1').lock('5', async () => 'ran', { waitMs: 5000 });
    expect(ran).toBe('ran');
  });
});
