// Configuration: environment variables, optionally over a JSON file named by EASD_CONFIG
// (the environment wins). Validated at start, with messages that say which setting is wrong.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface Config {
  listen: { host: string; port: number };
  tls?: { certFile: string; keyFile: string };
  /** Embedded state and the reference backend's data. */
  dataDir: string;
  /** keyv store URL: sqlite://<file> (default: <dataDir>/state.sqlite) or redis://… */
  stateUrl?: string;
  imapUrl?: string;
  smtpUrl?: string;
  /** PEM file of CA certificates trusted for the IMAP and SMTP servers, besides the system's. */
  mailCaFile?: string;
  /** Domain of the address of a login without one (default: the IMAP server's host name). */
  mailDomain?: string;
  /** How the user name a phone sends becomes the IMAP (and SMTP) login (default strip-windows-domain). */
  loginMap?: LoginMap;
  caldavUrl?: string;
  carddavUrl?: string;
  /**
   * The global address list: a CardDAV address book shared by the organisation, read with a
   * service account (user and password) or, without one, with each user's own credentials; or an
   * LDAP directory (ldap:// or ldaps://, people under baseDN; user is a bind DN, else anonymous).
   */
  gal?: { url: string; user?: string; password?: string; refreshSeconds: number; baseDN?: string };
  /** JSON file with the device policy (EASProvisionDoc values, device access rules). */
  policyFile?: string;
  /** URL phones are told to use in Autodiscover; derived from the request when unset. */
  publicUrl?: string;
  /** Trust X-Forwarded-* from a reverse proxy in front of easd. */
  trustProxy: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** user/device pairs whose decoded requests and responses are logged ("alice/ABC123", "bob/*"). */
  traceDevices: string[];
  maxBodyBytes?: number;
  /** Bounds of a Ping's HeartbeatInterval in seconds (MS-ASCMD 2.2.3.79.2: the server's choice). */
  pingHeartbeat?: { min: number; max: number };
  /**
   * How often (seconds) a held Ping or Sync looks at CardDAV/CalDAV folders again, which have no
   * push of their own (each look lists the folder's ETags); 30 by default.
   */
  davPollSeconds: number;
  /**
   * How long a phone's successful login is trusted before the store is asked again (seconds);
   * all of a user's devices share it. 900 by default, as IIS caches Exchange logins.
   */
  authCacheSeconds: number;
  /** Shared secret of the push webhook (POST /easd/push); the webhook is off without it. */
  webhookSecret?: string;
  /** Where GET /metrics (Prometheus) is served; off when unset. Never the phones' port. */
  metricsListen?: { host: string; port: number };
  /** Bearer token a scrape must send; required when metricsListen is not a loopback address. */
  metricsToken?: string;
}

/**
 * EASD_LOGIN_MAP: `strip-windows-domain` (default) logs `DOMAIN\\user` in as `user` and keeps
 * `user@domain`; `strip-domain` drops both forms of domain; `keep` passes the name on as typed.
 */
export const loginMaps = ['strip-windows-domain', 'strip-domain', 'keep'] as const;
export type LoginMap = (typeof loginMaps)[number];

