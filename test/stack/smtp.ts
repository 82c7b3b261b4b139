// The recording SMTP receiver of the real test stack. It runs in the process that starts the stack
// and writes every accepted message to a spool directory, so tests in worker processes can read
// what arrived with readSpool().
//
// Spool layout: <n>.eml holds the message as received; <n>.json its envelope (SpoolEnvelope).
// The .json is written last and atomically, so a message is complete once its .json is visible.
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { HOST } from './process.js';
import type { TestUser } from './users.js';

export interface SpoolEnvelope {
  /** MAIL FROM address; null for the null reverse-path (<>). */
  mailFrom: string | null;
  rcptTo: string[];
  /** The user that authenticated with AUTH, or null when the session had none. */
  user: string | null;
  receivedAt: string;
}

export interface SpoolMessage extends SpoolEnvelope {
  /** Sequence number n of <n>.eml / <n>.json, from 1 in arrival order. */
  id: number;
  raw: Buffer;
}

export interface SmtpReceiver {
  host: string;
  port: number;
  spoolDir: string;
  stop(): Promise<void>;
}

export interface SmtpReceiverOptions {
  /** Accept mail without AUTH too (AUTH stays available). Default: AUTH required. */
  authOptional?: boolean;
  /** Largest message accepted, in bytes (advertised with SIZE). Default 50 MiB. */
  maxSize?: number;
  /**
   * Recipients refused at RCPT TO with 550 5.1.1, as a submission server refuses an unknown
   * local user. Default: addresses at refused.invalid (RFC 2606 keeps .invalid for such uses),
   * so tests can mix refused and accepted recipients in one message.
   */
  refuseRecipients?: RegExp;
}

/** The domain whose addresses the receiver refuses unless told otherwise. */
export const REFUSED_DOMAIN = 'refused.invalid';

export async function startSmtpReceiver(
  spoolDir: string,
  users: readonly TestUser[],
  opts: SmtpReceiverOptions = {},
): Promise<SmtpReceiver> {
  await mkdir(spoolDir, { recursive: true });
  let next = 1;
  const refuse = opts.refuseRecipients ?? /@refused\.invalid$/i;

  const server = new SMTPServer({
    // Plain SMTP on loopback: no STARTTLS offered, AUTH allowed without TLS.
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: opts.authOptional ?? false,
    size: opts.maxSize ?? 50 * 1024 * 1024,
    logger: false,
    banner: 'easd test receiver',
    onAuth(auth, _session, callback) {
      const user = users.find((u) => u.user === auth.username && u.password === auth.password);
      if (user) callback(null, { user: user.user });
      else callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (refuse.test(address.address))
        callback(Object.assign(new Error('5.1.1 User unknown'), { responseCode: 550 }));
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          callback(
            Object.assign(new Error('Message exceeds fixed maximum message size'), { responseCode: 552 }),
          );
          return;
        }
        const id = next++;
        record(spoolDir, id, Buffer.concat(chunks), session).then(() => callback(null), callback);
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.server.address();
  if (addr === null || typeof addr !== 'object') throw new Error('SMTP receiver has no address');

  return {
    host: HOST,
    port: addr.port,
    spoolDir,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function record(spoolDir: string, id: number, raw: Buffer, session: SMTPServerSession): Promise<void> {
  const { mailFrom, rcptTo } = session.envelope;
  const envelope: SpoolEnvelope = {
    mailFrom: mailFrom === false || mailFrom.address === '' ? null : mailFrom.address,
    rcptTo: rcptTo.map((r) => r.address),
    user: typeof session.user === 'string' ? session.user : null,
    receivedAt: new Date().toISOString(),
  };
  await writeFile(path.join(spoolDir, `${id}.eml`), raw);
  const tmp = path.join(spoolDir, `.${id}.json.tmp`);
  await writeFile(tmp, JSON.stringify(envelope, null, 2) + '\n');
  await rename(tmp, path.join(spoolDir, `${id}.json`));
}

/** Every message recorded so far, in arrival order. */
export async function readSpool(spoolDir: string): Promise<SpoolMessage[]> {
  const ids = (await readdir(spoolDir))
    .map((name) => /^(\d+)\.json$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  return Promise.all(
    ids.map(async (id) => {
      const envelope = JSON.parse(await readFile(path.join(spoolDir, `${id}.json`), 'utf8')) as SpoolEnvelope;
      const raw = await readFile(path.join(spoolDir, `${id}.eml`));
      return { id, ...envelope, raw };
    }),
  );
}
