// The admin side of a running easd, through openEasd (the real composition, memory backend):
// the Prometheus endpoint (auth, format, counters moved by real requests), held requests seen by
// metrics and by `easd devices` on SQLite and Redis, push wake latency, the request log line, and
// the trace switched on at run time — with secrets kept out of every log line.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { devicesCli } from '../../src/admin/devices.js';
import type { HeldRecord } from '../../src/admin/held.js';
import { openStateStore } from '../../src/state/store.js';
import { BackendError } from '../../src/backend/errors.js';
import { instrumentBackend } from '../../src/metrics/backend.js';
import { openEasd, type Easd } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { defaultPolicy } from '../../src/provision/policy.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

const token = 'metrics-token-0123456789';

interface Running {
  easd: Easd;
  dir: string;
  logs: Record<string, unknown>[];
  rawLogs: string[];
  demo: { user: string; password: string };
}

async function start(env: Record<string, string> = {}): Promise<Running> {
  const dir = await mkdtemp(path.join(tmpdir(), 'easd-admin-'));
  const rawLogs: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '')) {
        rawLogs.push(line);
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const config = loadConfig(
    { EASD_DATA_DIR: dir, EASD_METRICS_LISTEN: '127.0.0.1:0', EASD_METRICS_TOKEN: token, ...env },
    dir,
  );
  const easd = await openEasd(config, pino({ level: 'info' }, sink));
  if (easd.demo === null) throw new Error('no demo account');
  return { easd, dir, logs, rawLogs, demo: easd.demo };
}

async function stop(r: Running | undefined): Promise<void> {
  if (r === undefined) return;
  await r.easd.app.close();
  await rm(r.dir, { recursive: true, force: true });
}

async function scrape(r: Running, auth = `Bearer ${token}`): Promise<Response> {
  return fetch(`${r.easd.metricsAddress}/metrics`, { headers: auth === '' ? {} : { authorization: auth } });
}

