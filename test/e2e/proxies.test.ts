// The reverse-proxy configs of deploy/ (issues 6 and 8), as docs/deployment.md quotes them, run by
// the real nginx, HAProxy and Apache in front of the compiled easd (dist/src/main.js, built-in
// store): each config is checked by its program, started in the foreground on a free loopback port
// with TLS ending at the proxy, and driven by two scripted phones over HTTPS. Only the listen
// address, the certificate paths and easd's port are substituted; everything else is the file
// (the cases at the end also lower a timeout that must not matter during a held request).
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPushSettings } from '../../src/commands/deps.js';
import { defaultServerLimits } from '../../src/limits.js';
import { logTail, spawnDaemon, waitUntilReady, withFreePort, type Daemon } from '../stack/process.js';
import { serverCertificate } from '../support/certs.js';
import { CompiledEasd, type HttpAnswer } from '../support/device-server.js';
import { EasTestClient, findAll, findText, type EasReply } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';
import { HELD, pingStatus, within } from './push-phone.js';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const HOSTNAME = 'mail.example.com';
const DEMO_EMAIL = 'demo@easd.local';

/** A deploy/ file, after checking docs/deployment.md quotes it whole in a code block. */
function deployFile(name: string): string {
  const text = readFileSync(path.join(repo, 'deploy', name), 'utf8');
  const docs = readFileSync(path.join(repo, 'docs/deployment.md'), 'utf8');
  if (!docs.includes('\n' + text + '```\n'))
    throw new Error(`docs/deployment.md no longer quotes deploy/${name} as it is`);
  return text;
}

/** Replaces every occurrence of each `from`; a `from` that is missing means the file changed. */
function substitute(text: string, pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`expected ${JSON.stringify(from)} in the config`);
    text = text.split(from).join(to);
  }
  return text;
}

/** A duration in seconds: nginx and HAProxy units (a bare number is seconds in nginx, ms in HAProxy). */
function seconds(value: string, bare: 's' | 'ms'): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (m === null) throw new Error(`not a duration: ${value}`);
  const unit = m[2] ?? bare;
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[unit]!;
  return Number(m[1]) * factor;
}

/** The block of a config that starts with the line matching `head` (nginx braces, HAProxy sections). */
function section(config: string, head: RegExp): string {
  const lines = config.split('\n');
  const start = lines.findIndex((l) => head.test(l));
  if (start < 0) throw new Error(`no section ${head} in the config`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => /^\S/.test(l) || /^\s{0,4}\}/.test(l));
  return lines.slice(start, start + 1 + (end < 0 ? rest.length : end)).join('\n');
}

/** The value of a directive (`name value;` or `name value`), first occurrence. */
function directive(text: string, name: string): string | undefined {
  const m = new RegExp(`^\\s*${name.replace(/ /g, '\\s+')}\\s+([^;#\\n]+?)\\s*;?\\s*(#.*)?$`, 'm').exec(text);
  return m?.[1];
}

let dir: string;
let easd: CompiledEasd;
let demo: { user: string; password: string };
let cert: { pem: string; key: string; both: string };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-proxies-'));
  // Worker processes of nginx and Apache run as an unprivileged user and create files here.
  await chmod(dir, 0o755);
  const { cert: pem, key } = serverCertificate(dir, HOSTNAME);
  cert = { pem, key, both: path.join(dir, 'haproxy.pem') };
  await writeFile(cert.both, (await readFile(cert.pem, 'utf8')) + (await readFile(cert.key, 'utf8')));
  easd = await CompiledEasd.start({
    EASD_DATA_DIR: path.join(dir, 'easd'),
    EASD_TRUST_PROXY: 'true',
  });
  // The demo account's line may follow the "listening" line.
  let account: RegExpExecArray | null = null;
  for (let i = 0; i < 100 && account === null; i++) {
    account = /user "([^"]+)", password "([^"]+)"/.exec(easd.log);
    if (account === null) await new Promise((r) => setTimeout(r, 50));
  }
  if (account === null) throw new Error(`no demo account in easd's output:\n${easd.log}`);
  demo = { user: account[1]!, password: account[2]! };
});

