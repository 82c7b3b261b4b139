// The one place where backend error kinds become EAS Status values (STYLE habit 5). Each
// command has its own Status table in MS-ASCMD 2.2.3.177.x; the values below are taken from
// those tables, cited per command. Where a command's table has nothing that fits, the common
// status codes of MS-ASCMD 2.2.2 (14.0+) are used: 110 ServerError, 111 ServerErrorRetryLater,
// 116 MessageRecipientUnresolved, 120 MailSubmissionFailed, 122 AttachmentIsTooLarge,
// 130 AccessDenied, 150 ItemNotFound.
import { EasHttpError } from '../errors.js';
import type { BackendError, BackendErrorKind } from './errors.js';

/** The commands that can meet a backend error (names as in the command table). */
export type StatusCommand =
  | 'Sync'
  | 'FolderSync'
  | 'FolderCreate'
  | 'FolderUpdate'
  | 'FolderDelete'
  | 'GetItemEstimate'
  | 'MoveItems'
  | 'ItemOperations'
  | 'SendMail'
  | 'SmartReply'
  | 'SmartForward'
  | 'Search'
  | 'Settings'
  | 'Ping'
  | 'Provision'
  | 'MeetingResponse'
  | 'ResolveRecipients'
  | 'Find';

/**
 * What the failed call was about, where a command's table tells them apart: the item (default),
 * the folder/collection, the destination (MoveItems, FolderUpdate's new parent), or an
 * attachment (ItemOperations Fetch by FileReference).
 */
export type StatusTarget = 'item' | 'folder' | 'destination' | 'attachment';

type Table = Record<BackendErrorKind, number>;

/** Every kind to one value, then the exceptions. */
const all = (value: number, except: Partial<Table> = {}): Table => ({
  auth: value,
  'not-found': value,
  conflict: value,
  denied: value,
  unavailable: value,
  'too-large': value,
  'cursor-expired': value,
  unsupported: value,
  ...except,
});

const sendMail = all(110, {
  // MS-ASCMD 2.2.3.177.14 / .16: SendMail, SmartReply and SmartForward use the common codes.
  'not-found': 150,
  denied: 130,
  unavailable: 111,
  'too-large': 122,
  unsupported: 120,
  conflict: 120,
});