/** Each setting: its environment name and its key in the config file. */
const settings = {
  listen: 'EASD_LISTEN',
  tlsCert: 'EASD_TLS_CERT',
  tlsKey: 'EASD_TLS_KEY',
  dataDir: 'EASD_DATA_DIR',
  stateUrl: 'EASD_STATE_URL',
  imapUrl: 'EASD_IMAP_URL',
  smtpUrl: 'EASD_SMTP_URL',
  mailCa: 'EASD_MAIL_CA',
  mailDomain: 'EASD_MAIL_DOMAIN',
  loginMap: 'EASD_LOGIN_MAP',
  caldavUrl: 'EASD_CALDAV_URL',
  carddavUrl: 'EASD_CARDDAV_URL',
  galUrl: 'EASD_GAL_URL',
  galUser: 'EASD_GAL_USER',
  galPassword: 'EASD_GAL_PASSWORD',
  galRefresh: 'EASD_GAL_REFRESH',
  galBase: 'EASD_GAL_BASE',
  policyFile: 'EASD_POLICY',
  publicUrl: 'EASD_PUBLIC_URL',
  trustProxy: 'EASD_TRUST_PROXY',
  logLevel: 'EASD_LOG_LEVEL',
  traceDevices: 'EASD_TRACE_DEVICES',
  maxBodyBytes: 'EASD_MAX_BODY_BYTES',
  pingMin: 'EASD_PING_MIN',
  pingMax: 'EASD_PING_MAX',
  davPoll: 'EASD_DAV_POLL',
  authCache: 'EASD_AUTH_CACHE',
  webhookSecret: 'EASD_WEBHOOK_SECRET',
  metricsListen: 'EASD_METRICS_LISTEN',
  metricsToken: 'EASD_METRICS_TOKEN',
} as const;

