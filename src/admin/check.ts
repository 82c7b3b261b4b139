// `easd check`: tries every server the configuration names — state store, IMAP, SMTP, CardDAV,
// CalDAV, the TLS files — the way easd will use them, and says in plain words what is wrong.
// With a test account it also logs in (IMAP, SMTP, DAV) and looks for what a phone needs
// (special-use folders, address books, calendars). Like app.ts, it knows which backends exist.
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { createClient } from '@keyv/redis';
import { ImapFlow } from 'imapflow';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { openCalDavBackend } from '../../backends/caldav/index.js';
import { openCardDavBackend } from '../../backends/carddav/index.js';
import { mapUser, parseServerUrl } from '../../backends/imap/index.js';
import type { Account, Backend } from '../backend/contract.js';
import { redactUrl, type Config } from '../config.js';
import { mailTls } from '../mail-tls.js';
import { openStateStore } from '../state/store.js';

export interface CheckOptions {
  config: Config;
  /** A test account; without one the servers are only reached, not logged into. */
  account?: { user: string; password: string };
  /** Per check (default 10 s). */
  timeoutMs?: number;
  out: (line: string) => void;
}

export type CheckResult = { status: 'ok' | 'skip'; text: string } | { status: 'fail'; text: string };

/** Runs every check, prints one line each, returns the exit code (0 all good, 1 problems). */
export async function runChecks(opts: CheckOptions): Promise<number> {
  const { config, account } = opts;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const checks: [string, () => Promise<CheckResult>][] = [
    ['state', () => checkState(config, timeoutMs)],
    ['TLS', () => checkTls(config)],
    ['IMAP', () => checkImap(config, account, timeoutMs)],
    ['SMTP', () => checkSmtp(config, account, timeoutMs)],
    ['CardDAV', () => checkDav('CardDAV', config.carddavUrl, account, timeoutMs)],
    ['CalDAV', () => checkDav('CalDAV', config.caldavUrl, account, timeoutMs)],
  ];
  if (account === undefined)
    opts.out(
      'No test account given (--user, with EASD_CHECK_PASSWORD): servers are reached, not logged into.',
    );
  let problems = 0;
  for (const [name, check] of checks) {
    let r: CheckResult;
    try {
      r = await check();
    } catch (err) {
      r = { status: 'fail', text: (err as Error).message };
    }
    if (r.status === 'fail') problems++;
    opts.out(`${r.status.toUpperCase().padEnd(4)}  ${name.padEnd(7)}  ${r.text}`);
  }
  opts.out(problems === 0 ? 'Everything checked is fine.' : `${problems} problem(s) found.`);
  return problems === 0 ? 0 : 1;
}

const ok = (text: string): CheckResult => ({ status: 'ok', text });
const fail = (text: string): CheckResult => ({ status: 'fail', text });
const skip = (text: string): CheckResult => ({ status: 'skip', text });

// ---------------------------------------------------------------------------------------------

async function checkState(config: Config, timeoutMs: number): Promise<CheckResult> {
  const url = config.stateUrl ?? '';
  const redis = url.startsWith('redis:') || url.startsWith('rediss:');
  const where = redis
    ? `Redis at ${redactUrl(url)}`
    : `SQLite ${url === '' ? path.join(config.dataDir, 'state.sqlite') : url.replace(/^sqlite:(\/\/)?/, '')}`;
  if (redis) {
    // A client that does not reconnect: the store's own would wait for Redis forever.
    const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: timeoutMs } });
    // The socket's error comes as an event; connect() then only says "The client is closed".
    let socketError: unknown;
    client.on('error', (err: unknown) => (socketError ??= err));
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      return fail(`${where}: ${explain(socketError ?? err, 'is Redis running?')}`);
    } finally {
      if (client.isOpen) client.destroy();
    }
  }
  try {
    const store = await openStateStore({ url, dataDir: config.dataDir });
    try {
      const slot = store.global('check');
      const probe = randomBytes(8).toString('hex');
      await slot.set(probe);
      if ((await slot.get<string>()) !== probe) return fail(`${where}: a record written is not read back`);
      await slot.delete();
      const users = (await store.users()).length;
      return ok(`${where}: writable, ${users} user(s) with devices`);
    } finally {
      await store.close();
    }
  } catch (err) {
    return fail(`${where}: ${explain(err, 'is the directory writable by the user easd runs as?')}`);
  }
}

