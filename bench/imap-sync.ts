// Mail sync on IMAP: how fast easd gives a phone a 1,000-message folder that lives on a real Dovecot,
// and how many IMAP commands each Sync window costs. Dovecot is the test stack's
// (test/stack/dovecot.ts), easd runs in this process (openEasd, as `npm start` wires it) and is
// driven through Fastify's inject() with real WBXML; a counting TCP proxy between easd and Dovecot
// tells the IMAP commands easd sends. Filling the folder goes to Dovecot directly (not counted).
//
// Run alone with `node --expose-gc dist/bench/imap-sync.js` (after `npm run build`): it then
// replaces its own section of docs/benchmarks.md and leaves the others alone.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { openEasd } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { imapConnect, startDovecot } from '../test/stack/dovecot.js';
import { ImapProxy } from '../test/stack/imap-proxy.js';
import { EasTestClient, findAll, findText } from '../test/support/eas-client.js';

const MESSAGES = Number(process.env['BENCH_IMAP_MESSAGES'] ?? 1000);
const SECTION = '## Mail sync on IMAP';
const user = { user: 'bench', password: 'bench-pw-3Rt6', email: 'bench@easd.test' };

// ---- a realistic mailbox --------------------------------------------------------------------

/** A small deterministic generator, so every run syncs the same bytes. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const words =
  'the of and to in is that for it as with was on be by this are from or have an they which one you had not but what all were when we there can been has more if will would who so no her other its about out many then them these some time could into two made first than water been called who oil sit now find long down day did get come made may part quarterly report meeting budget invoice project deadline'.split(
    ' ',
  );

function sentence(rnd: () => number, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(words[Math.floor(rnd() * words.length)] ?? 'x');
  const s = out.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + '.';
}

function paragraphs(rnd: () => number, count: number): string[] {
  return Array.from({ length: count }, () =>
    Array.from({ length: 3 + Math.floor(rnd() * 5) }, () => sentence(rnd, 8 + Math.floor(rnd() * 12))).join(
      ' ',
    ),
  );
}

const wrap76 = (b64: string): string => b64.replace(/.{76}/g, '$&\r\n');

/**
 * One message like those in a working inbox: mostly multipart/alternative (plain + HTML, quoted
 * printable), newsletters with long HTML, one in ten with a PDF-sized attachment, some non-ASCII
 * subjects (RFC 2047) and replies with References.
 */
