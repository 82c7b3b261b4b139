// One catalogue of the errors easd answers at the HTTP level. Each has a stable code (for logs,
// metrics and tests) and the HTTP status MS-ASHTTP 2.2.2.1.1 gives it. Command-level failures are
// EAS Status values inside a 200 response and live with each command, not here.

export const errorCatalogue = {
  'bad-request': { http: 400, message: 'The request is malformed' },
  'bad-wbxml': { http: 400, message: 'The request body is not valid WBXML' },
  'unknown-command': { http: 400, message: 'Unknown command' },
  'unsupported-version': { http: 400, message: 'Unsupported protocol version' },
  'auth-required': { http: 401, message: 'Authentication required' },
  'auth-failed': { http: 401, message: 'Authentication failed' },
  'device-blocked': { http: 403, message: 'This device is not allowed to synchronize' },
  'not-found': { http: 404, message: 'Not found' },
  'body-too-large': { http: 413, message: 'Request body too large' },
  // MS-ASHTTP 2.2.2.1.1: 449 tells 12.x clients to Provision first.
  'needs-provisioning': { http: 449, message: 'Provisioning required' },
  'not-implemented': { http: 501, message: 'Command not implemented by this server' },
  // MS-ASHTTP 2.2.2.1.1: 503 with Retry-After makes the client back off and retry.
  throttled: { http: 503, message: 'Too many attempts; retry later' },
  'backend-unavailable': { http: 503, message: 'A backing store is unavailable; retry later' },
  'shutting-down': { http: 503, message: 'The server is shutting down; retry later' },
  internal: { http: 500, message: 'Internal server error' },
} as const satisfies Record<string, { http: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export class EasHttpError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  /** Extra response headers (Retry-After, WWW-Authenticate, MS-ASProtocolVersions, …). */
  readonly headers: Record<string, string>;

  /** `cause`: what led to it (a BackendError), logged with the refusal but never sent. */
  constructor(code: ErrorCode, detail?: string, headers: Record<string, string> = {}, cause?: unknown) {
    super(detail ?? errorCatalogue[code].message, cause === undefined ? undefined : { cause });
    this.name = 'EasHttpError';
    this.code = code;
    this.httpStatus = errorCatalogue[code].http;
    this.headers = headers;
  }
}
