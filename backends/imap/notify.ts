// NOTIFY (RFC 5465) on an imapflow connection. imapflow has no API for it: the command goes
// through its command queue (`exec`, see raw.ts) and the STATUS and LIST responses the server then
// sends unasked reach the connection's untagged handlers (imapflow-internal too, the same table it
// keeps its own EXISTS/EXPUNGE handlers in). Events of the selected mailbox keep arriving as
// EXISTS, EXPUNGE and FETCH, which imapflow already reports as 'exists', 'expunge' and 'flags'.
import type { ImapFlow } from 'imapflow';
import { decodePath } from 'imapflow/lib/tools.js';
import { exec, type Attr, type Attrs, type Untagged } from './raw.js';

/** What an unasked STATUS response says about a mailbox (the attributes the server sent). */
export interface NotifiedStatus {
  messages?: number;
  uidNext?: number;
  uidValidity?: bigint;
  highestModseq?: bigint;
}

export interface NotifyHandlers {
  /** A mailbox other than the selected one changed: MessageNew, MessageExpunge, FlagChange. */
  status(path: string, status: NotifiedStatus): void;
  /** MailboxName: a mailbox was created, deleted or renamed (RFC 5465 section 5). */
  mailboxName(path: string): void;
  /** `[NOTIFICATIONOVERFLOW]` (RFC 5465): the server stopped notifying this connection. */
  overflow(): void;
}

type UntaggedHandler = ((u: Untagged) => Promise<void>) | null | undefined;

interface UntaggedTable {
  untaggedHandlers: Record<string, UntaggedHandler>;
  /** Response codes (`* OK [CODE] …`) → handler. */
  sectionHandlers: Record<string, ((section: unknown) => Promise<void>) | null | undefined>;
}

const atom = (value: string): Attr => ({ type: 'ATOM', value });

/**
 * `NOTIFY SET` (RFC 5465 section 3): the selected mailbox (SELECTED-DELAYED: expunges only where
 * they cannot renumber messages under a command, section 6) and every personal mailbox, for new
 * and expunged messages, flag changes (for other mailboxes a STATUS with HIGHESTMODSEQ once
 * CONDSTORE is enabled, section 5) and mailbox names. No STATUS indicator: the caller takes its
 * own baseline.
 */
const NOTIFY_SET: Attrs = [
  atom('SET'),
  [atom('SELECTED-DELAYED'), [atom('MessageNew'), atom('MessageExpunge'), atom('FlagChange')]],
  [atom('personal'), [atom('MessageNew'), atom('MessageExpunge'), atom('FlagChange'), atom('MailboxName')]],
];

export function offersNotify(client: ImapFlow): boolean {
  return client.capabilities.has('NOTIFY');
}

/**
 * Installs the handlers and sends NOTIFY SET. Resolves to a function that uninstalls them, or to
 * undefined when the server refuses (NO/BAD: e.g. Dovecot without mailbox_list_index), leaving
 * the connection as it was. The connection must not be idling.
 */
export async function notifySet(
  client: ImapFlow,
  handlers: NotifyHandlers,
): Promise<(() => void) | undefined> {
  const { untaggedHandlers: table, sectionHandlers: codes } = client as unknown as UntaggedTable;
  const before = { STATUS: table['STATUS'], LIST: table['LIST'], OVERFLOW: codes['NOTIFICATIONOVERFLOW'] };
  const status = async (u: Untagged): Promise<void> => {
    const path = mailboxOf(client, u.attributes?.[0]);
    const list = u.attributes?.[1];
    if (path !== undefined && Array.isArray(list)) handlers.status(path, parseStatus(list));
  };
  const mailboxName = async (u: Untagged): Promise<void> => {
    // LIST (attributes) delimiter name [extended items, OLDNAME for a rename]
    const path = mailboxOf(client, u.attributes?.[2]);
    if (path !== undefined) handlers.mailboxName(path);
  };
  const overflow = async (): Promise<void> => handlers.overflow();
  table['STATUS'] = status;
  table['LIST'] = mailboxName;
  codes['NOTIFICATIONOVERFLOW'] = overflow;
  const restore = (): void => {
    if (table['STATUS'] === status) table['STATUS'] = before.STATUS;
    if (table['LIST'] === mailboxName) table['LIST'] = before.LIST;
    if (codes['NOTIFICATIONOVERFLOW'] === overflow) codes['NOTIFICATIONOVERFLOW'] = before.OVERFLOW;
  };
  try {
    const r = await exec(client, 'NOTIFY', NOTIFY_SET);
    r.next();
    return restore;
  } catch (e) {
    restore();
    // a refusal is an answer; a dead connection is the caller's to handle
    if ((e as { responseStatus?: unknown } | null)?.responseStatus !== undefined) return undefined;
    throw e;
  }
}

function mailboxOf(client: ImapFlow, a: Attr | Attrs | undefined): string | undefined {
  if (a === undefined || Array.isArray(a) || a.value === undefined || a.value === null) return undefined;
  const raw = Buffer.isBuffer(a.value) ? a.value.toString('utf8') : String(a.value);
  const path = decodePath(client, raw);
  return path.toUpperCase() === 'INBOX' ? 'INBOX' : path;
}

/** `(MESSAGES 3 UIDNEXT 9 …)`; unknown or malformed items are left out. */
export function parseStatus(list: Attrs): NotifiedStatus {
  const out: NotifiedStatus = {};
  for (let i = 0; i + 1 < list.length; i += 2) {
    const k = list[i];
    const v = list[i + 1];
    if (k === undefined || v === undefined || Array.isArray(k) || Array.isArray(v)) continue;
    const text = String(v.value ?? '');
    if (!/^\d{1,20}$/.test(text)) continue;
    switch (String(k.value ?? '').toUpperCase()) {
      case 'MESSAGES':
        out.messages = Number(text);
        break;
      case 'UIDNEXT':
        out.uidNext = Number(text);
        break;
      case 'UIDVALIDITY':
        out.uidValidity = BigInt(text);
        break;
      case 'HIGHESTMODSEQ':
        out.highestModseq = BigInt(text);
        break;
    }
  }
  return out;
}
