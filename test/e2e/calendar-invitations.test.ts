// Meetings organized on the phone (16.x): the event lands on Radicale and the iTIP messages reach
// the stack's SMTP receiver — REQUEST on Add, REQUEST with SEQUENCE+1 on Change, CANCEL to a
// removed attendee and to everyone on Delete; nothing for a meeting the user did not organize, and
// nothing from a 14.1 phone (it sends the request itself with SendMail). Real stack, no mocks.
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Easd } from '../../src/app.js';
import { readSpool, type SpoolMessage } from '../stack/smtp.js';
import { startSchedulingProxy, type SchedulingProxy } from '../support/dav-proxy.js';
import { findAll, findText } from '../support/eas-client.js';
import { davObjects, openStackEasd, putIcs, syncedPhone, type SyncedPhone } from './calendar-support.js';

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const me = `${carol.user}@${stack.imap.host}`;
const meRe = me.replace(/\./g, '\\.');
let easd: Easd;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ easd, close } = await openStackEasd(stack, { smtp: true }));
});
afterAll(async () => {
  await close?.();
});

async function phoneOn(version: string): Promise<SyncedPhone> {
  return syncedPhone(easd.app, carol, version, '8');
}

const addCmd = (clientId: string, data: string): string =>
  `<Commands><Add><ClientId>${clientId}</ClientId><ApplicationData>${data}</ApplicationData></Add></Commands>`;
const changeCmd = (serverId: string, data: string): string =>
  `<Commands><Change><ServerId>${serverId}</ServerId><ApplicationData>${data}</ApplicationData></Change></Commands>`;
const deleteCmd = (serverId: string): string =>
  `<Commands><Delete><ServerId>${serverId}</ServerId></Delete></Commands>`;

const attendee = (email: string, name: string): string =>
  `<Attendee><Email>${email}</Email><Name>${name}</Name><AttendeeType>1</AttendeeType></Attendee>`;

function meeting(subject: string, start: string, end: string, attendees: string[]): string {
  return `<Subject xmlns="Calendar:">${subject}</Subject><StartTime xmlns="Calendar:">${start}</StartTime><EndTime xmlns="Calendar:">${end}</EndTime><AllDayEvent xmlns="Calendar:">0</AllDayEvent><BusyStatus xmlns="Calendar:">2</BusyStatus><Attendees xmlns="Calendar:">${attendees.join('')}</Attendees>`;
}

/** The messages of the spool whose calendar part names this subject, in arrival order. */
async function sentFor(subject: string): Promise<SpoolMessage[]> {
  return (await readSpool(stack.smtp.spoolDir))
    .filter((m) =>
      m.raw
        .toString()
        .replace(/\r?\n[ \t]/g, '')
        .includes(`SUMMARY:${subject}`),
    )
    .sort((a, b) => a.id - b.id);
}

async function calendarPart(
  m: SpoolMessage,
): Promise<{ method: string | undefined; ics: string; text: string }> {
  const parsed = await PostalMime.parse(m.raw);
  const ics = parsed.attachments.find((a) => a.mimeType === 'text/calendar');
  const part =
    ics === undefined
      ? /Content-Type: text\/calendar[^]*?\r\n\r\n([^]*?)\r\n--/i.exec(m.raw.toString())?.[1]
      : typeof ics.content === 'string'
        ? ics.content
        : new TextDecoder().decode(ics.content);
  const text = (part ?? '').replace(/\r?\n[ \t]/g, '');
  return { method: /^METHOD:(\S+)/m.exec(text)?.[1], ics: text, text: parsed.text ?? '' };
}

/** Every calendar object on Radicale whose SUMMARY is this subject. */
async function onRadicale(subject: string): Promise<string[]> {
  return [...(await davObjects(stack.dav.url, carol)).values()].filter((t) =>
    t.includes(`SUMMARY:${subject}`),
  );
}

