// A day with the phone, against the compiled server on the stack's Dovecot, Radicale and SMTP
// receiver: the Ping loop woken by mail another client APPENDs, reading, flagging, deleting and
// moving (seen in Dovecot's flags and mailboxes), replying and forwarding with attachments (the
// SMTP receiver's spool and Sent), a draft saved and sent, a meeting accepted (Radicale + the
// iTIP REPLY through SMTP), a contact and an event edited on both sides.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { appendMessage } from '../../stack/dovecot.js';
import type { WbxmlElement } from '../../../wbxml/index.js';
import { findAll, findText } from '../../support/eas-client.js';
import { Device, eventually, FolderType, profiles } from '../../support/device.js';
import { stackEnv, useScratch, type CompiledEasd } from '../../support/device-server.js';
import { davCollection, davFind, davPut, imapFind, spooled } from '../../support/device-stores.js';

const stack = inject('stack');
const alice = stack.users.find((u) => u.user === 'alice')!;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
let server: CompiledEasd;
const scratch = useScratch('easd-flow-daily-');
let phone: Device; // iOS Mail, 16.1
let android: Device; // Gmail, 14.1
let inbox: string;

beforeAll(async () => {
  server = await scratch.start(stackEnv(stack, scratch.path('easd')));
  phone = new Device(() => server.base, alice, profiles.iPhone, `DAYIPH${run}`);
  android = new Device(() => server.base, alice, profiles.android, `DAYAND${run}`);
  for (const d of [phone, android]) {
    await d.provision();
    await d.folderSync();
  }
  inbox = phone.folder(FolderType.Inbox);
  await phone.syncAll(inbox);
  await android.syncAll(android.folder(FolderType.Inbox));
});

function message(subject: string, extra = '', body = 'Hello from another client'): string {
  return `From: Bob <bob@easd.test>\r\nTo: ${alice.email}\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@easd.test>\r\n${extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`;
}

function withAttachment(subject: string, fileName: string, content: string): string {
  const b = `b-${run}`;
  return `From: Bob <bob@easd.test>\r\nTo: ${alice.email}\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@easd.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attached file.\r\n--${b}\r\nContent-Type: application/octet-stream; name="${fileName}"\r\nContent-Disposition: attachment; filename="${fileName}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(content).toString('base64')}\r\n--${b}--\r\n`;
}

/** Syncs `collectionId` until the phone holds an item whose `field` is `value` (mail may take a moment). */
async function holds(device: Device, collectionId: string, field: string, value: string) {
  return eventually(`${value} on ${device.profile.label}`, async () => {
    await device.syncAll(collectionId);
    return device.find(collectionId, field, value);
  });
}

/** 16.x puts an event's location in AirSyncBase:Location/DisplayName, older versions in Calendar:Location. */
function locationOf(data: WbxmlElement | undefined): string | undefined {
  const location = findAll(data, 'Location')[0];
  return typeof location?.value === 'string' ? location.value : findText(location, 'DisplayName');
}

