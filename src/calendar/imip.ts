// iMIP (RFC 6047): an iTIP message (RFC 5546) as e-mail — a readable text part for people and the
// iCalendar object as text/calendar with its METHOD (RFC 6047 2.4), which calendar clients act on.
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { Account } from '../backend/contract.js';
import { ensureDateAndMessageId } from '../convert/mime-compose.js';

export type ItipMethod = 'REQUEST' | 'REPLY' | 'CANCEL' | 'COUNTER';

export interface ImipMessage {
  /** The sender: the account's address and display name. */
  from: Account;
  to: ReadonlyArray<{ address: string; name?: string }>;
  subject: string;
  /** The text part, for mail programs that do not read calendars. */
  text: string;
  method: ItipMethod;
  /** The iCalendar object, with METHOD equal to `method` (RFC 6047 2.4 requires they match). */
  ics: string;
}

/** The message as RFC 5322 bytes with Date and Message-ID, ready for MailTransport.send. */
export async function composeImip(m: ImipMessage): Promise<Uint8Array> {
  const person = (a: { address: string; name?: string }): string | { name: string; address: string } =>
    a.name !== undefined && a.name !== '' ? { name: a.name, address: a.address } : a.address;
  const built = await new MailComposer({
    from: person({
      address: m.from.email,
      ...(m.from.displayName !== undefined && { name: m.from.displayName }),
    }),
    to: m.to.map(person),
    subject: m.subject,
    text: m.text,
    icalEvent: { method: m.method, content: m.ics },
    newline: 'windows',
  })
    .compile()
    .build();
  return ensureDateAndMessageId(new Uint8Array(built), m.from.email.slice(m.from.email.lastIndexOf('@') + 1));
}
