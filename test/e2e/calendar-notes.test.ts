// Notes (MS-ASNOTE) on Radicale through EAS: FolderSync shows the default memo list as a Notes
// folder (type 10); a phone's note lands as a VJOURNAL, another client's journal shows on the next
// Sync, a phone's Change and Delete reach the server. Real stack, no mocks.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Easd } from '../../src/app.js';
import { findAll, findText } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';
import { davObjects, openStackEasd, syncedPhone } from './calendar-support.js';

const stack = inject('stack');
const bob = stack.users.find((u) => u.user === 'bob')!;
const auth = 'Basic ' + Buffer.from(`${bob.user}:${bob.password}`).toString('base64');
let easd: Easd;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ easd, close } = await openStackEasd(stack));
});
afterAll(async () => {
  await close?.();
});

/** The journals in bob's collections, by href. */
async function journals(): Promise<Map<string, string>> {
  const all = await davObjects(stack.dav.url, bob);
  return new Map([...all].filter(([, t]) => /^BEGIN:VJOURNAL\r?$/m.test(t)));
}

describe.each(['14.1', '16.1'])('notes on Radicale through EAS %s', (version) => {
  it('syncs notes both ways: phone Add → VJOURNAL, server journal → Add, phone Change and Delete', async () => {
    const phone = await syncedPhone(easd.app, bob, version, '10');
    const sync = phone.sync;

    // the phone adds a note
    const subject = `Note ${version} ${Date.now()}`;
    const added = await sync(
      `<Commands><Add><ClientId>n1</ClientId><ApplicationData><Subject xmlns="Notes:">${subject}</Subject><Body xmlns="AirSyncBase:"><Type>1</Type><Data>buy milk</Data></Body><MessageClass xmlns="Notes:">IPM.StickyNote</MessageClass><Categories xmlns="Notes:"><Category>Home</Category></Categories></ApplicationData></Add></Commands>`,
    );
    const add = findAll(added, 'Add')[0];
    expect(findText(add, 'Status')).toBe('1');
    const serverId = findText(add, 'ServerId')!;
    const stored = [...(await journals()).entries()].find(([, t]) => t.includes(`SUMMARY:${subject}`));
    expect(stored?.[1]).toMatch(/^DESCRIPTION:buy milk\r?$/m);
    expect(stored?.[1]).toMatch(/^CATEGORIES:Home\r?$/m);

    // another client writes a journal into the same memo list
    const href = stored![0];
    const theirs = `${subject} from Evolution`;
    const put = await fetch(new URL(href.replace(/[^/]+$/, `other-${Date.now()}.ics`), stack.dav.url), {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'text/calendar; charset=utf-8' },
      body: [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//Ximian//NONSGML Evolution Calendar//EN',
        'BEGIN:VJOURNAL',
        `UID:other-${Date.now()}@workstation`,
        'DTSTAMP:20261101T090000Z',
        'LAST-MODIFIED:20261101T090000Z',
        `SUMMARY:${theirs}`,
        'DESCRIPTION:written elsewhere',
        'END:VJOURNAL',
        'END:VCALENDAR',
        '',
      ].join('\r\n'),
    });
    expect(put.status).toBe(201);
    const got = await sync(
      '<GetChanges/><WindowSize>100</WindowSize><Options><BodyPreference xmlns="AirSyncBase:"><Type>1</Type></BodyPreference></Options>',
    );
    const other = findAll(got, 'Add').find((a) => findText(a, 'Subject') === theirs);
    expect([
      findText(other, 'Data'),
      findText(other, 'MessageClass'),
      findText(other, 'LastModifiedDate'),
    ]).toEqual(['written elsewhere', 'IPM.StickyNote', '20261101T090000Z']);

    // the phone changes its note, then deletes it
    await sync(
      `<Commands><Change><ServerId>${serverId}</ServerId><ApplicationData><Subject xmlns="Notes:">${subject} (edited)</Subject><Body xmlns="AirSyncBase:"><Type>1</Type><Data>buy oat milk</Data></Body><MessageClass xmlns="Notes:">IPM.StickyNote</MessageClass></ApplicationData></Change></Commands>`,
    );
    const edited = (await journals()).get(href);
    expect(edited).toContain(`SUMMARY:${subject} (edited)`);
    expect(edited).toMatch(/^DESCRIPTION:buy oat milk\r?$/m);
    expect(edited).not.toContain('CATEGORIES');
    await sync(`<Commands><Delete><ServerId>${serverId}</ServerId></Delete></Commands>`);
    expect((await journals()).has(href)).toBe(false);
  });

  it('FolderCreate Type 17 makes a VJOURNAL-only collection on Radicale, listed as a user Notes folder', async () => {
    const phone = await syncedPhone(easd.app, bob, version, '10');
    const fs = await phone.client.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    const name = `Ideas ${version} ${Date.now()}`;
    const created = await phone.client.command(
      'FolderCreate',
      `<FolderCreate xmlns="FolderHierarchy:"><SyncKey>${findText(fs.doc, 'SyncKey')}</SyncKey><ParentId>0</ParentId><DisplayName>${name}</DisplayName><Type>17</Type></FolderCreate>`,
    );
    await validateEasResponse(created.doc!, 'FolderCreate');
    expect(findText(created.doc, 'Status')).toBe('1');
    const listing = await fetch(`${stack.dav.url}${bob.user}/`, {
      method: 'PROPFIND',
      headers: { authorization: auth, depth: '1', 'content-type': 'application/xml' },
      body: '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><displayname/><supported-calendar-component-set xmlns="urn:ietf:params:xml:ns:caldav"/></prop></propfind>',
    });
    const mine = (await listing.text()).split(/<(?:[A-Za-z]+:)?response>/).find((r) => r.includes(name));
    expect(mine).toMatch(/name="VJOURNAL"/);
    expect(mine).not.toMatch(/name="VEVENT"|name="VTODO"/);
    const again = await phone.client.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    const listed = findAll(again.doc, 'Add').find((f) => findText(f, 'DisplayName') === name);
    expect([findText(listed, 'Type'), findText(listed, 'ServerId')]).toEqual([
      '17',
      findText(created.doc, 'ServerId'),
    ]);
  });
});
