// Direct Push under load: how much memory a held Ping costs the server, how many one process
// holds, what an idle server with them costs in CPU, and how fast a change made by one device
// reaches another device's held Ping. The server is the compiled one (`npm start`), in its own
// process, on the built-in store; this process is the phones.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccount } from '../backends/memory/index.js';
import { decode, encode, fromXml, type WbxmlElement } from '../wbxml/index.js';

const held = Number(process.env['BENCH_PINGS'] ?? 5000);
const latencySamples = Number(process.env['BENCH_PUSH_SAMPLES'] ?? 100);
/** How long the idle server's CPU is measured; a longer window also leaves time to inspect it. */
const idleSeconds = Number(process.env['BENCH_IDLE_SECONDS'] ?? 10);
/**
 * Milliseconds between two Pings arriving (0: all at once). The default, 200 a second, is about
 * what the server takes in on this machine; all at once, thousands of connections overflow the
 * accept backlog and arrive over a minute of retries, and the burst's scratch memory stays with
 * the C allocator (measured: ~8 KiB more RSS per Ping at 4,000).
 */
/**
 * Devices per user (each user has its own watcher and folders). Not all on one user: easd keeps a
 * per-user index of device ids that each request's device record update reads whole, so 19,000
 * devices of one user make every request slower (src/state, a separate issue).
 */
const devicesPerUser = Number(process.env['BENCH_DEVICES_PER_USER'] ?? 10);
const intakeGapMs = Number(process.env['BENCH_INTAKE_GAP_MS'] ?? 5);
const mainJs = fileURLToPath(new URL('../src/main.js', import.meta.url));

interface Reply {
  status: number;
  doc?: WbxmlElement;
}

function text(doc: WbxmlElement | undefined, name: string): string | undefined {
  if (doc === undefined) return undefined;
  if (doc.name === name && typeof doc.value === 'string') return doc.value;
  for (const c of doc.children) {
    const t = text(c, name);
    if (t !== undefined) return t;
  }
  return undefined;
}

class Phone {
  policyKey?: string;
  constructor(
    private readonly base: URL,
    readonly user: string,
    private readonly password: string,
    readonly deviceId: string,
    private readonly agent: Agent | false,
  ) {}