// Generous: the whole suite shares two cores; each step waits for a condition, never a fixed time.
describe('a day with the phone', { timeout: 90_000 }, () => {
  it('Ping loop: each message another client APPENDs wakes the held Ping, and the next Sync brings it once', async () => {
    const sent = phone.folder(FolderType.Sent);
    await phone.syncAll(sent);
    for (const round of [1, 2]) {
      const subject = `Push ${run} round ${round}`;
      const held = phone.ping([inbox, sent]);
      await appendMessage(stack.imap, alice, 'INBOX', message(subject));
      // The profile's heartbeat is 28 minutes: only a push ends these Pings within the test.
      // Other test files use the same account, so a wake may be for their mail: the phone
      // syncs what changed and holds a new Ping, as it does all day.
      for (let answer = await held; ; answer = await phone.ping([inbox, sent])) {
        expect(answer.status).toBe('2');
        for (const id of answer.changed) await phone.syncAll(id);
        if (phone.find(inbox, 'Subject', subject) !== undefined) break;
      }
    }
  });

  it('read, flag, delete and move on the phone land in Dovecot', async () => {
    const subjects = ['read', 'delete', 'move'].map((what) => `Daily ${what} ${run}`);
    for (const s of subjects) await appendMessage(stack.imap, alice, 'INBOX', message(s));
    const [read, del, move] = await Promise.all(subjects.map((s) => holds(phone, inbox, 'Subject', s)));

    const changed = await phone.sync(inbox, {
      commands: `<Change><ServerId>${read!.serverId}</ServerId><ApplicationData><Read xmlns="Email:">1</Read><Flag xmlns="Email:"><Status>2</Status><FlagType>Follow up</FlagType></Flag></ApplicationData></Change>`,
    });
    expect(changed.status).toBe('1');
    const [onServer] = await imapFind(stack.imap, alice, 'INBOX', subjects[0]!);
    expect([...onServer!.flags].sort()).toEqual(expect.arrayContaining(['\\Flagged', '\\Seen']));

    // DeletesAsMoves (set by the device): the message goes to Trash, not away.
    const deleted = await phone.sync(inbox, {
      commands: `<Delete><ServerId>${del!.serverId}</ServerId></Delete>`,
    });
    expect(deleted.status).toBe('1');
    expect(await imapFind(stack.imap, alice, 'INBOX', subjects[1]!)).toHaveLength(0);
    expect(await imapFind(stack.imap, alice, 'Trash', subjects[1]!)).toHaveLength(1);

    const archive = phone.folderNamed('Archive')!;
    await phone.syncAll(archive);
    const moved = await phone.moveItem(inbox, move!.serverId, archive);
    expect(moved.status).toBe('3');
    expect(await imapFind(stack.imap, alice, 'INBOX', subjects[2]!)).toHaveLength(0);
    expect(await imapFind(stack.imap, alice, 'Archive', subjects[2]!)).toHaveLength(1);
    // Neither folder's next Sync repeats what the phone did itself (the device fails on a
    // second Add or a Delete of an item it no longer has).
    await phone.syncAll(inbox);
    await phone.syncAll(archive);
    expect(phone.find(archive, 'Subject', subjects[2]!)?.serverId).toBe(moved.dstId);

    // The other device sees all of it on its next Sync.
    const androidInbox = android.folder(FolderType.Inbox);
    await android.syncAll(androidInbox);
    expect(findText(android.find(androidInbox, 'Subject', subjects[0]!)?.data, 'Read')).toBe('1');
    expect(android.find(androidInbox, 'Subject', subjects[1]!)).toBeUndefined();
    expect(android.find(androidInbox, 'Subject', subjects[2]!)).toBeUndefined();
  });

  it("forwards with the original's attachment and replies with its own, through SMTP and into Sent", async () => {
    const subject = `Daily report ${run}`;
    const attachment = `quarterly numbers ${run}`;
    await appendMessage(stack.imap, alice, 'INBOX', withAttachment(subject, 'report.txt', attachment));
    const original = await holds(android, android.folder(FolderType.Inbox), 'Subject', subject);
    expect(findAll(original.data, 'Attachment')).toHaveLength(1);
    const source = { folderId: android.folder(FolderType.Inbox), itemId: original.serverId };

    const fwdSubject = `Fwd: ${subject}`;
    const fwd = await android.compose(
      'SmartForward',
      `From: ${alice.email}\r\nTo: carol@easd.test\r\nSubject: ${fwdSubject}\r\nMessage-ID: <fwd-${run}@easd.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHave a look, Carol.\r\n`,
      source,
    );
    expect([fwd.status, fwd.raw.length]).toEqual([200, 0]);
    const [sentFwd] = await eventually('the forward in the spool', async () => {
      const found = await spooled(stack.smtp.spoolDir, `fwd-${run}@easd.test`);
      return found.length > 0 && found;
    });
    expect(sentFwd!.rcptTo).toEqual(['carol@easd.test']);
    const fwdText = sentFwd!.raw.toString();
    expect(fwdText).toContain('Have a look, Carol.');
    expect(fwdText).toContain('report.txt');
    expect(fwdText).toContain(Buffer.from(attachment).toString('base64'));

    const b = `r-${run}`;
    const reply = await android.compose(
      'SmartReply',
      `From: ${alice.email}\r\nTo: bob@easd.test\r\nSubject: Re: ${subject}\r\nMessage-ID: <re-${run}@easd.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThanks, mine is attached.\r\n--${b}\r\nContent-Type: image/png; name="photo.png"\r\nContent-Disposition: attachment; filename="photo.png"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--${b}--\r\n`,
      source,
    );
    expect(reply.status).toBe(200);
    const [sentReply] = await eventually('the reply in the spool', async () => {
      const found = await spooled(stack.smtp.spoolDir, `re-${run}@easd.test`);
      return found.length > 0 && found;
    });
    const replyText = sentReply!.raw.toString();
    expect(sentReply!.rcptTo).toEqual(['bob@easd.test']);
    expect(replyText).toMatch(new RegExp(`^In-Reply-To: <Dailyreport${run}@easd.test>`, 'mi'));
    expect(replyText).toContain('photo.png');
    // A reply does not carry the original's attachment.
    expect(replyText).not.toContain(Buffer.from(attachment).toString('base64'));

    expect(await imapFind(stack.imap, alice, 'Sent', fwdSubject)).toHaveLength(1);
    expect(await imapFind(stack.imap, alice, 'Sent', `Re: ${subject}`)).toHaveLength(1);
    // The original shows as answered/forwarded in Dovecot.
    const [orig] = await imapFind(stack.imap, alice, 'INBOX', subject);
    expect([...orig!.flags]).toContain('\\Answered');
  });

  it('saves a draft from the phone (16.1), edits it, and sends it with email2:Send', async () => {
    const drafts = phone.folder(FolderType.Drafts);
    await phone.syncAll(drafts);
    const subject = `Draft ${run}`;
    const added = await phone.sync(drafts, {
      commands: `<Add><ClientId>draft-${run}</ClientId><ApplicationData><To xmlns="Email:">carol@easd.test</To><Subject xmlns="Email:">${subject}</Subject><Body xmlns="AirSyncBase:"><Type>1</Type><Data>first words</Data></Body></ApplicationData></Add>`,
    });
    const response = added.responses.find((r) => findText(r, 'ClientId') === `draft-${run}`);
    expect(findText(response, 'Status')).toBe('1');
    const draftId = findText(response, 'ServerId')!;
    const [saved] = await imapFind(stack.imap, alice, 'Drafts', subject, { withSource: true });
    expect([...saved!.flags]).toContain('\\Draft');
    expect(saved!.raw).toContain('first words');

    const edited = await phone.sync(drafts, {
      commands: `<Change><ServerId>${draftId}</ServerId><ApplicationData><To xmlns="Email:">carol@easd.test</To><Subject xmlns="Email:">${subject}</Subject><Body xmlns="AirSyncBase:"><Type>1</Type><Data>final words</Data></Body></ApplicationData></Change>`,
    });
    expect(edited.status).toBe('1');
    const [rewritten] = await imapFind(stack.imap, alice, 'Drafts', subject, { withSource: true });
    expect(rewritten!.raw).toContain('final words');
    // Dovecot stores the edit as a new message: the phone holds the draft once, under the id the
    // answer gave it (the old one is deleted in the same answer).
    const held = [...phone.collection(drafts).items].filter(([, d]) => findText(d, 'Subject') === subject);
    expect(held).toHaveLength(1);
    const currentId = held[0]![0];

    // Sent the way iOS (16.x) sends a finished draft: the last Change carries email2:Send
    // (MS-ASEMAIL 2.2.2.69); easd submits it, files it in Sent and removes the draft.
    const sent = await phone.sync(drafts, {
      commands: `<Change><ServerId>${currentId}</ServerId><ApplicationData><To xmlns="Email:">carol@easd.test</To><Subject xmlns="Email:">${subject}</Subject><Body xmlns="AirSyncBase:"><Type>1</Type><Data>final words</Data></Body><Send xmlns="Email2:"/></ApplicationData></Change>`,
    });
    expect(sent.status).toBe('1');
    const [submitted] = await eventually('the draft in the spool', async () => {
      const found = await spooled(stack.smtp.spoolDir, subject);
      return found.length > 0 && found;
    });
    expect(submitted!.rcptTo).toEqual(['carol@easd.test']);
    expect(submitted!.raw.toString()).toContain('final words');
    expect(await imapFind(stack.imap, alice, 'Sent', subject)).toHaveLength(1);
    // The phone's next Sync of Drafts drops it (the device fails on a Delete of what it lacks).
    await phone.syncAll(drafts);
    expect(phone.find(drafts, 'Subject', subject)).toBeUndefined();
    expect(await imapFind(stack.imap, alice, 'Drafts', subject)).toHaveLength(0);
  });

  it('accepts a meeting: the event on Radicale with PARTSTAT=ACCEPTED and the iTIP REPLY through SMTP', async () => {
    const uid = `meet-${run}@elsewhere.test`;
    const ics = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//easd flows//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20300101T080000Z\r\nDTSTART:20300710T130000Z\r\nDTEND:20300710T140000Z\r\nSUMMARY:Planning ${run}\r\nORGANIZER;CN=Olga:mailto:olga@elsewhere.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${alice.email}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
    await appendMessage(
      stack.imap,
      alice,
      'INBOX',
      `From: Olga <olga@elsewhere.test>\r\nTo: ${alice.email}\r\nSubject: Invitation: Planning ${run}\r\nDate: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n${ics}`,
    );
    const invite = await holds(phone, inbox, 'UID', uid);
    expect(findText(invite.data, 'MessageClass')).toBe('IPM.Schedule.Meeting.Request');
    const res = await phone.send(
      'MeetingResponse',
      `<MeetingResponse xmlns="MeetingResponse:"><Request><UserResponse>1</UserResponse><CollectionId>${inbox}</CollectionId><RequestId>${invite.serverId}</RequestId><SendResponse/></Request></MeetingResponse>`,
    );
    expect(findText(res.doc, 'Status')).toBe('1');
    const [event] = await davFind(stack.dav.url, alice, `UID:${uid}`);
    expect(event?.body).toMatch(/ATTENDEE[^\n]*PARTSTAT=ACCEPTED/);
    const [itip] = await eventually('the iTIP REPLY in the spool', async () => {
      const found = (await spooled(stack.smtp.spoolDir, uid)).filter((m) =>
        m.rcptTo.includes('olga@elsewhere.test'),
      );
      return found.length > 0 && found;
    });
    expect(itip!.raw.toString()).toMatch(/METHOD:REPLY/);
    // The calendar on the phone has it once, accepted.
    const calendar = phone.folder(FolderType.Calendar);
    const mine = await holds(phone, calendar, 'UID', uid);
    expect(mine.serverId).toBe(findText(res.doc, 'CalendarId'));
  });

  it('a contact and an event edited on the phone reach Radicale, and edits on Radicale reach the phone', async () => {
    const contacts = phone.folder(FolderType.Contacts);
    const calendar = phone.folder(FolderType.Calendar);
    const book = await davCollection(stack.dav.url, alice, 'addressbook');
    const cal = await davCollection(stack.dav.url, alice, 'VEVENT');
    const tag = `both${run}`;
    await davPut(
      stack.dav.url,
      alice,
      `${book}${tag}.vcf`,
      `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${tag}\r\nFN:Edith ${tag}\r\nN:${tag};Edith;;;\r\nEMAIL;TYPE=INTERNET:edith@example.com\r\nEND:VCARD\r\n`,
    );
    await davPut(
      stack.dav.url,
      alice,
      `${cal}${tag}.ics`,
      `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//easd flows//EN\r\nBEGIN:VEVENT\r\nUID:${tag}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300801T090000Z\r\nDTEND:20300801T100000Z\r\nSUMMARY:Review ${tag}\r\nLOCATION:Room 1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`,
    );
    const card = await holds(phone, contacts, 'LastName', tag);
    const event = await holds(phone, calendar, 'Subject', `Review ${tag}`);

    // Phone → Radicale: a Change carries the whole item (MS-ASCMD 2.2.3.24.2).
    const c1 = await phone.sync(contacts, {
      commands: `<Change><ServerId>${card.serverId}</ServerId><ApplicationData><FirstName xmlns="Contacts:">Edith</FirstName><LastName xmlns="Contacts:">${tag}</LastName><Email1Address xmlns="Contacts:">edith@example.com</Email1Address><MobilePhoneNumber xmlns="Contacts:">+49 170 1234567</MobilePhoneNumber></ApplicationData></Change>`,
    });
    expect(c1.status).toBe('1');
    const e1 = await phone.sync(calendar, {
      commands: `<Change><ServerId>${event.serverId}</ServerId><ApplicationData><Subject xmlns="Calendar:">Review ${tag}</Subject><StartTime xmlns="Calendar:">20300801T110000Z</StartTime><EndTime xmlns="Calendar:">20300801T120000Z</EndTime><Location xmlns="AirSyncBase:"><DisplayName>Room 2</DisplayName></Location><AllDayEvent xmlns="Calendar:">0</AllDayEvent></ApplicationData></Change>`,
    });
    expect(e1.status).toBe('1');
    const onDav = async (file: string) =>
      (await davFind(stack.dav.url, alice, tag)).find((o) => o.href.endsWith(file))!;
    expect((await onDav(`${tag}.vcf`)).body).toMatch(/TEL[^\n]*:\+49 170 1234567/);
    const vevent = await onDav(`${tag}.ics`);
    expect(vevent.body).toMatch(/DTSTART:20300801T110000Z/);
    expect(vevent.body).toMatch(/LOCATION:Room 2/);
    // The phone's own edits do not come back to it.
    const echo = [...(await phone.syncAll(contacts)), ...(await phone.syncAll(calendar))];
    expect(echo.flatMap((r) => r.changes.map((c) => findText(c, 'ServerId')))).not.toEqual(
      expect.arrayContaining([card.serverId]),
    );

    // Radicale → phone: another client rewrites both (with If-Match on the ETag).
    const cardNow = await onDav(`${tag}.vcf`);
    await davPut(
      stack.dav.url,
      alice,
      cardNow.href,
      cardNow.body.replace('edith@example.com', 'edith@elsewhere.test'),
      cardNow.etag,
    );
    await davPut(
      stack.dav.url,
      alice,
      vevent.href,
      vevent.body.replace('LOCATION:Room 2', 'LOCATION:Room 3'),
      vevent.etag,
    );
    await eventually('the Radicale edits on the phone', async () => {
      await phone.syncAll(contacts);
      await phone.syncAll(calendar);
      return (
        findText(phone.collection(contacts).items.get(card.serverId), 'Email1Address')?.includes(
          'edith@elsewhere.test',
        ) && locationOf(phone.collection(calendar).items.get(event.serverId)) === 'Room 3'
      );
    });
  });
});