const tables: Record<StatusCommand, { base: Table; by?: Partial<Record<StatusTarget, Partial<Table>>> }> = {
  // MS-ASCMD 2.2.3.177.17: 5 server error, 6 client/server conversion error (a bad item),
  // 7 conflict, 8 object not found, 12 folder hierarchy changed, 16 retry.
  Sync: {
    base: all(5, {
      'not-found': 8,
      conflict: 7,
      denied: 6,
      'too-large': 6,
      unsupported: 6,
      unavailable: 16,
      'cursor-expired': 16,
    }),
    by: { folder: { 'not-found': 12, denied: 5, 'too-large': 5, unsupported: 5 } },
  },
  // MS-ASCMD 2.2.3.177.5: 6 server error (transient, retry) is the only fitting value.
  FolderSync: { base: all(6) },
  // MS-ASCMD 2.2.3.177.3: 2 name exists, 3 parent is a special folder, 5 parent not found,
  // 6 server error, 10 malformed request.
  FolderCreate: { base: all(6, { conflict: 2, denied: 3, 'not-found': 5, unsupported: 10 }) },
  // MS-ASCMD 2.2.3.177.6: 2 name exists or special folder, 4 folder not found, 5 parent not
  // found, 6 server error, 10 malformed request.
  FolderUpdate: {
    base: all(6, { conflict: 2, denied: 2, 'not-found': 4, unsupported: 10 }),
    by: { destination: { 'not-found': 5 } },
  },
  // MS-ASCMD 2.2.3.177.4: 3 special folder, 4 folder not found, 6 server error, 10 malformed.
  FolderDelete: { base: all(6, { denied: 3, 'not-found': 4, unsupported: 10 }) },
  // MS-ASCMD 2.2.3.177.7: 2 collection invalid or not found; no server error value, so the
  // common 110/111 (which 12.x clients do not know; the engine may answer 503 there instead).
  GetItemEstimate: { base: all(110, { 'not-found': 2, denied: 2, unsupported: 2, unavailable: 111 }) },
  // MS-ASCMD 2.2.3.177.10: 1 invalid source, 2 invalid destination, 5 move failed,
  // 7 source or destination locked (retry).
  MoveItems: {
    base: all(5, { 'not-found': 1, unsupported: 2, unavailable: 7 }),
    by: { folder: { 'not-found': 1 }, destination: { 'not-found': 2, denied: 2 } },
  },
  // MS-ASCMD 2.2.3.177.8: 3 server error, 6 object not found, 11 data too large,
  // 15 attachment id invalid, 16 access denied, 18 credentials required.
  ItemOperations: {
    base: all(3, { 'not-found': 6, denied: 16, 'too-large': 11, auth: 18 }),
    by: { attachment: { 'not-found': 15 } },
  },
  SendMail: { base: { ...sendMail, 'not-found': 116 } },
  SmartReply: { base: sendMail },
  SmartForward: { base: sendMail },
  // MS-ASCMD 2.2.3.177.13 (Store status): 3 server error, 5 access denied, 6 not found,
  // 8 query too complex, 10 timed out, 11 FolderSync required, 14 credentials required.
  Search: {
    base: all(3, { denied: 5, 'not-found': 6, 'too-large': 8, unsupported: 8, unavailable: 10, auth: 14 }),
    by: { folder: { 'not-found': 11 } },
  },
  // MS-ASCMD 2.2.3.177.15: 2 protocol error, 3 access denied, 4 server unavailable,
  // 5 invalid arguments, 6 conflicting arguments.
  Settings: {
    base: all(4, { auth: 3, denied: 3, 'not-found': 5, 'too-large': 5, conflict: 6, unsupported: 2 }),
  },
  // MS-ASCMD 2.2.3.177.11: 7 folder hierarchy sync required, 8 server error.
  Ping: { base: all(8, { 'not-found': 7 }) },
  // MS-ASPROV 2.2.2.54: 3 general server error.
  Provision: { base: all(3) },
  // MS-ASCMD 2.2.3.177.9: 2 invalid meeting request, 3 error on the mailbox server.
  MeetingResponse: { base: all(3, { 'not-found': 2, denied: 2, unsupported: 2 }) },
  // MS-ASCMD 2.2.3.177.12: 4 recipient not resolved (per recipient), 6 server error.
  ResolveRecipients: { base: all(6, { 'not-found': 4 }) },
  // MS-ASCMD 2.2.3.177.2: 2 invalid request, 3 FolderSync required; server errors fall back to
  // the common codes (Find is 16.1 only, so every client knows them).
  Find: { base: all(110, { 'not-found': 3, denied: 130, unsupported: 2, 'too-large': 2, unavailable: 111 }) },
};

/** The Status value a command answers when a backend call fails with `kind`. */
export function statusFor(
  command: StatusCommand,
  kind: BackendErrorKind,
  target: StatusTarget = 'item',
): number {
  const t = tables[command];
  return t.by?.[target]?.[kind] ?? t.base[kind];
}

/**
 * For failures that end the whole request rather than one item or collection: the store
 * rejected the credentials (401, so the device asks for the password again) or is down (503 with
 * Retry-After, MS-ASHTTP 2.2.2.1.1). Other kinds are command Status values (`statusFor`).
 */
export function httpErrorFor(error: BackendError, defaultRetryAfterSeconds = 30): EasHttpError | undefined {
  switch (error.kind) {
    case 'auth':
      return new EasHttpError('auth-failed', undefined, { 'WWW-Authenticate': 'Basic realm="easd"' }, error);
    case 'unavailable':
      return new EasHttpError(
        'backend-unavailable',
        undefined,
        { 'Retry-After': String(Math.max(1, Math.round(error.retryAfter ?? defaultRetryAfterSeconds))) },
        error,
      );
    default:
      return undefined;
  }
}
