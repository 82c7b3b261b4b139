// HTTP Basic authentication (MS-ASHTTP 2.2.1.1.2.1), checked against the configured backend
// (pass-through login, as mail servers do), with failed attempts throttled per user and per
// client address, and recent successes cached so every Ping does not cost a backend login.
import { createHmac, randomBytes } from 'node:crypto';
import { EasHttpError } from '../errors.js';
import type { ServerLimits } from '../limits.js';

export interface Credentials {
  user: string;
  password: string;
}

/** What the server needs of a backend's authenticator; `null` means wrong credentials. */
export type AuthenticateFn<A> = (user: string, password: string, signal: AbortSignal) => Promise<A | null>;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes an `Authorization: Basic …` header. Clients encode the credentials in UTF-8 (RFC 7617)
 * or, older ones, in ISO-8859-1; bytes that are not valid UTF-8 are read as ISO-8859-1.
 */
export function parseBasicAuth(header: string | undefined): Credentials | null {
  if (header === undefined) return null;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null) return null;
  const bytes = Buffer.from(match[1] ?? '', 'base64');
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = bytes.toString('latin1');
  }
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

interface FailureRecord {
  count: number;
  firstAt: number;
  lockedUntil: number;
}

export class Authenticator<A> {
  private readonly failures = new Map<string, FailureRecord>();
  private readonly cache = new Map<string, { account: A; until: number }>();
  private readonly inflight = new Map<string, Promise<A | null>>();
  // The cache keys on an HMAC of the credentials under a per-process secret, so the cache never
  // holds a password, and a dump of it is useless.
  private readonly secret = randomBytes(32);

  constructor(
    private readonly authenticate: AuthenticateFn<A>,
    private readonly limits: ServerLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves the account or throws the EasHttpError the client must see. */
  async check(header: string | undefined, address: string, signal: AbortSignal): Promise<A> {
    const challenge = { 'WWW-Authenticate': 'Basic realm="easd"' };
    const creds = parseBasicAuth(header);
    if (creds === null) throw new EasHttpError('auth-required', undefined, challenge);

    const userKey = `u:${creds.user.toLowerCase()}`;
    const addressKey = `a:${address}`;
    const retryAfter = Math.max(this.lockedFor(userKey), this.lockedFor(addressKey));
    if (retryAfter > 0) {
      throw new EasHttpError('throttled', undefined, { 'Retry-After': String(Math.ceil(retryAfter / 1000)) });
    }

    const cacheKey = createHmac('sha256', this.secret)
      .update(`${creds.user}\0${creds.password}`)
      .digest('base64');
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined && cached.until > this.now()) return cached.account;

    // Concurrent requests with the same credentials (a user's devices reconnecting after a
    // restart or a cache expiry) share one backend login instead of one each: a login may cost a
    // deliberately slow password hash or an IMAP round trip.
    const shared = this.inflight.get(cacheKey);
    let account: A | null;
    if (shared === undefined) {
      const login = this.authenticate(creds.user, creds.password, signal);
      this.inflight.set(cacheKey, login);
      const forget = (): void => void this.inflight.delete(cacheKey);
      login.then(forget, forget);
      account = await login;
    } else {
      // If that login ended with its own request (client gone), log in for this one.
      account = await shared.catch(() => this.authenticate(creds.user, creds.password, signal));
    }
    if (account === null) {
      this.fail(userKey, this.limits.maxAuthFailures);
      this.fail(addressKey, this.limits.maxAuthFailuresPerAddress);
      throw new EasHttpError('auth-failed', undefined, challenge);
    }
    this.failures.delete(userKey);
    this.cache.set(cacheKey, { account, until: this.now() + this.limits.authCacheMs });
    this.prune();
    return account;
  }

  private lockedFor(key: string): number {
    const rec = this.failures.get(key);
    return rec === undefined ? 0 : rec.lockedUntil - this.now();
  }

  private fail(key: string, max: number): void {
    const now = this.now();
    let rec = this.failures.get(key);
    if (rec === undefined || now - rec.firstAt > this.limits.authFailureWindowMs) {
      rec = { count: 0, firstAt: now, lockedUntil: 0 };
      this.failures.set(key, rec);
    }
    rec.count++;
    if (rec.count >= max) rec.lockedUntil = now + this.limits.authLockoutMs;
    this.prune();
  }

  /** Keeps both maps bounded: expired entries go once they outnumber a few thousand. */
  private prune(): void {
    const now = this.now();
    if (this.cache.size > 10_000) {
      for (const [k, v] of this.cache) if (v.until <= now) this.cache.delete(k);
    }
    if (this.failures.size > 10_000) {
      for (const [k, v] of this.failures) {
        if (v.lockedUntil <= now && now - v.firstAt > this.limits.authFailureWindowMs)
          this.failures.delete(k);
      }
    }
  }
}
