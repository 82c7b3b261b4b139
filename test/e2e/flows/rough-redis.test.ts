// The Redis of a two-node setup restarted, on a Redis of this file's own (append-only file, so
// state survives as it does in production): two compiled servers share it for state and push.
// A Ping held on one node is woken by a change another device makes through the other node,
// before and after the restart; the phone's keys stay valid and nothing arrives twice.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import {
  HOST,
  spawnDaemon,
  tcpExchange,
  waitUntilReady,
  withFreePort,
  type Daemon,
} from '../../stack/process.js';
import { Device, eventually, FolderType, profiles } from '../../support/device.js';
import { stackEnv, useScratch } from '../../support/device-server.js';
import { davFind } from '../../support/device-stores.js';

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const scratch = useScratch('easd-flow-redis-');

/** A Redis that keeps its data across restarts (append-only file, fsync on every write). */
function redisOn(redisDir: string, port: number): Promise<Daemon> {
  const daemon = spawnDaemon(
    'redis',
    '/usr/bin/redis-server',
    [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      redisDir,
    ],
    path.join(redisDir, 'redis.log'),
  );
  scratch.onCleanup(() => daemon.stop());
  return waitUntilReady(daemon, async () =>
    /\+PONG\r\n/.test(await tcpExchange(port, 'PING\r\n', /\r\n/)),
  ).then(() => daemon);
}

// Generous: the whole suite shares two cores; each step waits for a condition, never a fixed time.
describe('Redis restarted under two nodes', { timeout: 90_000 }, () => {
  it('Redis restarted under two nodes: Pings held on one node are woken by changes made through the other, before and after', async () => {
    const redisDir = scratch.path('redis');
    await mkdir(redisDir, { recursive: true });
    let redis!: Daemon;
    const port = await withFreePort(async (p) => {
      redis = await redisOn(redisDir, p);
      return p;
    });
    const env = {
      ...stackEnv(stack, scratch.path('easd')),
      EASD_STATE_URL: `redis://${HOST}:${port}`,
    };
    const [a, b] = [await scratch.start(env), await scratch.start(env)];
    // The phone's requests may reach either node (no stickiness behind a load balancer).
    let node = a!;
    const phone = new Device(() => node.base, carol, profiles.iPhone, `REDISP${run}`);
    const tablet = new Device(() => a!.base, carol, profiles.samsung, `REDIST${run}`);
    for (const d of [phone, tablet]) {
      await d.provision();
      await d.folderSync();
    }
    const contacts = phone.folder(FolderType.Contacts);
    await phone.syncAll(contacts);
    await tablet.syncAll(contacts);

    const addOnTablet = async (name: string) => {
      const r = await tablet.sync(contacts, {
        commands: `<Add><ClientId>${name}</ClientId><ApplicationData><LastName xmlns="Contacts:">${name}</LastName></ApplicationData></Add>`,
      });
      expect(r.status).toBe('1');
    };
    /** A Ping held on node B, woken by the tablet's Add through node A. */
    const wokenBy = async (name: string) => {
      node = b!;
      const held = phone.ping([contacts]);
      await eventually('the Ping held on node B', async () =>
        /Held request.*Ping/.test((await b!.cli(['devices', 'show', carol.user, phone.deviceId])).stdout),
      );
      await addOnTablet(name);
      const answer = await held;
      expect([answer.status, answer.changed]).toEqual(['2', [contacts]]);
      node = a!;
      await phone.syncAll(contacts);
      expect(phone.find(contacts, 'LastName', name)).toBeDefined();
    };

    await wokenBy(`Beforeredis${run}`);
    await redis.stop();
    redis = await redisOn(redisDir, port);
    // The nodes reconnect; state written before the restart is still there (the phone's keys
    // work: no Status 3, no 9, no second Add), and push crosses nodes again.
    await eventually('the nodes back on Redis', async () => (await phone.sync(contacts)).status === '1');
    await wokenBy(`Afterredis${run}`);
    for (const name of [`Beforeredis${run}`, `Afterredis${run}`])
      expect(await davFind(stack.dav.url, carol, name)).toHaveLength(1);
  });
});
