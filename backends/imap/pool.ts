// Connections per user. Every device of a user shares one bounded pool of logged-in IMAP
// connections; a call leases one, uses it alone, and gives it back. Idle connections are logged
// out after a while. The password lives only in the closure that opens connections (and inside
// the ImapFlow clients it creates), never on an object easd logs or hands around.
import { ImapFlow } from 'imapflow';
import { BackendError } from '../../src/backend/errors.js';
import type { ImapLogger, ServerConfig } from './options.js';

/** Opens one logged-in connection; throws BackendError('auth') or ('unavailable'). */
export type Connector = () => Promise<ImapFlow>;

export interface Lease {
  readonly client: ImapFlow;
  /** Gives the connection back; `broken` closes it instead (after a protocol or socket error). */
  release(broken?: boolean): void;
}

interface Conn {
  client: ImapFlow;
  timer?: NodeJS.Timeout;
}

interface Waiter {
  resolve(conn: Conn): void;
  reject(e: unknown): void;
  path?: string;
}

/**
 * Whether imapflow reported wrong credentials (rather than a network or protocol failure).
 * imapflow marks every refused LOGIN; one refused with `[UNAVAILABLE]` (RFC 5530 section 3: a
 * temporary failure, e.g. Dovecot's auth process still starting after a restart) is not about
 * the credentials.
 */
export function isAuthFailure(e: unknown): boolean {
  const err = e as { authenticationFailed?: unknown; serverResponseCode?: unknown } | null;
  if (err?.serverResponseCode === 'UNAVAILABLE') return false;
  return err?.authenticationFailed === true || err?.serverResponseCode === 'AUTHENTICATIONFAILED';
}

/**
 * What went wrong with TLS, for the log and the error: the reason Node's TLS gave for refusing the
 * server's certificate (untrusted issuer, wrong host name, expired; EASD_MAIL_CA trusts a private
 * CA), a failed handshake (imaps:// at a plain port), or no STARTTLS where it is required.
 * Undefined for any other failure.
 */
export function tlsFailure(e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = typeof err?.code === 'string' ? err.code : '';
  const message = typeof err?.message === 'string' ? err.message : '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME/.test(code))
    return `IMAP server certificate not trusted: ${code}${message === '' ? '' : ` (${message})`}`;
  if (/^ERR_SSL_/.test(code))
    return `TLS with the IMAP server failed: ${code} (imaps:// pointed at a port without TLS?)`;
  if (/does not support STARTTLS/i.test(message))
    return 'the IMAP server offers no STARTTLS, which the URL requires (starttls=required)';
  return undefined;
}

/**
 * A connector for one login. The password is captured here and nowhere else in easd's objects.
 * Connections do not IDLE on their own: a leased connection runs commands, nothing else.
 */
export function connector(server: ServerConfig, login: string, password: string): Connector {
  return async () => {
    const client = new ImapFlow({
      host: server.host,
      port: server.port,
      secure: server.secure,
      ...(server.doSTARTTLS !== undefined && { doSTARTTLS: server.doSTARTTLS }),
      ...(server.tls !== undefined && { tls: server.tls }),
      auth: { user: login, pass: password },
      logger: false,
      disableAutoIdle: true,
      // UID-keyed VANISHED responses for changesSince (RFC 7162 3.2.10)
      qresync: true,
      connectionTimeout: 15_000,
      greetingTimeout: 10_000,
      socketTimeout: 5 * 60_000,
      clientInfo: { name: 'easd' },
    });
    // An 'error' event without a listener would throw; failures surface through commands.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (e) {
      client.close();
      if (isAuthFailure(e)) throw new BackendError('auth', 'IMAP login refused', { cause: e });
      // a TLS setup problem needs the admin, not a quick retry
      const tls = tlsFailure(e);
      if (tls !== undefined) throw new BackendError('unavailable', tls, { cause: e, retryAfter: 300 });
      throw new BackendError('unavailable', 'IMAP server unreachable', { cause: e, retryAfter: 30 });
    }
    return client;
  };
}

export interface PoolOptions {
  size: number;
  idleTimeoutMs: number;
  connectAttempts: number;
  backoffMs: number;
  logger?: ImapLogger;
  /** For logs: which user (never the password). */
  label: string;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

export class UserPool {
  private readonly idle: Conn[] = [];
  private readonly busy = new Set<Conn>();
  private opening = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;
  /** Connections opened over the pool's life, for tests and logs. */
  opened = 0;

  constructor(
    private connect: Connector,
    private readonly opts: PoolOptions,
  ) {}

  /** After a fresh login (perhaps with a new password), later connections use it. */
  setConnector(connect: Connector): void {
    this.connect = connect;
  }

  /** Connections open now (idle, leased or being opened). */
  get size(): number {
    return this.idle.length + this.busy.size + this.opening;
  }

  get leased(): number {
    return this.busy.size;
  }