async function checkTls(config: Config): Promise<CheckResult> {
  if (config.tls === undefined)
    return skip('easd serves plain HTTP (no EASD_TLS_CERT): phones need HTTPS from a reverse proxy');
  const { certFile, keyFile } = config.tls;
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = await readFile(certFile);
    key = await readFile(keyFile);
  } catch (err) {
    return fail(`cannot read ${(err as { path?: string }).path ?? certFile}: ${(err as Error).message}`);
  }
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    return fail(`EASD_TLS_CERT and EASD_TLS_KEY do not go together: ${(err as Error).message}`);
  }
  const x = new X509Certificate(cert);
  const until = new Date(x.validTo);
  if (until.getTime() < Date.now())
    return fail(
      `the certificate expired on ${until.toISOString()}: phones will say they cannot verify the server`,
    );
  const selfSigned = x.issuer === x.subject;
  return ok(
    `${certFile}: ${x.subject.replace(/\n/g, ', ')}, valid until ${until.toISOString().slice(0, 10)}` +
      (selfSigned ? ' — self-signed: phones refuse it unless the certificate is installed on them' : ''),
  );
}

const specialUse = ['\\Sent', '\\Drafts', '\\Trash'];

async function checkImap(
  config: Config,
  account: CheckOptions['account'],
  timeoutMs: number,
): Promise<CheckResult> {
  if (config.imapUrl === undefined)
    return skip(
      `no EASD_IMAP_URL: mail comes from the built-in store in ${path.join(config.dataDir, 'memory')}`,
    );
  const where = `IMAP at ${redactUrl(config.imapUrl)}`;
  // The same trust (EASD_MAIL_CA) and login (EASD_LOGIN_MAP) as the server's own connections.
  const tlsOptions = await mailTls(config);
  const server = parseServerUrl(config.imapUrl, tlsOptions);
  const hint = `is the IMAP server (Dovecot, …) running and listening on ${server.host}:${server.port}?`;
  if (account === undefined) {
    try {
      const greeting = await readGreeting(server.host, server.port, server.secure, timeoutMs, tlsOptions);
      if (!greeting.startsWith('* OK') && !greeting.startsWith('* PREAUTH'))
        return fail(`${where}: unexpected greeting "${greeting.slice(0, 60)}" — is this an IMAP port?`);
      return ok(`${where}: reachable (greeting ${greeting.slice(0, 40).trim()})`);
    } catch (err) {
      return fail(`${where}: ${explain(err, hint)}`);
    }
  }
  const login = mapUser(account.user, config.loginMap);
  const client = new ImapFlow({
    host: server.host,
    port: server.port,
    secure: server.secure,
    ...(server.doSTARTTLS !== undefined && { doSTARTTLS: server.doSTARTTLS }),
    ...(tlsOptions !== undefined && { tls: tlsOptions }),
    auth: { user: login, pass: account.password },
    logger: false,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    client.close();
    const e = err as { authenticationFailed?: boolean; responseText?: string };
    if (e.authenticationFailed === true)
      return fail(
        `${where}: login as ${login} refused${e.responseText ? ` ("${e.responseText}")` : ''} — wrong user name or password?`,
      );
    return fail(`${where}: ${explain(err, hint)}`);
  }
  try {
    const boxes = await client.list();
    const found = new Set(boxes.map((b) => b.specialUse).filter((s): s is string => s !== undefined));
    const missing = specialUse.filter((s) => !found.has(s));
    const caps = [...(client.capabilities?.keys() ?? [])];
    const noPush = !caps.includes('IDLE') && !caps.includes('NOTIFY');
    if (missing.length > 0)
      return fail(
        `${where}: logged in as ${login}, but no mailbox is marked ${missing.join(', ')} (RFC 6154 SPECIAL-USE) — ` +
          'set special_use in the mail server (Dovecot: mailbox Sent { special_use = \\Sent })',
      );
    return ok(
      `${where}: logged in as ${login}, ${boxes.length} mailboxes, special-use ${[...found].sort().join(' ')}` +
        (client.secureConnection ? ', TLS' : ', no TLS') +
        (noPush ? '; no IDLE/NOTIFY: push falls back to polling' : ''),
    );
  } finally {
    await client.logout().catch(() => client.close());
  }
}

async function checkSmtp(
  config: Config,
  account: CheckOptions['account'],
  timeoutMs: number,
): Promise<CheckResult> {
  if (config.smtpUrl === undefined)
    return config.imapUrl === undefined
      ? skip('no EASD_SMTP_URL: the built-in store keeps sent mail itself')
      : fail('no EASD_SMTP_URL: phones cannot send mail (set it to smtp://host:587 or smtps://host:465)');
  const url = new URL(config.smtpUrl);
  const where = `SMTP at ${redactUrl(config.smtpUrl)}`;
  const secure = url.protocol === 'smtps:';
  const port = url.port === '' ? (secure ? 465 : 587) : Number(url.port);
  const relay =
    url.username !== ''
      ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
      : undefined;
  const auth =
    relay ??
    (account === undefined
      ? undefined
      : { user: mapUser(account.user, config.loginMap), pass: account.password });
  const tlsOptions = await mailTls(config);
  // One connection as easd's sender makes it (STARTTLS when offered), then AUTH by hand: nodemailer
  // skips the login when the server offers no AUTH and would report that as a success.
  const connection = new SMTPConnection({
    host: url.hostname,
    port,
    secure,
    ...(tlsOptions !== undefined && { tls: tlsOptions }),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  // Connection errors (refused, TLS) come as events, not through connect's callback.
  const broken = new Promise<never>((_resolve, reject) => connection.on('error', reject));
  broken.catch(() => undefined);
  try {
    await Promise.race([broken, new Promise<void>((resolve) => connection.connect(() => resolve()))]);
    if (auth !== undefined) {
      if ((connection as unknown as { allowsAuth?: boolean }).allowsAuth !== true)
        return fail(
          `${where}: the server offers no AUTH${connection.secure ? '' : ' (and no STARTTLS)'} — easd sends as the user with their password, so use the submission port (587 or 465) where the server asks for a login`,
        );
      await Promise.race([
        broken,
        new Promise<void>((resolve, reject) =>
          connection.login(auth, (err) => (err === undefined || err === null ? resolve() : reject(err))),
        ),
      ]);
    }
  } catch (err) {
    const e = err as { code?: string; response?: string };
    if (e.code === 'EAUTH')
      return fail(
        `${where}: login as ${auth?.user ?? '?'} refused${e.response ? ` ("${e.response}")` : ''} — wrong user name or password?`,
      );
    return fail(
      `${where}: ${explain(err, `is the mail server running and accepting submission on ${url.hostname}:${port}?`)}`,
    );
  } finally {
    if (connection.stage === 'connected') connection.quit();
    else connection.close();
  }
  if (auth === undefined) return ok(`${where}: reachable (log in not tried without a test account)`);
  return ok(
    `${where}: logged in as ${auth.user}${relay === undefined ? '' : ' (relay account from the URL)'}`,
  );
}

async function checkDav(
  kind: 'CardDAV' | 'CalDAV',
  url: string | undefined,
  account: CheckOptions['account'],
  timeoutMs: number,
): Promise<CheckResult> {
  const setting = kind === 'CardDAV' ? 'EASD_CARDDAV_URL' : 'EASD_CALDAV_URL';
  if (url === undefined)
    return skip(
      `no ${setting}: ${kind === 'CardDAV' ? 'contacts' : 'calendars and tasks'} come from the built-in store or are not offered`,
    );
  const where = `${kind} at ${redactUrl(url)}`;
  const hint = `is the ${kind} server (Radicale, …) running at ${new URL(url).host}?`;
  const signal = AbortSignal.timeout(timeoutMs);
  // Reached first with a plain request: the backend's discovery reports a refused connection
  // only as "no answer".
  let reached: string;
  try {
    const res = await fetch(url, { method: 'OPTIONS', signal });
    const dav = res.headers.get('dav') ?? '';
    reached = `HTTP ${res.status}${dav === '' ? '' : `, DAV ${dav.slice(0, 40)}`}`;
  } catch (err) {
    return fail(`${where}: ${explain(err, hint)}`);
  }
  if (account === undefined) return ok(`${where}: reachable (${reached})`);
  let backend: Backend;
  let signedIn: Account | null;
  try {
    backend = kind === 'CardDAV' ? await openCardDavBackend({ url }) : await openCalDavBackend({ url });
    signedIn = await backend.authenticate(account.user, account.password, signal);
  } catch (err) {
    if (/current-user-principal/.test((err as Error).message))
      return fail(
        `${where}: discovery failed: the URL answers but names no current-user-principal (RFC 5397) — is ${setting} the ${kind} server's URL?`,
      );
    return fail(`${where}: discovery failed: ${explain(err, hint)}`);
  }
  try {
    if (signedIn === null)
      return fail(`${where}: login as ${account.user} refused (HTTP 401) — wrong user name or password?`);
    const folders = await backend.listFolders(signedIn, signal);
    const what = kind === 'CardDAV' ? 'address book(s)' : 'calendar/task list(s)';
    if (folders.length === 0)
      return fail(
        `${where}: logged in as ${account.user}, but found no ${what} — create one, or check the home set`,
      );
    return ok(
      `${where}: logged in as ${account.user}, ${folders.length} ${what}: ${folders.map((f) => f.displayName).join(', ')}`,
    );
  } catch (err) {
    return fail(`${where}: logged in, but listing failed: ${explain(err, hint)}`);
  } finally {
    await backend.close?.();
  }
}

/** Reads the first line a server sends (IMAP greeting), over TLS when `secure`. */
function readGreeting(
  host: string,
  port: number,
  secure: boolean,
  timeoutMs: number,
  tlsOptions?: tls.ConnectionOptions,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = secure
      ? tls.connect({ ...tlsOptions, host, port, servername: host })
      : net.connect({ host, port });
    let text = '';
    const done = (err?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(text.split('\r\n')[0] ?? '');
    };
    const timer = setTimeout(
      () => done(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      if (text.includes('\r\n')) done();
    });
    socket.on('error', (err) => done(err));
    socket.on('end', () =>
      done(Object.assign(new Error('closed before a greeting'), { code: 'ECONNRESET' })),
    );
  });
}

/** An error of a network client, in plain words. */
export function explain(err: unknown, hint: string): string {
  const texts: string[] = [];
  const codes: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const x = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof x.code === 'string') codes.push(x.code);
    if (typeof x.message === 'string') texts.push(x.message);
    e = x.cause ?? (Array.isArray(x.errors) ? x.errors[0] : undefined);
  }
  const all = `${codes.join(' ')} ${texts.join(' ')}`;
  const has = (re: RegExp): boolean => re.test(all);
  // The innermost cause says most ("fetch failed" wraps "bad port", "connect ECONNREFUSED"…).
  const raw = texts.filter((t) => t !== '').at(-1) ?? String(err);
  // OpenSSL's "…:SSL routines:ssl3_get_record:wrong version number:…/ssl3_record.c:350:" → its reason.
  const detail = (/SSL routines:[^:]*:([^:]+):/.exec(raw)?.[1] ?? raw).replace(/\s+/g, ' ').trim();
  if (has(/ECONNREFUSED/)) return `connection refused — ${hint}`;
  if (has(/ENOTFOUND|EAI_AGAIN/)) return `host name not found (DNS) — check the host in the URL`;
  if (has(/EHOSTUNREACH|ENETUNREACH/)) return `host unreachable — network or firewall?`;
  if (has(/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|certificate/i))
    return `TLS certificate not accepted: ${detail} — a private CA needs NODE_EXTRA_CA_CERTS=<ca.pem>`;
  if (has(/ERR_SSL|EPROTO|wrong version number|packet length too long/i))
    return `TLS handshake failed: ${detail} — TLS on a plain port or plain on a TLS port? (imap:// 143 / imaps:// 993, smtp:// 587 / smtps:// 465)`;
  if (has(/ETIMEDOUT|timed? ?out|TimeoutError|ETIMEOUT/i))
    return `no answer in time — firewall, or wrong host or port?`;
  if (has(/ECONNRESET|closed/i))
    return `the server closed the connection: ${detail} — wrong port or protocol?`;
  if (has(/EACCES|EPERM|EROFS|SQLITE_CANTOPEN|SQLITE_READONLY/)) return `${detail} — ${hint}`;
  return `${detail} — ${hint}`;
}