/** Parses the text exposition format strictly: every line is a comment or `name{labels} value`. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/i.exec(
        line,
      );
    // prom-client writes NaN as "Nan"; Prometheus parses floats case-insensitively.
    if (m === null) throw new Error(`not a metric line: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

async function sample(r: Running, key: string): Promise<number> {
  const res = await scrape(r);
  return parseMetrics(await res.text()).get(key) ?? 0;
}

async function client(r: Running): Promise<EasTestClient> {
  const c = EasTestClient.inject(r.easd.app, {
    user: r.demo.user,
    password: r.demo.password,
    deviceId: `ADM${randomUUID().slice(0, 8).toUpperCase()}`,
    deviceType: 'iPhone',
  });
  await c.provision();
  return c;
}

async function inboxOf(c: EasTestClient): Promise<string> {
  const fs = await c.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  await validateEasResponse(fs.doc!, 'FolderSync');
  const inbox = findText(
    findAll(fs.doc, 'Add').find((a) => findText(a, 'Type') === '2'),
    'ServerId',
  )!;
  const init = await c.command(
    'Sync',
    `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${inbox}</CollectionId></Collection></Collections></Sync>`,
  );
  const key = findText(init.doc, 'SyncKey')!;
  await c.command(
    'Sync',
    `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${inbox}</CollectionId><GetChanges/><WindowSize>512</WindowSize></Collection></Collections></Sync>`,
  );
  return inbox;
}

async function deliver(r: Running, subject: string): Promise<void> {
  const backend = r.easd.backend;
  const account = (await backend.authenticate(r.demo.user, r.demo.password, AbortSignal.timeout(5000)))!;
  const inbox = (await backend.listFolders(account, AbortSignal.timeout(5000))).find(
    (f) => f.role === 'inbox',
  )!;
  const mime = Buffer.from(`From: b@example.com\r\nSubject: ${subject}\r\n\r\nhi\r\n`);
  await backend.createItem(
    account,
    inbox.id,
    { class: 'Email', item: { Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } } },
    AbortSignal.timeout(5000),
  );
}

async function admin(r: Running, argv: string[]): Promise<string> {
  const out: string[] = [];
  const code = await devicesCli(argv, {
    store: r.easd.state,
    policy: defaultPolicy(),
    out: (s) => out.push(s),
  });
  expect(code, out.join('\n')).toBe(0);
  return out.join('\n');
}

const until = async (f: () => Promise<boolean>, what: string): Promise<void> => {
  for (let i = 0; i < 200; i++) {
    if (await f()) return;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
};

const ping = (folder: string): string =>
  `<Ping xmlns="Ping:"><HeartbeatInterval>120</HeartbeatInterval><Folders><Folder><Id>${folder}</Id><Class>Email</Class></Folder></Folders></Ping>`;

describe('the metrics endpoint', () => {
  let r: Running;
  beforeAll(async () => {
    r = await start();
  });
  afterAll(async () => stop(r));

  it('listens on its own address and wants the bearer token', async () => {
    expect(r.easd.metricsAddress).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const none = await scrape(r, '');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await scrape(r, 'Bearer wrong-token-0123456789')).status).toBe(401);
    expect((await scrape(r, `Basic ${Buffer.from(`x:${token}`).toString('base64')}`)).status).toBe(401);
    const ok = await scrape(r);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(await ok.text());
    expect(samples.get('easd_held_requests{command="Ping"}')).toBe(0);
    expect([...samples.keys()].some((k) => k.startsWith('easd_process_cpu'))).toBe(true);
    // Never on the phones' port.
    expect((await r.easd.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
  });

  it('counts commands by EAS Status, HTTP statuses and backend calls from real requests', async () => {
    const before = {
      folderSync: await sample(r, 'easd_commands_total{command="FolderSync",status="1"}'),
      http401: await sample(r, 'easd_http_responses_total{code="401"}'),
      listFolders: await sample(
        r,
        'easd_backend_call_duration_seconds_count{capability="listFolders",outcome="ok"}',
      ),
    };
    const c = await client(r);
    await inboxOf(c);
    const bad = EasTestClient.inject(r.easd.app, { ...c.opts, password: 'wrong-password-123' });
    expect(
      (
        await bad.command(
          'FolderSync',
          '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
        )
      ).status,
    ).toBe(401);

    // The refusal is logged with the name the client claimed, never its password.
    expect(r.logs.find((l) => l['msg'] === 'refused' && l['code'] === 'auth-failed')).toMatchObject({
      user: r.demo.user,
    });
    expect(r.rawLogs.join('\n')).not.toContain('wrong-password-123');

    const samples = parseMetrics(await (await scrape(r)).text());
    expect(samples.get('easd_commands_total{command="FolderSync",status="1"}')).toBe(before.folderSync + 1);
    expect(samples.get('easd_commands_total{command="Provision",status="1"}')).toBeGreaterThanOrEqual(2);
    expect(samples.get('easd_http_responses_total{code="401"}')).toBe(before.http401 + 1);
    expect(
      samples.get('easd_backend_call_duration_seconds_count{capability="listFolders",outcome="ok"}'),
    ).toBeGreaterThan(before.listFolders);
    expect(
      samples.get('easd_backend_call_duration_seconds_count{capability="authenticate",outcome="ok"}'),
    ).toBeGreaterThan(0);
    expect(samples.get('easd_request_duration_seconds_count{command="Sync"}')).toBeGreaterThanOrEqual(2);
  });
});

describe.each(['sqlite', 'redis'] as const)('held requests on the %s state store', (kind) => {
  let r: Running;
  beforeAll(async () => {
    r = await start(kind === 'redis' ? { EASD_STATE_URL: inject('stack').redis.url } : {});
  });
  afterAll(async () => stop(r));

  it('shows a held Ping in metrics and in easd devices, and measures the push wake', async () => {
    const c = await client(r);
    const inbox = await inboxOf(c);
    const device = c.opts.deviceId;
    const wakesBefore = await sample(r, 'easd_push_wake_seconds_count');
    const held = c.command('Ping', ping(inbox));
    await until(async () => (await sample(r, 'easd_held_requests{command="Ping"}')) === 1, 'the held gauge');
    await until(
      async () =>
        /^Held request: +Ping since \d\d:\d\dZ on /m.test(
          await admin(r, ['devices', 'show', r.demo.user, device]),
        ),
      'the held record',
    );
    if (kind === 'sqlite')
      expect(await admin(r, ['devices', 'list'])).toMatch(
        new RegExp(`${device} .* Ping since \\d\\d:\\d\\dZ`),
      );

    await deliver(r, `wake-${Date.now()}`);
    const res = await held;
    await validateEasResponse(res.doc!, 'Ping');
    expect(findText(res.doc, 'Status')).toBe('2');
    expect(await sample(r, 'easd_held_requests{command="Ping"}')).toBe(0);
    expect(await sample(r, 'easd_push_wake_seconds_count')).toBe(wakesBefore + 1);
    expect(await sample(r, 'easd_push_wake_seconds_sum')).toBeLessThan(5);
    // The "let go" write waits for the device's next Ping (15 s), or for shutdown; flush() is shutdown's.
    expect(await admin(r, ['devices', 'show', r.demo.user, device])).toMatch(/^Held request: +Ping since/m);
    await r.easd.held.flush();
    await until(
      async () =>
        /^Held request: +none \(last: Ping .* – .*\)$/m.test(
          await admin(r, ['devices', 'show', r.demo.user, device]),
        ),
      'the released record',
    );
  });

  it('keeps the held record through a Ping loop, writing the let-go only when the device stops (or at shutdown)', async () => {
    const c = await client(r);
    const inbox = await inboxOf(c);
    const device = c.opts.deviceId;
    const show = (): Promise<string> => admin(r, ['devices', 'show', r.demo.user, device]);
    for (let i = 0; i < 2; i++) {
      const held = c.command('Ping', ping(inbox));
      await until(async () => /^Held request: +Ping since/m.test(await show()), 'the held record');
      await deliver(r, `loop-${i}-${Date.now()}`);
      expect(findText((await held).doc, 'Status')).toBe('2');
      await inboxOf(c); // the phone syncs, then pings again
    }
    // Let go, not yet written: the device would normally ping again within seconds.
    expect(await show()).toMatch(/^Held request: +Ping since/m);
    await r.easd.held.flush();
    expect(await show()).toMatch(/^Held request: +none \(last: Ping /m);
  });

  it('switches a trace on and off at run time through the store, passwords redacted', async () => {
    const c = await client(r);
    const device = c.opts.deviceId;
    const settings = `<Settings xmlns="Settings:"><DevicePassword><Set><Password>pin-1234-secret</Password></Set></DevicePassword></Settings>`;
    const traces = (): Record<string, unknown>[] =>
      r.logs.filter((l) => l['msg'] === 'trace' && l['device'] === device);

    await c.command('Settings', settings);
    expect(traces()).toHaveLength(0);

    expect(await admin(r, ['trace', 'on', `${r.demo.user}/${device}`])).toMatch(/^Tracing demo\/ADM/);
    await r.easd.trace.refresh(); // what every node does by itself every few seconds
    const res = await c.command('Settings', settings);
    await validateEasResponse(res.doc!, 'Settings');
    const lines = traces();
    expect(lines.map((l) => l['direction'])).toEqual(['request', 'response']);
    expect(lines[0]?.['xml']).toContain('<Password>[redacted]</Password>');
    expect(lines[1]?.['xml']).toContain('<Settings');

    expect(await admin(r, ['trace', 'list'])).toContain(`${r.demo.user}/${device}`);
    await admin(r, ['trace', 'off', `${r.demo.user}/${device}`]);
    await r.easd.trace.refresh();
    await c.command('Settings', settings);
    expect(traces()).toHaveLength(2);

    // One line per request with user, device, command, status and duration; never a secret.
    const request = r.logs.find(
      (l) => l['msg'] === 'request' && l['device'] === device && l['command'] === 'Settings',
    );
    expect(request).toMatchObject({
      user: r.demo.user,
      device,
      command: 'Settings',
      status: 200,
      easStatus: '1',
    });
    expect(typeof request?.['ms']).toBe('number');
    const all = r.rawLogs.join('\n');
    expect(all).not.toContain('pin-1234-secret');
    expect(all).not.toContain(r.demo.password);
    expect(all).not.toContain(Buffer.from(`${r.demo.user}:${r.demo.password}`).toString('base64'));
  });
});

describe('shutdown', () => {
  it('answers a held Ping and writes its let-go record before the state store closes', async () => {
    const r = await start();
    try {
      const c = await client(r);
      const inbox = await inboxOf(c);
      const held = c.command('Ping', ping(inbox));
      await until(
        async () => (await sample(r, 'easd_held_requests{command="Ping"}')) === 1,
        'the held gauge',
      );
      await r.easd.app.close();
      expect(findText((await held).doc, 'Status')).toBe('1');
      const store = await openStateStore({ dataDir: r.dir });
      try {
        const record = await store.device(r.demo.user, c.opts.deviceId).data('held').get<HeldRecord>();
        expect(record).toMatchObject({ command: 'Ping', ended: expect.any(Date) });
      } finally {
        await store.close();
      }
    } finally {
      await rm(r.dir, { recursive: true, force: true });
    }
  });
});

describe('instrumentBackend', () => {
  it('times each contract method with its outcome, leaving watch alone and errors as they were', async () => {
    const seen: [string, string][] = [];
    const failing = {
      name: 'fake',
      listFolders: async () => [],
      getItems: async () => {
        throw new BackendError('unavailable', 'down');
      },
      watch: async () => {},
      search: { mailbox: async () => ({ hits: [], total: 0 }) },
    };
    const b = instrumentBackend(failing, (capability, outcome, seconds) => {
      expect(seconds).toBeGreaterThanOrEqual(0);
      seen.push([capability, outcome]);
    });
    await b.listFolders();
    await expect(b.getItems()).rejects.toMatchObject({ kind: 'unavailable' });
    await b.search.mailbox();
    await b.watch();
    expect(b.name).toBe('fake');
    expect(b.search).toBe(b.search); // wrapped once
    expect(seen).toEqual([
      ['listFolders', 'ok'],
      ['getItems', 'unavailable'],
      ['search.mailbox', 'ok'],
    ]);
  });
});
