// Submits the messages phones send to an SMTP server (RFC 6409 submission) with nodemailer. It is
// the transport half of a mail backend: the IMAP backend (or a composition of stores) calls
// submit() from its MailTransport.send and files the Sent copy itself.
//
//   const smtp = createSmtpSubmitter({
//     url: 'smtp://mail.example.com:587',        // STARTTLS when offered; smtps:// for TLS on connect
//     auth: 'user',                               // the phone user's own login, passed through
//     credentials: (account) => imap.credentialsOf(account),
//   });
//   await smtp.submit(account, mime, signal);
//
// The envelope comes from the message: MAIL FROM is its Sender, else its From (or always the
// account's address), RCPT TO every address in To, Cc and Bcc; the Bcc fields are removed from
// what is transmitted. When every recipient is refused nothing is sent and the call fails
// ('not-found' for 5yz: EAS 116). When only some are, the message goes to the others (as an MTA
// would deliver it) and the refused ones come back in the result, so the caller can tell the user
// with a non-delivery report: failing the call would make the phone send it again to those who
// already have it, and keep it out of Sent.
import { createHash } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { Account } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import { envelopeOf, stripBcc } from '../../src/convert/mime-compose.js';
import { parseMime } from '../../src/convert/mime-to-email.js';
import { toBackendError, type SmtpAuthMode } from './errors.js';

export interface SmtpCredentials {
  user: string;
  pass: string;
}

export interface SmtpEnvelopeRules {
  /**
   * MAIL FROM: 'message' (default) takes the message's Sender, else its From, else the
   * account's address; 'account' always uses the account's address (for servers that check
   * MAIL FROM against the login, RFC 6409 6.1).
   */
  mailFrom?: 'message' | 'account';
  /**
   * Refuse ('denied') a message whose From or Sender is not the account's address, before
   * connecting. Default false: the submission server's own policy decides.
   */
  requireOwnAddress?: boolean;
}

export interface SmtpSubmitterOptions {
  /** smtp://host:port (STARTTLS when the server offers it) or smtps://host:port (TLS on connect). */
  url: string;
  /**
   * 'user': log in as the phone's user with `credentials(account)` (pass-through, the usual
   * submission setup); or a fixed relay account for every user.
   */
  auth: 'user' | SmtpCredentials;
  /** Required with auth 'user': the user's SMTP login, from whoever holds it (the IMAP backend). */
  credentials?: (account: Account, signal: AbortSignal) => SmtpCredentials | Promise<SmtpCredentials>;
  /**
   * Keep connections open between messages. With auth 'user' one small pool per user, at most
   * `maxUsers` of them (the least recently used is closed). Default: off, a connection per message.
   */
  pool?: boolean | { maxConnections?: number; maxMessages?: number; maxUsers?: number };
  /** Connection, greeting and idle-socket timeout in ms (default 60 000). */
  timeoutMs?: number;
  envelope?: SmtpEnvelopeRules;
  /** Refuse larger messages before connecting ('too-large'); the server's SIZE limit applies anyway. */
  maxMessageBytes?: number;
  /** Fail unless the connection is encrypted (STARTTLS required on smtp://). Default false. */
  requireTLS?: boolean;
  /** Options for tls.connect (ca, rejectUnauthorized, servername …). */
  tls?: ConnectionOptions;
  /** The EHLO name (default: the machine's hostname, as nodemailer picks it). */
  name?: string;
}

/** A recipient the server refused at RCPT TO, with its reply ("550 5.1.1 User unknown"). */
export interface RefusedRecipient {
  address: string;
  reply: string;
}

/** What happened to a message that went out: the recipients that did not take it, if any. */
export interface SubmitResult {
  refused: RefusedRecipient[];
}

