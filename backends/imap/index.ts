// The IMAP backend: easd's mail on an existing IMAP4rev1 server (tested on Dovecot 2.3), through
// imapflow. Email class only; contacts and calendars come from other backends via the router.
//
// Accounts. `authenticate` logs in with the user's own credentials (pass-through): wrong password
// or unknown user → null, server unreachable → BackendError('unavailable'). The typed name is
// mapped to the login by `userMapping` (pool.ts, options.ts). Account.handle is
// `{ backend: 'imap', login }` — no password. The password lives only in the closure that opens
// connections for that login, kept with the user's pool until `credentialTtlMs` after its last use.
//
// Connections. Per user, at most `poolSize` command connections shared by all of the user's
// devices, logged out after `idleTimeoutMs` idle, reopened with exponential backoff; plus one
// connection per user while someone watches (NOTIFY and IDLE, see watch.ts). imaps:// is TLS,
// imap:// upgrades with STARTTLS when offered.
//
// Folder ids (at most 64 characters). IMAP names a mailbox by its path, which a rename changes,
// and plain IMAP4rev1 has no stable mailbox id (OBJECTID, RFC 8474, is not offered by Dovecot
// 2.3). So: a folder with a role has the role as id ('inbox', 'drafts', 'sent', 'deleted',
// 'junk', 'outbox'); any other folder is `u<UIDVALIDITY>`, which Dovecot (and Cyrus) keep across
// RENAME and make unique per user — so a rename keeps the id, and a mailbox deleted and created
// again under the same name is a new folder. A \Noselect container, or a mailbox whose UIDVALIDITY
// another mailbox shares, falls back to `p<hash of the path>`, which a rename does change (the
// device then sees a delete and an add). No mapping has to be stored.
//
// Item ids are `<UIDVALIDITY>.<UID>`: when UIDVALIDITY changes every old id stops existing, so a
// device gets deletes and adds, never duplicates. Versions are the message's MODSEQ with CONDSTORE
// (RFC 7162), else a hash of its flags (content never changes in IMAP). Listing is a NOOP (or SELECT) and one FETCH of
// UID, MODSEQ and INTERNALDATE (never bodies), newest first by INTERNALDATE; FilterType is a UID
// SEARCH SINCE (YOUNGER with WITHIN). The change feed is FETCH CHANGEDSINCE … VANISHED (QRESYNC,
// RFC 7162 3.2.6); without QRESYNC, or after a UIDVALIDITY change, it says 'cursor-expired'.
// Reading the ids a window just listed skips a second NOOP (3 commands per window in all, see
// docs/benchmarks.md); what another client added or expunged in between is caught by a NOOP then.
//
// A partly refused submission (some RCPT TO refused) counts as sent; the user gets an RFC 3464
// non-delivery report in the Inbox (src/convert/mime-report.ts).
//
// Flags ↔ Read, Flag, Categories: see flags.ts. Attachments' FileReferences name the folder,
// message and body part, so getAttachment streams one part with BINARY.PEEK windows (RFC 3516).
//
// Sending is not here: give `submit` (an SMTP sender) and the backend offers `mail`, filing sent
// copies in the Sent folder by APPEND.
import { ImapBackend } from './backend.js';
import type { ImapBackendOptions } from './options.js';

export { ImapBackend, fileReference, itemId, uidSet } from './backend.js';
export { roleNames } from './folders.js';
export { categoryOfKeyword, keywordOfCategory } from './flags.js';
export { addressOf, mapUser, parseServerUrl } from './options.js';
export type { ImapBackendOptions, ImapLogger, SubmitFn, UserMapping } from './options.js';

/** Opens the IMAP backend. Nothing connects until the first login. */
export async function openImapBackend(opts: ImapBackendOptions): Promise<ImapBackend> {
  return new ImapBackend(opts);
}
