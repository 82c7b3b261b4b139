// The push bus between the workers of one easd (EASD_WORKERS): a message published in one worker
// reaches subscribers in every other worker through the primary's relay, and the publisher's own
// subscribers exactly once. Runs a real node:cluster on the compiled bus (dist/, `npm run build`).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { localBus } from '../../src/push/bus.js';

const compiledBus = pathToFileURL(path.resolve(import.meta.dirname, '../../dist/src/push/bus.js')).href;

// Primary: forks three workers and relays. Worker 0 publishes once all have subscribed; every
// worker reports what its subscriber got; the primary prints the reports as one JSON line.
const script = `
import cluster from 'node:cluster';
import { localBus, relayBusMessages } from ${JSON.stringify(compiledBus)};
if (cluster.isPrimary) {
  const alive = new Set();
  const got = {};
  let ready = 0;
  for (let i = 0; i < 3; i++) {
    const w = cluster.fork({ INDEX: String(i) });
    alive.add(w);
    relayBusMessages(w, () => alive);
    w.on('message', (m) => {
      if (m === 'ready' && ++ready === 3) for (const x of alive) x.send('go');
      if (m?.got) got[m.index] = m.got;
      if (Object.keys(got).length === 3) {
        console.log(JSON.stringify(got));
        for (const x of alive) x.kill();
      }
    });
  }
} else {
  const index = process.env.INDEX;
  const bus = localBus();
  const got = [];
  await bus.subscribe('u:ann', (m) => got.push(m));
  await bus.subscribe('u:bob', (m) => got.push('bob:' + m));
  process.on('message', async (m) => {
    if (m === 'go' && index === '0') await bus.publish('u:ann', 'hint-from-0');
  });
  // Let the message travel, then report.
  process.on('message', (m) => { if (m === 'go') setTimeout(() => process.send({ index, got }), 500); });
  process.send('ready');
}
`;

describe('push bus across the workers of a cluster', () => {
  it('delivers a message published in one worker to every worker once, and nothing to other channels', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'easd-bus-'));
    try {
      const file = path.join(dir, 'cluster.mjs');
      await writeFile(file, script);
      const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(0);
      expect(JSON.parse(out)).toEqual({
        0: ['hint-from-0'],
        1: ['hint-from-0'],
        2: ['hint-from-0'],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is a plain in-memory bus outside a cluster', async () => {
    const bus = localBus();
    const got: string[] = [];
    const off = await bus.subscribe('c', (m) => got.push(m));
    await bus.publish('c', 'one');
    await off();
    await bus.publish('c', 'two');
    expect(got).toEqual(['one']);
    await bus.close();
  });
});
