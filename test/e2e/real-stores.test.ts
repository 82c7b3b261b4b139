// easd as configured for a real site — mail on Dovecot, sending through SMTP as the user,
// contacts, calendars and tasks on Radicale — driven by a scripted phone with WBXML, asserting on
// the servers themselves. Uses the real test stack (no mocks).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openEasd, type Easd } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { appendMessage, imapConnect } from '../stack/dovecot.js';
import { readSpool } from '../stack/smtp.js';
import { el } from '../../wbxml/index.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';
import { phoneWithFolders } from './calendar-support.js';

const stack = inject('stack');
const alice = stack.users.find((u) => u.user === 'alice')!;
let easd: Easd;
let dataDir: string;
let phone: EasTestClient;
const folders = new Map<string, string>(); // Type → ServerId

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'easd-real-'));
  const config = loadConfig({
    EASD_DATA_DIR: dataDir,
    EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
    EASD_SMTP_URL: `smtp://${stack.smtp.host}:${stack.smtp.port}`,
    EASD_CARDDAV_URL: stack.dav.url,
    EASD_CALDAV_URL: stack.dav.url,
  });
  easd = await openEasd(config, pino({ level: 'silent' }));
  let shown;
  ({ phone, folders: shown } = await phoneWithFolders(easd.app, alice, `REAL${Date.now()}`));
  for (const [type, id] of shown) folders.set(type, id);
});
afterAll(async () => {
  await easd?.app.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function syncAll(collectionId: string): Promise<{ key: string; adds: ReturnType<typeof findAll> }> {
  const init = await phone.command(
    'Sync',
    `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${collectionId}</CollectionId></Collection></Collections></Sync>`,
  );
  let key = findText(init.doc, 'SyncKey')!;
  const adds: ReturnType<typeof findAll> = [];
  for (let i = 0; i < 50; i++) {
    const res = await phone.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${collectionId}</CollectionId><GetChanges/><WindowSize>100</WindowSize><Options><BodyPreference xmlns="AirSyncBase:"><Type>1</Type></BodyPreference></Options></Collection></Collections></Sync>`,
    );
    if (res.doc === undefined) break;
    key = findText(res.doc, 'SyncKey')!;
    adds.push(...findAll(res.doc, 'Add'));
    if (findAll(res.doc, 'MoreAvailable').length === 0) break;
  }
  return { key, adds };
}

describe('easd on Dovecot, SMTP and Radicale', () => {
  it("shows the IMAP account's folders with their special uses, and the address book", () => {
    for (const type of ['2', '3', '4', '5']) expect(folders.has(type), `folder type ${type}`).toBe(true);
    expect(folders.has('9') || folders.has('14')).toBe(true);
  });

  it('syncs a message delivered to the IMAP Inbox', async () => {
    const subject = `Real inbox ${Date.now()}`;
    await appendMessage(
      stack.imap,
      alice,
      'INBOX',
      `From: bob@easd.test\r\nTo: ${alice.email}\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\n\r\nHello from Dovecot\r\n`,
    );
    const { adds } = await syncAll(folders.get('2')!);
    const mine = adds.find((a) => findText(a, 'Subject') === subject);
    expect(mine).toBeDefined();
    expect(findText(mine, 'Data')).toContain('Hello from Dovecot');
  });

  it('finds a message APPENDed to the IMAP Inbox with Search, by a word in its body', async () => {
    const word = `quux${Date.now()}zz`;
    const subject = `Real search ${word}`;
    await appendMessage(
      stack.imap,
      alice,
      'INBOX',
      `From: bob@easd.test\r\nTo: ${alice.email}\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\n\r\nthe word is ${word}\r\n`,
    );
    const inbox = folders.get('2')!;
    const res = await phone.command(
      'Search',
      `<Search xmlns="Search:"><Store><Name>Mailbox</Name><Query><And><Class xmlns="AirSync:">Email</Class><CollectionId xmlns="AirSync:">${inbox}</CollectionId><FreeText>${word}</FreeText></And></Query><Options><Range>0-9</Range></Options></Store></Search>`,
    );
    const results = findAll(res.doc, 'Result');
    expect([
      findText(findAll(res.doc, 'Store')[0], 'Status'),
      findText(res.doc, 'Total'),
      results.length,
    ]).toEqual(['1', '1', 1]);
    expect([
      findText(results[0], 'Subject'),
      findText(results[0], 'LongId')?.startsWith(`${inbox}:`),
    ]).toEqual([subject, true]);
  });

  it('sends mail through SMTP as the user and files it in Sent on the IMAP server', async () => {
    const subject = `Real send ${Date.now()}`;
    const mime = `From: ${alice.email}\r\nTo: carol@easd.test\r\nSubject: ${subject}\r\nMessage-ID: <${Date.now()}.real@easd.test>\r\n\r\nsent from a phone\r\n`;
    const res = await phone.command(
      'SendMail',
      el(
        'ComposeMail',
        'SendMail',
        el('ComposeMail', 'ClientId', `real-${Date.now()}`),
        el('ComposeMail', 'SaveInSentItems'),
        el('ComposeMail', 'Mime', mime),
      ),
    );
    expect(res.status).toBe(200);
    const spooled = (await readSpool(stack.smtp.spoolDir)).find((m) => m.raw.toString().includes(subject));
    expect(spooled?.user).toBe(alice.user);
    expect(spooled?.rcptTo).toEqual(['carol@easd.test']);
    const client = await imapConnect(stack.imap, alice);
    try {
      const lock = await client.getMailboxLock('Sent');
      try {
        const found = await client.search({ subject });
        expect(found === false || found === undefined ? 0 : found.length).toBe(1);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  });

  it('adds a contact from the phone to the Radicale address book', async () => {
    const contacts = folders.get('9') ?? folders.get('14')!;
    const { key } = await syncAll(contacts);
    const name = `Realcontact${Date.now()}`;
    const res = await phone.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${contacts}</CollectionId><Commands><Add><ClientId>rc1</ClientId><ApplicationData><FirstName xmlns="Contacts:">Rita</FirstName><LastName xmlns="Contacts:">${name}</LastName><Email1Address xmlns="Contacts:">rita@example.com</Email1Address></ApplicationData></Add></Commands></Collection></Collections></Sync>`,
    );
    expect(findText(findAll(res.doc, 'Add')[0], 'Status')).toBe('1');
    // On the DAV server itself: a card with that name.
    const auth = 'Basic ' + Buffer.from(`${alice.user}:${alice.password}`).toString('base64');
    const hrefsIn = async (url: string): Promise<string[]> => {
      const res = await fetch(url, { method: 'PROPFIND', headers: { authorization: auth, depth: '1' } });
      return [...(await res.text()).matchAll(/<(?:[A-Za-z]+:)?href>([^<]+)<\//g)].map((m) => m[1]!);
    };
    const hrefs: string[] = [];
    for (const collection of await hrefsIn(`${stack.dav.url}${alice.user}/`)) {
      if (!collection.endsWith('/')) continue;
      for (const h of await hrefsIn(new URL(collection, stack.dav.url).toString()))
        if (h.endsWith('.vcf')) hrefs.push(h);
    }
    const cards = await Promise.all(
      hrefs.map(async (h) =>
        (await fetch(new URL(h, stack.dav.url), { headers: { authorization: auth } })).text(),
      ),
    );
    expect(cards.some((c) => c.includes(name) && c.includes('rita@example.com'))).toBe(true);
  });

  it('adds an event from the phone to a Radicale calendar as a VEVENT with its DTSTART', async () => {
    const calendar = folders.get('8')!;
    const { key } = await syncAll(calendar);
    const subject = `Realevent${Date.now()}`;
    const res = await phone.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${calendar}</CollectionId><Commands><Add><ClientId>re1</ClientId><ApplicationData><Subject xmlns="Calendar:">${subject}</Subject><StartTime xmlns="Calendar:">20300506T090000Z</StartTime><EndTime xmlns="Calendar:">20300506T100000Z</EndTime><AllDayEvent xmlns="Calendar:">0</AllDayEvent></ApplicationData></Add></Commands></Collection></Collections></Sync>`,
    );
    expect(findText(findAll(res.doc, 'Add')[0], 'Status')).toBe('1');
    // On the DAV server itself: a calendar object with that SUMMARY, starting at 09:00 UTC.
    const auth = 'Basic ' + Buffer.from(`${alice.user}:${alice.password}`).toString('base64');
    const hrefsIn = async (url: string): Promise<string[]> => {
      const res = await fetch(url, { method: 'PROPFIND', headers: { authorization: auth, depth: '1' } });
      return [...(await res.text()).matchAll(/<(?:[A-Za-z]+:)?href>([^<]+)<\//g)].map((m) => m[1]!);
    };
    const hrefs: string[] = [];
    for (const collection of await hrefsIn(`${stack.dav.url}${alice.user}/`)) {
      if (!collection.endsWith('/')) continue;
      for (const h of await hrefsIn(new URL(collection, stack.dav.url).toString()))
        if (h.endsWith('.ics')) hrefs.push(h);
    }
    const objects = await Promise.all(
      hrefs.map(async (h) =>
        (await fetch(new URL(h, stack.dav.url), { headers: { authorization: auth } })).text(),
      ),
    );
    const mine = objects.find((o) => o.includes(`SUMMARY:${subject}`));
    expect(mine).toMatch(/^BEGIN:VEVENT\r?$/m);
    expect(mine).toMatch(/^DTSTART:20300506T090000Z\r?$/m);
  });

  it('accepts an invitation APPENDed to the IMAP Inbox: a VEVENT on Radicale and an iTIP REPLY through SMTP', async () => {
    const uid = `real-invite-${Date.now()}@easd.test`;
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//easd test//EN',
      'METHOD:REQUEST',
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20300101T080000Z',
      'DTSTART:20300607T130000Z',
      'DTEND:20300607T140000Z',
      'SUMMARY:Real invitation',
      'ORGANIZER;CN=Olga:mailto:olga@elsewhere.test',
      `ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${alice.email}`,
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    await appendMessage(
      stack.imap,
      alice,
      'INBOX',
      `From: Olga <olga@elsewhere.test>\r\nTo: ${alice.email}\r\nSubject: Invitation: Real invitation\r\nDate: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n${ics}`,
    );
    const inbox = folders.get('2')!;
    const invite = (await syncAll(inbox)).adds.find((a) => findText(a, 'UID') === uid);
    expect(findText(invite, 'MessageClass')).toBe('IPM.Schedule.Meeting.Request');
    const res = await phone.command(
      'MeetingResponse',
      `<MeetingResponse xmlns="MeetingResponse:"><Request><UserResponse>1</UserResponse><CollectionId>${inbox}</CollectionId><RequestId>${findText(invite, 'ServerId')}</RequestId><SendResponse/></Request></MeetingResponse>`,
    );
    expect([
      findText(res.doc, 'Status'),
      findText(res.doc, 'CalendarId')?.startsWith(`${folders.get('8')}:`),
    ]).toEqual(['1', true]);
    const calendarAdds = (await syncAll(folders.get('8')!)).adds;
    expect(calendarAdds.map((a) => findText(a, 'ServerId'))).toContain(findText(res.doc, 'CalendarId'));
    const event = calendarAdds.find((a) => findText(a, 'UID') === uid);
    expect([findText(event, 'StartTime'), findText(event, 'ResponseType')]).toEqual([
      '20300607T130000Z',
      '3',
    ]);
    const reply = (await readSpool(stack.smtp.spoolDir)).find((m) => m.raw.toString().includes(uid));
    expect(reply?.rcptTo).toEqual(['olga@elsewhere.test']);
    expect(reply?.raw.toString()).toMatch(/METHOD:REPLY/);
  });

  it('refuses a wrong password with 401, as the IMAP server does', async () => {
    const intruder = EasTestClient.inject(easd.app, { user: alice.user, password: 'wrong', deviceId: 'X' });
    const res = await intruder.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    expect(res.status).toBe(401);
  });
});
