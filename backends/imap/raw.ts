// The few commands imapflow has no API for, sent through its command queue (`exec`, which
// imapflow marks internal): a conditional STORE that reports MODIFIED (RFC 7162 3.1.3),
// BINARY.SIZE (RFC 3516 4.2) and UID EXPUNGE (RFC 4315 2.1). Only used on leased connections,
// which never IDLE, so no IDLE has to be broken first.
import type { ImapFlow } from 'imapflow';

export interface Attr {
  type: string;
  value?: unknown;
  section?: Attr[];
}
export type Attrs = Array<Attr | Attrs>;

export interface Untagged {
  command: string;
  attributes?: Attrs;
}

export interface ExecResult {
  response: { command: string; attributes?: Attrs };
  next(): void;
}

interface Execer {
  exec(
    command: string,
    attributes: Attrs | false,
    options?: { untagged?: Record<string, (u: Untagged) => Promise<void>> },
  ): Promise<ExecResult>;
}

export function exec(
  client: ImapFlow,
  command: string,
  attributes: Attrs | false,
  untagged?: Record<string, (u: Untagged) => Promise<void>>,
): Promise<ExecResult> {
  return (client as unknown as Execer).exec(command, attributes, untagged === undefined ? {} : { untagged });
}

const atom = (value: string): Attr => ({ type: 'ATOM', value });

/** The response code of a tagged OK (`[MODIFIED 7]` → ['MODIFIED', '7']). */
function responseCode(r: ExecResult): string[] {
  const first = r.response.attributes?.[0];
  const section = first !== undefined && !Array.isArray(first) ? first.section : undefined;
  return (section ?? []).map((a) => String(a.value ?? '').toUpperCase());
}

/**
 * `UID STORE uid (UNCHANGEDSINCE modseq) FLAGS.SILENT (flags)`: replaces the flags unless the
 * message changed after `modseq`. Returns false when the server says MODIFIED.
 */
export async function storeFlagsUnchangedSince(
  client: ImapFlow,
  uid: number,
  modseq: bigint,
  flags: readonly string[],
): Promise<boolean> {
  const r = await exec(client, 'UID STORE', [
    { type: 'SEQUENCE', value: String(uid) },
    [atom('UNCHANGEDSINCE'), atom(modseq.toString())],
    atom('FLAGS.SILENT'),
    flags.map(atom),
  ]);
  r.next();
  return responseCode(r)[0] !== 'MODIFIED';
}

/** Plain `UID STORE uid FLAGS.SILENT (flags)` for servers without CONDSTORE. */
export async function storeFlags(client: ImapFlow, uid: number, flags: readonly string[]): Promise<void> {
  const r = await exec(client, 'UID STORE', [
    { type: 'SEQUENCE', value: String(uid) },
    atom('FLAGS.SILENT'),
    flags.map(atom),
  ]);
  r.next();
}

/** `UID EXPUNGE set` (UIDPLUS): removes only these \Deleted messages. */
export async function uidExpunge(client: ImapFlow, uids: string): Promise<void> {
  const r = await exec(client, 'UID EXPUNGE', [{ type: 'SEQUENCE', value: uids }]);
  r.next();
}

/** The decoded size of a body part (`UID FETCH uid (BINARY.SIZE[part])`), or undefined. */
export async function binarySize(client: ImapFlow, uid: number, part: string): Promise<number | undefined> {
  let size: number | undefined;
  const r = await exec(
    client,
    'UID FETCH',
    [
      { type: 'SEQUENCE', value: String(uid) },
      [atom('UID'), { type: 'ATOM', value: 'BINARY.SIZE', section: [atom(part)] }],
    ],
    {
      FETCH: async (u) => {
        const list = u.attributes?.[1];
        if (!Array.isArray(list)) return;
        for (let i = 0; i + 1 < list.length; i += 2) {
          const key = list[i];
          const value = list[i + 1];
          if (key === undefined || Array.isArray(key) || value === undefined || Array.isArray(value))
            continue;
          if (String(key.value).toUpperCase() === 'BINARY.SIZE') {
            const n = Number(value.value);
            if (Number.isSafeInteger(n) && n >= 0) size = n;
          }
        }
      },
    },
  );
  r.next();
  return size;
}

interface SelectState {
  mailbox: unknown;
  state: unknown;
  states: { AUTHENTICATED: unknown };
  currentSelectCommand: unknown;
}

/**
 * UNSELECT (RFC 3691): leaves the selected mailbox without expunging (CLOSE would expunge every
 * \Deleted message, also other clients'). imapflow has no API for it, so its state is reset here
 * the way its own CLOSE does. Returns false if the mailbox could not be left.
 */
export async function unselect(client: ImapFlow): Promise<boolean> {
  if (client.mailbox === false) return true;
  if (!client.capabilities.has('UNSELECT')) {
    // RFC 3501 6.3.1: a failed SELECT/EXAMINE leaves the connection with nothing selected
    await client.mailboxOpen('easd-no-such-mailbox-\u00a0', { readOnly: true }).catch(() => undefined);
    return (client.mailbox as unknown) === false;
  }
  const r = await exec(client, 'UNSELECT', false);
  r.next();
  const s = client as unknown as SelectState;
  s.mailbox = false;
  s.currentSelectCommand = false;
  s.state = s.states.AUTHENTICATED;
  return true;
}