export interface SmtpSubmitter {
  /**
   * Sends the message as it is, to To, Cc and Bcc, without the Bcc fields. Throws BackendError
   * when nothing was sent; resolves with the recipients refused when some took it.
   */
  submit(account: Account, mime: Uint8Array, signal: AbortSignal): Promise<SubmitResult>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

type Transporter = ReturnType<typeof nodemailer.createTransport>;

interface PoolEntry {
  transporter: Transporter;
  lastUsed: number;
}

export function createSmtpSubmitter(opts: SmtpSubmitterOptions): SmtpSubmitter {
  const url = new URL(opts.url);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
    throw new Error(`smtp submitter: url must be smtp:// or smtps://, not ${url.protocol}`);
  if (url.username !== '' || url.password !== '')
    throw new Error('smtp submitter: give credentials in `auth`, not in the url');
  const { auth, credentials } = opts;
  if (auth === 'user' && credentials === undefined)
    throw new Error("smtp submitter: auth 'user' needs a credentials(account) function");
  const loginFor = async (account: Account, signal: AbortSignal): Promise<SmtpCredentials> =>
    auth === 'user' && credentials !== undefined ? credentials(account, signal) : (auth as SmtpCredentials);
  const mode: SmtpAuthMode = auth === 'user' ? 'user' : 'relay';
  const timeout = opts.timeoutMs ?? 60_000;
  const pool = opts.pool === true ? {} : opts.pool === false ? undefined : opts.pool;
  const maxUsers = pool?.maxUsers ?? 50;
  const base = {
    host: url.hostname,
    port: url.port === '' ? (url.protocol === 'smtps:' ? 465 : 587) : Number(url.port),
    secure: url.protocol === 'smtps:',
    requireTLS: opts.requireTLS ?? false,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    ...(opts.tls !== undefined && { tls: opts.tls }),
    ...(opts.name !== undefined && { name: opts.name }),
    logger: false,
  };
  const transporterFor = (auth: SmtpCredentials): Transporter =>
    pool === undefined
      ? nodemailer.createTransport({ ...base, auth })
      : nodemailer.createTransport({
          ...base,
          auth,
          pool: true,
          maxConnections: pool.maxConnections ?? 2,
          maxMessages: pool.maxMessages ?? 100,
        });

  // Pooled transports by login (the password's hash is part of the key, so a changed password
  // gets a fresh pool rather than a stale session).
  const pooled = new Map<string, PoolEntry>();
  let closed = false;

  const acquire = async (
    account: Account,
    signal: AbortSignal,
  ): Promise<{ transporter: Transporter; release: () => void }> => {
    const login = await loginFor(account, signal);
    if (pool === undefined) {
      const transporter = transporterFor(login);
      return { transporter, release: () => transporter.close() };
    }
    const key = `${login.user}\0${createHash('sha256').update(login.pass).digest('hex')}`;
    let entry = pooled.get(key);
    if (entry === undefined) {
      entry = { transporter: transporterFor(login), lastUsed: Date.now() };
      pooled.set(key, entry);
      while (pooled.size > maxUsers) {
        const [oldestKey, oldest] = [...pooled.entries()].reduce((a, b) =>
          b[1].lastUsed < a[1].lastUsed ? b : a,
        );
        pooled.delete(oldestKey);
        oldest.transporter.close();
      }
    }
    entry.lastUsed = Date.now();
    return { transporter: entry.transporter, release: () => undefined };
  };

  return {
    async submit(account, mime, signal) {
      signal.throwIfAborted();
      if (closed) throw new BackendError('unavailable', 'SMTP submitter is closed');
      if (opts.maxMessageBytes !== undefined && mime.byteLength > opts.maxMessageBytes)
        throw new BackendError('too-large', 'message larger than the submission limit');
      const envelope = envelopeOf(await parseMime(mime));
      if (envelope.recipients.length === 0) throw new BackendError('denied', 'the message has no recipients');
      const own = account.email.toLowerCase();
      if (opts.envelope?.requireOwnAddress === true && envelope.authors.some((a) => a.toLowerCase() !== own))
        throw new BackendError('denied', 'From or Sender is not the account address');
      const mailFrom =
        opts.envelope?.mailFrom === 'account' ? account.email : (envelope.from ?? account.email);

      let acquired: Awaited<ReturnType<typeof acquire>>;
      try {
        acquired = await acquire(account, signal);
      } catch (err) {
        throw toBackendError(err, mode);
      }
      try {
        const message: Mail.Options = {
          envelope: { from: mailFrom, to: envelope.recipients },
          raw: Buffer.from(stripBcc(mime)),
          // Nothing in a phone's message may make the server read files or fetch URLs.
          disableFileAccess: true,
          disableUrlAccess: true,
          signal,
        };
        const info = await acquired.transporter.sendMail(message);
        const errors = (info.rejectedErrors ?? []) as Array<{ recipient?: unknown; response?: unknown }>;
        const rejected = (info.rejected ?? []) as Array<string | { address: string }>;
        const refused = rejected.map((r): RefusedRecipient => {
          const address = typeof r === 'string' ? r : r.address;
          const reply = errors.find((e) => e.recipient === address)?.response;
          return { address, reply: typeof reply === 'string' ? reply.slice(0, 300) : 'refused' };
        });
        return { refused };
      } catch (err) {
        throw toBackendError(err, mode);
      } finally {
        acquired.release();
      }
    },
    async close() {
      closed = true;
      for (const entry of pooled.values()) entry.transporter.close();
      pooled.clear();
    },
  };
}
