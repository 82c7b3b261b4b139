// MeetingResponse on one occurrence (16.x InstanceId) of a recurring meeting kept on Radicale:
// declining one occurrence leaves an EXDATE, accepting another an overridden instance with the
// user's PARTSTAT, each REPLY carries the RECURRENCE-ID and reaches the stack's SMTP receiver.
// Real stack, no mocks.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Easd } from '../../src/app.js';
import type { WbxmlElement } from '../../wbxml/index.js';
import { readSpool } from '../stack/smtp.js';
import { findAll, findText } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';
import { davObjects, openStackEasd, putIcs, syncedPhone, unfold } from './calendar-support.js';

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const me = `${carol.user}@${stack.imap.host}`;
let easd: Easd;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ easd, close } = await openStackEasd(stack, { smtp: true }));
});
afterAll(async () => {
  await close?.();
});

describe('MeetingResponse with InstanceId on Radicale', () => {
  it('declines one occurrence (EXDATE) and accepts another (RECURRENCE-ID override), replying for each', async () => {
    const phone = await syncedPhone(easd.app, carol, '16.1', '8');
    const uid = `weekly-${Date.now()}@elsewhere.test`;
    const subject = `Weekly review ${Date.now()}`;
    expect(
      await putIcs(stack.dav.url, carol, 'calendar', uid, [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//elsewhere//EN',
        'BEGIN:VEVENT',
        `UID:${uid}`,
        'DTSTAMP:20260101T000000Z',
        'DTSTART:20310106T090000Z',
        'DTEND:20310106T100000Z',
        'RRULE:FREQ=WEEKLY;COUNT=8',
        `SUMMARY:${subject}`,
        'SEQUENCE:2',
        'ORGANIZER;CN=Erin:mailto:erin@elsewhere.test',
        `ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${me}`,
        'ATTENDEE;PARTSTAT=ACCEPTED:mailto:frank@elsewhere.test',
        'END:VEVENT',
        'END:VCALENDAR',
      ]),
    ).toBe(201);
    const synced = await phone.sync('<GetChanges/><WindowSize>100</WindowSize>');
    const item = findAll(synced, 'Add').find((a) => findText(a, 'UID') === uid);
    expect(findText(item, 'MeetingStatus')).toBe('3');
    const serverId = findText(item, 'ServerId')!;

    const respond = async (response: number, instance: string): Promise<WbxmlElement | undefined> => {
      const res = await phone.client.command(
        'MeetingResponse',
        `<MeetingResponse xmlns="MeetingResponse:"><Request><UserResponse>${response}</UserResponse><CollectionId>${phone.collectionId}</CollectionId><RequestId>${serverId}</RequestId><InstanceId>${instance}</InstanceId><SendResponse/></Request></MeetingResponse>`,
      );
      await validateEasResponse(res.doc!, 'MeetingResponse');
      return res.doc;
    };
    const declined = await respond(3, '2031-01-13T09:00:00.000Z');
    expect([findText(declined, 'Status'), findText(declined, 'InstanceId')]).toEqual([
      '1',
      '2031-01-13T09:00:00.000Z',
    ]);
    const accepted = await respond(1, '2031-01-20T09:00:00.000Z');
    expect(findText(accepted, 'Status')).toBe('1');
    expect(findText(accepted, 'CalendarId')).toBe(serverId);

    // on Radicale: the series keeps its rule, one EXDATE, one override accepted by the user
    const stored = [...(await davObjects(stack.dav.url, carol)).values()].find((t) =>
      t.includes(`UID:${uid}`),
    )!;
    expect(stored).toMatch(/^RRULE:FREQ=WEEKLY;COUNT=8\r?$/m);
    expect(stored).toMatch(/^EXDATE[^:\r\n]*:20310113T090000Z?\r?$/m);
    const override = stored.split('BEGIN:VEVENT').find((v) => /RECURRENCE-ID/.test(v));
    expect(override).toMatch(/^RECURRENCE-ID[^:\r\n]*:20310120T090000Z?\r?$/m);
    expect(override).toMatch(
      new RegExp(
        `^ATTENDEE[^\\r\\n]*PARTSTAT=ACCEPTED[^\\r\\n]*:mailto:${me.replace(/\./g, '\\.')}\\r?$`,
        'm',
      ),
    );

    // two REPLYs to Erin, each naming its occurrence
    const replies = (await readSpool(stack.smtp.spoolDir))
      .map((m) => ({ m, text: unfold(m.raw.toString()) }))
      .filter(({ text }) => text.includes(`UID:${uid}`))
      .sort((a, b) => a.m.id - b.m.id);
    expect(replies.map(({ m }) => m.rcptTo)).toEqual([['erin@elsewhere.test'], ['erin@elsewhere.test']]);
    expect(replies[0]!.text).toMatch(/^RECURRENCE-ID:20310113T090000Z\r?$/m);
    expect(replies[0]!.text).toMatch(/PARTSTAT=DECLINED/);
    expect(replies[1]!.text).toMatch(/^RECURRENCE-ID:20310120T090000Z\r?$/m);
    expect(replies[1]!.text).toMatch(/PARTSTAT=ACCEPTED/);
    expect(replies[1]!.text).toMatch(/^SEQUENCE:2\r?$/m);
  });

  it('answers Status 2 for an InstanceId on a meeting that does not repeat', async () => {
    const phone = await syncedPhone(easd.app, carol, '16.1', '8');
    const uid = `single-${Date.now()}@elsewhere.test`;
    expect(
      await putIcs(stack.dav.url, carol, 'calendar', uid, [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//elsewhere//EN',
        'BEGIN:VEVENT',
        `UID:${uid}`,
        'DTSTAMP:20260101T000000Z',
        'DTSTART:20310107T090000Z',
        'DTEND:20310107T100000Z',
        'SUMMARY:Once',
        'ORGANIZER:mailto:erin@elsewhere.test',
        `ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:${me}`,
        'END:VEVENT',
        'END:VCALENDAR',
      ]),
    ).toBe(201);
    const synced = await phone.sync('<GetChanges/><WindowSize>100</WindowSize>');
    const serverId = findText(
      findAll(synced, 'Add').find((a) => findText(a, 'UID') === uid),
      'ServerId',
    )!;
    const res = await phone.client.command(
      'MeetingResponse',
      `<MeetingResponse xmlns="MeetingResponse:"><Request><UserResponse>1</UserResponse><CollectionId>${phone.collectionId}</CollectionId><RequestId>${serverId}</RequestId><InstanceId>2031-01-07T09:00:00.000Z</InstanceId></Request></MeetingResponse>`,
    );
    await validateEasResponse(res.doc!, 'MeetingResponse');
    expect(findText(res.doc, 'Status')).toBe('2');
  });
});
