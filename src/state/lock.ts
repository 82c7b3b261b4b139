// Serialization of concurrent requests: one device's requests on one collection run one at a time.
// In-process a FIFO queue per key always applies; a LockBackend (Redis SET NX PX, or a row in the
// SQLite file) additionally keeps other processes out: other easd nodes, and the admin CLI that
// edits device records while the server runs.
import { randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

export interface LockBackend {
  /** Takes the lock if free or expired; true when taken. */
  acquire(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Extends a lock still held with this token; false when it was lost. */
  renew(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Frees the lock only if it is still held with this token. */
  release(key: string, token: string): Promise<void>;
}

export interface LockOptions {
  /** Gives up waiting (and aborts the holder's signal) when it fires. */
  signal?: AbortSignal;
  /** How long the shared lock lives without renewal; renewed every ttlMs/3 while fn runs. */
  ttlMs?: number;
  /** Longest wait for the lock before LockTimeoutError; unlimited by default (the signal ends it). */
  waitMs?: number;
}

export class LockTimeoutError extends Error {
  constructor(
    readonly key: string,
    waitedMs: number,
  ) {
    super(`lock ${key} not obtained within ${waitedMs} ms`);
    this.name = 'LockTimeoutError';
  }
}

export class LockLostError extends Error {
  constructor(readonly key: string) {
    super(`lock ${key} was lost (expired and taken by another holder)`);
    this.name = 'LockLostError';
  }
}

export const defaultLockTtlMs = 30_000;

interface Queue {
  waiters: Array<() => void>;
}

export class Locks {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly backend?: LockBackend) {}

  /**
   * Runs fn while holding the lock `key`. fn gets a signal that fires when the caller's signal does
   * or when the shared lock is lost (renewal failed), so a long holder can stop writing.
   */
  async withLock<T>(
    key: string,
    fn: (signal: AbortSignal) => Promise<T>,
    opts: LockOptions = {},
  ): Promise<T> {
    const ttlMs = opts.ttlMs ?? defaultLockTtlMs;
    const deadline = opts.waitMs === undefined ? undefined : Date.now() + opts.waitMs;
    opts.signal?.throwIfAborted();
    await this.enqueue(key, opts.signal, deadline, opts.waitMs);
    try {
      if (this.backend === undefined) return await fn(opts.signal ?? new AbortController().signal);
      return await this.withShared(this.backend, key, fn, ttlMs, opts, deadline);
    } finally {
      this.dequeue(key);
    }
  }

  /** Keys with a holder or waiters in this process (for tests and leak checks). */
  get activeKeys(): number {
    return this.queues.size;
  }

  private async enqueue(
    key: string,
    signal: AbortSignal | undefined,
    deadline: number | undefined,
    waitMs: number | undefined,
  ): Promise<void> {
    const queue = this.queues.get(key);
    if (queue === undefined) {
      this.queues.set(key, { waiters: [] });
      return;
    }
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = (err: unknown): void => {
        const i = queue.waiters.indexOf(wake);
        if (i >= 0) queue.waiters.splice(i, 1);
        cleanup();
        reject(err);
      };
      const onAbort = (): void => leave(signal?.reason);
      const cleanup = (): void => {
        signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) clearTimeout(timer);
      };
      const wake = (): void => {
        cleanup();
        resolve();
      };
      queue.waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (deadline !== undefined) {
        timer = setTimeout(
          () => leave(new LockTimeoutError(key, waitMs ?? 0)),
          Math.max(0, deadline - Date.now()),
        );
      }
    });
  }

  /** Hands the lock to the next waiter, or forgets the key when nobody waits. */
  private dequeue(key: string): void {
    const queue = this.queues.get(key);
    if (queue === undefined) return;
    const next = queue.waiters.shift();
    if (next !== undefined) next();
    else this.queues.delete(key);
  }

  private async withShared<T>(
    backend: LockBackend,
    key: string,
    fn: (signal: AbortSignal) => Promise<T>,
    ttlMs: number,
    opts: LockOptions,
    deadline: number | undefined,
  ): Promise<T> {
    const token = randomToken();
    let delay = 5;
    while (!(await backend.acquire(key, token, ttlMs))) {
      if (deadline !== undefined && Date.now() >= deadline) throw new LockTimeoutError(key, opts.waitMs ?? 0);
      // Backoff with jitter so that waiting nodes do not retry in step.
      const wait = Math.min(delay, deadline === undefined ? delay : Math.max(1, deadline - Date.now()));
      await sleep(wait + Math.floor(Math.random() * wait), opts.signal);
      delay = Math.min(delay * 2, 250);
    }
    const lost = new AbortController();
    const signal = opts.signal === undefined ? lost.signal : AbortSignal.any([opts.signal, lost.signal]);
    const giveUp = (reason: unknown): void => {
      clearInterval(renewal);
      lost.abort(reason);
    };
    const renewal = setInterval(
      () => {
        backend.renew(key, token, ttlMs).then((ok) => {
          if (!ok) giveUp(new LockLostError(key));
        }, giveUp);
      },
      Math.max(10, Math.floor(ttlMs / 3)),
    );
    try {
      return await fn(signal);
    } finally {
      clearInterval(renewal);
      // A failed release (store unreachable) must not fail work already done: the lock expires.
      await backend.release(key, token).catch(() => {});
    }
  }
}

// Tokens name their holder (host, pid namespace, pid, and this process's instance), so that a lock
// left behind by a killed process can be recognised as such on the same machine (holderIsGone).
const instance = randomUUID().slice(0, 8);
// Pids only mean something inside one pid namespace: two containers sharing a hostname (host
// networking, a compose `hostname:`) and the data volume each have their own pid 1.
const pidNamespace = readPidNamespace();

function readPidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid').replace(/[^A-Za-z0-9:[\]]/g, '');
  } catch {
    return ''; // not Linux: no takeover, locks expire
  }
}

function randomToken(): string {
  return `${hostname()}/${pidNamespace}/${process.pid}/${instance}/${randomUUID()}`;
}

/**
 * True when the token's holder is certainly dead: a process of this host and pid namespace that
 * no longer exists, or an earlier process with this process's own pid there. Any doubt (another
 * host or namespace — a restarted container has a new one —, an unreadable token, a pid now used
 * by an unrelated process) answers false, and the lock is left to expire.
 */
export function holderIsGone(token: string): boolean {
  const [host, ns, pidText, inst] = token.split('/');
  const pid = Number(pidText);
  if (host !== hostname() || pidNamespace === '' || ns !== pidNamespace) return false;
  if (!Number.isSafeInteger(pid) || pid <= 0 || inst === undefined) return false;
  if (pid === process.pid) return inst !== instance;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: the pid exists (another user's process), so it may be alive.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
