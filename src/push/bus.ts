// How push signals travel between easd processes. One process: an in-memory bus. Several nodes
// sharing Redis (EASD_STATE_URL=redis://…): Redis pub/sub, so a change seen or made on one node
// wakes a Ping held on any other, and a device's newer request ends its older one everywhere.
import { EventEmitter } from 'node:events';
import { createClient } from '@redis/client';

export interface PushBus {
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for every message on `channel` until the returned function is called. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export function localBus(): PushBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0); // one listener per held request; tens of thousands are normal
  return {
    async publish(channel, message) {
      emitter.emit(channel, message);
    },
    async subscribe(channel, handler) {
      emitter.on(channel, handler);
      return async () => {
        emitter.off(channel, handler);
      };
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
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