describe('invitations for meetings organized on a 16.1 phone', () => {
  it('Add → REQUEST to both attendees; Change → SEQUENCE 1 REQUEST and CANCEL to the removed one; Delete → CANCEL', async () => {
    const phone = await phoneOn('16.1');
    const subject = `Planning ${Date.now()}`;
    const added = await phone.sync(
      addCmd(
        'm1',
        `${meeting(subject, '20310304T090000Z', '20310304T100000Z', [
          attendee('alice@easd.test', 'Alice'),
          attendee('dave@elsewhere.test', 'Dave'),
        ])}`,
      ),
    );
    const add = findAll(added, 'Add')[0];
    expect(findText(add, 'Status')).toBe('1');
    const serverId = findText(add, 'ServerId')!;

    // the meeting on Radicale: carol organizes it, SEQUENCE 0
    const [stored] = await onRadicale(subject);
    expect(stored).toMatch(new RegExp(`^ORGANIZER[^:\r\n]*:mailto:${meRe}\r?$`, 'm'));
    expect(stored).toMatch(/^SEQUENCE:0\r?$/m);
    // Radicale does not schedule (RFC 6638): the attendees are stored as the phone sent them
    expect(stored).not.toContain('SCHEDULE-AGENT');
    const uid = /^UID:(.+?)\r?$/m.exec(stored!)?.[1];
    expect(uid).toBeDefined();

    const [request] = await sentFor(subject);
    expect(request?.rcptTo.sort()).toEqual(['alice@easd.test', 'dave@elsewhere.test']);
    expect(request?.mailFrom).toBe(me);
    const req = await calendarPart(request!);
    expect(req.method).toBe('REQUEST');
    expect(req.ics).toContain(`UID:${uid}`);
    expect(req.ics).toMatch(/^SEQUENCE:0\r?$/m);
    expect(req.ics).toMatch(new RegExp(`^ORGANIZER[^:\r\n]*:mailto:${meRe}\r?$`, 'm'));
    expect(req.ics).toMatch(/^ATTENDEE[^:\r\n]*RSVP=TRUE[^:\r\n]*:mailto:dave@elsewhere\.test\r?$/m);
    expect(req.ics).not.toMatch(/BEGIN:VALARM|X-EASD-|SCHEDULE-AGENT/);
    expect(req.text).toContain('When:');

    // Change: an hour later, Dave no longer invited
    const changed = await phone.sync(
      changeCmd(
        serverId,
        `${meeting(subject, '20310304T100000Z', '20310304T110000Z', [attendee('alice@easd.test', 'Alice')])}`,
      ),
    );
    expect(findAll(changed, 'Change').map((c) => findText(c, 'Status'))).not.toContain('7');
    const afterChange = await sentFor(subject);
    expect(afterChange).toHaveLength(3);
    const update = afterChange.find((m) => m.rcptTo.includes('alice@easd.test') && m.id !== request!.id)!;
    const upd = await calendarPart(update);
    expect([upd.method, update.rcptTo]).toEqual(['REQUEST', ['alice@easd.test']]);
    expect(upd.ics).toMatch(/^SEQUENCE:1\r?$/m);
    expect(upd.ics).toMatch(/^DTSTART[^:\r\n]*:20310304T100000Z\r?$/m);
    const dropped = afterChange.find(
      (m) => m.rcptTo.includes('dave@elsewhere.test') && m.id !== request!.id,
    )!;
    const drop = await calendarPart(dropped);
    expect([drop.method, dropped.rcptTo]).toEqual(['CANCEL', ['dave@elsewhere.test']]);
    expect(drop.ics).toMatch(/^STATUS:CANCELLED\r?$/m);
    expect(drop.ics).not.toContain('mailto:alice@easd.test');
    expect(drop.ics).toContain('mailto:dave@elsewhere.test');
    expect((await onRadicale(subject))[0]).toMatch(/^SEQUENCE:1\r?$/m);

    // a change only the user sees (the reminder) tells nobody
    await phone.sync(
      changeCmd(
        serverId,
        `${meeting(subject, '20310304T100000Z', '20310304T110000Z', [
          attendee('alice@easd.test', 'Alice'),
        ])}<Reminder xmlns="Calendar:">30</Reminder>`,
      ),
    );
    expect(await sentFor(subject)).toHaveLength(3);

    // Delete: Alice learns it is off, with SEQUENCE 2; the event is gone from Radicale
    const deleted = await phone.sync(deleteCmd(serverId));
    expect(findAll(deleted, 'Delete').map((d) => findText(d, 'Status'))).toEqual([]);
    const all = await sentFor(subject);
    expect(all).toHaveLength(4);
    const cancel = await calendarPart(all[3]!);
    expect([cancel.method, all[3]!.rcptTo]).toEqual(['CANCEL', ['alice@easd.test']]);
    expect(cancel.ics).toMatch(/^SEQUENCE:2\r?$/m);
    expect(cancel.ics).toContain(`UID:${uid}`);
    expect(await onRadicale(subject)).toEqual([]);
  });

  it('sends nothing when the user is not the organizer, or for an appointment without attendees', async () => {
    const phone = await phoneOn('16.1');
    const subject = `Theirs ${Date.now()}`;
    // Erin's meeting, put on Radicale by another client, with Carol invited
    const uid = `theirs-${Date.now()}@elsewhere.test`;
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//elsewhere//EN',
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20260101T000000Z',
      'DTSTART:20310305T090000Z',
      'DTEND:20310305T100000Z',
      `SUMMARY:${subject}`,
      'SEQUENCE:3',
      'ORGANIZER;CN=Erin:mailto:erin@elsewhere.test',
      'ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:erin@elsewhere.test',
      `ATTENDEE;PARTSTAT=ACCEPTED:mailto:${me}`,
      'ATTENDEE;PARTSTAT=ACCEPTED:mailto:frank@elsewhere.test',
      'END:VEVENT',
      'END:VCALENDAR',
    ];
    expect(await putIcs(stack.dav.url, carol, 'calendar', uid, ics)).toBe(201);
    const synced = await phone.sync('<GetChanges/><WindowSize>100</WindowSize>');
    const theirs = findAll(synced, 'Add').find((a) => findText(a, 'Subject') === subject);
    expect(findText(theirs, 'MeetingStatus')).toBe('3');
    const serverId = findText(theirs, 'ServerId')!;
    // the phone moves it and drops an attendee on its copy, then deletes it: Erin's business
    await phone.sync(
      changeCmd(
        serverId,
        `${meeting(subject, '20310305T100000Z', '20310305T110000Z', [
          attendee('erin@elsewhere.test', 'Erin'),
        ])}`,
      ),
    );
    await phone.sync(deleteCmd(serverId));
    // and an appointment without attendees, added and deleted
    const alone = await phone.sync(
      `<Commands><Add><ClientId>t2</ClientId><ApplicationData><Subject xmlns="Calendar:">${subject} alone</Subject><StartTime xmlns="Calendar:">20310305T110000Z</StartTime><EndTime xmlns="Calendar:">20310305T120000Z</EndTime></ApplicationData></Add></Commands>`,
    );
    expect(findText(findAll(alone, 'Add')[0], 'Status')).toBe('1');
    await phone.sync(
      `<Commands><Delete><ServerId>${findText(findAll(alone, 'Add')[0], 'ServerId')}</ServerId></Delete></Commands>`,
    );
    expect(await sentFor(subject)).toEqual([]);
    expect(await sentFor(`${subject} alone`)).toEqual([]);
  });

  it('a 14.1 phone sends its own meeting request (SendMail): easd sends none', async () => {
    const phone = await phoneOn('14.1');
    const subject = `Old phone ${Date.now()}`;
    const res = await phone.sync(
      addCmd(
        'o1',
        `${meeting(subject, '20310306T090000Z', '20310306T100000Z', [
          attendee('alice@easd.test', 'Alice'),
        ])}<OrganizerEmail xmlns="Calendar:">${me}</OrganizerEmail><MeetingStatus xmlns="Calendar:">1</MeetingStatus>`,
      ),
    );
    expect(findText(findAll(res, 'Add')[0], 'Status')).toBe('1');
    expect(await onRadicale(subject)).toHaveLength(1);
    expect(await sentFor(subject)).toEqual([]);
  });
});

