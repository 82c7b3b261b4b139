// A store watch that fails is ended for good: the hub falls back to polling and aborts the
// watch's signal, so what the watch still runs beside the failed part (the router's DAV polls next
// to a refused IMAP watch) stops instead of hinting a dead entry forever.
import { expect, it } from 'vitest';
import type { Account, Backend } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import { localBus } from '../../src/push/bus.js';
import { PushHub } from '../../src/push/hub.js';

it("aborts the watch's signal when the watch rejects, and polls instead", async () => {
  let watchSignal: AbortSignal | undefined;
  let fail!: (err: Error) => void;
  const backend = {
    watch: (_a: Account, _ids: readonly string[], _onChange: unknown, signal: AbortSignal) =>
      new Promise<void>((_resolve, reject) => {
        watchSignal = signal;
        fail = reject;
      }),
  } as unknown as Backend;
  const hub = new PushHub({ backend, bus: localBus(), coalesceMs: 1, pollMs: 600_000 });
  const stop = hub.listen({ user: 'alice' } as Account, ['f1'], () => {});
  expect(hub.stats()).toMatchObject({ watchers: 1, pollers: 0 });
  fail(new BackendError('auth', 'login refused'));
  await new Promise((r) => setTimeout(r, 10));
  expect(watchSignal?.aborted).toBe(true);
  expect(hub.stats()).toMatchObject({ watchers: 0, pollers: 1 });
  stop();
  await hub.close();
  expect(hub.stats()).toEqual({ users: 0, listeners: 0, claims: 0, watchers: 0, pollers: 0 });
});
