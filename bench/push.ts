// Direct Push under load: how much memory a held Ping costs the server, how many one process
// holds, how many one machine holds with several processes, what an idle server with them costs
// in CPU, and how fast a change made by one device reaches another device's held Ping. The
// server is the compiled one (`node dist/src/main.js`), in its own process(es), on the built-in
// store and SQLite state; the phones are child processes (bench/push-phones.ts).
//
//   BENCH_PUSH_RUNS=19000x1,76000x4 npm run bench    19,000 in one process, then 76,000 in a
//                                                    4-worker cluster (EASD_WORKERS=4)
import { fork, spawn } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccount } from '../backends/memory/index.js';
import { Phone, sleep, text, type PhonesConfig } from './push-phones.js';

/**
 * The runs: "<Pings>x<processes>" separated by commas, e.g. BENCH_PUSH_RUNS=19000x1,76000x4 (what
 * docs/benchmarks.md shows). Default 5000x1, or BENCH_PINGS in one process.
 */
const runs = (process.env['BENCH_PUSH_RUNS'] ?? `${process.env['BENCH_PINGS'] ?? 5000}x1`)
  .split(',')
  .map((r) => {
    const [pings, procs] = r.split('x').map(Number);
    if (!Number.isInteger(pings) || !Number.isInteger(procs) || pings! < 1 || procs! < 1)
      throw new Error(`BENCH_PUSH_RUNS: "${r}" is not <Pings>x<processes>`);
    return { held: pings!, workers: procs! };
  });
/** A phone process holds at most this many sockets (the file limit is 20,000 per process). */
const perPhoneProcess = Number(process.env['BENCH_PINGS_PER_PHONE_PROCESS'] ?? 15_000);
const latencySamples = Number(process.env['BENCH_PUSH_SAMPLES'] ?? 100);
/** How long the idle server's CPU is measured; a longer window also leaves time to inspect it. */
const idleSeconds = Number(process.env['BENCH_IDLE_SECONDS'] ?? 10);
/** Devices per user: each user has its own watcher and folders. */
const devicesPerUser = Number(process.env['BENCH_DEVICES_PER_USER'] ?? 10);
/**
 * Milliseconds between two Pings sent by one phone process (0: all at once). All at once,
 * thousands of connections overflow the accept backlog and arrive over a minute of retries.
 */
const intakeGapMs = Number(process.env['BENCH_INTAKE_GAP_MS'] ?? 2);
const mainJs = fileURLToPath(new URL('../src/main.js', import.meta.url));
const phonesJs = fileURLToPath(new URL('./push-phones.js', import.meta.url));
const password = 'bench-password';

