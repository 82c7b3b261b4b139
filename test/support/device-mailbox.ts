// A test account's mailbox as the rough-network flows use it: each flow works in a mailbox of
// its own (other test files share the account's Inbox), sets a phone up on it from scratch, and
// compares what the phone holds with what Dovecot holds.
import { expect } from 'vitest';
import type { ImapFlow } from 'imapflow';
import { imapConnect } from '../stack/dovecot.js';
import type { TestUser } from '../stack/users.js';
import { Device, profiles, type DeviceProfile } from './device.js';
import { findText } from './eas-client.js';
import { imapMessages } from './device-stores.js';

export class FlowMailbox {
  constructor(
    readonly imap: { host: string; port: number },
    readonly user: TestUser,
    /** The server the phones talk to (a function: it may be restarted on another port). */
    readonly server: () => string,
    /** Makes device ids and names unique to this run. */
    readonly run: string,
  ) {}

  message(subject: string): string {
    return `From: Bob <bob@easd.test>\r\nTo: ${this.user.email}\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@easd.test>\r\n\r\nbody of ${subject}\r\n`;
  }

  async withImap<T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> {
    const c = await imapConnect(this.imap, this.user);
    try {
      return await fn(c);
    } finally {
      await c.logout();
    }
  }

  /** APPENDs messages `${prefix} ${i}` for i in [from, to) over one connection. */
  append(mailbox: string, prefix: string, from: number, to: number): Promise<void> {
    return this.withImap(async (c) => {
      for (let i = from; i < to; i++) await c.append(mailbox, this.message(`${prefix} ${i}`));
    });
  }

  /** A mailbox of its own and a phone set up from scratch that has synced it. */
  async setUp(
    name: string,
    mailbox: string,
    profile: DeviceProfile = profiles.android,
  ): Promise<{ phone: Device; box: string }> {
    await this.withImap((c) => c.mailboxCreate(mailbox));
    const phone = new Device(this.server, this.user, profile, `${name}${this.run}`);
    await phone.provision();
    await phone.folderSync();
    const box = phone.folderNamed(mailbox)!;
    expect(box, `folder ${mailbox} on the phone`).toBeDefined();
    await phone.syncAll(box);
    return { phone, box };
  }

  /** The subjects Dovecot holds in a mailbox, sorted. */
  async subjectsIn(mailbox: string): Promise<string[]> {
    return (await imapMessages(this.imap, this.user, mailbox)).map((m) => m.subject).sort();
  }
}

/** The subjects the phone holds in a folder, sorted. */
export function subjectsOn(phone: Device, box: string): string[] {
  return [...phone.collection(box).items.values()].map((d) => findText(d, 'Subject') ?? '').sort();
}
