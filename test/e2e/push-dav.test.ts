// Direct Push for contacts and calendars (issue 6): CardDAV and CalDAV have no push of their own,
// so while a Ping is held on such a folder easd looks at it again every EASD_DAV_POLL seconds
// (one sync-token/ctag request). Real Dovecot for mail (whose watch runs meanwhile) and Radicale.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Easd } from '../../src/app.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';
import { openStackEasd, phoneWithFolders, putIcs } from './calendar-support.js';
import { HELD, pingStatus, within } from './push-phone.js';

const stack = inject('stack');
const bob = stack.users.find((u) => u.user === 'bob')!;
const authorization = 'Basic ' + Buffer.from(`${bob.user}:${bob.password}`).toString('base64');
let easd: Easd;
let close: () => Promise<void>;
let phone: EasTestClient;
let folders: Map<string, string>; // Type → ServerId

beforeAll(async () => {
  ({ easd, close } = await openStackEasd(stack, { carddav: true, env: { EASD_DAV_POLL: '1' } }));
  ({ phone, folders } = await phoneWithFolders(easd.app, bob, `PUSHDAV${Date.now()}`));
});
afterAll(async () => close?.());

/** Syncs a collection up to date, so that a Ping on it has nothing to report. */
async function syncUp(collectionId: string): Promise<void> {
  let key = '0';
  for (let i = 0; i < 20; i++) {
    const res = await phone.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${collectionId}</CollectionId>${key === '0' ? '' : '<GetChanges/><WindowSize>100</WindowSize>'}</Collection></Collections></Sync>`,
    );
    if (res.doc === undefined) return;
    await validateEasResponse(res.doc, 'Sync');
    key = findText(res.doc, 'SyncKey')!;
    if (i > 0 && findAll(res.doc, 'MoreAvailable').length === 0) return;
  }
}

const ping = (ids: readonly string[]) =>
  phone.command(
    'Ping',
    `<Ping xmlns="Ping:"><HeartbeatInterval>600</HeartbeatInterval><Folders>${ids
      .map(
        (id) =>
          `<Folder><Id>${id}</Id><Class>${id === folders.get('9') ? 'Contacts' : 'Calendar'}</Class></Folder>`,
      )
      .join('')}</Folders></Ping>`,
  );

/** The href of bob's address book on Radicale. */
async function addressBook(): Promise<string> {
  const res = await fetch(`${stack.dav.url}${bob.user}/`, {
    method: 'PROPFIND',
    headers: { authorization, depth: '1', 'content-type': 'application/xml' },
    body: '<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>',
  });
  const xml = await res.text();
  for (const response of xml.split(/<(?:[A-Za-z]+:)?response>/).slice(1)) {
    if (/addressbook/i.test(response)) return /<(?:[A-Za-z]+:)?href>([^<]+)</.exec(response)![1]!;
  }
  throw new Error('bob has no address book on Radicale');
}

it('a Ping held on Contacts is answered when another CardDAV client adds a contact', async () => {
  const contacts = folders.get('9')!;
  await syncUp(contacts);
  const held = ping([contacts]);
  // held: nothing changed yet, and no heartbeat for ten minutes
  expect(await within(held, 1500)).toBe(HELD);
  const uid = `pushdav-${Date.now()}`;
  const put = await fetch(new URL(`${await addressBook()}${uid}.vcf`, stack.dav.url), {
    method: 'PUT',
    headers: { authorization, 'content-type': 'text/vcard; charset=utf-8' },
    body: `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:Pushed Person\r\nN:Person;Pushed;;;\r\nEND:VCARD\r\n`,
  });
  expect(put.status).toBe(201);
  const reply = await within(held, 30_000);
  expect(reply).not.toBe(HELD);
  if (reply === HELD) return;
  expect(await pingStatus(reply)).toEqual({ status: '2', folders: [contacts] });
});

it('a Ping held on Inbox and Calendar is answered with the Calendar when an event is put on Radicale', async () => {
  const calendar = folders.get('8')!;
  const inbox = folders.get('2')!;
  await syncUp(calendar);
  await syncUp(inbox);
  const held = phone.command(
    'Ping',
    `<Ping xmlns="Ping:"><HeartbeatInterval>600</HeartbeatInterval><Folders><Folder><Id>${inbox}</Id><Class>Email</Class></Folder><Folder><Id>${calendar}</Id><Class>Calendar</Class></Folder></Folders></Ping>`,
  );
  expect(await within(held, 1500)).toBe(HELD);
  const uid = `pushdav-ev-${Date.now()}`;
  const status = await putIcs(stack.dav.url, bob, 'calendar', uid, [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//test//push-dav//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20301201T090000Z',
    'DTSTART:20301202T090000Z',
    'DTEND:20301202T100000Z',
    'SUMMARY:Pushed event',
    'END:VEVENT',
    'END:VCALENDAR',
  ]);
  expect(status).toBe(201);
  const reply = await within(held, 30_000);
  expect(reply).not.toBe(HELD);
  if (reply === HELD) return;
  expect(await pingStatus(reply)).toEqual({ status: '2', folders: [calendar] });
});

it('leaves no listener once the Pings ended, and no watch or poll once the hub closed', async () => {
  expect(easd.hub.stats()).toMatchObject({ listeners: 0, claims: 0 });
  await easd.hub.close();
  expect(easd.hub.stats()).toEqual({ users: 0, listeners: 0, claims: 0, watchers: 0, pollers: 0 });
});