  /** Adds an already logged-in connection (the one `authenticate` opened) if there is room. */
  adopt(client: ImapFlow): boolean {
    if (this.closed || this.size >= this.opts.size) return false;
    const conn: Conn = { client };
    this.watchClose(conn);
    this.opened++;
    this.park(conn);
    return true;
  }

  async acquire(signal: AbortSignal, path?: string): Promise<Lease> {
    signal.throwIfAborted();
    if (this.closed) throw new BackendError('unavailable', 'backend closed');
    const idle = this.takeIdle(path);
    if (idle !== undefined) this.busy.add(idle);
    const conn = idle ?? (await this.openOrWait(signal, path));
    let released = false;
    return {
      client: conn.client,
      release: (broken = false) => {
        if (released) return;
        released = true;
        this.busy.delete(conn);
        if (broken || !conn.client.usable || this.closed) this.discard(conn);
        else this.park(conn);
        this.pump();
      },
    };
  }

  private takeIdle(path?: string): Conn | undefined {
    // prefer a connection that already has the mailbox selected: one round trip less
    let i = path === undefined ? -1 : this.idle.findIndex((c) => mailboxPath(c.client) === path);
    if (i < 0) i = this.idle.length - 1;
    while (i >= 0) {
      const [conn] = this.idle.splice(i, 1);
      if (conn === undefined) return undefined;
      clearTimeout(conn.timer);
      if (conn.client.usable) return conn;
      this.discard(conn);
      i = this.idle.length - 1;
    }
    return undefined;
  }

  private openOrWait(signal: AbortSignal, path?: string): Promise<Conn> {
    if (this.size < this.opts.size) return this.open(signal);
    return new Promise<Conn>((resolve, reject) => {
      let done = false;
      const onAbort = (): void => {
        done = true;
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        resolve: (c) => {
          if (done) {
            // the caller gave up meanwhile: the connection goes back to the pool
            this.busy.delete(c);
            this.park(c);
            return;
          }
          done = true;
          signal.removeEventListener('abort', onAbort);
          resolve(c);
        },
        reject: (e) => {
          if (done) return;
          done = true;
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
        ...(path !== undefined && { path }),
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Opens a connection, retrying with exponential backoff while the server is unreachable. */
  private async open(signal: AbortSignal): Promise<Conn> {
    this.opening++;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const client = await this.connect();
          if (this.closed) {
            client.close();
            throw new BackendError('unavailable', 'backend closed');
          }
          const conn: Conn = { client };
          this.watchClose(conn);
          this.opened++;
          // counted as leased before `opening` drops, so the pool never looks smaller than it is
          this.busy.add(conn);
          return conn;
        } catch (e) {
          if (e instanceof BackendError && e.kind === 'auth') throw e;
          if (attempt >= this.opts.connectAttempts || this.closed) throw e;
          const delay = this.opts.backoffMs * 2 ** (attempt - 1);
          this.opts.logger?.warn({ user: this.opts.label, attempt, delay }, 'imap: connect failed, retrying');
          await sleep(delay, signal);
        }
      }
    } finally {
      this.opening--;
    }
  }

  private watchClose(conn: Conn): void {
    conn.client.once('close', () => {
      const at = this.idle.indexOf(conn);
      if (at >= 0) {
        this.idle.splice(at, 1);
        clearTimeout(conn.timer);
      }
    });
  }

  private park(conn: Conn): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      // counted as leased from here, so no other call opens one more in between
      this.busy.add(conn);
      waiter.resolve(conn);
      return;
    }
    conn.timer = setTimeout(() => {
      const at = this.idle.indexOf(conn);
      if (at >= 0) this.idle.splice(at, 1);
      void logoutWithin(conn.client, 2000);
    }, this.opts.idleTimeoutMs);
    conn.timer.unref();
    this.idle.push(conn);
  }

  /** Serves waiters with new connections when some went away. */
  private pump(): void {
    while (this.waiters.length > 0 && this.size < this.opts.size) {
      const waiter = this.waiters.shift();
      if (waiter === undefined) break;
      this.open(AbortSignal.timeout(60_000)).then(
        (c) => waiter.resolve(c),
        (e: unknown) => waiter.reject(e),
      );
    }
  }

  private discard(conn: Conn): void {
    clearTimeout(conn.timer);
    conn.client.close();
  }

  /** Logs every connection out; waiting calls fail with 'unavailable'. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new BackendError('unavailable', 'backend closed'));
    const all = [...this.idle.splice(0), ...this.busy];
    this.busy.clear();
    await Promise.all(
      all.map(async (c) => {
        clearTimeout(c.timer);
        await logoutWithin(c.client, 2000);
      }),
    );
  }
}

/** LOGOUT, or just closing the socket if the server does not answer within `ms`; leaves no timer. */
export async function logoutWithin(client: ImapFlow, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.logout().catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
  client.close();
}

function mailboxPath(client: ImapFlow): string | undefined {
  return client.mailbox === false ? undefined : client.mailbox.path;
}