afterAll(async () => {
  if (easd?.running) await easd.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** One HTTPS request to the proxy, from `localAddress` (a loopback address) when given. */
async function httpsRequest(
  port: number,
  req: { method: string; url: string; headers: Record<string, string>; payload?: Buffer },
  localAddress?: string,
): Promise<HttpAnswer> {
  const out = request({
    host: '127.0.0.1',
    port,
    path: req.url,
    method: req.method,
    servername: HOSTNAME,
    ca: readFileSync(cert.pem),
    // A phone sends Content-Length, 0 for a body-less Ping.
    headers: {
      host: HOSTNAME,
      'content-length': String(req.payload?.length ?? 0),
      ...req.headers,
      connection: 'close',
    },
    ...(localAddress !== undefined && { localAddress }),
  });
  out.end(req.payload);
  const [res] = (await once(out, 'response')) as [IncomingMessage];
  const body = Buffer.concat((await res.toArray()) as Buffer[]);
  return { statusCode: res.statusCode ?? 0, headers: res.headers, body };
}

/** A phone talking to easd through the proxy on `port`. */
class Phone {
  readonly client: EasTestClient;
  inbox = '';
  private key = '0';

  constructor(port: number, deviceId: string, headers: Record<string, string> = {}, localAddress?: string) {
    this.client = new EasTestClient(
      (req) => httpsRequest(port, { ...req, headers: { ...req.headers, ...headers } }, localAddress),
      { user: demo.user, password: demo.password, deviceId, version: '14.1' },
    );
  }

  async setUp(): Promise<void> {
    await this.client.provision();
    const res = await this.client.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    await validateEasResponse(res.doc!, 'FolderSync');
    const inbox = findAll(res.doc, 'Add').find((a) => findText(a, 'Type') === '2');
    this.inbox = findText(inbox, 'ServerId')!;
  }

  /** Syncs the Inbox to the end; returns the items added on the way. */
  async syncInbox(): Promise<EasReply['doc'][]> {
    const added: EasReply['doc'][] = [];
    for (let i = 0; i < 20; i++) {
      const res = await this.client.command(
        'Sync',
        `<Sync xmlns="AirSync:" xmlns:B="AirSyncBase:"><Collections><Collection><SyncKey>${this.key}</SyncKey><CollectionId>${this.inbox}</CollectionId>${this.key === '0' ? '' : '<GetChanges/><WindowSize>100</WindowSize><Options><B:BodyPreference><B:Type>1</B:Type><B:TruncationSize>200</B:TruncationSize></B:BodyPreference></Options>'}</Collection></Collections></Sync>`,
      );
      expect(res.status).toBe(200);
      if (res.raw.length === 0) break; // nothing new (MS-ASCMD 2.2.1.21)
      await validateEasResponse(res.doc!, 'Sync');
      this.key = findText(res.doc, 'SyncKey') ?? this.key;
      added.push(...findAll(res.doc, 'Add'));
      if (findAll(res.doc, 'MoreAvailable').length === 0 && i > 0) break;
    }
    return added;
  }

  ping(withBody: boolean): Promise<EasReply> {
    return this.client.command(
      'Ping',
      withBody
        ? `<Ping xmlns="Ping:"><HeartbeatInterval>300</HeartbeatInterval><Folders><Folder><Id>${this.inbox}</Id><Class>Email</Class></Folder></Folders></Ping>`
        : undefined,
    );
  }

  /** SendMail to the demo account itself (the built-in store delivers it to its Inbox). */
  async send(subject: string, attachment?: Buffer): Promise<void> {
    const boundary = `b-${randomBytes(6).toString('hex')}`;
    const head = `To: ${DEMO_EMAIL}\r\nSubject: ${subject}\r\nMessage-ID: <${randomBytes(8).toString('hex')}@easd.test>\r\nMIME-Version: 1.0\r\n`;
    const mime =
      attachment === undefined
        ? `${head}Content-Type: text/plain\r\n\r\nhello\r\n`
        : `${head}Content-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n--${boundary}\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${attachment.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n--${boundary}--\r\n`;
    const res = await this.client.command(
      'SendMail',
      `<SendMail xmlns="ComposeMail:"><ClientId>${randomBytes(8).toString('hex')}</ClientId><Mime>${mime.replace(/</g, '&lt;').replace(/>/g, '&gt;')}</Mime></SendMail>`,
    );
    expect(res.status).toBe(200);
    expect(res.raw.length).toBe(0); // success is an empty body (MS-ASCMD 2.2.1.16)
  }
}

interface Proxy {
  name: string;
  /** Checks the config with the program itself; rejects with its complaint. */
  check(): Promise<string>;
  /** What the check prints when it has nothing to say against the config (no warnings). */
  clean: RegExp;
  start(): Daemon;
  /** The settings the long polls depend on, read from the config the program loaded. */
  readTimeouts(): number[];
  buffering?: () => boolean;
  /** nginx only: what it logged about bodies it wrote to a temporary file instead of passing on. */
  spooled?: () => string[];
}

/** nginx with a main config of its own around deploy/nginx-easd.conf (a sites-available file). */
/** The file with some settings changed, run beside the untouched one in a directory of its own. */
interface Variant {
  name: string;
  pairs: [string, string][];
}

function nginx(port: number, variant?: Variant): Proxy {
  const home = path.join(dir, variant?.name ?? 'nginx');
  const site = substitute(deployFile('nginx-easd.conf'), [
    ['listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`],
    ['    listen [::]:443 ssl;\n', ''],
    ['/etc/letsencrypt/live/mail.example.com/fullchain.pem', cert.pem],
    ['/etc/letsencrypt/live/mail.example.com/privkey.pem', cert.key],
    ['127.0.0.1:8080', `127.0.0.1:${easd.port}`],
    ...(variant?.pairs ?? []),
  ]);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];
  const main = [
    'daemon off;',
    'worker_processes 1;',
    `pid ${home}/nginx.pid;`,
    `error_log ${home}/error.log notice;`,
    'events { worker_connections 256; }',
    'http {',
    `    access_log ${home}/access.log;`,
    ...temp.map((t) => `    ${t}_temp_path ${home}/${t};`),
    `    include ${home}/easd.conf;`,
    '}',
    '',
  ].join('\n');
  const args = ['-p', `${home}/`, '-e', `${home}/error.log`, '-c', `${home}/nginx.conf`];
  const write = async (): Promise<void> => {
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, 'easd.conf'), site);
    await writeFile(path.join(home, 'nginx.conf'), main);
  };
  const location = (): string => section(site, /location ~\* \^\/microsoft-server-activesync/);
  return {
    name: 'nginx',
    clean:
      /^nginx: the configuration file \S+ syntax is ok\nnginx: configuration file \S+ test is successful$/,
    async check() {
      await write();
      const { stderr } = await run('nginx', [...args, '-t']);
      return stderr;
    },
    start: () => spawnDaemon('nginx', 'nginx', args, path.join(home, 'stdout.log')),
    // proxy_send_timeout (between two writes to easd) does not count during the hold: tested below.
    readTimeouts: () => [seconds(directive(location(), 'proxy_read_timeout') ?? '60s', 's')],
    buffering: () =>
      directive(location(), 'proxy_buffering') !== 'off' ||
      directive(location(), 'proxy_request_buffering') !== 'off',
    // nginx warns "a client request body is buffered to a temporary file" and "an upstream
    // response is buffered to a temporary file" whenever it holds a body back.
    spooled: () =>
      logTail(path.join(home, 'error.log'), 1000)
        .split('\n')
        .filter((l) => l.includes('buffered to a temporary file')),
  };
}

