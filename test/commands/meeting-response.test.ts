// MeetingResponse (MS-ASCMD 2.2.1.11) on the memory backend: an invitation delivered to the
// Inbox syncs as a meeting request; answering it puts the event in the default Calendar with the
// user's ResponseType, sends the iTIP REPLY to the organizer (16.x with SendResponse only) and
// moves the invitation to Deleted Items.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/backend/contract.js';
import type { CalendarItem } from '../../src/backend/model.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;
const signal = (): AbortSignal => AbortSignal.timeout(10_000);
let seq = 0;

beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => engine?.close());

const fixture = (name: string): Promise<string> =>
  readFile(new URL(`../fixtures/eml/${name}.eml`, import.meta.url), 'latin1');

/** Delivers an invitation fixture to alice's Inbox under a UID of its own; returns the UID. */
async function deliver(account: Account, name: 'google-request' | 'apple-request'): Promise<string> {
  const oldUid =
    name === 'google-request'
      ? '7kukuqrfedlm2f9t0vr3pkgj3k@google.com'
      : '9B3C6E0A-2F4D-4C1B-8E7A-5D6F1A2B3C4D';
  const uid = `mr-${++seq}-${Date.now()}@test.example`;
  const mime = Buffer.from((await fixture(name)).split(oldUid).join(uid), 'latin1');
  const inbox = (await engine.backend.listFolders(account, signal())).find((f) => f.role === 'inbox')!;
  const item = { Body: { Type: 4 as const, Data: new Uint8Array(mime), EstimatedDataSize: mime.length } };
  await engine.backend.createItem(account, inbox.id, { class: 'Email', item }, signal());
  return uid;
}

async function folderIds(c: EasTestClient): Promise<{ inbox: string; calendar: string; trash: string }> {
  const res = await c.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  const byType = (t: string): string =>
    findText(
      findAll(res.doc, 'Add').find((a) => findText(a, 'Type') === t),
      'ServerId',
    )!;
  return { inbox: byType('2'), calendar: byType('8'), trash: byType('4') };
}

/** Everything the collection holds now, as Sync Adds (ServerId → ApplicationData). */
async function syncAll(c: EasTestClient, id: string) {
  const first = await c.command(
    'Sync',
    `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${id}</CollectionId></Collection></Collections></Sync>`,
  );
  const key = findText(first.doc, 'SyncKey')!;
  const res = await c.command(
    'Sync',
    `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${id}</CollectionId><WindowSize>512</WindowSize></Collection></Collections></Sync>`,
  );
  await validateEasResponse(res.doc!, 'Sync');
  return findAll(res.doc, 'Add');
}

async function meetingResponse(c: EasTestClient, body: string) {
  const res = await c.command(
    'MeetingResponse',
    `<MeetingResponse xmlns="MeetingResponse:">${body}</MeetingResponse>`,
  );
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, 'MeetingResponse');
  return findAll(res.doc, 'Result').map((r) => ({
    RequestId: findText(r, 'RequestId'),
    Status: findText(r, 'Status'),
    CalendarId: findText(r, 'CalendarId'),
  }));
}

const request = (response: number, collection: string, id: string, extra = ''): string =>
  `<Request><UserResponse>${response}</UserResponse><CollectionId>${collection}</CollectionId><RequestId>${id}</RequestId>${extra}</Request>`;

async function calendarEvent(account: Account, uid: string): Promise<CalendarItem | undefined> {
  const cal = (await engine.backend.listFolders(account, signal())).find(
    (f) => f.class === 'Calendar' && f.role === 'default',
  )!;
  const stamps = await engine.backend.listStamps(account, cal.id, {}, signal());
  const recs = await engine.backend.getItems(
    account,
    cal.id,
    stamps.map((s) => s.id),
    { bodyPreferences: [] },
    signal(),
  );
  const rec = recs.find((r) => r.class === 'Calendar' && r.item.UID === uid);
  return rec?.class === 'Calendar' ? rec.item : undefined;
}