/** process.memoryUsage() of one server process, in bytes. */
interface Memory {
  pid: number;
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

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/**
 * The accounts file of the built-in store, written at once: createAccount rewrites the file and
 * hashes a password (scrypt N=2^15, ~210 ms) per user. Every bench user gets the same cheap hash
 * (N=2^10), so what is measured is push, not the reference store's deliberately slow login (a
 * real deployment logs in against IMAP, and easd caches a login for 5 minutes).
 */
function writeAccounts(dir: string, users: string[]): void {
  const salt = randomBytes(16);
  const params = { N: 1 << 10, r: 8, p: 1 };
  const key = scryptSync(password, salt, 32, params);
  const hash = `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
  mkdirSync(dir, { recursive: true });
  const accounts = users.map((user) => ({ user, email: `${user}@easd.local`, passwordHash: hash }));
  writeFileSync(path.join(dir, 'accounts.json'), JSON.stringify({ version: 1, accounts }));
}

export async function pushBench(): Promise<string> {
  const sections = [];
  for (const r of runs) {
    sections.push(await pushRun(r.held, r.workers));
    process.stderr.write(`${sections.at(-1)}\n`); // each run's table as soon as it is measured
  }
  return [
    '## Direct Push',
    '',
    "Measured by `bench/push.ts` on the compiled server (`node dist/src/main.js`), built-in store, SQLite state. Memory is read after the devices were set up and again with every Ping held, each time after full garbage collections and once V8 has shrunk its young generation back (`--expose-gc`, `EASD_BENCH_GC=1`, see src/main.ts): it is what held Pings keep, not garbage or a burst's scratch space. RSS per Ping includes the socket, Node's HTTP parser, Fastify's request and reply, easd's waiting state and what the C allocator keeps after the Pings' arrival. The bench accounts share one cheap password hash (the built-in store's own costs ~210 ms per login), so setup measures easd, not scrypt. Latency from an IMAP APPEND and through the webhook: see the push latency section.",
    '',
    ...sections,
  ].join('\n');
}

async function pushRun(held: number, workers: number): Promise<string> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'easd-bench-push-'));
  const users = Array.from({ length: Math.ceil(held / devicesPerUser) }, (_, u) => `bench${u}`);
  writeAccounts(path.join(dataDir, 'memory'), users);
  await createAccount(path.join(dataDir, 'memory'), { user: 'latency', password: 'latency-password' });
  const loadAtStart = loadavg()[0]!;
  // --expose-gc and EASD_BENCH_GC=1: each server process collects garbage and reports its memory
  // on SIGUSR2 (src/main.ts), so the figures below are what held Pings keep, not garbage.
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
        EASD_WORKERS: String(workers),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
      ...(snapshots ? { cwd: snapshots } : {}),
    },
  );
  const phoneProcs: ReturnType<typeof fork>[] = [];
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
    // The processes that serve: the workers of a cluster, or the one server process.
    let serving: number[] = [server.pid!];
    if (workers > 1) {
      for (let i = 0; i < 600 && childPids(server.pid!).length < workers; i++) await sleep(100);
      serving = childPids(server.pid!);
      // Every worker listening (each prints the line) before the phones come.
      while ((out.match(/listening on/g) ?? []).length < workers) await sleep(100);
    }
    const allPids = workers > 1 ? [server.pid!, ...serving] : serving;
    const cpu = (): number => allPids.reduce((n, pid) => n + cpuTicks(pid), 0);

    /** Each serving process's memory after full GCs (SIGUSR2 → `easd memory {…}`, src/main.ts). */
    const probe = async (): Promise<Memory[]> => {
      out = '';
      for (const pid of serving) process.kill(pid, 'SIGUSR2');
      for (const started = Date.now(); Date.now() - started < 300_000; await sleep(50)) {
        const found = [...out.matchAll(/easd memory (\{.*\})\n/g)].map((m) => JSON.parse(m[1]!) as Memory);
        if (found.length >= serving.length) return found;
      }
      throw new Error('the server did not report its memory (EASD_BENCH_GC hook)');
    };
    /**
     * Memory once idle: probed until V8 has shrunk the young generation a burst of requests
     * grew (up to 32 MiB, kept until idle for some seconds). Gives up after about a minute.
     */
    const memory = async (label: string): Promise<Memory[]> => {
      let m = await probe();
      for (let i = 0; i < 12 && m.some((x) => x.newSpace > 2 * 2 ** 20); i++) {
        await sleep(3000);
        m = await probe();
      }
      if (snapshots) {
        process.stderr.write(`bench: heap snapshot "${label}" in ${snapshots}\n`);
        for (const pid of serving) process.kill(pid, 'SIGUSR1');
        await probe();
      }
      return m;
    };
    const sum = (ms: Memory[], k: keyof Memory): number => ms.reduce((n, m) => n + m[k], 0);

    // The phones: processes of at most perPhoneProcess devices, each from its own source address.
    const procCount = Math.max(1, Math.ceil(held / perPhoneProcess));
    const messages = new Map<ReturnType<typeof fork>, Array<Record<string, unknown>>>();
    const next = async <T>(p: ReturnType<typeof fork>, key: string): Promise<T> => {
      for (;;) {
        const q = messages.get(p)!;
        const i = q.findIndex((m) => key in m || 'error' in m);
        if (i >= 0) {
          const [m] = q.splice(i, 1);
          if ('error' in m!) throw new Error(`bench phones: ${String(m['error'])}`);
          return m![key] as T;
        }
        if (p.exitCode !== null) throw new Error('a phone process exited');
        await sleep(100);
      }
    };
    for (let k = 0; k < procCount; k++) {
      const first = Math.floor((k * held) / procCount);
      const cfg: PhonesConfig = {
        base: base.toString(),
        password,
        first,
        count: Math.floor(((k + 1) * held) / procCount) - first,
        devicesPerUser,
        localAddress: `127.0.0.${k + 2}`,
        intakeGapMs: intakeGapMs * procCount,
        setupWidth: Math.max(4, Math.ceil(32 / procCount)),
      };
      const child = fork(phonesJs, { env: { ...process.env, BENCH_PHONES: JSON.stringify(cfg) } });
      messages.set(child, []);
      child.on('message', (m: Record<string, unknown>) => messages.get(child)!.push(m));
      phoneProcs.push(child);
    }
    await Promise.all(phoneProcs.map((p) => next(p, 'ready')));

    // Set up the devices (Provision ×2, FolderSync, Sync), then hold one Ping per device.
    const t0 = Date.now();
    const cpuSetup0 = cpu();
    for (const p of phoneProcs) p.send({ cmd: 'setup' });
    await Promise.all(phoneProcs.map((p) => next(p, 'setup')));
    const setupSeconds = (Date.now() - t0) / 1000;
    const setupCpuMs = ((cpu() - cpuSetup0) * 10) / held; // server CPU per device
    await sleep(3000);
    const before = await memory('set up');
    const fdsBefore = serving.map(fdCount);

    const holdStarted = Date.now();
    for (const p of phoneProcs) p.send({ cmd: 'hold' });
    await Promise.all(phoneProcs.map((p) => next(p, 'sent')));
    // Wait until the server has taken every Ping in (a socket for each, and its CPU settles), so
    // that what follows measures holding, not arriving.
    const heldNow = (): number => serving.reduce((n, pid, i) => n + fdCount(pid) - fdsBefore[i]!, 0);
    // Gives up when the count has not grown for 30 s (the phones then say why, below).
    for (let best = 0, since = Date.now(); heldNow() < held && Date.now() - since < 30_000; await sleep(1000))
      if (heldNow() > best) [best, since] = [heldNow(), Date.now()];
    for (let quiet = 0; quiet < 2 && Date.now() - holdStarted < 900_000;) {
      const c0 = cpu();
      await sleep(2000);
      quiet = cpu() - c0 < 10 * serving.length ? quiet + 1 : 0; // under 5 % of a core each for 2 s
    }
    const holdSeconds = (Date.now() - holdStarted) / 1000;
    const perProcess = serving.map((pid, i) => fdCount(pid) - fdsBefore[i]!);
    const heldCount = heldNow();
    // Idle CPU before the memory probe: its forced full GCs leave V8 work behind (measured:
    // 18 % of a core for seconds after them with 17,000 Pings held, 0.4 % without).
    const cpu0 = cpu();
    await sleep(idleSeconds * 1000);
    const idleCpu = (cpu() - cpu0) / 100 / idleSeconds; // CPU seconds per second, all processes
    const after = await memory('held');

    // Latency: one phone's held Ping, woken by another device of the same user adding a contact.
    // Only in one process: with several workers, the built-in store keeps a copy per worker.
    const samples: number[] = [];
    if (workers === 1) {
      const agent = new Agent({ keepAlive: true, maxSockets: 4 });
      const watcher = new Phone(base, 'latency', 'latency-password', 'LATPHONE', agent);
      const writer = new Phone(base, 'latency', 'latency-password', 'LATTABLET', agent);
      await watcher.setUp();
      await writer.setUp();
      for (let i = 0; i < latencySamples; i++) {
        const wait = new Phone(base, 'latency', 'latency-password', 'LATPHONE', false);
        wait.policyKey = watcher.policyKey;
        wait.contacts = watcher.contacts;
        const reply = wait.ping(600);
        await sleep(30);
        const started = performance.now();
        const add = await writer.send(
          'Sync',
          `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${writer.syncKey}</SyncKey><CollectionId>${writer.contacts}</CollectionId><Commands><Add><ClientId>c${i}</ClientId><ApplicationData><FirstName xmlns="Contacts:">N${i}</FirstName></ApplicationData></Add></Commands></Collection></Collections></Sync>`,
        );
        writer.syncKey = text(add.doc, 'SyncKey') ?? writer.syncKey;
        const r = await reply;
        if (text(r.doc, 'Status') === '2') samples.push(performance.now() - started);
        // The phone syncs the change, as it would, so the next Ping waits again.
        const s = await watcher.send(
          'Sync',
          `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${watcher.syncKey}</SyncKey><CollectionId>${watcher.contacts}</CollectionId><GetChanges/></Collection></Collections></Sync>`,
        );
        watcher.syncKey = text(s.doc, 'SyncKey') ?? watcher.syncKey;
      }
      agent.destroy();
    }

    for (const p of phoneProcs) p.send({ cmd: 'stopping' });
    await sleep(200);
    server.kill('SIGTERM');
    for (const p of phoneProcs) p.send({ cmd: 'report' });
    const reports = await Promise.all(
      phoneProcs.map((p) =>
        next<{ early: number; atShutdown: number; failed: number; reasons: Record<string, number> }>(
          p,
          'answered',
        ),
      ),
    );
    const reasons: Record<string, number> = {};
    for (const r of reports)
      for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
    const early = reports.reduce((n, r) => n + r.early, 0);
    const atShutdown = reports.reduce((n, r) => n + r.atShutdown, 0);
    const perPing = (k: keyof Memory): string => ((sum(after, k) - sum(before, k)) / held / 1024).toFixed(1);
    const mib = (ms: Memory[]): string => (sum(ms, 'rss') / 2 ** 20).toFixed(0);
    const kind =
      workers > 1
        ? `${workers} worker processes of one easd (\`EASD_WORKERS=${workers}\`, node:cluster) on one port`
        : 'one easd process';
    const command = `BENCH_PUSH_RUNS=${held}x${workers} npm run bench`;
    return [
      `### ${held} held Pings, ${kind}`,
      '',
      `\`${command}\`; load average ${loadAtStart.toFixed(1)} at the start on this shared 2-core machine. ${held} devices, ${devicesPerUser} per user, phones in ${procCount} process${procCount > 1 ? 'es' : ''} (source addresses 127.0.0.2–${procCount + 1}), each Ping on its own connection.`,
      '',
      '| measure | value | target |',
      '| --- | --- | --- |',
      `| held Pings | ${heldCount} of ${held} (answered before shutdown: ${early}; at shutdown: ${atShutdown}${
        Object.keys(reasons).length > 0
          ? `; ended early: ${Object.entries(reasons)
              .map(([k, v]) => `${k} ×${v}`)
              .join(', ')}`
          : ''
      }) | ${workers > 1 ? '≥ 75,000 on the machine' : '≥ 19,000 in one process'} |`,
      ...(workers > 1 ? [`| held Pings per worker | ${perProcess.join(' / ')} | |`] : []),
      `| device setup (Provision ×2, FolderSync, Sync), wall / server CPU per device | ${setupSeconds.toFixed(0)} s / ${setupCpuMs.toFixed(2)} ms | |`,
      `| time to take all Pings in (CPU settled) | ${holdSeconds.toFixed(0)} s | |`,
      `| server RSS before / with the Pings held (after full GCs${workers > 1 ? ', all workers' : ''}) | ${mib(before)} MiB / ${mib(after)} MiB | |`,
      `| RSS per held Ping | ${perPing('rss')} KiB | ≤ 16 KiB |`,
      `| of which V8 heap used / reserved (heapTotal) per held Ping | ${perPing('heapUsed')} KiB / ${perPing('heapTotal')} KiB | |`,
      `| server CPU while idle with the Pings held${workers > 1 ? ' (primary and workers)' : ''} | ${(idleCpu * 100).toFixed(1)} % of one core | near zero |`,
      ...(samples.length > 0
        ? [
            `| push latency, another device's change → Ping answered (p50 / p99, ${samples.length} samples) | ${percentile(samples, 50).toFixed(1)} ms / ${percentile(samples, 99).toFixed(1)} ms | |`,
          ]
        : []),
      '',
    ].join('\n');
  } finally {
    for (const p of phoneProcs) if (p.exitCode === null) p.kill('SIGKILL');
    // Give it time to exit by itself (a --cpu-prof profile is written at exit).
    for (let i = 0; i < 600 && server.exitCode === null; i++) await sleep(100);
    if (server.exitCode === null) server.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Run alone (`node --expose-gc dist/bench/push.js`, after `npm run build`), the bench replaces
// only its own section of docs/benchmarks.md.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const section = await pushBench();
  const file = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
  const doc = readFileSync(file, 'utf8');
  const start = doc.indexOf('\n## Direct Push\n');
  const end = start < 0 ? -1 : doc.indexOf('\n## ', start + 1);
  writeFileSync(
    file,
    start < 0
      ? `${doc.trimEnd()}\n\n${section}`
      : `${doc.slice(0, start + 1)}${section}${end < 0 ? '' : `\n${doc.slice(end + 1)}`}`,
  );
  console.log(section);
}
