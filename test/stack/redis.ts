// Redis for the real test stack: no persistence, bound to 127.0.0.1, working files in its own dir,
// log on stdout (into logFile).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { HOST, spawnDaemon, tcpExchange, waitUntilReady, withFreePort } from './process.js';

const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisInstance {
  url: string;
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

export async function startRedis(dir: string): Promise<RedisInstance> {
  await mkdir(dir, { recursive: true });
  const logFile = path.join(dir, 'redis.log');
  return withFreePort(async (port) => {
    const args = [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
    ];
    const daemon = spawnDaemon('redis', REDIS_SERVER, args, logFile);
    try {
      await waitUntilReady(daemon, async () =>
        /\+PONG\r\n/.test(await tcpExchange(port, 'PING\r\n', /\r\n/)),
      );
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    return { url: `redis://${HOST}:${port}`, dir, logFile, stop: () => daemon.stop() };
  });
}