/** HAProxy: our own global section, Debian's stock defaults, then deploy/haproxy-easd.cfg. */
function haproxy(port: number, variant?: Variant): Proxy {
  const home = path.join(dir, variant?.name ?? 'haproxy');
  const cfg = substitute(deployFile('haproxy-easd.cfg'), [
    [
      'bind :443 ssl crt /etc/haproxy/certs/mail.example.com.pem',
      `bind 127.0.0.1:${port} ssl crt ${cert.both}`,
    ],
    ['127.0.0.1:8080', `127.0.0.1:${easd.port}`],
    ...(variant?.pairs ?? []),
  ]);
  // The docs say to append to Debian's haproxy.cfg: its defaults section applies to ours.
  const stock = readFileSync('/etc/haproxy/haproxy.cfg', 'utf8');
  const defaults = stock.slice(stock.indexOf('\ndefaults') + 1);
  const global = `global\n    pidfile ${home}/haproxy.pid\n    log stderr format raw local0\n\n${defaults}\n`;
  const args = ['-db', '-f', path.join(home, 'global.cfg'), '-f', path.join(home, 'easd.cfg')];
  return {
    name: 'haproxy',
    clean: /^Configuration file is valid$/,
    async check() {
      await mkdir(home, { recursive: true });
      await writeFile(path.join(home, 'global.cfg'), global);
      await writeFile(path.join(home, 'easd.cfg'), cfg);
      const { stdout, stderr } = await run('haproxy', ['-c', ...args.slice(1)]);
      return stdout + stderr;
    },
    start: () => spawnDaemon('haproxy', 'haproxy', args, path.join(home, 'stdout.log')),
    // `timeout client` does not count while easd holds the request (its own test below).
    readTimeouts: () => [seconds(directive(section(cfg, /^backend easd/), 'timeout server')!, 'ms')],
  };
}