describe('invitations on a CalDAV server that schedules by itself (RFC 6638)', () => {
  // Radicale behind a proxy that advertises calendar-auto-schedule: easd stays the one that sends
  // (SCHEDULE-AGENT=CLIENT on the stored meeting, RFC 6638 §7.1), so attendees get one REQUEST
  let proxy: SchedulingProxy;
  let scheduling: { easd: Easd; close(): Promise<void> };
  beforeAll(async () => {
    proxy = await startSchedulingProxy(stack.dav.url, { autoSchedule: true });
    scheduling = await openStackEasd(stack, { smtp: true, caldavUrl: proxy.url });
  });
  afterAll(async () => {
    await scheduling?.close();
    await proxy?.close();
  });

  it('16.1 Add → easd sends the REQUEST, the stored meeting says SCHEDULE-AGENT=CLIENT, the message does not', async () => {
    const phone = await syncedPhone(scheduling.easd.app, carol, '16.1', '8');
    const subject = `Scheduled ${Date.now()}`;
    const added = await phone.sync(
      addCmd(
        's1',
        meeting(subject, '20310307T090000Z', '20310307T100000Z', [
          attendee('alice@easd.test', 'Alice'),
          attendee('dave@elsewhere.test', 'Dave'),
        ]),
      ),
    );
    expect(findText(findAll(added, 'Add')[0], 'Status')).toBe('1');
    const [stored] = await onRadicale(subject);
    expect(stored).toMatch(
      new RegExp(`^ORGANIZER;[^\r\n]*SCHEDULE-AGENT=CLIENT[^\r\n]*:mailto:${meRe}\r?$`, 'm'),
    );
    for (const who of ['alice@easd\\.test', 'dave@elsewhere\\.test'])
      expect(stored).toMatch(
        new RegExp(`^ATTENDEE;[^\r\n]*SCHEDULE-AGENT=CLIENT[^\r\n]*:mailto:${who}\r?$`, 'm'),
      );
    const sent = await sentFor(subject);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.rcptTo.sort()).toEqual(['alice@easd.test', 'dave@elsewhere.test']);
    const req = await calendarPart(sent[0]!);
    expect(req.method).toBe('REQUEST');
    // RFC 6638 §7.1: a client never puts SCHEDULE-AGENT in the messages it sends
    expect(req.ics).not.toContain('SCHEDULE-AGENT');
  });

  it('a 14.1 phone that sends its own request: the stored meeting says CLIENT too', async () => {
    const phone = await syncedPhone(scheduling.easd.app, carol, '14.1', '8');
    const subject = `Scheduled old ${Date.now()}`;
    const res = await phone.sync(
      addCmd(
        's2',
        `${meeting(subject, '20310308T090000Z', '20310308T100000Z', [
          attendee('alice@easd.test', 'Alice'),
        ])}<OrganizerEmail xmlns="Calendar:">${me}</OrganizerEmail><MeetingStatus xmlns="Calendar:">1</MeetingStatus>`,
      ),
    );
    expect(findText(findAll(res, 'Add')[0], 'Status')).toBe('1');
    expect((await onRadicale(subject))[0]).toMatch(/^ATTENDEE;[^\r\n]*SCHEDULE-AGENT=CLIENT/m);
    expect(await sentFor(subject)).toEqual([]);
  });
});