/** Messages the memory backend recorded for remote recipients that carry this UID. */
async function outbox(uid: string): Promise<Array<{ to: string[]; mime: string }>> {
  const text = await readFile(path.join(engine.dataDir, 'outbox.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { to: string[]; mime: string })
    .map((m) => ({ to: m.to, mime: Buffer.from(m.mime, 'base64').toString('utf8') }))
    .filter((m) => m.mime.includes(uid));
}

/** A 16.1 device that has synced alice's Inbox with a fresh invitation in it. */
async function invited(name: 'google-request' | 'apple-request') {
  const account = await engine.account();
  const c = await engine.client();
  const ids = await folderIds(c);
  const uid = await deliver(account, name);
  const add = (await syncAll(c, ids.inbox)).find((a) => findText(a, 'UID') === uid);
  return { account, c, ids, uid, serverId: findText(add, 'ServerId')! };
}

describe('MeetingResponse', () => {
  it('an invitation syncs as a meeting request; accept puts it in the calendar and replies to the organizer', async () => {
    const account = await engine.account();
    const c = await engine.client();
    const ids = await folderIds(c);
    const uid = await deliver(account, 'google-request');
    const adds = await syncAll(c, ids.inbox);
    const add = adds.find((a) => findText(a, 'UID') === uid)!;
    expect(findText(add, 'MessageClass')).toBe('IPM.Schedule.Meeting.Request');
    expect(findText(add, 'StartTime')).toBe('2025-03-05T16:00:00.000Z');
    const serverId = findText(add, 'ServerId')!;

    const [r] = await meetingResponse(
      c,
      request(
        1,
        ids.inbox,
        serverId,
        '<SendResponse><Body xmlns="AirSyncBase:"><Type>1</Type><Data>See you there</Data></Body></SendResponse>',
      ),
    );
    expect(r).toMatchObject({ RequestId: serverId, Status: '1' });
    expect(r!.CalendarId).toMatch(new RegExp(`^${ids.calendar}:`));

    const event = await calendarEvent(account, uid);
    expect(event).toMatchObject({
      StartTime: new Date('2025-03-05T16:00:00Z'),
      EndTime: new Date('2025-03-05T16:30:00Z'),
      ResponseType: 3,
      MeetingStatus: 3,
      BusyStatus: 2,
      OrganizerEmail: 'gina@gmail.example',
    });
    expect(event!.Recurrence).toMatchObject({ Type: 1, Occurrences: 10 });
    expect(event!.Attendees?.find((a) => a.Email === 'alice@easd.local')?.AttendeeStatus).toBe(3);

    // the Calendar collection shows it under the CalendarId
    const calAdds = await syncAll(c, ids.calendar);
    expect(calAdds.map((a) => findText(a, 'ServerId'))).toContain(r!.CalendarId);

    // RFC 5546 3.2.3 REPLY to the organizer, through backend.mail
    const sent = await outbox(uid);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.to).toEqual(['gina@gmail.example']);
    const reply = await PostalMime.parse(sent[0]!.mime);
    expect(reply.subject).toBe('Accepted: Weekly sync');
    expect(reply.text).toContain('See you there');
    const ics = reply.attachments.find((a) => a.mimeType === 'text/calendar');
    expect(ics?.method?.toUpperCase()).toBe('REPLY');
    const icsText =
      typeof ics!.content === 'string'
        ? ics!.content
        : Buffer.from(ics!.content as ArrayBuffer).toString('utf8');
    const unfolded = icsText.replace(/\r?\n[ \t]/g, '');
    expect(unfolded).toContain('METHOD:REPLY');
    expect(unfolded).toContain(`UID:${uid}`);
    expect(unfolded).toMatch(/ATTENDEE;[^\r\n]*PARTSTAT=ACCEPTED[^\r\n]*:mailto:alice@easd\.local/);
    expect(unfolded).toContain('ORGANIZER;CN=Gina Google:mailto:gina@gmail.example');

    // the invitation went to Deleted Items
    const trash = await syncAll(c, ids.trash);
    expect(trash.some((a) => findText(a, 'UID') === uid)).toBe(true);
  });

  it('tentative: BusyStatus tentative, ResponseType 2, no reply without SendResponse', async () => {
    const { account, c, ids, uid, serverId } = await invited('apple-request');
    const [r] = await meetingResponse(c, request(2, ids.inbox, serverId));
    expect(r).toMatchObject({ Status: '1' });
    expect(r!.CalendarId).toBeDefined();
    const event = await calendarEvent(account, uid);
    expect(event).toMatchObject({
      AllDayEvent: true,
      ResponseType: 2,
      BusyStatus: 1,
      Subject: 'Team offsite',
    });
    expect(await outbox(uid)).toHaveLength(0);
  });

  it('decline: no calendar item, no CalendarId; a declined meeting already in the calendar is removed', async () => {
    const { account, c, ids, uid, serverId } = await invited('google-request');
    const [r] = await meetingResponse(c, request(3, ids.inbox, serverId, '<SendResponse/>'));
    expect(r).toEqual({ RequestId: serverId, Status: '1', CalendarId: undefined });
    expect(await calendarEvent(account, uid)).toBeUndefined();
    const sent = await outbox(uid);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.mime.replace(/\r?\n[ \t]/g, '')).toContain('PARTSTAT=DECLINED');

    // accept a second invitation, then decline it from the Calendar collection
    const uid2 = await deliver(account, 'google-request');
    const id2 = findText(
      (await syncAll(c, ids.inbox)).find((a) => findText(a, 'UID') === uid2),
      'ServerId',
    )!;
    const [accepted] = await meetingResponse(c, request(1, ids.inbox, id2));
    await syncAll(c, ids.calendar);
    const [declined] = await meetingResponse(c, request(3, ids.calendar, accepted!.CalendarId!));
    expect(declined).toMatchObject({ Status: '1', CalendarId: undefined });
    expect(await calendarEvent(account, uid2)).toBeUndefined();
  });

  it('16.1 tentative with a new time: REPLY, then a COUNTER (RFC 5546 3.2.7) with the proposed times; the calendar keeps the old ones', async () => {
    const { account, c, ids, uid, serverId } = await invited('google-request');
    const [r] = await meetingResponse(
      c,
      request(
        2,
        ids.inbox,
        serverId,
        '<SendResponse><ProposedStartTime>20250305T170000Z</ProposedStartTime><ProposedEndTime>20250305T173000Z</ProposedEndTime></SendResponse>',
      ),
    );
    expect(r).toMatchObject({ Status: '1' });
    expect((await calendarEvent(account, uid))?.StartTime).toEqual(new Date('2025-03-05T16:00:00Z'));
    const sent = await outbox(uid);
    expect(sent.map((m) => m.to)).toEqual([['gina@gmail.example'], ['gina@gmail.example']]);
    const [reply, counter] = await Promise.all(sent.map((m) => PostalMime.parse(m.mime)));
    expect(reply!.subject).toBe('Tentative: Weekly sync');
    expect(counter!.subject).toBe('New Time Proposed: Weekly sync');
    const ics = counter!.attachments.find((a) => a.mimeType === 'text/calendar')!;
    expect(ics.method?.toUpperCase()).toBe('COUNTER');
    const text = (
      typeof ics.content === 'string' ? ics.content : Buffer.from(ics.content as ArrayBuffer).toString('utf8')
    ).replace(/\r?\n[ \t]/g, '');
    expect(text).toContain('METHOD:COUNTER');
    expect(text).toMatch(/^DTSTART:20250305T170000Z\r?$/m);
    expect(text).toMatch(/^DTEND:20250305T173000Z\r?$/m);
    expect(text).toMatch(/ATTENDEE;[^\r\n]*PARTSTAT=TENTATIVE[^\r\n]*:mailto:alice@easd\.local/);
    expect(text).toContain(`UID:${uid}`);
  });

  it('16.0 has no proposals: the same request only replies', async () => {
    const account = await engine.account();
    const c = await engine.client('alice', { version: '16.0' });
    const ids = await folderIds(c);
    const uid = await deliver(account, 'google-request');
    const add = (await syncAll(c, ids.inbox)).find((a) => findText(a, 'UID') === uid);
    const [r] = await meetingResponse(
      c,
      request(
        2,
        ids.inbox,
        findText(add, 'ServerId')!,
        '<SendResponse><ProposedStartTime>20250305T170000Z</ProposedStartTime><ProposedEndTime>20250305T173000Z</ProposedEndTime></SendResponse>',
      ),
    );
    expect(r).toMatchObject({ Status: '1' });
    const sent = await outbox(uid);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.mime.replace(/\r?\n[ \t]/g, '')).toContain('METHOD:REPLY');
  });

  it('14.1: the calendar is updated but no reply is sent (the client uses SendMail)', async () => {
    const account = await engine.account();
    const c = await engine.client('alice', { version: '14.1' });
    const ids = await folderIds(c);
    const uid = await deliver(account, 'google-request');
    // 14.1 has no calendar:UID in MeetingRequest: find ours by the UID inside its GlobalObjId
    const mine = (await syncAll(c, ids.inbox)).find((a) =>
      Buffer.from(findText(a, 'GlobalObjId') ?? '', 'base64')
        .toString('latin1')
        .includes(uid),
    )!;
    const [r] = await meetingResponse(c, request(1, ids.inbox, findText(mine, 'ServerId')!));
    expect(r).toMatchObject({ Status: '1' });
    expect((await calendarEvent(account, uid))?.ResponseType).toBe(3);
    expect(await outbox(uid)).toHaveLength(0);
  });

  it('answers 2 for an unknown RequestId, a message that is no invitation, and a broken request', async () => {
    const account = await engine.account();
    const c = await engine.client();
    const ids = await folderIds(c);
    const inbox = (await engine.backend.listFolders(account, signal())).find((f) => f.role === 'inbox')!;
    const plain = Buffer.from('From: bob@example.com\r\nSubject: not a meeting\r\n\r\nhi\r\n');
    const stamp = await engine.backend.createItem(
      account,
      inbox.id,
      {
        class: 'Email',
        item: { Body: { Type: 4, Data: new Uint8Array(plain), EstimatedDataSize: plain.length } },
      },
      signal(),
    );
    const results = await meetingResponse(
      c,
      request(1, ids.inbox, `${ids.inbox}:nope`) +
        request(1, ids.inbox, `${ids.inbox}:${stamp.id}`) +
        request(1, 'unknown-collection', 'x:1'),
    );
    expect(results.map((r) => r.Status)).toEqual(['2', '2', '2']);
    const broken = await meetingResponse(
      c,
      '<Request><UserResponse>7</UserResponse><RequestId>1:1</RequestId></Request>',
    );
    expect(broken.map((r) => r.Status)).toEqual(['2']);
  });
});
