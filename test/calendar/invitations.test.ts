// The invitation planner (src/calendar/invitations.ts) on its own: which iTIP messages a phone's
// write gives, to whom, with which SEQUENCE; the messages themselves through a recording mail
// transport (a unit test: the real SMTP path is test/e2e/calendar-invitations.test.ts).
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import type { Account, Backend } from '../../src/backend/contract.js';
import type { CalendarItem } from '../../src/backend/model.js';
import { invitationPlanner, type InvitationPlanner } from '../../src/calendar/invitations.js';
import { timeZoneForTzid } from '../../src/convert/timezone.js';

const account: Account = { user: 'ann', email: 'ann@example.org', displayName: 'Ann' };
const sent: string[] = [];
const warned: unknown[] = [];
const backend = {
  mail: {
    send: async (_a: Account, mime: Uint8Array) => {
      sent.push(
        Buffer.from(mime)
          .toString('utf8')
          .replace(/\r?\n[ \t]/g, ''),
      );
    },
    getAttachment: async () => {
      throw new Error('none');
    },
  },
} as unknown as Backend;
const planner = (
  version: '14.1' | '16.0' | '16.1' = '16.1',
  b: Backend = backend,
): InvitationPlanner | undefined =>
  invitationPlanner({
    backend: b,
    account,
    protocolVersion: version,
    signal: new AbortController().signal,
    log: { warn: (...args: unknown[]) => void warned.push(args) } as never,
  });
const plan = planner()!;
const now = new Date('2030-01-01T00:00:00Z');
const d = (s: string): Date => new Date(s);
const meeting: CalendarItem = {
  UID: 'm-1',
  Subject: 'Planning',
  StartTime: d('2030-02-01T09:00:00Z'),
  EndTime: d('2030-02-01T10:00:00Z'),
  Attendees: [
    { Email: 'bo@example.org', Name: 'Bo', AttendeeType: 1 },
    { Email: 'cy@example.org', AttendeeType: 2 },
  ],
};
const stored: CalendarItem = { ...meeting, OrganizerEmail: 'ann@example.org', MeetingStatus: 1, Sequence: 0 };
const to = (p: ReturnType<InvitationPlanner>) => p?.messages.map((m) => [m.method, ...m.to]);

describe('when easd sends', () => {
  it('only from 16.0 and with a mail transport', () => {
    expect(planner('14.1')).toBeUndefined();
    expect(planner('16.0')).toBeDefined();
    expect(planner('16.1', {} as Backend)).toBeUndefined();
  });
});

describe('what a write sends', () => {
  it('Add: REQUEST SEQUENCE 0 to every attendee but the user, once each; the stored item is the user’s meeting', () => {
    const p = plan(
      undefined,
      {
        ...meeting,
        Attendees: [...meeting.Attendees!, { Email: 'ANN@example.org' }, { Email: 'bo@example.org' }],
      },
      now,
    );
    expect(to(p)).toEqual([['REQUEST', 'bo@example.org', 'cy@example.org']]);
    expect(p?.item).toMatchObject({
      UID: 'm-1',
      OrganizerEmail: 'ann@example.org',
      OrganizerName: 'Ann',
      MeetingStatus: 1,
      ResponseType: 1,
      Sequence: 0,
    });
  });

  it('Add of an appointment, a received meeting, another organizer’s meeting: nothing', () => {
    expect(plan(undefined, { ...meeting, Attendees: [] }, now)).toBeUndefined();
    expect(plan(undefined, { ...meeting, MeetingStatus: 3 }, now)).toBeUndefined();
    expect(plan(undefined, { ...meeting, OrganizerEmail: 'eve@example.org' }, now)).toBeUndefined();
  });

  it('Change of the time: SEQUENCE+1 REQUEST to all; only a new guest: REQUEST to that guest', () => {
    const moved = plan(stored, { ...stored, StartTime: d('2030-02-01T10:00:00Z') }, now);
    expect(to(moved)).toEqual([['REQUEST', 'bo@example.org', 'cy@example.org']]);
    expect(moved?.item?.Sequence).toBe(1);
    const more = plan(
      stored,
      { ...stored, Attendees: [...stored.Attendees!, { Email: 'di@example.org' }] },
      now,
    );
    expect(to(more)).toEqual([['REQUEST', 'di@example.org']]);
  });

  it('Change dropping every guest: CANCEL to them, and the item is no longer made a meeting', () => {
    const p = plan(stored, { ...stored, Attendees: [], MeetingStatus: 0 }, now);
    expect(to(p)).toEqual([['CANCEL', 'bo@example.org', 'cy@example.org']]);
    expect(p?.item).toMatchObject({ MeetingStatus: 0, Sequence: 1, Attendees: [] });
  });

  it('Change dropping a guest: CANCEL to that guest, REQUEST to the others', () => {
    const p = plan(stored, { ...stored, Attendees: [stored.Attendees![0]!] }, now);
    expect(to(p)).toEqual([
      ['REQUEST', 'bo@example.org'],
      ['CANCEL', 'cy@example.org'],
    ]);
  });

  it('Change of what only the user sees, or of the zone names in the blob: nothing', () => {
    expect(plan(stored, { ...stored, Reminder: 15, Categories: ['x'], BusyStatus: 1 }, now)).toBeUndefined();
    const series = { ...stored, Recurrence: { Type: 1 as const, DayOfWeek: 32 } };
    const blob = timeZoneForTzid('Europe/Berlin', { year: 2030 })!;
    const renamed = new Uint8Array(blob);
    renamed.set(new TextEncoder().encode('X\u0000'), 4); // another StandardName, same rules
    expect(plan({ ...series, TimeZone: blob }, { ...series, TimeZone: renamed }, now)).toBeUndefined();
    const other = timeZoneForTzid('America/New_York', { year: 2030 })!;
    expect(to(plan({ ...series, TimeZone: blob }, { ...series, TimeZone: other }, now))?.[0]?.[0]).toBe(
      'REQUEST',
    );
  });

  it('Change to a cancelled MeetingStatus: CANCEL to everyone, once', () => {
    const p = plan(stored, { ...stored, MeetingStatus: 5 }, now);
    expect(to(p)).toEqual([['CANCEL', 'bo@example.org', 'cy@example.org']]);
    expect(p?.item).toMatchObject({ MeetingStatus: 5, Sequence: 1 });
    expect(
      plan({ ...stored, MeetingStatus: 5 }, { ...stored, MeetingStatus: 5, Subject: 'x' }, now),
    ).toBeUndefined();
  });

  it('Delete: CANCEL with SEQUENCE+1, unless the meeting is over, cancelled, or another person’s', () => {
    expect(to(plan({ ...stored, Sequence: 4 }, undefined, now))).toEqual([
      ['CANCEL', 'bo@example.org', 'cy@example.org'],
    ]);
    expect(plan(stored, undefined, d('2030-03-01T00:00:00Z'))).toBeUndefined();
    expect(plan({ ...stored, MeetingStatus: 5 }, undefined, now)).toBeUndefined();
    expect(
      plan({ ...stored, OrganizerEmail: 'eve@example.org', MeetingStatus: 3 }, undefined, now),
    ).toBeUndefined();
    // a series runs until its Until
    const series = { ...stored, Recurrence: { Type: 0 as const, Until: d('2030-06-01T00:00:00Z') } };
    expect(plan(series, undefined, d('2030-03-01T00:00:00Z'))).toBeDefined();
    // a counted series runs to its last occurrence: weekly on Fridays from 1 February, 5 times → 1 March
    const counted = { ...stored, Recurrence: { Type: 1 as const, DayOfWeek: 32, Occurrences: 5 } };
    expect(plan(counted, undefined, d('2030-02-20T00:00:00Z'))).toBeDefined();
    expect(plan(counted, undefined, d('2030-03-01T09:30:00Z'))).toBeDefined();
    expect(plan(counted, undefined, d('2030-03-01T10:30:00Z'))).toBeUndefined();
  });
});

