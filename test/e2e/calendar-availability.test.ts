// ResolveRecipients Availability on the stack's Radicale: a 16.1 phone puts a morning on its
// calendar (real WBXML Sync Adds: busy, tentative, out of office, free, a daily series from the
// day before; another client adds an event whose rule cannot be expanded, which is skipped), then
// asks for its own free/busy. Radicale 3.1 answers free-busy-query with a plain
// multistatus, so easd reads the window's events by calendar-query and expands them itself; the
// answer is schema-checked and each 30-minute digit is what the phone wrote.
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Easd } from '../../src/app.js';
import { findAll, findText } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';
import { openStackEasd, putIcs, syncedPhone } from './calendar-support.js';

const stack = inject('stack');
const bob = stack.users.find((u) => u.user === 'bob')!;
const me = `${bob.user}@${stack.imap.host}`;
let easd: Easd;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ easd, close } = await openStackEasd(stack));
});
afterAll(async () => {
  await close?.();
});

describe('Availability from the Radicale calendars', () => {
  it("the user's own MergedFreeBusy: busy, tentative, out of office, free, and a daily series", async () => {
    const phone = await syncedPhone(easd.app, bob, '16.1', '8');
    // a day of its own in 2034, so other runs' events on this Radicale are not in the window
    const day = new Date(Date.UTC(2034, 0, 1) + randomInt(0, 300) * 86_400_000);
    const ymd = day.toISOString().slice(0, 10).replace(/-/g, '');
    const dayBefore = new Date(day.getTime() - 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    const event = (
      id: string,
      subject: string,
      start: string,
      end: string,
      busy: number,
      extra = '',
    ): string =>
      `<Add><ClientId>${id}</ClientId><ApplicationData><Subject xmlns="Calendar:">${subject}</Subject><StartTime xmlns="Calendar:">${start}</StartTime><EndTime xmlns="Calendar:">${end}</EndTime><AllDayEvent xmlns="Calendar:">0</AllDayEvent><BusyStatus xmlns="Calendar:">${busy}</BusyStatus>${extra}</ApplicationData></Add>`;
    const added = await phone.sync(
      `<Commands>${[
        event('a1', 'Busy', `${ymd}T090000Z`, `${ymd}T100000Z`, 2),
        event('a2', 'Maybe', `${ymd}T100000Z`, `${ymd}T103000Z`, 1),
        event('a3', 'Away', `${ymd}T110000Z`, `${ymd}T120000Z`, 3),
        event('a4', 'Free', `${ymd}T120000Z`, `${ymd}T130000Z`, 0),
        // daily at 07:30 for three days from the day before: one occurrence in the window
        event(
          'a5',
          'Standup',
          `${dayBefore}T073000Z`,
          `${dayBefore}T080000Z`,
          2,
          '<Recurrence xmlns="Calendar:"><Type>0</Type><Interval>1</Interval><Occurrences>3</Occurrences></Recurrence>',
        ),
      ].join('')}</Commands>`,
    );
    expect(findAll(added, 'Add').map((a) => findText(a, 'Status'))).toEqual(['1', '1', '1', '1', '1']);
    // another client's event whose rule ical.js cannot expand: Radicale stores it,
    // easd skips it as unreadable instead of failing the answer (review finding 7)
    const uid = `bad-rule-${ymd}-${randomInt(1e9)}`;
    expect(
      await putIcs(stack.dav.url, bob, 'calendar', uid, [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//other client//EN',
        'BEGIN:VEVENT',
        `UID:${uid}`,
        'DTSTAMP:20260101T000000Z',
        `DTSTART:${ymd}T080000Z`,
        `DTEND:${ymd}T083000Z`,
        // RFC 5545 3.3.10: BYMONTHDAY is not for WEEKLY rules; dateutil expands it, ical.js throws
        `RRULE:FREQ=WEEKLY;BYMONTHDAY=${day.getUTCDate()}`,
        'SUMMARY:Weekly on a day of the month',
        'END:VEVENT',
        'END:VCALENDAR',
      ]),
    ).toBe(201);

    const iso = day.toISOString().slice(0, 10);
    const res = await phone.client.command(
      'ResolveRecipients',
      `<ResolveRecipients xmlns="ResolveRecipients:"><To>${me}</To><Options><Availability><StartTime>${iso}T07:00:00.000Z</StartTime><EndTime>${iso}T13:00:00.000Z</EndTime></Availability></Options></ResolveRecipients>`,
    );
    expect(res.status).toBe(200);
    await validateEasResponse(res.doc!, 'ResolveRecipients');
    const recipient = findAll(res.doc, 'Recipient')[0];
    expect(findText(recipient, 'EmailAddress')).toBe(me);
    const availability = findAll(recipient, 'Availability')[0];
    // 07:00 07:30 … 12:30: the standup, two busy, tentative, two out of office; free is free
    expect([findText(availability, 'Status'), findText(availability, 'MergedFreeBusy')]).toEqual([
      '1',
      '020022103300',
    ]);
  });
});
