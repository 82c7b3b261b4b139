// Smoke tests of the real test stack: each service answers, lets a test user in, keeps a wrong
// password out, and has the features easd's backends rely on.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { DOMParser } from '@xmldom/xmldom';
import { createClient } from '@redis/client';
import nodemailer from 'nodemailer';
import { describe, expect, inject, it } from 'vitest';
import { appendMessage, imapConnect, PUSH_NOTIFICATION_PLUGIN, SPECIAL_USE_MAILBOXES } from './dovecot.js';
import { readSpool } from './smtp.js';
import type { TestUser } from './users.js';

const stack = inject('stack');

function user(i: number): TestUser {
  const u = stack.users[i];
  if (!u) throw new Error(`no test user ${i}`);
  return u;
}
const alice = user(0);
const bob = user(1);

describe('stack shape', () => {
  it('has three users shared by all services', () => {
    expect(stack.users.map((u) => u.user)).toEqual(['alice', 'bob', 'carol']);
    for (const u of stack.users) expect(u.email).toBe(`${u.user}@easd.test`);
  });

  it('listens on loopback only', () => {
    expect(stack.imap.host).toBe('127.0.0.1');
    expect(stack.smtp.host).toBe('127.0.0.1');
    expect(new URL(stack.dav.url).hostname).toBe('127.0.0.1');
    expect(new URL(stack.redis.url).hostname).toBe('127.0.0.1');
    expect(stack.smtp.spoolDir.startsWith(stack.tmpDir)).toBe(true);
  });
});

describe('Dovecot (IMAP)', () => {
  it('logs in and advertises CONDSTORE, QRESYNC, IDLE, NOTIFY and SPECIAL-USE', async () => {
    const client = await imapConnect(stack.imap, alice, { qresync: true });
    try {
      for (const cap of [
        'IMAP4rev1',
        'CONDSTORE',
        'QRESYNC',
        'IDLE',
        'NOTIFY',
        'SPECIAL-USE',
        'UIDPLUS',
        'MOVE',
      ]) {
        expect(client.capabilities.has(cap), cap).toBe(true);
      }
      expect(client.enabled.has('QRESYNC')).toBe(true);
    } finally {
      await client.logout();
    }
  });

  it('creates the special-use mailboxes flagged by the server', async () => {
    const client = await imapConnect(stack.imap, bob);
    try {
      const list = await client.list();
      for (const [name, flag] of Object.entries(SPECIAL_USE_MAILBOXES)) {
        const box = list.find((b) => b.path === name);
        expect(box, name).toBeDefined();
        expect(box?.specialUse).toBe(flag);
        expect(box?.specialUseSource).toBe('extension');
        expect(box?.subscribed).toBe(true);
      }
      expect(list.some((b) => b.path === 'INBOX')).toBe(true);
    } finally {
      await client.logout();
    }
  });

  it('appends a message with the helper and reads it back with a MODSEQ', async () => {
    const subject = `stack smoke ${randomUUID()}`;
    const raw = `From: ${bob.email}\r\nTo: ${alice.email}\r\nSubject: ${subject}\r\n\r\nhello\r\n`;
    const { uid, uidValidity } = await appendMessage(stack.imap, alice, 'INBOX', raw, ['\\Seen']);
    expect(uid).toBeGreaterThan(0);
    expect(uidValidity).toBeGreaterThan(0n);

    const client = await imapConnect(stack.imap, alice, { qresync: true });
    try {
      const box = await client.mailboxOpen('INBOX', { readOnly: true });
      expect(box.highestModseq).toBeGreaterThan(0n);
      const msg = await client.fetchOne(String(uid), { envelope: true, flags: true }, { uid: true });
      expect(msg && msg.envelope?.subject).toBe(subject);
      expect(msg && msg.flags?.has('\\Seen')).toBe(true);
      expect(msg && msg.modseq).toBeGreaterThan(0n);
    } finally {
      await client.logout();
    }
  });

  it('has the push_notification plugin available (not loaded)', () => {
    expect(existsSync(PUSH_NOTIFICATION_PLUGIN)).toBe(true);
  });

  it('refuses a wrong password', async () => {
    await expect(imapConnect(stack.imap, { user: 'alice', password: 'wrong' })).rejects.toMatchObject({
      authenticationFailed: true,
    });
  });
});

