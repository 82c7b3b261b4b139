// SMTP failures in storage terms (src/backend/errors.ts). The rule that matters: every failure
// surfaces as a BackendError, and a failure that may pass (a 4yz reply, a dropped connection, a
// timeout) is 'unavailable', so the phone keeps the message in its Outbox and tries again.
import { BackendError, type BackendErrorKind } from '../../src/backend/errors.js';

/** The fields nodemailer puts on its errors (SMTPConnection._formatError and friends). */
export interface SmtpErrorLike {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  name?: string;
  message?: string;
}

/** How the submitter authenticates: the user's own login, or the server's configured relay account. */
export type SmtpAuthMode = 'user' | 'relay';

/** RFC 3463 enhanced status code in a reply, e.g. "5.1.1". */
function enhanced(
  response: string | undefined,
): { cls: number; subject: number; detail: number } | undefined {
  const m = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(response ?? '');
  return m === null ? undefined : { cls: Number(m[1]), subject: Number(m[2]), detail: Number(m[3]) };
}

const transientCodes = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EPROTOCOL',
  'EPROXY',
]);
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'EAI_AGAIN',
]);

/**
 * The kind for an SMTP failure:
 * - auth: RFC 4954 535/534 (or nodemailer's EAUTH) with the user's own credentials. With a
 *   configured relay account the user can do nothing about it: 'unavailable' (an operator's
 *   problem; the phone must not ask its user for a password).
 * - too-large: RFC 5321 552 / RFC 3463 X.3.4 and X.2.3 (message length exceeds a limit).
 * - unavailable: any 4yz reply (RFC 5321 4.2.1, transient), connection, TLS, DNS and timeouts.
 * - not-found: every recipient refused with 5yz at RCPT TO (EAS 116, unresolved recipient).
 * - denied: the sender refused at MAIL FROM, or a policy refusal (X.7.x).
 * - unsupported: any other permanent refusal (EAS 120, mail submission failed).
 */
export function smtpErrorKind(err: SmtpErrorLike, mode: SmtpAuthMode): BackendErrorKind {
  const rc = err.responseCode;
  const esc = enhanced(err.response);
  if (err.code === 'EAUTH' || err.code === 'ENOAUTH' || rc === 535 || rc === 534)
    return mode === 'user' && err.code !== 'ENOAUTH' ? 'auth' : 'unavailable';
  if (
    rc === 552 ||
    (esc?.cls === 5 && ((esc.subject === 3 && esc.detail === 4) || (esc.subject === 2 && esc.detail === 3)))
  )
    return 'too-large';
  if (rc !== undefined && rc >= 400 && rc < 500) return 'unavailable';
  if (err.code !== undefined && (transientCodes.has(err.code) || socketCodes.has(err.code)))
    return 'unavailable';
  if (rc !== undefined && rc >= 500) {
    // 530 "authentication required" at MAIL FROM: the server wants AUTH it did not offer (no TLS yet?).
    if (rc === 530) return 'unavailable';
    if (err.command === 'RCPT TO') return 'not-found';
    if (err.command === 'MAIL FROM' || esc?.subject === 7) return 'denied';
    return 'unsupported';
  }
  return 'unavailable';
}

/** Seconds a phone should wait before retrying an 'unavailable' submission. */
const retryAfterSeconds = 60;

/** Wraps an SMTP failure; abort errors pass through untouched (the request is gone). */
export function toBackendError(err: unknown, mode: SmtpAuthMode): unknown {
  if (err instanceof BackendError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SmtpErrorLike;
  if (e.code === 'EABORT' || e.name === 'AbortError') return err;
  const kind = smtpErrorKind(e, mode);
  // The server's reply says why (no message content in it); the password never is in it.
  const detail = (e.response ?? e.message ?? e.code ?? 'SMTP error').slice(0, 300);
  return new BackendError(kind, `SMTP: ${detail}`, {
    cause: err,
    ...(kind === 'unavailable' && { retryAfter: retryAfterSeconds }),
  });
}