describe('the messages', () => {
  it('REQUEST: METHOD, ORGANIZER, RSVP for the guests, no alarm, no easd properties; CANCEL: STATUS and only its attendees', async () => {
    sent.length = 0;
    const add = plan(
      undefined,
      { ...meeting, Reminder: 10, Body: { Type: 1, EstimatedDataSize: 5, Data: 'Notes' } },
      now,
    )!;
    await add.send();
    const drop = plan({ ...stored, Sequence: 0 }, { ...stored, Attendees: [stored.Attendees![0]!] }, now)!;
    await drop.send();
    expect(sent).toHaveLength(3);
    const [request, update, cancel] = sent as [string, string, string];
    expect(request).toMatch(/^Subject: Planning\r?$/m);
    expect(request).toContain('METHOD:REQUEST');
    expect(request).toMatch(/^ORGANIZER;CN=Ann:mailto:ann@example\.org\r?$/m);
    expect(request).toMatch(/^ATTENDEE;[^\r\n]*RSVP=TRUE[^\r\n]*:mailto:bo@example\.org\r?$/m);
    expect(request).toMatch(/^SEQUENCE:0\r?$/m);
    expect(request).not.toMatch(/BEGIN:VALARM|X-EASD-/);
    expect(request).toContain('Notes');
    expect(update).toMatch(/^Subject: Updated: Planning\r?$/m);
    expect(update).toMatch(/^SEQUENCE:1\r?$/m);
    expect(cancel).toMatch(/^Subject: Canceled: Planning\r?$/m);
    expect(cancel).toContain('METHOD:CANCEL');
    expect(cancel).toMatch(/^STATUS:CANCELLED\r?$/m);
    expect(cancel).toContain('mailto:cy@example.org');
    expect(cancel).not.toContain('ATTENDEE;CN=Bo');
  });

  it('the text part gives the time on the event zone’s clock', async () => {
    sent.length = 0;
    const berlin = timeZoneForTzid('Europe/Berlin', { year: 2030 })!;
    await plan(undefined, { ...meeting, TimeZone: berlin }, now)!.send();
    const text = (await PostalMime.parse(sent[0]!)).text;
    expect(text).toContain('When: 2030-02-01 10:00 (UTC+01:00) – 2030-02-01 11:00 (UTC+01:00)');
  });

  it('a failed send is logged and does not throw (the meeting is stored already)', async () => {
    const failing = {
      mail: { send: async () => Promise.reject(new Error('smtp down')) },
    } as unknown as Backend;
    warned.length = 0;
    await planner('16.1', failing)!(undefined, meeting, now)!.send();
    expect(warned).toHaveLength(1);
  });
});