/**
 * Apache as Debian sets it up: the modules Debian enables by default, those the file's `a2enmod`
 * line names (with the dependencies a2enmod adds), and deploy/apache-easd.conf as the only site.
 */
function apache(port: number): Proxy {
  const home = path.join(dir, 'apache');
  const text = deployFile('apache-easd.conf');
  const site = substitute(text, [
    ['<VirtualHost *:443>', `<VirtualHost 127.0.0.1:${port}>`],
    ['/etc/letsencrypt/live/mail.example.com/fullchain.pem', cert.pem],
    ['/etc/letsencrypt/live/mail.example.com/privkey.pem', cert.key],
    ['127.0.0.1:8080', `127.0.0.1:${easd.port}`],
  ]);
  const available = '/etc/apache2/mods-available';
  const enabled = new Set(
    ['mpm_event', 'authz_core', 'reqtimeout', 'mime', 'setenvif', 'deflate', 'filter', 'env'].filter((m) =>
      existsSync(`/etc/apache2/mods-enabled/${m}.load`),
    ),
  );
  const wanted = /a2enmod ([a-z_ ]+)`/.exec(text)?.[1]?.split(' ') ?? [];
  if (wanted.length === 0) throw new Error('no a2enmod line in deploy/apache-easd.conf');
  const add = (m: string): void => {
    if (enabled.has(m)) return;
    const load = readFileSync(`${available}/${m}.load`, 'utf8');
    for (const dep of /# Depends: (.*)/.exec(load)?.[1]?.split(/\s+/) ?? []) add(dep);
    enabled.add(m);
  };
  wanted.forEach(add);
  const modules = [...enabled].flatMap((m) => [
    `Include ${available}/${m}.load`,
    ...(existsSync(`${available}/${m}.conf`) ? [`Include ${available}/${m}.conf`] : []),
  ]);
  const main = [
    `ServerRoot ${home}`,
    `DefaultRuntimeDir ${home}`,
    `PidFile ${home}/apache.pid`,
    `ErrorLog ${home}/error.log`,
    'LogLevel warn',
    'ServerName 127.0.0.1',
    `Listen 127.0.0.1:${port}`,
    ...(process.getuid?.() === 0 ? ['User www-data', 'Group www-data'] : []),
    ...modules,
    `Include ${home}/easd.conf`,
    '',
  ].join('\n');
  // Debian's module .conf files name their paths through these (set by /etc/apache2/envvars).
  const env = { ...process.env, APACHE_RUN_DIR: home, APACHE_LOCK_DIR: home, APACHE_LOG_DIR: home };
  const args = ['-d', home, '-f', path.join(home, 'apache2.conf')];
  return {
    name: 'apache',
    clean: /^Syntax OK$/,
    async check() {
      await mkdir(home, { recursive: true });
      await writeFile(path.join(home, 'easd.conf'), site);
      await writeFile(path.join(home, 'apache2.conf'), main);
      const { stdout, stderr } = await run('apache2', [...args, '-t'], { env });
      return stdout + stderr;
    },
    start: () =>
      spawnDaemon('apache', 'apache2', [...args, '-DFOREGROUND'], path.join(home, 'stdout.log'), { env }),
    readTimeouts: () => [Number(directive(site, 'ProxyTimeout') ?? '60')],
  };
}

function tlsReady(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Checks the config, starts the program on a free port and waits until it accepts connections. */
async function startProxy(
  make: (port: number) => Proxy,
): Promise<{ proxy: Proxy; daemon: Daemon; port: number }> {
  return withFreePort(async (port) => {
    const proxy = make(port);
    await proxy.check();
    const daemon = proxy.start();
    await waitUntilReady(daemon, () => tlsReady(port));
    return { proxy, daemon, port };
  });
}

/** Two provisioned phones through the proxy: one that watches its synced Inbox, one that acts. */
async function watcherAndActor(port: number, tag: string): Promise<[Phone, Phone]> {
  const watcher = new Phone(port, `PXW${tag}${process.pid}`);
  const actor = new Phone(port, `PXA${tag}${process.pid}`);
  await watcher.setUp();
  await actor.setUp();
  await watcher.syncInbox();
  return [watcher, actor];
}

const proxies: [string, (port: number) => Proxy, number][] = [
  ['nginx', nginx, 10],
  ['haproxy', haproxy, 20],
  ['apache', apache, 30],
];

describe.each(proxies)(
  '%s in front of easd (deploy/ config as quoted in docs/deployment.md)',
  (name, make, net8) => {
    let proxy: Proxy;
    let daemon: Daemon;
    let port = 0;

    beforeAll(async () => {
      ({ proxy, daemon, port } = await startProxy(make));
    });

    afterAll(async () => {
      await daemon?.stop();
    });

    it('the program accepts the config', async () => {
      // check() ran in beforeAll (it rejects when the program refuses the file); once more: no warnings.
      expect((await proxy.check()).trim()).toMatch(proxy.clean);
    });

    it('lets a held request last past the longest heartbeat, in the config as written', () => {
      for (const t of proxy.readTimeouts()) expect(t).toBeGreaterThan(defaultPushSettings.heartbeatMax);
      if (proxy.buffering) expect(proxy.buffering()).toBe(false);
    });

    it('passes the Basic challenge through: 401 with WWW-Authenticate', async () => {
      const res = await httpsRequest(port, {
        method: 'POST',
        url: `/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=x&DeviceId=PX${name}&DeviceType=t`,
        headers: { 'content-type': 'application/vnd.ms-sync.wbxml', 'ms-asprotocolversion': '14.1' },
        payload: Buffer.from([3, 1, 0x6a, 0]),
      });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic/);
    });

    it('routes both paths in any letter case, Autodiscover answering with the https URL the phone used; nothing else', async () => {
      const auth = 'Basic ' + Buffer.from(`${demo.user}:${demo.password}`).toString('base64');
      const mobileSync = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
      const res = await httpsRequest(port, {
        method: 'POST',
        url: '/AutoDiscover/AutoDiscover.xml',
        headers: { authorization: auth, 'content-type': 'text/xml' },
        payload: Buffer.from(
          `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request><EMailAddress>${DEMO_EMAIL}</EMailAddress><AcceptableResponseSchema>${mobileSync}</AcceptableResponseSchema></Request></Autodiscover>`,
        ),
      });
      expect(res.statusCode).toBe(200);
      await validateEasResponse(res.body.toString(), 'Autodiscover');
      // X-Forwarded-Proto and Host reach easd: the URL is the proxy's, not easd's plain-HTTP one.
      expect(res.body.toString()).toContain(`<Url>https://${HOSTNAME}/Microsoft-Server-ActiveSync</Url>`);

      const options = await httpsRequest(port, {
        method: 'OPTIONS',
        url: '/microsoft-server-activesync',
        headers: {},
      });
      expect([options.statusCode, options.headers['ms-asprotocolversions']]).toEqual([
        200,
        '12.0,12.1,14.0,14.1,16.0,16.1',
      ]);
      const elsewhere = await httpsRequest(port, { method: 'GET', url: '/metrics', headers: {} });
      expect([elsewhere.statusCode, elsewhere.headers['ms-server-activesync']]).toEqual([404, undefined]);
    });

    it("answers a held Ping with Status 2 when another device's mail arrives; a body-less Ping too; a large attachment comes through whole", async () => {
      const [watcher, actor] = await watcherAndActor(port, name);
      const held = watcher.ping(true);
      expect(await within(held, 700)).toBe(HELD);
      const file = randomBytes(4 * 1024 * 1024);
      await actor.send(`through ${name}`, file);
      const first = await pingStatus(await held);
      expect(first).toEqual({ status: '2', folders: [watcher.inbox] });

      const added = await watcher.syncInbox();
      const mine = added.find((a) => findText(a, 'Subject') === `through ${name}`);
      const ref = findText(mine, 'FileReference');
      expect(ref).toBeDefined();
      const fetched = await watcher.client.command(
        'ItemOperations',
        `<ItemOperations xmlns="ItemOperations:" xmlns:B="AirSyncBase:"><Fetch><Store>Mailbox</Store><B:FileReference>${ref}</B:FileReference></Fetch></ItemOperations>`,
      );
      expect(fetched.status).toBe(200);
      await validateEasResponse(fetched.doc!, 'ItemOperations');
      const data = findAll(fetched.doc, 'Data')[0]?.value;
      expect(data instanceof Uint8Array ? Buffer.from(data).equals(file) : data).toBe(true);
      if (proxy.spooled) expect(proxy.spooled()).toEqual([]);

      // A body-less Ping: easd uses the folders and heartbeat of the last one.
      const bodyless = watcher.ping(false);
      expect(await within(bodyless, 700)).toBe(HELD);
      await actor.send(`again through ${name}`);
      expect(await pingStatus(await bodyless)).toEqual({ status: '2', folders: [watcher.inbox] });
    }, 60_000);

    it("gives easd the phone's address, not the proxy's nor one the phone forged (per-address login throttling)", async () => {
      const [guesser, neighbour] = [`127.0.0.${net8 + 1}`, `127.0.0.${net8 + 2}`];
      const limit = defaultServerLimits.maxAuthFailuresPerAddress;
      for (let i = 0; i < limit; i++) {
        // A different user each time (the per-user limit stays out of it) and a forged address.
        const res = await httpsRequest(
          port,
          {
            method: 'POST',
            url: `/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=guess${i}&DeviceId=PXG${name}&DeviceType=t`,
            headers: {
              authorization: 'Basic ' + Buffer.from(`guess${i}:wrong`).toString('base64'),
              'x-forwarded-for': `203.0.113.${i + 1}`,
              'ms-asprotocolversion': '14.1',
            },
          },
          guesser,
        );
        expect(res.statusCode).toBe(401);
      }
      const blocked = new Phone(port, `PXB${name}${process.pid}`, {}, guesser);
      const other = new Phone(port, `PXN${name}${process.pid}`, {}, neighbour);
      const refused = await blocked.client.command('FolderSync', undefined);
      expect([refused.status, refused.headers['retry-after'] !== undefined]).toEqual([503, true]);
      await other.setUp();
      expect(other.inbox).not.toBe('');
    }, 60_000);

    it('stops, leaving nothing running', async () => {
      await daemon.stop();
      expect(daemon.exited()).toBe(true);
      expect(await tlsReady(port)).toBe(false);
      const pidFiles = ['nginx/nginx.pid', 'haproxy/haproxy.pid', 'apache/apache.pid'];
      const log = logTail(path.join(dir, name, 'error.log'));
      expect(log).not.toMatch(/\[(emerg|alert|crit)\]/);
      for (const p of pidFiles.filter((f) => f.startsWith(name))) {
        const pid = Number((await readFile(path.join(dir, p), 'utf8').catch(() => '')).trim());
        if (pid > 0) expect(() => process.kill(pid, 0)).toThrow();
      }
    });
  },
);

