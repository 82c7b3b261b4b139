// Push latency on the real Dovecot (issue 6 target: p99 ≤ 1 s through IMAP NOTIFY/IDLE, ≤ 100 ms
// through the webhook): a phone holds a Ping over a socket, something changes the mailbox, and the
// time from the change being sent to the Ping response arriving at the phone is recorded. Dovecot
// is started here (the test stack's starter, its own directory) with the push_notification plugin
// (OX driver) pointed at easd's webhook. easd runs in this process on the IMAP backend, state in
// SQLite in memory, the local bus.
//
// Paths measured:
// - NOTIFY, APPEND to INBOX (EXISTS on the watcher's selected INBOX)
// - NOTIFY, APPEND to another folder (a NOTIFY STATUS response)
// - IDLE (NOTIFY off), APPEND to INBOX
// - webhook, delivery to INBOX with dovecot-lda (Debian's Dovecot here has no LMTP server): easd
//   does not watch at all; Dovecot's plugin PUTs to /easd/push (the OX driver reacts to
//   deliveries, not to APPEND). The time includes starting the dovecot-lda process.
// - webhook with the Lua driver easd ships (docs/dovecot/easd-push.lua), APPEND to INBOX by another
//   IMAP client: easd does not watch; Dovecot's Lua script PUTs to /easd/push.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import {
  deliverLda,
  enablePushNotification,
  imapConnect,
  pushNotificationConfig,
  pushNotificationLuaConfig,
  startDovecot,
  type DovecotInstance,
} from '../test/stack/dovecot.js';
import { freePort, HOST } from '../test/stack/process.js';
import type { TestUser } from '../test/stack/users.js';
import { mail, Phone, startPushEasd, type PushEasd } from '../test/e2e/push-client.js';

const samples = Number(process.env['BENCH_PUSH_LATENCY_SAMPLES'] ?? 120);
/** After the Ping is held: time for its first look and the watcher's start, so the change is pushed, not found by that look. */
const settleMs = Number(process.env['BENCH_PUSH_LATENCY_SETTLE_MS'] ?? 150);
const secret = 'bench-push-latency-secret';
const user: TestUser = { user: 'bench@easd.test', password: 'bench-pw-6Yp2', email: 'bench@easd.test' };
const other = 'Other';
/** The shortest heartbeat easd allows: a change the Ping misses costs a minute, and is counted. */
const heartbeat = 60;
/** Warnings (a failed look, a lost watch connection) go to stderr: they explain a missed change. */
const log = pino({ level: 'warn' }, pino.destination(2));