describe('Radicale (CalDAV/CardDAV)', () => {
  const basic = (u: Pick<TestUser, 'user' | 'password'>): string =>
    'Basic ' + Buffer.from(`${u.user}:${u.password}`).toString('base64');

  function dav(
    method: string,
    path: string,
    u: Pick<TestUser, 'user' | 'password'>,
    body?: string,
    depth?: string,
  ) {
    const headers: Record<string, string> = { Authorization: basic(u) };
    if (body !== undefined) headers['Content-Type'] = 'application/xml; charset=utf-8';
    if (depth !== undefined) headers['Depth'] = depth;
    return fetch(new URL(path, stack.dav.url), { method, headers, body });
  }

  const propfindBody =
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:displayname/></D:prop></D:propfind>';

  it('answers PROPFIND on the user home', async () => {
    const res = await dav('PROPFIND', `${alice.user}/`, alice, propfindBody, '0');
    expect(res.status).toBe(207);
    expect(await res.text()).toContain(`/${alice.user}/`);
  });

  it('creates an address book and a calendar and lists them', async () => {
    const book = `book-${randomUUID()}`;
    const cal = `cal-${randomUUID()}`;
    const mkcol = await dav(
      'MKCOL',
      `${alice.user}/${book}/`,
      alice,
      '<?xml version="1.0" encoding="utf-8"?>' +
        '<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>' +
        '<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Smoke book</D:displayname>' +
        '</D:prop></D:set></D:mkcol>',
    );
    expect(mkcol.status).toBe(201);
    const mkcal = await dav(
      'MKCALENDAR',
      `${alice.user}/${cal}/`,
      alice,
      '<?xml version="1.0" encoding="utf-8"?>' +
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>' +
        '<D:displayname>Smoke calendar</D:displayname>' +
        '<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>' +
        '</D:prop></D:set></C:mkcalendar>',
    );
    expect(mkcal.status).toBe(201);

    const res = await dav('PROPFIND', `${alice.user}/`, alice, propfindBody, '1');
    expect(res.status).toBe(207);
    const doc = new DOMParser().parseFromString(await res.text(), 'application/xml');
    const kinds = new Map<string, string[]>();
    for (const r of Array.from(doc.getElementsByTagNameNS('DAV:', 'response'))) {
      const href = r.getElementsByTagNameNS('DAV:', 'href')[0]?.textContent ?? '';
      const types = r.getElementsByTagNameNS('DAV:', 'resourcetype')[0];
      kinds.set(
        href,
        types
          ? Array.from(types.childNodes).flatMap((n) => (n.nodeType === 1 ? [n.localName ?? ''] : []))
          : [],
      );
    }
    expect(kinds.get(`/${alice.user}/${book}/`)).toEqual(
      expect.arrayContaining(['collection', 'addressbook']),
    );
    expect(kinds.get(`/${alice.user}/${cal}/`)).toEqual(expect.arrayContaining(['collection', 'calendar']));
  });

  it("keeps another user out of a user's home (owner_only)", async () => {
    const res = await dav('PROPFIND', `${alice.user}/`, bob, propfindBody, '0');
    expect([403, 404]).toContain(res.status);
  });

  it('refuses a wrong password', async () => {
    const res = await dav(
      'PROPFIND',
      `${alice.user}/`,
      { user: alice.user, password: 'wrong' },
      propfindBody,
      '0',
    );
    expect(res.status).toBe(401);
  });
});

describe('Redis', () => {
  it('answers PING, SET and GET', async () => {
    const client = createClient({ url: stack.redis.url });
    await client.connect();
    try {
      expect(await client.ping()).toBe('PONG');
      const key = `smoke:${randomUUID()}`;
      expect(await client.set(key, 'value')).toBe('OK');
      expect(await client.get(key)).toBe('value');
    } finally {
      await client.close();
    }
  });
});

describe('SMTP receiver', () => {
  const transport = (auth?: { user: string; pass: string }) =>
    nodemailer.createTransport({
      host: stack.smtp.host,
      port: stack.smtp.port,
      secure: false,
      ignoreTLS: true,
      auth,
    });

  it('accepts a message with AUTH and records it in the spool', async () => {
    const messageId = `<${randomUUID()}@easd.test>`;
    const t = transport({ user: alice.user, pass: alice.password });
    try {
      await t.sendMail({
        from: alice.email,
        to: [bob.email, user(2).email],
        subject: 'stack smoke',
        text: 'hello',
        messageId,
      });
    } finally {
      t.close();
    }
    const got = (await readSpool(stack.smtp.spoolDir)).find((m) =>
      m.raw.toString('utf8').includes(messageId),
    );
    expect(got).toBeDefined();
    expect(got?.mailFrom).toBe(alice.email);
    expect(got?.rcptTo).toEqual([bob.email, user(2).email]);
    expect(got?.user).toBe(alice.user);
    expect(got?.raw.toString('utf8')).toContain('Subject: stack smoke');
  });

  it('refuses a wrong password', async () => {
    const t = transport({ user: alice.user, pass: 'wrong' });
    try {
      await expect(t.sendMail({ from: alice.email, to: bob.email, text: 'x' })).rejects.toMatchObject({
        code: 'EAUTH',
        responseCode: 535,
      });
    } finally {
      t.close();
    }
  });

  it('refuses mail without AUTH', async () => {
    const t = transport();
    try {
      await expect(t.sendMail({ from: alice.email, to: bob.email, text: 'x' })).rejects.toMatchObject({
        responseCode: 530,
      });
    } finally {
      t.close();
    }
  });
});