// Timeouts that look as if they mattered but do not count while easd holds the request: set to
// 1 s, a Ping held 3 s through the proxy is still answered.
const notDuringTheHold: [string, string, (port: number) => Proxy][] = [
  [
    'haproxy',
    'timeout client 1s',
    (p) => haproxy(p, { name: 'haproxy-short', pairs: [['timeout client 1m', 'timeout client 1s']] }),
  ],
  [
    'nginx',
    'proxy_send_timeout 1s',
    (p) =>
      nginx(p, {
        name: 'nginx-short',
        pairs: [['proxy_read_timeout 3660s;', 'proxy_read_timeout 3660s;\n        proxy_send_timeout 1s;']],
      }),
  ],
];

describe.each(notDuringTheHold)('%s with %s', (name, _setting, make) => {
  it('still answers a Ping held 3 s with Status 2', async () => {
    let daemon: Daemon | undefined;
    try {
      const started = await startProxy(make);
      daemon = started.daemon;
      const [watcher, actor] = await watcherAndActor(started.port, `short${name}`);
      const held = watcher.ping(true);
      await new Promise((r) => setTimeout(r, 3000));
      expect(await within(held, 0)).toBe(HELD);
      await actor.send(`past a short timeout, ${name}`);
      expect(await pingStatus(await held)).toEqual({ status: '2', folders: [watcher.inbox] });
    } finally {
      await daemon?.stop();
    }
  });
});