type SettingKey = keyof typeof settings;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const file = readConfigFile(env['EASD_CONFIG'], cwd, problems);

  const raw = (key: SettingKey): string | undefined => {
    const fromEnv = env[settings[key]];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const fromFile = file[key];
    if (fromFile === undefined || fromFile === null) return undefined;
    return typeof fromFile === 'string' ? fromFile : JSON.stringify(fromFile);
  };
  const where = (key: SettingKey): string =>
    env[settings[key]] ? settings[key] : `"${key}" in ${env['EASD_CONFIG'] ?? 'the config file'}`;

  const listen = parseListen(raw('listen') ?? '127.0.0.1:8080');
  if (listen === null) problems.push(`${where('listen')} must be host:port with a port from 0 to 65535`);

  const tlsCert = raw('tlsCert');
  const tlsKey = raw('tlsKey');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    problems.push('EASD_TLS_CERT and EASD_TLS_KEY must be set together');
  }

  const url = (key: SettingKey, schemes: string[]): string | undefined => {
    const value = raw(key);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      problems.push(`${where(key)} is not a URL: ${redactUrl(value)}`);
      return undefined;
    }
    if (!schemes.includes(parsed.protocol.replace(/:$/, ''))) {
      problems.push(`${where(key)} must start with ${schemes.map((s) => `${s}://`).join(' or ')}`);
    }
    return value;
  };

  const logLevel = raw('logLevel') ?? 'info';
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    problems.push(`${where('logLevel')} must be one of ${logLevels.join(', ')}`);
  }

  const trustProxyText = (raw('trustProxy') ?? 'false').toLowerCase();
  if (!['true', 'false', '1', '0', 'yes', 'no'].includes(trustProxyText)) {
    problems.push(`${where('trustProxy')} must be true or false`);
  }

  let maxBodyBytes: number | undefined;
  const maxBodyText = raw('maxBodyBytes');
  if (maxBodyText !== undefined) {
    maxBodyBytes = Number(maxBodyText);
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1024) {
      problems.push(`${where('maxBodyBytes')} must be a whole number of bytes, at least 1024`);
    }
  }

  const pingHeartbeat = pingBounds(raw, where, problems);

  const authCacheText = raw('authCache');
  const authCacheSeconds = authCacheText === undefined ? 900 : Number(authCacheText);
  if (!Number.isInteger(authCacheSeconds) || authCacheSeconds < 0 || authCacheSeconds > 86_400)
    problems.push(`${where('authCache')} must be a whole number of seconds from 0 to 86400`);

  const davPollText = raw('davPoll');
  const davPollSeconds = davPollText === undefined ? 30 : Number(davPollText);
  if (!Number.isInteger(davPollSeconds) || davPollSeconds < 1 || davPollSeconds > 3600)
    problems.push(`${where('davPoll')} must be a whole number of seconds from 1 to 3600`);

  const webhookSecret = raw('webhookSecret');
  if (webhookSecret !== undefined && webhookSecret.length < 16) {
    problems.push(`${where('webhookSecret')} must be at least 16 characters`);
  }

  let metricsListen: Config['metricsListen'];
  const metricsListenText = raw('metricsListen');
  if (metricsListenText !== undefined) {
    metricsListen = parseListen(metricsListenText) ?? undefined;
    if (metricsListen === undefined)
      problems.push(`${where('metricsListen')} must be host:port with a port from 0 to 65535`);
  }
  const metricsToken = raw('metricsToken');
  if (metricsToken !== undefined && metricsToken.length < 16)
    problems.push(`${where('metricsToken')} must be at least 16 characters`);
  // Metrics name users' activity and the deployment's shape: off the loopback, only with a token.
  if (metricsListen !== undefined && metricsToken === undefined && !isLoopback(metricsListen.host))
    problems.push(
      `${where('metricsListen')} is not a loopback address: set EASD_METRICS_TOKEN too, or listen on 127.0.0.1`,
    );

  const mailDomain = raw('mailDomain')?.trim().toLowerCase();
  // RFC 5321 4.1.2 Domain: dot-separated labels of letters, digits and hyphens.
  if (
    mailDomain !== undefined &&
    !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(mailDomain)
  )
    problems.push(`${where('mailDomain')} must be a domain name such as example.com (no user, no @)`);
  const loginMap = raw('loginMap');
  if (loginMap !== undefined && !(loginMaps as readonly string[]).includes(loginMap))
    problems.push(`${where('loginMap')} must be one of ${loginMaps.join(', ')}`);
  const mailCa = raw('mailCa');
  const mailSettings = [mailCa, mailDomain, loginMap].some((v) => v !== undefined);
  if (mailSettings && raw('imapUrl') === undefined)
    problems.push('EASD_MAIL_CA, EASD_MAIL_DOMAIN and EASD_LOGIN_MAP need EASD_IMAP_URL');

  const gal = galSettings(raw, where, url('galUrl', ['http', 'https', 'ldap', 'ldaps']), problems);

  const config: Config = {
    listen: listen ?? { host: '127.0.0.1', port: 8080 },
    dataDir: path.resolve(cwd, raw('dataDir') ?? './data'),
    stateUrl: url('stateUrl', ['sqlite', 'redis', 'rediss']),
    imapUrl: url('imapUrl', ['imap', 'imaps']),
    smtpUrl: url('smtpUrl', ['smtp', 'smtps']),
    ...(mailCa !== undefined && { mailCaFile: path.resolve(cwd, mailCa) }),
    ...(mailDomain !== undefined && { mailDomain }),
    ...(loginMap !== undefined && { loginMap: loginMap as LoginMap }),
    caldavUrl: url('caldavUrl', ['http', 'https']),
    carddavUrl: url('carddavUrl', ['http', 'https']),
    publicUrl: url('publicUrl', ['http', 'https']),
    policyFile: raw('policyFile') === undefined ? undefined : path.resolve(cwd, raw('policyFile') as string),
    trustProxy: ['true', '1', 'yes'].includes(trustProxyText),
    logLevel: logLevel as Config['logLevel'],
    traceDevices: (raw('traceDevices') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    maxBodyBytes,
    ...(pingHeartbeat !== undefined && { pingHeartbeat }),
    davPollSeconds,
    authCacheSeconds,
    webhookSecret,
    ...(metricsListen === undefined ? {} : { metricsListen }),
    ...(metricsToken === undefined ? {} : { metricsToken }),
    ...(gal !== undefined && { gal }),
  };
  if (tlsCert !== undefined && tlsKey !== undefined) {
    config.tls = { certFile: path.resolve(cwd, tlsCert), keyFile: path.resolve(cwd, tlsKey) };
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * EASD_PING_MIN / EASD_PING_MAX: the HeartbeatInterval a Ping may ask for, whole seconds; default
 * 60 and 3540, the largest the Ping schema allows (MS-ASCMD 2.2.3.79.2). A Ping outside gets
 * Status 5 with the bound.
 */
function pingBounds(
  raw: (key: SettingKey) => string | undefined,
  where: (key: SettingKey) => string,
  problems: string[],
): Config['pingHeartbeat'] {
  const [minText, maxText] = [raw('pingMin'), raw('pingMax')];
  if (minText === undefined && maxText === undefined) return undefined;
  const bounds = { min: Number(minText ?? 60), max: Number(maxText ?? 3540) };
  for (const [key, value] of [
    ['pingMin', bounds.min],
    ['pingMax', bounds.max],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 3540)
      problems.push(`${where(key)} must be a whole number of seconds from 1 to 3540`);
  }
  if (bounds.min > bounds.max) problems.push('EASD_PING_MIN must not be larger than EASD_PING_MAX');
  return bounds;
}

/**
 * EASD_GAL_*: the book's URL (or the LDAP server's with its base DN), the service account (both or
 * neither), how often to look for changes.
 */
function galSettings(
  raw: (key: SettingKey) => string | undefined,
  where: (key: SettingKey) => string,
  url: string | undefined,
  problems: string[],
): Config['gal'] {
  const user = raw('galUser');
  const password = raw('galPassword');
  const refresh = raw('galRefresh');
  const baseDN = raw('galBase');
  if (url === undefined) {
    if (user !== undefined || password !== undefined || refresh !== undefined || baseDN !== undefined)
      problems.push('EASD_GAL_USER, EASD_GAL_PASSWORD, EASD_GAL_REFRESH and EASD_GAL_BASE need EASD_GAL_URL');
    return undefined;
  }
  const ldap = /^ldaps?:/i.test(url);
  // fetch refuses URLs with credentials; say where they belong instead of failing every lookup.
  if (/^[a-z]+:\/\/[^/@]*@/i.test(url))
    problems.push('EASD_GAL_URL must not hold credentials: set EASD_GAL_USER and EASD_GAL_PASSWORD');
  if (ldap && baseDN === undefined)
    problems.push('an LDAP EASD_GAL_URL needs EASD_GAL_BASE, the DN people are found under');
  if (!ldap && baseDN !== undefined) problems.push('EASD_GAL_BASE is for an LDAP EASD_GAL_URL');
  if ((user === undefined) !== (password === undefined))
    problems.push('EASD_GAL_USER and EASD_GAL_PASSWORD must be set together');
  const refreshSeconds = refresh === undefined ? 60 : Number(refresh);
  if (!Number.isInteger(refreshSeconds) || refreshSeconds < 0 || refreshSeconds > 86_400)
    problems.push(`${where('galRefresh')} must be a whole number of seconds from 0 to 86400`);
  return {
    url,
    ...(user !== undefined && password !== undefined && { user, password }),
    refreshSeconds,
    ...(ldap && baseDN !== undefined && { baseDN }),
  };
}

function readConfigFile(
  file: string | undefined,
  cwd: string,
  problems: string[],
): Partial<Record<SettingKey, unknown>> {
  if (file === undefined || file === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path.resolve(cwd, file), 'utf8'));
  } catch (err) {
    problems.push(`EASD_CONFIG=${file} cannot be read as JSON: ${(err as Error).message}`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`EASD_CONFIG=${file} must hold a JSON object`);
    return {};
  }
  const known = new Set<string>(Object.keys(settings));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key))
      problems.push(`Unknown setting "${key}" in ${file} (known: ${[...known].join(', ')})`);
  }
  return parsed as Partial<Record<SettingKey, unknown>>;
}

function parseListen(value: string): { host: string; port: number } | null {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port > 65535) return null; // port 0 = any free port (tests)
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Drops the password of a URL so that a configuration message never shows it. */
export function redactUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return value.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}
