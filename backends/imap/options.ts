// Options of the IMAP backend, the server URL and the mapping from what a phone types as its user
// name to the IMAP login and the account's address. Pure: nothing here opens a socket.
import type { ConnectionOptions } from 'node:tls';

/** The subset of a pino logger the backend uses. Never given passwords or message content. */
export interface ImapLogger {
  warn(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/**
 * How the name a phone sends becomes the IMAP login. Phones send `DOMAIN\user` (the Windows
 * form EAS inherited), `user@domain` or `user`.
 * - `keep`: log in with the name exactly as typed.
 * - `strip-windows-domain` (default): drop a `DOMAIN\` prefix, keep `user@domain` as is.
 * - `strip-domain`: drop both, `DOMAIN\user` and `user@domain` log in as `user`.
 * - a function: your own mapping.
 */
export type UserMapping = 'keep' | 'strip-windows-domain' | 'strip-domain' | ((typed: string) => string);

/**
 * Sends a message for `mail.send`; supplied by whoever provides mail submission (SMTP). Throws
 * when nothing was sent; resolves with the recipients the server refused when only some were
 * (the backend then files a non-delivery report in the Inbox).
 */
export type SubmitFn = (
  /** `login` is the IMAP login `user` mapped to: the one to pass through to SMTP. */
  account: { user: string; email: string; login: string },
  mime: Uint8Array,
  signal: AbortSignal,
) => Promise<void | { refused: ReadonlyArray<{ address: string; reply: string }> }>;

export interface ImapBackendOptions {
  /**
   * `imaps://host[:993]` for TLS from the start, `imap://host[:143]` for STARTTLS when the server
   * offers it (`imap://host?starttls=required` refuses servers that do not, `?starttls=never`
   * never upgrades: loopback and tests only).
   */
  url: string;
  userMapping?: UserMapping;
  /** Builds the address of a login without `@`: `user@domain`. Default: the URL's host name. */
  domain?: string;
  /** Command connections per user, shared by all of that user's devices (default 3). */
  poolSize?: number;
  /** An idle command connection is logged out after this long (default 60 s). */
  idleTimeoutMs?: number;
  /** How long a user's credentials stay in memory after their last use (default 30 min). */
  credentialTtlMs?: number;
  /**
   * How often `watch` checks watched folders other than INBOX with STATUS (default 20 s) when the
   * server has no NOTIFY (RFC 5465).
   */
  watchPollMs?: number;
  /** Watch with NOTIFY where the server offers it (default true); false: IDLE + STATUS polls. */
  watchNotify?: boolean;
  /**
   * How long a user's watch connection stays after the last held request ended (default 0), so
   * the device's next Ping, sent right after it synced, does not log in again.
   */
  watchLingerMs?: number;
  /** Connect attempts before a call fails with 'unavailable' (default 3), backoff in between. */
  connectAttempts?: number;
  /** First backoff delay (default 250 ms); doubles per attempt. */
  backoffMs?: number;
  /** Extra TLS options (a private CA, for instance). */
  tls?: ConnectionOptions;
  logger?: ImapLogger;
  /**
   * Mail submission. When given, the backend offers `mail`: it calls `submit` and, with
   * saveInSent, APPENDs the message to the Sent folder. Without it the backend has no `mail`
   * capability (a read-only store); attachments are served either way.
   */
  submit?: SubmitFn;
  /** Largest message `createItem` appends (default 25 MiB). */
  maxMessageBytes?: number;
}

export interface ServerConfig {
  host: string;
  port: number;
  secure: boolean;
  /** undefined: upgrade when offered; true: require; false: never. */
  doSTARTTLS: boolean | undefined;
  tls?: ConnectionOptions;
}

export function parseServerUrl(url: string, tls?: ConnectionOptions): ServerConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`imap backend: not a URL: ${url}`);
  }
  const secure = u.protocol === 'imaps:';
  if (!secure && u.protocol !== 'imap:') throw new Error('imap backend: the URL must be imap:// or imaps://');
  const starttls = u.searchParams.get('starttls');
  if (starttls !== null && !['required', 'never', 'optional'].includes(starttls))
    throw new Error('imap backend: starttls must be required, optional or never');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new Error('imap backend: the URL has no host');
  return {
    host,
    port: u.port === '' ? (secure ? 993 : 143) : Number(u.port),
    secure,
    doSTARTTLS: secure
      ? undefined
      : starttls === 'required'
        ? true
        : starttls === 'never'
          ? false
          : undefined,
    ...(tls !== undefined && { tls }),
  };
}

/** The IMAP login for what the phone typed. */
export function mapUser(typed: string, mapping: UserMapping = 'strip-windows-domain'): string {
  const name = typed.trim();
  if (typeof mapping === 'function') return mapping(name);
  if (mapping === 'keep') return name;
  const afterSlash = name.includes('\\') ? name.slice(name.lastIndexOf('\\') + 1) : name;
  if (mapping === 'strip-windows-domain') return afterSlash;
  const at = afterSlash.lastIndexOf('@');
  return at < 0 ? afterSlash : afterSlash.slice(0, at);
}

/** The account's address: the login when it is one, else login@domain. */
export function addressOf(login: string, domain: string): string {
  return login.includes('@') ? login.toLowerCase() : `${login.toLowerCase()}@${domain.toLowerCase()}`;
}
