// Server-side scheduling (RFC 6638) seen by the CalDAV backend: on a server that schedules by
// itself, easd's meeting writes carry SCHEDULE-AGENT=CLIENT (§7.1) on ORGANIZER and every
// ATTENDEE, so the server leaves the iTIP messages to easd, and an attendee's delete asks for no
// reply (Schedule-Reply: F, §8.1). The server is the stack's Radicale behind a proxy that
// advertises scheduling; plain Radicale (no scheduling) gets the meeting as the phone wrote it.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openCalDavBackend } from '../../backends/caldav/index.js';
import type { Account, Folder } from '../../src/backend/contract.js';
import type { CalendarItem } from '../../src/backend/model.js';
import { startSchedulingProxy, type SchedulingProxy } from '../support/dav-proxy.js';

const stack = inject('stack');
const alice = stack.users.find((u) => u.user === 'alice')!;
const signal = new AbortController().signal;
const tag = (): string => randomBytes(4).toString('hex');
const unfold = (text: string): string => text.replace(/\r?\n[ \t]/g, '');

const meeting = (subject: string): CalendarItem => ({
  Subject: subject,
  StartTime: new Date('2031-05-06T09:00:00Z'),
  EndTime: new Date('2031-05-06T10:00:00Z'),
  OrganizerEmail: `${alice.user}@easd.test`,
  MeetingStatus: 1,
  Attendees: [
    { Email: 'bob@easd.test', Name: 'Bob', AttendeeType: 1 },
    { Email: 'dave@elsewhere.test', Name: 'Dave', AttendeeType: 2 },
  ],
});

/** The stored object, read from Radicale directly (not through the proxy). */
async function stored(folderId: string, id: string): Promise<string> {
  const res = await fetch(new URL(`${alice.user}/${folderId}/${id}`, stack.dav.url), {
    headers: { authorization: `Basic ${Buffer.from(`${alice.user}:${alice.password}`).toString('base64')}` },
  });
  return unfold(await res.text());
}

/** A backend on `url`, logged in as alice, with a fresh calendar. */
async function calendarOn(url: string): Promise<{
  backend: Awaited<ReturnType<typeof openCalDavBackend>>;
  account: Account;
  folder: Folder;
}> {
  const backend = await openCalDavBackend({ url, emailDomain: 'easd.test' });
  const account = (await backend.authenticate(alice.user, alice.password, signal))!;
  const folder = await backend.folders.createFolder(account, null, `Sched ${tag()}`, 'Calendar', signal);
  return { backend, account, folder };
}

describe('caldav on a server that schedules (calendar-auto-schedule)', () => {
  let proxy: SchedulingProxy;
  beforeAll(async () => {
    proxy = await startSchedulingProxy(stack.dav.url, { autoSchedule: true });
  });
  afterAll(async () => {
    await proxy.close();
  });

  it('marks ORGANIZER and every ATTENDEE SCHEDULE-AGENT=CLIENT on create and update, asking the server once', async () => {
    const { backend, account, folder } = await calendarOn(proxy.url);
    const subject = `Sched ${tag()}`;
    const stamp = await backend.createItem(
      account,
      folder.id,
      { class: 'Calendar', item: meeting(subject) },
      signal,
    );
    const text = await stored(folder.id, stamp.id);
    const people = text.split(/\r?\n/).filter((l) => /^(ORGANIZER|ATTENDEE)[;:]/.test(l));
    expect(people).toHaveLength(3);
    for (const l of people) expect(l).toMatch(/;SCHEDULE-AGENT=CLIENT[;:]/);

    // the phone changes the time: still CLIENT (the stored object is the base)
    await backend.updateItem(
      account,
      folder.id,
      stamp.id,
      { class: 'Calendar', item: { ...meeting(subject), StartTime: new Date('2031-05-06T11:00:00Z') } },
      {},
      signal,
    );
    const after = await stored(folder.id, stamp.id);
    expect(after).toContain('DTSTART:20310506T110000Z');
    for (const l of after.split(/\r?\n/).filter((x) => /^(ORGANIZER|ATTENDEE)[;:]/.test(x)))
      expect(l).toMatch(/;SCHEDULE-AGENT=CLIENT[;:]/);

    // asked once per DAV user: one OPTIONS, even after another login on the same backend
    await backend.authenticate(alice.user, alice.password, signal);
    await backend.createItem(
      account,
      folder.id,
      { class: 'Calendar', item: meeting(`${subject} 2`) },
      signal,
    );
    expect(proxy.seen.filter((r) => r.method === 'OPTIONS')).toHaveLength(1);

    // an attendee's (or anyone's) delete asks the server for no reply (RFC 6638 §8.1)
    await backend.deleteItem(account, folder.id, stamp.id, {}, signal);
    const del = proxy.seen.find((r) => r.method === 'DELETE' && r.path.endsWith(stamp.id));
    expect(del?.headers['schedule-reply']).toBe('F');
    await backend.folders.deleteFolder(account, folder.id, signal);
  });

  it('an event without people gets no SCHEDULE-AGENT', async () => {
    const { backend, account, folder } = await calendarOn(proxy.url);
    const { Attendees: _a, OrganizerEmail: _o, MeetingStatus: _m, ...plain } = meeting(`Alone ${tag()}`);
    const stamp = await backend.createItem(account, folder.id, { class: 'Calendar', item: plain }, signal);
    expect(await stored(folder.id, stamp.id)).not.toContain('SCHEDULE-AGENT');
    await backend.folders.deleteFolder(account, folder.id, signal);
  });
});

describe('caldav scheduling detection', () => {
  it('a schedule outbox on the principal counts as scheduling too', async () => {
    const proxy = await startSchedulingProxy(stack.dav.url, { outbox: true });
    try {
      const { backend, account, folder } = await calendarOn(proxy.url);
      const stamp = await backend.createItem(
        account,
        folder.id,
        { class: 'Calendar', item: meeting(`Outbox ${tag()}`) },
        signal,
      );
      expect(await stored(folder.id, stamp.id)).toMatch(/^ATTENDEE;[^\r\n]*SCHEDULE-AGENT=CLIENT/m);
      await backend.folders.deleteFolder(account, folder.id, signal);
    } finally {
      await proxy.close();
    }
  });

  it('plain Radicale does not schedule: the meeting is stored without SCHEDULE-AGENT, deletes without Schedule-Reply', async () => {
    const proxy = await startSchedulingProxy(stack.dav.url, {});
    try {
      const { backend, account, folder } = await calendarOn(proxy.url);
      const stamp = await backend.createItem(
        account,
        folder.id,
        { class: 'Calendar', item: meeting(`Plain ${tag()}`) },
        signal,
      );
      const text = await stored(folder.id, stamp.id);
      expect(text).toMatch(/^ATTENDEE[^\r\n]*:mailto:bob@easd\.test$/m);
      expect(text).not.toContain('SCHEDULE-AGENT');
      await backend.deleteItem(account, folder.id, stamp.id, {}, signal);
      expect(proxy.seen.find((r) => r.method === 'DELETE')?.headers['schedule-reply']).toBeUndefined();
      await backend.folders.deleteFolder(account, folder.id, signal);
    } finally {
      await proxy.close();
    }
  });
});