function message(i: number): Buffer {
  const rnd = random(i + 1);
  const date = new Date(Date.UTC(2026, 9, 1) + i * 3_600_000);
  const kind = rnd();
  const from = ['Alice Example <alice@example.com>', 'Björn Ström <bjorn@example.se>', 'news@shop.example'][
    i % 3
  ];
  const subject =
    i % 7 === 0
      ? `=?UTF-8?B?${Buffer.from(`Grüße zum Projekt ${i} – Übersicht`).toString('base64')}?=`
      : `${i % 5 === 0 ? 'Re: ' : ''}${sentence(rnd, 4 + Math.floor(rnd() * 5)).slice(0, -1)} #${i}`;
  const head = [
    `From: ${from}`,
    `To: Bench <${user.email}>`,
    ...(i % 4 === 0 ? ['Cc: Carol <carol@example.com>, dave@example.com'] : []),
    `Subject: ${subject}`,
    `Date: ${date.toUTCString()}`,
    `Message-ID: <bench-${i}@example.com>`,
    ...(i % 5 === 0
      ? [`In-Reply-To: <bench-${i - 1}@example.com>`, `References: <bench-${i - 1}@example.com>`]
      : []),
    'MIME-Version: 1.0',
  ];
  const paras = paragraphs(rnd, kind < 0.2 ? 25 : 2 + Math.floor(rnd() * 6));
  const plain = paras.join('\r\n\r\n');
  const html = `<html><body>${kind < 0.2 ? '<table width="600"><tr><td>' : ''}${paras.map((p) => `<p style="font-family:Arial">${p}</p>`).join('\r\n')}${kind < 0.2 ? '</td></tr></table>' : ''}</body></html>`;
  const alt = [
    '--alt',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    plain,
    '--alt',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    html.replace(/=/g, '=3D'),
    '--alt--',
  ].join('\r\n');
  if (i % 10 !== 3)
    return Buffer.from(
      [...head, 'Content-Type: multipart/alternative; boundary="alt"', '', alt, ''].join('\r\n'),
      'utf8',
    );
  const size = 30_000 + Math.floor(rnd() * 170_000);
  const pdf = Buffer.alloc(size, i % 251);
  return Buffer.from(
    [
      ...head,
      'Content-Type: multipart/mixed; boundary="mix"',
      '',
      '--mix',
      'Content-Type: multipart/alternative; boundary="alt"',
      '',
      alt,
      '--mix',
      `Content-Type: application/pdf; name="report-${i}.pdf"`,
      `Content-Disposition: attachment; filename="report-${i}.pdf"`,
      'Content-Transfer-Encoding: base64',
      '',
      wrap76(pdf.toString('base64')),
      '--mix--',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

/** MULTIAPPEND (RFC 3502), 100 messages per command, straight to Dovecot. */
async function fill(imap: { host: string; port: number }, mailbox: string): Promise<number> {
  const c = await imapConnect(imap, user);
  let bytes = 0;
  try {
    await c.mailboxCreate(mailbox);
    // imapflow has no MULTIAPPEND; its internal exec sends the literals
    const exec = (
      c as unknown as { exec: (cmd: string, attrs: unknown[]) => Promise<{ next(): void }> }
    ).exec.bind(c);
    for (let i = 0; i < MESSAGES; i += 100) {
      const attrs: unknown[] = [{ type: 'STRING', value: mailbox }];
      for (let j = i; j < Math.min(MESSAGES, i + 100); j++) {
        const raw = message(j);
        bytes += raw.byteLength;
        attrs.push({ type: 'LITERAL', value: raw });
      }
      (await exec('APPEND', attrs)).next();
    }
  } finally {
    await c.logout();
  }
  return bytes;
}

// ---- the phone ------------------------------------------------------------------------------

interface Scenario {
  name: string;
  window: number;
  options: string;
}

const html = (size: number): string =>
  `<BodyPreference xmlns="AirSyncBase:"><Type>2</Type><TruncationSize>${size}</TruncationSize><Preview>255</Preview></BodyPreference>`;
const plain = (size: number): string =>
  `<BodyPreference xmlns="AirSyncBase:"><Type>1</Type><TruncationSize>${size}</TruncationSize></BodyPreference>`;

const scenarios: Scenario[] = [
  { name: 'HTML ≤ 50 KiB + Preview, window 100', window: 100, options: html(51_200) },
  { name: 'HTML ≤ 50 KiB + Preview, window 512', window: 512, options: html(51_200) },
  { name: 'plain ≤ 5 KiB, window 100', window: 100, options: plain(5_120) },
  { name: 'plain ≤ 5 KiB, window 512', window: 512, options: plain(5_120) },
];

interface Result {
  scenario: Scenario;
  windows: number;
  items: number;
  seconds: number;
  commands: Map<string, number>;
  imapBytes: number;
  wbxmlBytes: number;
  /** Commands of the first full window, by name. */
  firstWindow: Map<string, number>;
}

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const add = (into: Map<string, number>, from: Map<string, number>): void => {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
};

async function syncAll(
  phone: EasTestClient,
  proxy: ImapProxy,
  collectionId: string,
  scenario: Scenario,
): Promise<Result> {
  const req = (key: string, body: string): string =>
    `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${collectionId}</CollectionId>${body}</Collection></Collections></Sync>`;
  const first = await phone.command('Sync', req('0', ''));
  let key = findText(first.doc, 'SyncKey');
  if (key === undefined) throw new Error(`Sync 0 failed: HTTP ${first.status}`);
  proxy.take();
  const commands = new Map<string, number>();
  let firstWindow = new Map<string, number>();
  let windows = 0;
  let items = 0;
  let imapBytes = 0;
  let wbxmlBytes = 0;
  const started = performance.now();
  for (;;) {
    const res = await phone.command(
      'Sync',
      req(
        key,
        `<GetChanges/><WindowSize>${scenario.window}</WindowSize><Options>${scenario.options}</Options>`,
      ),
    );
    const status = findText(res.doc, 'Status');
    if (res.status !== 200 || status !== '1')
      throw new Error(`Sync failed: HTTP ${res.status}, Status ${status}`);
    key = findText(res.doc, 'SyncKey') ?? key;
    const taken = proxy.take();
    if (windows === 0) firstWindow = taken.commands;
    add(commands, taken.commands);
    imapBytes += taken.bytes;
    wbxmlBytes += res.raw.byteLength;
    windows++;
    items += findAll(res.doc, 'Add').length;
    if (findAll(res.doc, 'MoreAvailable').length === 0) break;
  }
  const seconds = (performance.now() - started) / 1000;
  if (items !== MESSAGES) throw new Error(`synced ${items} of ${MESSAGES} messages`);
  return { scenario, windows, items, seconds, commands, imapBytes, wbxmlBytes, firstWindow };
}

const fmtCommands = (m: Map<string, number>): string =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');

export async function imapSyncBench(): Promise<string> {
  const load = loadavg()[0] ?? 0;
  const dir = await mkdtemp(path.join(tmpdir(), 'easd-bench-imap-'));
  // mkdtemp makes it 0700; Dovecot's unprivileged processes must reach their files inside
  await chmod(dir, 0o755);
  const dovecot = await startDovecot(path.join(dir, 'dovecot'), [user]);
  const proxy = new ImapProxy(dovecot);
  let easd: Awaited<ReturnType<typeof openEasd>> | undefined;
  try {
    const proxyPort = await proxy.listen();
    const fillStarted = performance.now();
    const folders = scenarios.map((_, i) => `Bench ${i + 1}`);
    let mailboxBytes = 0;
    for (const f of folders) mailboxBytes = await fill(dovecot, f);
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    easd = await openEasd(
      loadConfig({
        EASD_DATA_DIR: path.join(dir, 'easd'),
        EASD_IMAP_URL: `imap://127.0.0.1:${proxyPort}?starttls=never`,
      }),
      pino({ level: 'silent' }),
    );
    const phone = EasTestClient.inject(easd.app, {
      user: user.user,
      password: user.password,
      deviceId: `BENCHIMAP${Date.now()}`,
      deviceType: 'iPhone',
      version: '16.1',
    });
    await phone.provision();
    const fs = await phone.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    const idOf = (name: string): string => {
      const id = findText(
        findAll(fs.doc, 'Add').find((a) => findText(a, 'DisplayName') === name),
        'ServerId',
      );
      if (id === undefined) throw new Error(`no folder ${name}`);
      return id;
    };
    const results: Result[] = [];
    // each scenario has its own copy of the folder, so no scenario finds another's cache warm
    for (const [i, s] of scenarios.entries()) results.push(await syncAll(phone, proxy, idOf(folders[i]!), s));

    const rows = results.map((r) => {
      const perWindow = total(r.commands) / r.windows;
      return `| ${r.scenario.name} | ${r.windows} | ${(r.items / r.seconds).toFixed(0)} | ${perWindow.toFixed(1)} | ${fmtCommands(r.firstWindow)} | ${(r.imapBytes / r.windows / 2 ** 20).toFixed(2)} MiB | ${(r.wbxmlBytes / r.windows / 1024).toFixed(0)} KiB |`;
    });
    return [
      SECTION,
      '',
      `easd in-process (\`openEasd\`, SQLite state) on a Dovecot 2.3 of the test stack (\`test/stack/dovecot.ts\`),`,
      `a 16.1 phone driven through \`inject()\` with real WBXML (\`bench/imap-sync.ts\`). The folder holds ${MESSAGES} messages`,
      `(${(mailboxBytes / 2 ** 20).toFixed(1)} MiB: plain + HTML alternatives, one in five a long newsletter, one in ten with a`,
      `30–200 KB PDF, RFC 2047 subjects, replies with References); each scenario syncs its own copy of`,
      `the folder (MULTIAPPEND of all copies took ${fillSeconds.toFixed(1)} s, not measured) from SyncKey 0 to the last window.`,
      `messages/s counts the windows only. IMAP commands are counted by a TCP proxy between easd and`,
      `Dovecot (easd does not pipeline, so commands are round trips); the first window's commands are`,
      `listed by name. IMAP bytes are what Dovecot sent per window, WBXML bytes what the phone got.`,
      `Load average when this section was measured: ${load.toFixed(2)} (the machine is shared).`,
      '',
      'A window costs a NOOP (or SELECT), the UID/MODSEQ/INTERNALDATE listing of the folder, and one',
      "FETCH of the window's messages per 500: a constant handful, never one per message (it was one",
      'more until the read of what had just been listed stopped repeating the NOOP). The FETCH',
      'takes whole messages (attachments included, hence the IMAP bytes): the MIME parser needs the',
      'whole message to find the bodies, Preview and attachment list.',
      '',
      '| scenario | windows | messages/s | IMAP commands per window | first window | IMAP bytes per window | WBXML per window |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
    ].join('\n');
  } finally {
    await easd?.app.close();
    await proxy.close();
    await dovecot.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Replaces this module's section of docs/benchmarks.md (or appends it), keeping the others. */
async function writeSection(section: string): Promise<string> {
  const file = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
  const doc = await readFile(file, 'utf8');
  const start = doc.indexOf(`\n${SECTION}\n`);
  let next: string;
  if (start < 0) next = `${doc.trimEnd()}\n\n${section}`;
  else {
    const after = doc.indexOf('\n## ', start + 1);
    next = `${doc.slice(0, start + 1)}${section}${after < 0 ? '' : `\n${doc.slice(after + 1)}`}`;
  }
  await writeFile(file, next);
  return file;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const section = await imapSyncBench();
  console.log(section);
  console.log(`bench: wrote ${await writeSection(section)}`);
}
