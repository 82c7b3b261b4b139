// A series whose RRULE EAS cannot express (MS-ASCAL 2.2.2.38 has six pattern types; RFC 5545 has
// BYSETPOS lists, several BYMONTHDAYs, BYHOUR …), written by another client on Radicale: phones
// see its first occurrence as a single event, and their edits — a 14.1 Change that resends the
// whole item without Recurrence, a 16.1 Change of one field — never remove the rule, its EXDATE or
// its overridden instance. Real stack, no mocks.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Easd } from '../../src/app.js';
import { findAll, findText } from '../support/eas-client.js';
import { davObjects, openStackEasd, putIcs, syncedPhone } from './calendar-support.js';

const stack = inject('stack');
const bob = stack.users.find((u) => u.user === 'bob')!;
let easd: Easd;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ easd, close } = await openStackEasd(stack));
});
afterAll(async () => {
  await close?.();
});

describe.each([
  ['14.1', 'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1'],
  ['16.1', 'FREQ=MONTHLY;BYMONTHDAY=1,15;BYHOUR=8,17'],
])('an inexpressible rule on Radicale, edited from a %s phone', (version, rule) => {
  it('shows one event; the edits keep RRULE, EXDATE and the overridden instance', async () => {
    const phone = await syncedPhone(easd.app, bob, version, '8');
    const uid = `rule-${version}-${Date.now()}@elsewhere.test`;
    const subject = `Rule ${version} ${Date.now()}`;
    const status = await putIcs(stack.dav.url, bob, 'calendar', uid, [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//elsewhere//EN',
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20260101T000000Z',
      'DTSTART:20310101T080000Z',
      'DTEND:20310101T083000Z',
      `RRULE:${rule}`,
      'EXDATE:20310131T080000Z',
      `SUMMARY:${subject}`,
      'END:VEVENT',
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20260101T000000Z',
      'RECURRENCE-ID:20310203T080000Z',
      'DTSTART:20310203T100000Z',
      'DTEND:20310203T103000Z',
      `SUMMARY:${subject} (moved)`,
      'END:VEVENT',
      'END:VCALENDAR',
    ]);
    expect(status).toBe(201);
    const synced = await phone.sync(
      '<GetChanges/><WindowSize>100</WindowSize><Options><BodyPreference xmlns="AirSyncBase:"><Type>1</Type></BodyPreference></Options>',
    );
    const event = findAll(synced, 'Add').find((a) => findText(a, 'Subject') === subject);
    expect(findText(event, 'StartTime')).toBe('20310101T080000Z');
    expect(findAll(event, 'Recurrence')).toEqual([]);
    const serverId = findText(event, 'ServerId')!;

    // the phone renames it and adds a reminder: a 14.1 Change is the whole item, 16.1 only the change
    const data =
      version === '14.1'
        ? `<Timezone xmlns="Calendar:">${findText(event, 'Timezone')}</Timezone><Subject xmlns="Calendar:">${subject} renamed</Subject><StartTime xmlns="Calendar:">20310101T080000Z</StartTime><EndTime xmlns="Calendar:">20310101T083000Z</EndTime><AllDayEvent xmlns="Calendar:">0</AllDayEvent><Reminder xmlns="Calendar:">10</Reminder><DtStamp xmlns="Calendar:">20310101T000000Z</DtStamp><UID xmlns="Calendar:">${uid}</UID>`
        : `<Subject xmlns="Calendar:">${subject} renamed</Subject><Reminder xmlns="Calendar:">10</Reminder>`;
    const changed = await phone.sync(
      `<Commands><Change><ServerId>${serverId}</ServerId><ApplicationData>${data}</ApplicationData></Change></Commands>`,
    );
    expect(findAll(changed, 'Change').map((c) => findText(c, 'Status'))).toEqual([]);

    const stored = [...(await davObjects(stack.dav.url, bob)).values()].find((t) =>
      t.includes(`UID:${uid}`),
    )!;
    expect(stored).toContain(`SUMMARY:${subject} renamed`);
    expect(stored).toMatch(/^TRIGGER[^:\r\n]*:-PT10M\r?$/m);
    expect(stored).toContain(`RRULE:${rule}\r\n`);
    expect(stored).toMatch(/^EXDATE[^:\r\n]*:20310131T080000Z\r?$/m);
    expect(stored).toMatch(/^RECURRENCE-ID[^:\r\n]*:20310203T080000Z\r?$/m);
    expect(stored).toContain(`SUMMARY:${subject} (moved)`);
  });
});