interface Row {
  path: string;
  change: string;
  ms: number[];
  /** Samples whose Ping was not woken (answered by the heartbeat instead). */
  missed: number;
  /** Webhook only: from the request reaching easd to the Ping response at the phone. */
  fromHook?: number[];
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

/** Holds a Ping, waits for it to settle, runs `change`; the time until the Ping answers, per sample. */
async function measure(
  easd: PushEasd,
  folder: string,
  change: (i: number) => Promise<unknown>,
  deviceId: string,
  hookAt?: () => number | undefined,
): Promise<{ ms: number[]; fromHook: number[]; missed: number }> {
  const address = easd.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('easd is not listening');
  const phone = new Phone(`http://${HOST}:${address.port}`, user, deviceId);
  await phone.setUp();
  await phone.syncAll(folder);
  const out: number[] = [];
  const fromHook: number[] = [];
  let missed = 0;
  for (let i = 0; i < samples; i++) {
    const held = phone.ping([folder], heartbeat);
    await new Promise((r) => setTimeout(r, settleMs));
    const t0 = performance.now();
    await change(i);
    const reply = await held;
    const t1 = performance.now();
    const ms = t1 - t0;
    const hook = hookAt?.();
    if (hook !== undefined && hook >= t0) fromHook.push(t1 - hook);
    const status = phone.status(reply);
    if (status === '1') {
      missed++;
      log.warn({ sample: i, folder }, 'push-latency: the change did not wake the Ping');
    } else if (status !== '2') throw new Error(`sample ${i}: Ping answered Status ${status ?? '?'}`);
    else out.push(ms);
    await phone.syncAll(folder);
  }
  return { ms: out, fromHook, missed };
}

export async function pushLatencyBench(): Promise<string> {
  const loadBefore = loadavg()[0] ?? 0;
  const dir = await mkdtemp(path.join(tmpdir(), 'easd-bench-push-latency-'));
  await chmod(dir, 0o755);
  const easdPort = await freePort();
  let dovecot: DovecotInstance | undefined;
  const rows: Row[] = [];
  try {
    dovecot = await startDovecot(path.join(dir, 'dovecot'), [user], {
      extraConfig: pushNotificationConfig(`http://dovecot:${secret}@${HOST}:${easdPort}/easd/push`),
    });
    await enablePushNotification(dovecot, user.user);
    const imap = await imapConnect(dovecot, user);
    await imap.mailboxCreate(other);
    const append = (box: string) => (i: number) => imap.append(box, mail(`bench ${i}`));
    const base = { imap: dovecot, stateUrl: 'sqlite://:memory:', dataDir: dir };
    try {
      for (const [label, notify, box] of [
        ['IMAP NOTIFY', true, 'INBOX'],
        ['IMAP NOTIFY', true, other],
        ['IMAP IDLE (NOTIFY off)', false, 'INBOX'],
      ] as const) {
        const easd = await startPushEasd({
          ...base,
          namespace: `bench${rows.length}`,
          backend: { watchNotify: notify, watchPollMs: 600_000 },
          logger: log,
        });
        try {
          await easd.app.listen({ host: HOST, port: 0 });
          const { ms, missed } = await measure(
            easd,
            box === 'INBOX' ? 'Inbox' : box,
            append(box),
            `LAT${rows.length}`,
          );
          const change = `APPEND to ${box === 'INBOX' ? 'INBOX' : 'another folder'}`;
          rows.push({ path: label, change, ms, missed });
        } finally {
          await easd.close();
        }
      }

      let hookAt: number | undefined;
      const easd = await startPushEasd({
        ...base,
        namespace: 'benchhook',
        watch: false,
        webhook: { secret, onEvent: () => (hookAt = performance.now()) },
        logger: log,
      });
      try {
        await easd.app.listen({ host: HOST, port: easdPort });
        const d = dovecot;
        const deliver = (i: number) => deliverLda(d, user.user, mail(`bench hook ${i}`));
        const { ms, fromHook, missed } = await measure(easd, 'Inbox', deliver, 'LATHOOK', () => hookAt);
        rows.push({
          fromHook,
          missed,
          path: 'webhook (push_notification, OX driver)',
          change: 'dovecot-lda delivery to INBOX',
          ms,
        });
      } finally {
        await easd.close();
      }
    } finally {
      await imap.logout();
    }
    await dovecot.stop();
    dovecot = undefined;

    // The Lua driver easd ships (docs/dovecot/easd-push.lua) reports every APPEND too: the target's
    // own path, an IMAP APPEND by another client → Dovecot's webhook → the Ping answered.
    const luaPort = await freePort();
    dovecot = await startDovecot(path.join(dir, 'dovecot-lua'), [user], {
      extraConfig: pushNotificationLuaConfig(`http://${HOST}:${luaPort}/easd/push`, secret),
    });
    const luaImap = await imapConnect(dovecot, user);
    let luaHookAt: number | undefined;
    const lua = await startPushEasd({
      ...base,
      imap: dovecot,
      namespace: 'benchlua',
      watch: false,
      webhook: { secret, onEvent: () => (luaHookAt = performance.now()) },
      logger: log,
    });
    try {
      await lua.app.listen({ host: HOST, port: luaPort });
      const appendLua = (i: number) => luaImap.append('INBOX', mail(`bench lua ${i}`));
      const { ms, fromHook, missed } = await measure(lua, 'Inbox', appendLua, 'LATLUA', () => luaHookAt);
      rows.push({
        fromHook,
        missed,
        path: 'webhook (push_notification, Lua driver)',
        change: 'APPEND to INBOX',
        ms,
      });
    } finally {
      await lua.close();
      await luaImap.logout();
    }
  } finally {
    await dovecot?.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const line = (path: string, change: string, ms: number[], missed: number | string): string => {
    const sorted = [...ms].sort((a, b) => a - b);
    const f = (v: number): string => v.toFixed(1);
    return `| ${path} | ${change} | ${sorted.length} | ${missed} | ${f(quantile(sorted, 0.5))} | ${f(quantile(sorted, 0.99))} | ${f(sorted[sorted.length - 1] ?? NaN)} |`;
  };
  const table = rows.flatMap((r) => [
    line(r.path, r.change, r.ms, r.missed),
    ...(r.fromHook === undefined
      ? []
      : [line(r.path, 'webhook request at easd → Ping answered', r.fromHook, '')]),
  ]);
  return [
    '## Push latency on Dovecot (bench/push-latency.ts)',
    '',
    'A change to the real Dovecot 2.3 (started by the bench) → the held Ping answered at the phone',
    '(over a socket; easd in the bench process on the IMAP backend, SQLite state, local bus). Times',
    'run from sending the change (IMAP APPEND by another connection, or starting dovecot-lda) to the',
    `Ping response; ${settleMs} ms after each Ping is sent the change is made. Targets (issue 6): p99`,
    '≤ 1 s through IMAP NOTIFY/IDLE, ≤ 100 ms through the webhook. The OX driver row includes',
    "starting dovecot-lda, Dovecot's delivery and its HTTP request; the Lua driver row is the",
    "target's own path (another client's APPEND → Dovecot's HTTP request → the Ping answered); each",
    "webhook path's second row starts when Dovecot's request reaches easd. Dovecot batches mailbox",
    'change notifications to IDLE and NOTIFY clients for about half a second',
    '(both wait for more changes before they report), which is most of the IMAP rows.',
    '',
    `Load average (1 min) at the start and the end of this module: ${loadBefore.toFixed(1)} and ${(loadavg()[0] ?? 0).toFixed(1)}`,
    `on ${cpus().length} cores; the times grow with it (each look at the folders is a few IMAP`,
    'round trips and state reads that wait for a core).',
    '',
    `"missed": samples whose Ping the change did not wake (answered by its ${heartbeat} s heartbeat`,
    'instead; left out of the times).',
    '',
    '| path | change | samples | missed | p50 ms | p99 ms | max ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...table,
    '',
  ].join('\n');
}