  send(cmd: string, xml?: string): Promise<Reply> {
    const body = xml === undefined ? undefined : Buffer.from(encode(fromXml(xml)));
    const q = new URLSearchParams({
      Cmd: cmd,
      User: this.user,
      DeviceId: this.deviceId,
      DeviceType: 'BenchPhone',
    });
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(`/Microsoft-Server-ActiveSync?${q}`, this.base),
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: 'Basic ' + Buffer.from(`${this.user}:${this.password}`).toString('base64'),
            'content-type': 'application/vnd.ms-sync.wbxml',
            'ms-asprotocolversion': '16.1',
            ...(this.policyKey ? { 'x-ms-policykey': this.policyKey } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const buf = Buffer.concat(chunks);
            resolve({
              status: res.statusCode ?? 0,
              doc: buf.length > 0 && buf[0] === 3 ? decode(buf) : undefined,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Provision, FolderSync, and a first Sync of Contacts: what a Ping needs to be held. */
  async setUp(): Promise<string> {
    const ask =
      '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>';
    const first = await this.send('Provision', ask);
    const temp = text(first.doc, 'PolicyKey');
    this.policyKey = temp;
    const second = await this.send(
      'Provision',
      ask.replace('</PolicyType>', `</PolicyType><PolicyKey>${temp}</PolicyKey><Status>1</Status>`),
    );
    this.policyKey = text(second.doc, 'PolicyKey');
    const fs = await this.send(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    let contacts = '';
    const walk = (e: WbxmlElement): void => {
      if (e.name === 'Add' && text(e, 'Type') === '9') contacts = text(e, 'ServerId') ?? '';
      e.children.forEach(walk);
    };
    if (fs.doc) walk(fs.doc);
    const init = await this.send(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${contacts}</CollectionId></Collection></Collections></Sync>`,
    );
    this.syncKey = text(init.doc, 'SyncKey') ?? '';
    return contacts;
  }

  syncKey = '';

  ping(folder: string, seconds: number): Promise<Reply> {
    return this.send(
      'Ping',
      `<Ping xmlns="Ping:"><HeartbeatInterval>${seconds}</HeartbeatInterval><Folders><Folder><Id>${folder}</Id><Class>Contacts</Class></Folder></Folders></Ping>`,
    );
  }
}

/** process.memoryUsage() of the server, in bytes. */
interface Memory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** V8's young generation (new space), committed bytes. */
  newSpace: number;
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (1/100 s)
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

export async function pushBench(): Promise<string> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'easd-bench-push-'));
  for (let u = 0; u * devicesPerUser < held; u++)
    await createAccount(path.join(dataDir, 'memory'), { user: `bench${u}`, password: 'bench-password' });
  await createAccount(path.join(dataDir, 'memory'), { user: 'latency', password: 'latency-password' });
  // --expose-gc and EASD_BENCH_GC=1: the server collects garbage and reports its memory on
  // SIGUSR2 (src/main.ts), so the figures below are what held Pings keep, not garbage.
  const snapshots = process.env['BENCH_HEAP_SNAPSHOTS'];
  const server = spawn(
    process.execPath,
    [
      '--expose-gc',
      ...(snapshots ? ['--heapsnapshot-signal=SIGUSR1'] : []),
      ...(process.env['BENCH_SERVER_NODE_ARGS']?.split(' ').filter(Boolean) ?? []),
      mainJs,
    ],
    {
      env: {
        ...process.env,
        EASD_LISTEN: '127.0.0.1:0',
        EASD_DATA_DIR: dataDir,
        EASD_LOG_LEVEL: 'error',
        EASD_BENCH_GC: '1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
      ...(snapshots ? { cwd: snapshots } : {}),
    },
  );
  try {
    let out = '';
    const base = await new Promise<URL>((resolve, reject) => {
      server.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/[^/\s]+)/.exec(out);
        if (m) resolve(new URL(m[1]!));
      });
      server.on('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    const pid = server.pid!;
    let stopping = false;
    /** The server's memory after full GCs (SIGUSR2 → one `easd memory {…}` line, src/main.ts). */
    const probe = async (): Promise<Memory> => {
      out = '';
      server.kill('SIGUSR2');
      for (const started = Date.now(); Date.now() - started < 300_000; await sleep(50)) {
        const m = /easd memory (\{.*\})\n/.exec(out);
        if (m) return JSON.parse(m[1]!) as Memory;
      }
      throw new Error('the server did not report its memory (EASD_BENCH_GC hook)');
    };
    /**
     * The server's memory once it is idle: probed until V8 has shrunk the young generation a
     * burst of requests grew (up to 32 MiB, which it keeps until idle for some seconds; at 2,000
     * Pings that alone would read as 16 KiB per Ping). Gives up after about a minute.
     */
    const memory = async (label: string): Promise<Memory> => {
      let m = await probe();
      for (let i = 0; i < 12 && m.newSpace > 2 * 2 ** 20; i++) {
        await sleep(3000);
        m = await probe();
      }
      // BENCH_HEAP_SNAPSHOTS=<dir>: also write a heap snapshot there (compare them in DevTools).
      // Taking one blocks the server, so the probe's answer comes after it is written.
      if (snapshots) {
        process.stderr.write(`bench: heap snapshot "${label}" in ${snapshots}\n`);
        server.kill('SIGUSR1');
        await probe();
      }
      return m;
    };
    const setupAgent = new Agent({ keepAlive: true, maxSockets: 32 });

    // Set up the devices (kept out of the measurement), then hold one Ping per device.
    const phones = Array.from(
      { length: held },
      (_, i) =>
        new Phone(base, `bench${Math.floor(i / devicesPerUser)}`, 'bench-password', `BENCH${i}`, setupAgent),
    );
    const contacts = new Map<Phone, string>(); // each device's ServerId of its Contacts folder
    const t0 = Date.now();
    await pool(phones, 32, async (p) => {
      contacts.set(p, await p.setUp());
    });
    const setupSeconds = (Date.now() - t0) / 1000;
    setupAgent.destroy();
    await sleep(3000);
    const before = await memory('set up');

    const holding = phones.map((p) => new Phone(base, p.user, 'bench-password', p.deviceId, false));
    holding.forEach((h, i) => (h.policyKey = phones[i]!.policyKey));
    const fdsBefore = fdCount(pid);
    let answeredEarly = 0; // a Ping answered before shutdown was not held: the figures would lie
    const pings = holding.map(async (h, i) => {
      if (intakeGapMs > 0) await sleep(i * intakeGapMs);
      return h.ping(contacts.get(phones[i]!)!, 3000).then(
        (r) => {
          if (!stopping) answeredEarly++;
          return r;
        },
        () => ({ status: 0 }),
      );
    });
    // Wait until the server has taken every Ping in (a socket for each, and its CPU settles), so
    // that what follows measures holding, not arriving. (Connections refused for a full accept
    // backlog come back seconds later: a quiet CPU alone does not show that all have arrived.)
    const holdStarted = Date.now();
    while (fdCount(pid) < fdsBefore + held && Date.now() - holdStarted < 600_000) await sleep(1000);
    for (let quiet = 0; quiet < 2 && Date.now() - holdStarted < 600_000;) {
      const c0 = cpuTicks(pid);
      await sleep(2000);
      quiet = cpuTicks(pid) - c0 < 10 ? quiet + 1 : 0; // under 5 % of a core for 2 s
    }
    const holdSeconds = (Date.now() - holdStarted) / 1000;
    const after = await memory('held');
    const notHeld = answeredEarly;
    const cpu0 = cpuTicks(pid);
    await sleep(idleSeconds * 1000);
    const idleCpu = (cpuTicks(pid) - cpu0) / 100 / idleSeconds; // CPU seconds per second

    // Latency: one phone's held Ping, woken by another device of the same user adding a contact.
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const watcher = new Phone(base, 'latency', 'latency-password', 'LATPHONE', agent);
    const writer = new Phone(base, 'latency', 'latency-password', 'LATTABLET', agent);
    const latFolder = await watcher.setUp();
    await writer.setUp();
    const samples: number[] = [];
    for (let i = 0; i < latencySamples; i++) {
      const wait = new Phone(base, 'latency', 'latency-password', 'LATPHONE', false);
      wait.policyKey = watcher.policyKey;
      const reply = wait.ping(latFolder, 600);
      await sleep(30);
      const started = performance.now();
      const add = await writer.send(
        'Sync',
        `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${writer.syncKey}</SyncKey><CollectionId>${latFolder}</CollectionId><Commands><Add><ClientId>c${i}</ClientId><ApplicationData><FirstName xmlns="Contacts:">N${i}</FirstName></ApplicationData></Add></Commands></Collection></Collections></Sync>`,
      );
      writer.syncKey = text(add.doc, 'SyncKey') ?? writer.syncKey;
      const r = await reply;
      if (text(r.doc, 'Status') === '2') samples.push(performance.now() - started);
      // The phone syncs the change, as it would, so the next Ping waits again.
      const s = await watcher.send(
        'Sync',
        `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${watcher.syncKey}</SyncKey><CollectionId>${latFolder}</CollectionId><GetChanges/></Collection></Collections></Sync>`,
      );
      watcher.syncKey = text(s.doc, 'SyncKey') ?? watcher.syncKey;
    }
    agent.destroy();

    stopping = true;
    server.kill('SIGTERM');
    const answered = await Promise.all(pings);
    const shutdownAnswered = answered.filter((r) => r.status === 200).length;
    const perPing = (k: keyof Memory): string => ((after[k] - before[k]) / held / 1024).toFixed(1);
    const mib = (m: Memory): string => (m.rss / 2 ** 20).toFixed(0);
    return [
      '## Direct Push',
      '',
      `One easd process (\`node dist/src/main.js\`, built-in store, SQLite state) holding ${held} Pings from ${held} devices, ${devicesPerUser} per user (\`bench/push.ts\`; \`BENCH_PINGS\` and \`BENCH_DEVICES_PER_USER\` set them). Setting up the devices (Provision ×2, FolderSync, Sync) took ${setupSeconds.toFixed(0)} s and is not measured. The Pings arrive ${intakeGapMs > 0 ? `${intakeGapMs} ms apart` : 'all at once, as after a restart'} (\`BENCH_INTAKE_GAP_MS\`). Memory is read after the devices were set up and again with every Ping held, each time after full garbage collections and once V8 has shrunk its young generation back (the server runs with \`--expose-gc\` and \`EASD_BENCH_GC=1\`, see src/main.ts): it is what held Pings keep, not garbage or a burst's scratch space. RSS per Ping includes the socket, Node's HTTP parser, Fastify's request and reply, easd's own waiting state, and what the C allocator keeps after the Pings' arrival; heap is the part in V8's JavaScript heap.`,
      '',
      '| measure | value | target |',
      '| --- | --- | --- |',
      `| held Pings in one process | ${held} (answered before shutdown: ${notHeld}; at shutdown: ${shutdownAnswered}) | ≥ 19,000 |`,
      `| time for the server to take all Pings in (CPU settled) | ${holdSeconds.toFixed(0)} s | |`,
      `| server RSS before / with the Pings held (after a full GC) | ${mib(before)} MiB / ${mib(after)} MiB | |`,
      `| RSS per held Ping | ${perPing('rss')} KiB | ≤ 16 KiB |`,
      `| of which V8 heap used / reserved (heapTotal) per held Ping | ${perPing('heapUsed')} KiB / ${perPing('heapTotal')} KiB | |`,
      `| server CPU while idle with the Pings held | ${(idleCpu * 100).toFixed(1)} % of one core | near zero |`,
      `| push latency, another device's change → Ping answered (p50 / p99, ${samples.length} samples) | ${percentile(samples, 50).toFixed(1)} ms / ${percentile(samples, 99).toFixed(1)} ms | |`,
      '',
      'Not measured yet: latency from an IMAP APPEND (IDLE/NOTIFY) and through the webhook with a real Dovecot, which need the IMAP backend; 75,000 Pings across several processes.',
      '',
    ].join('\n');
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}
