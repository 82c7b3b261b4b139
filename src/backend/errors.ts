// The one error type backends throw. Backends say what went wrong in storage terms (a kind);
// src/backend/status.ts turns the kind into each command's Status value, so no backend ever
// deals in Status numbers.

export const backendErrorKinds = [
  /** The store refused the credentials or the session (expired token, revoked password). */
  'auth',
  /** The folder or item does not exist (or no longer does). */
  'not-found',
  /** The write was based on a stale version (`ifVersion` mismatch) or the name is taken. */
  'conflict',
  /** The store forbids the operation: a read-only folder, a special folder, a quota. */
  'denied',
  /** The store could not be reached or timed out; retrying later may work. */
  'unavailable',
  /** The item, message or attachment exceeds what the store or the server accepts. */
  'too-large',
  /** `changesSince` cannot answer for this cursor; the caller falls back to `listStamps`. */
  'cursor-expired',
  /** This backend cannot do this for this input (e.g. a move between stores). */
  'unsupported',
] as const;

export type BackendErrorKind = (typeof backendErrorKinds)[number];

export class BackendError extends Error {
  readonly kind: BackendErrorKind;
  /** Seconds the client should wait, for 'unavailable' (becomes Retry-After). */
  readonly retryAfter?: number;

  /**
   * `message` ends up in logs: it must never hold passwords, tokens or message content.
   * `cause` may hold the underlying error for debugging; it is never sent to a client.
   */
  constructor(kind: BackendErrorKind, message?: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message ?? kind, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackendError';
    this.kind = kind;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

export function isBackendError(e: unknown, kind?: BackendErrorKind): e is BackendError {
  return e instanceof BackendError && (kind === undefined || e.kind === kind);
}
