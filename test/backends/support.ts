// What the memory and router tests share: two users, the full capability claim, and an outside
// change made by mail from the other user.
import type { ConformanceContext, ConformanceOptions } from '../../backends/testkit/index.js';
import { createAccount } from '../../backends/memory/index.js';
import type { Backend } from '../../src/backend/contract.js';

export const signal = new AbortController().signal;
export const alice = { user: 'alice', password: 'alice-password-1' };
export const bob = { user: 'bob', password: 'bob-password-22' };

export const everyCapability: ConformanceOptions = {
  capabilities: {
    changes: true,
    watch: true,
    folders: true,
    mail: true,
    attachments: true,
    search: true,
    oof: true,
    emptyFolder: true,
    userInformation: true,
  },
  externalChanges: true,
};

export async function createTestUsers(dir: string): Promise<void> {
  await createAccount(dir, { ...alice, email: 'alice@example.org', displayName: 'Alice Liddell' });
  await createAccount(dir, { ...bob, email: 'bob@example.org' });
}

export function message(from: string, to: string, subject: string, extra = ''): Uint8Array {
  return new TextEncoder().encode(
    `From: ${from}\r\nTo: ${to}\r\n${extra}Subject: ${subject}\r\nDate: Mon, 03 Mar 2025 12:00:00 +0000\r\n\r\nHello\r\n`,
  );
}

/** An outside change for the kit: bob mails the account, so its Inbox changes without a call on it. */
export function mailFromBob(backend: Backend): NonNullable<ConformanceContext['injectExternalChange']> {
  return async (creds) => {
    const sender = await backend.authenticate(bob.user, bob.password, signal);
    const target = await backend.authenticate(creds.user, creds.password, signal);
    if (sender === null || target === null || backend.mail === undefined)
      throw new Error('test accounts or mail missing');
    await backend.mail.send(
      sender,
      message('bob@example.org', target.email, 'external change'),
      { saveInSent: false },
      signal,
    );
  };
}
