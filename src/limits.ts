// Every limit the server applies to what clients send, in one place (STYLE habit 6). The WBXML
// codec has its own limits module; the server passes its overrides through `wbxml` below.

export interface ServerLimits {
  /** Largest request body accepted, in bytes (SendMail with attachments is the big case). */
  maxBodyBytes: number;
  /** Longest query string accepted, plain or base64 form. */
  maxQueryLength: number;
  /** Largest Autodiscover request body; the document is a few hundred bytes. */
  maxAutodiscoverBytes: number;
  /** Failed logins per user before that user's requests are refused for `authLockoutMs`. */
  maxAuthFailures: number;
  /** Failed logins per client address (higher: one NAT address may hide many users). */
  maxAuthFailuresPerAddress: number;
  authFailureWindowMs: number;
  authLockoutMs: number;
  /** How long a successful login is trusted before the backend is asked again. */
  authCacheMs: number;
}

export const defaultServerLimits: ServerLimits = {
  maxBodyBytes: 50 * 1024 * 1024,
  maxQueryLength: 4096,
  maxAutodiscoverBytes: 64 * 1024,
  maxAuthFailures: 10,
  maxAuthFailuresPerAddress: 50,
  authFailureWindowMs: 5 * 60_000,
  authLockoutMs: 5 * 60_000,
  authCacheMs: 5 * 60_000,
};
