// MeetingRequest from an invitation's text/calendar part (MS-ASEMAIL 2.2.2.48), on invitations
// as Outlook/Exchange, Google Calendar and Apple Calendar send them, and a Google cancellation.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { globalObjIdOf, mimeToEmail } from '../../src/convert/mime-to-email.js';
import { decodeTimeZone } from '../../src/convert/timezone.js';

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../fixtures/eml/${name}.eml`, import.meta.url)));
const opts = {
  bodyPreferences: [{ Type: 1 as const }],
  fileReference: (i: number) => `ref-${i}`,
  userAddresses: ['alice@easd.local'],
};
const read = (name: string) => mimeToEmail(fixture(name), opts);

describe('MeetingRequest from invitations', () => {
  it('Outlook: zoned single meeting, intended status, Outlook GlobalObjId', async () => {
    const m = await read('outlook-request');
    expect(m.MessageClass).toBe('IPM.Schedule.Meeting.Request');
    expect(m.ContentClass).toBe('urn:content-classes:calendarmessage');
    expect(m.Attachments).toBeUndefined();
    const r = m.MeetingRequest!;
    expect(r.StartTime).toEqual(new Date('2025-03-10T13:00:00Z'));
    expect(r.EndTime).toEqual(new Date('2025-03-10T14:30:00Z'));
    expect(r.DtStamp).toEqual(new Date('2025-03-03T09:12:44Z'));
    expect(r.AllDayEvent).toBe(false);
    expect(r.InstanceType).toBe(0);
    expect(r.RecurrenceId).toBeUndefined();
    expect(r.Location).toEqual({ DisplayName: 'Room 4.02' });
    expect(r.Organizer).toBe('"Olivia Organizer" <olivia@contoso.example>');
    expect(r.Reminder).toBe(15);
    expect(r.ResponseRequested).toBe(true);
    expect(r.Sensitivity).toBe(0);
    // X-MICROSOFT-CDO-INTENDEDSTATUS, not the tentative status of the unanswered copy
    expect(r.BusyStatus).toBe(2);
    expect(r.DisallowNewTimeProposal).toBe(false);
    expect(r.MeetingMessageType).toBe(1);
    const uid =
      '040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5D9010000000000000000100000001234567890ABCDEF1234567890ABCDEF';
    expect(r.UID).toBe(uid);
    expect(Buffer.from(r.GlobalObjId!, 'base64').toString('hex').toUpperCase()).toBe(uid);
    expect(decodeTimeZone(r.TimeZone!).Bias).toBe(-60);
  });

  it('Google: weekly UTC meeting with a copy attached as invite.ics', async () => {
    const m = await read('google-request');
    expect(m.MessageClass).toBe('IPM.Schedule.Meeting.Request');
    const r = m.MeetingRequest!;
    expect(r.StartTime).toEqual(new Date('2025-03-05T16:00:00Z'));
    expect(r.EndTime).toEqual(new Date('2025-03-05T16:30:00Z'));
    expect(r.InstanceType).toBe(1);
    expect(r.Recurrences).toEqual([expect.objectContaining({ Type: 1, Occurrences: 10, DayOfWeek: 8 })]);
    expect(r.Organizer).toBe('"Gina Google" <gina@gmail.example>');
    expect(r.Reminder).toBe(10);
    expect(r.BusyStatus).toBe(2);
    expect(r.UID).toBe('7kukuqrfedlm2f9t0vr3pkgj3k@google.com');
    const goid = Buffer.from(r.GlobalObjId!, 'base64');
    expect(goid.subarray(40, 48).toString('latin1')).toBe('vCal-Uid');
    // the application/ics copy stays a file the user can open
    expect(m.Attachments?.map((a) => a.DisplayName)).toEqual(['invite.ics']);
  });

  it('Apple: all-day, private, transparent, a revised invitation', async () => {
    const r = (await read('apple-request')).MeetingRequest!;
    expect(r.AllDayEvent).toBe(true);
    expect(r.StartTime).toEqual(new Date('2025-03-14T00:00:00Z'));
    expect(r.EndTime).toEqual(new Date('2025-03-15T00:00:00Z'));
    expect(r.Sensitivity).toBe(2);
    expect(r.BusyStatus).toBe(0);
    expect(r.Location).toEqual({ DisplayName: 'Lyon' });
    expect(r.Organizer).toBe('"Paul Apple" <paul@icloud.example>');
    expect(r.ResponseRequested).toBe(true);
    expect(r.MeetingMessageType).toBe(2); // SEQUENCE:1, a full update
    expect(r.Reminder).toBeUndefined();
  });

  it('Google cancellation of one occurrence', async () => {
    const m = await read('google-cancel');
    expect(m.MessageClass).toBe('IPM.Schedule.Meeting.Canceled');
    expect(m.ContentClass).toBe('urn:content-classes:calendarmessage');
    const r = m.MeetingRequest!;
    expect(r.InstanceType).toBe(3);
    expect(r.RecurrenceId).toEqual(new Date('2025-03-19T16:00:00Z'));
    expect(r.MeetingMessageType).toBe(0);
    const goid = Buffer.from(r.GlobalObjId!, 'base64');
    expect([...goid.subarray(16, 20)]).toEqual([0x07, 0xe9, 3, 19]);
  });

  it('an invitation without a readable VEVENT is still a meeting message, without MeetingRequest', async () => {
    const raw = new TextEncoder().encode(
      'From: a@x\r\nSubject: Meet\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n',
    );
    const m = await mimeToEmail(raw, opts);
    expect(m.MessageClass).toBe('IPM.Schedule.Meeting.Request');
    expect(m.MeetingRequest).toBeUndefined();
  });

  it('plain mail has no MeetingRequest', async () => {
    const raw = new TextEncoder().encode('From: a@x\r\nSubject: Hi\r\n\r\nhello\r\n');
    expect((await mimeToEmail(raw, opts)).MeetingRequest).toBeUndefined();
  });
});

describe('globalObjIdOf (MS-ASEMAIL 2.2.2.37, examples of 4.3)', () => {
  it('wraps a non-Outlook UID as vCal-Uid data', () => {
    expect(globalObjIdOf('{81412D3C-2A24-4E9D-B20E-11F7BBE92799}')).toBe(
      'BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAAAAAAMwAAAHZDYWwtVWlkAQAAAHs4MTQxMkQzQy0yQTI0LTRFOUQtQjIwRS0xMUY3QkJFOTI3OTl9AA==',
    );
  });

  it('takes an Outlook UID as the id bytes', () => {
    const uid =
      '040000008200E00074C5B7101A82E00800000000E040C9C12685C4010000000000000000100000000BF0ED4B6E4EE94E9E39E3867B378EF3';
    expect(Buffer.from(globalObjIdOf(uid), 'base64').toString('hex').toUpperCase()).toBe(uid);
    expect(globalObjIdOf(uid, new Date('2004-09-16T00:00:00Z'))).toBe(
      'BAAAAIIA4AB0xbcQGoLgCAfUCRDgQMnBJoXEAQAAAAAAAAAAEAAAAAvw7UtuTulOnjnjhns3jvM=',
    );
  });
});
