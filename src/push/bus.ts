// How push signals travel between easd processes. One process: an in-memory bus; the workers of
// one easd (EASD_WORKERS, node:cluster): the same, relayed by the primary process over the
// cluster's IPC channel. Several nodes sharing Redis (EASD_STATE_URL=redis://…): Redis pub/sub.
// Either way a change seen or made in one process wakes a Ping held in any other, and a device's
// newer request ends its older one everywhere.
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { createClient } from '@redis/client';

export interface PushBus {
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for every message on `channel` until the returned function is called. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** What workers and the primary exchange: one published message. */
interface BusEnvelope {
  easdBus: [channel: string, message: string];
}

const isEnvelope = (m: unknown): m is BusEnvelope =>
  typeof m === 'object' &&
  m !== null &&
  Array.isArray((m as BusEnvelope).easdBus) &&
  typeof (m as BusEnvelope).easdBus[0] === 'string' &&
  typeof (m as BusEnvelope).easdBus[1] === 'string';

/**
 * The bus of one machine: in-memory, and in a cluster worker also sent to the primary, which
 * hands it to the other workers (relayBusMessages). Local subscribers get a message at once,
 * without the round trip.
 */
export function localBus(): PushBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0); // one listener per held request; tens of thousands are normal
  const send = cluster.isWorker && process.send !== undefined ? process.send.bind(process) : undefined;
  const onMessage = (m: unknown): void => {
    if (isEnvelope(m)) emitter.emit(m.easdBus[0], m.easdBus[1]);
  };
  if (send !== undefined) process.on('message', onMessage);
  return {
    async publish(channel, message) {
      emitter.emit(channel, message);
      send?.({ easdBus: [channel, message] } satisfies BusEnvelope);
    },
    async subscribe(channel, handler) {
      emitter.on(channel, handler);
      return async () => {
        emitter.off(channel, handler);
      };
    },
    async close() {
      emitter.removeAllListeners();
      if (send !== undefined) process.off('message', onMessage);
    },
  };
}

/** In the cluster's primary: passes each worker's bus messages on to every other worker. */
export function relayBusMessages(worker: Worker, workers: () => Iterable<Worker>): void {
  worker.on('message', (m: unknown) => {
    if (!isEnvelope(m)) return;
    for (const w of workers()) if (w !== worker && w.isConnected()) w.send(m);
  });
}

/**
 * Redis pub/sub. Subscriptions are counted per channel so that many held requests of one user
 * cost one SUBSCRIBE; a publish also reaches this process's own subscribers through Redis, which
 * keeps one path for local and remote delivery.
 */
export async function redisBus(url: string, prefix = 'easd'): Promise<PushBus> {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const counts = new Map<string, number>();
  const name = (channel: string): string => `${prefix}:push:${channel}`;
  return {
    async publish(channel, message) {
      await pub.publish(name(channel), message);
    },
    async subscribe(channel, handler) {
      local.on(channel, handler);
      const n = counts.get(channel) ?? 0;
      counts.set(channel, n + 1);
      if (n === 0) await sub.subscribe(name(channel), (message) => local.emit(channel, message));
      return async () => {
        local.off(channel, handler);
        const left = (counts.get(channel) ?? 1) - 1;
        if (left > 0) {
          counts.set(channel, left);
          return;
        }
        counts.delete(channel);
        await sub.unsubscribe(name(channel)).catch(() => {});
      };
    },
    async close() {
      local.removeAllListeners();
      await Promise.allSettled([sub.quit(), pub.quit()]);
    },
  };
}
