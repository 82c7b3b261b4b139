// Invitations for meetings the user organizes on the phone (RFC 5546 iTIP, sent as iMIP, RFC 6047).
//
// Why here, between the Sync engine and the store: the CalDAV backend stays a store (RFC 4791 has
// no sending; RFC 6638 server-side scheduling is optional and Radicale has none — a server that
// has it is told SCHEDULE-AGENT=CLIENT by backends/caldav, §7.1), and a meeting on any calendar
// backend needs the same messages. The Sync engine calls `invitationPlanner` around a
// phone's Calendar Add, Change and Delete: the plan fixes what must be stored with the meeting
// (UID, ORGANIZER, SEQUENCE) before the write and sends the messages once the write succeeded,
// through the backend's mail transport as the user.
//
// When: protocol 16.0 and 16.1 only. Up to 14.1 the phone sends the meeting request itself with
// SendMail (MS-ASCMD 4.16, SendMail after the Sync Add), and the attendees would get two; 16.x
// clients do not (MS-ASCAL 2.2.2.35: "the server will use the email address of the current user"
// as organizer), as with the MeetingResponse reply (MS-ASCMD 2.2.1.11).
// What:
// - Add of an event with attendees, the user organizing: REQUEST to every attendee, SEQUENCE 0.
// - Change of such an event that an attendee would see (time, zone, subject, location, body,
//   recurrence, exceptions, attendees): SEQUENCE+1, REQUEST to the attendees, CANCEL to the ones
//   removed (RFC 5546 3.2.2.4 / 3.2.5).
// - Change to a cancelled MeetingStatus (MS-ASCAL 2.2.2.28: 5, 13), or Delete of a meeting that has
//   not ended: SEQUENCE+1 CANCEL to every attendee (RFC 5546 3.2.5).
// - A meeting the user did not organize (MeetingStatus 3/7/11/15, or another ORGANIZER) sends
//   nothing: its answers go through MeetingResponse.
import { randomUUID } from 'node:crypto';
import ICAL from 'ical.js';
import type { Logger } from 'pino';
import type { Account, Backend } from '../backend/contract.js';
import type { Attendee, CalendarItem } from '../backend/model.js';
import { versionAtLeast, type ProtocolVersion } from '../commands/types.js';
import { calendarToIcs } from '../convert/icalendar.js';
import { decodeTimeZone, timeZoneInformationZone } from '../convert/timezone.js';
import { composeImip, type ItipMethod } from './imip.js';

export interface InvitationContext {
  backend: Backend;
  account: Account;
  protocolVersion: ProtocolVersion;
  signal: AbortSignal;
  log: Pick<Logger, 'warn'>;
}

/** What to store for a write, and what to send once it is stored. */
export interface InvitationPlan {
  /** The item to write instead of the client's (UID, organizer, SEQUENCE filled in). */
  item?: CalendarItem;
  /** Sends the messages; never throws (the write already succeeded), failures are logged. */
  send(): Promise<void>;
  /** The messages, for tests and logs: method and recipients. */
  readonly messages: ReadonlyArray<{ method: ItipMethod; to: readonly string[] }>;
}

/** Plans the invitations of one client write: `before` absent for an Add, `after` absent for a Delete. */
export type InvitationPlanner = (
  before: CalendarItem | undefined,
  after: CalendarItem | undefined,
  now?: Date,
) => InvitationPlan | undefined;

/** A planner for this request, or undefined when easd sends nothing (before 16.0, no mail transport). */
export function invitationPlanner(ctx: InvitationContext): InvitationPlanner | undefined {
  if (!versionAtLeast(ctx.protocolVersion, '16.0') || ctx.backend.mail === undefined) return undefined;
  return (before, after, now = new Date()) => plan(ctx, before, after, now);
}

const me = (ctx: InvitationContext): string => ctx.account.email.toLowerCase();

/** MS-ASCAL 2.2.2.28: 3, 7, 11, 15 are meetings received from someone else. */
const received = (status: number | undefined): boolean => status !== undefined && (status & 2) !== 0;
/** 5, 7, 13, 15: cancelled. */
const cancelled = (status: number | undefined): boolean => status !== undefined && (status & 4) !== 0;

function organizedByUser(ctx: InvitationContext, item: CalendarItem): boolean {
  if (received(item.MeetingStatus)) return false;
  const org = item.OrganizerEmail?.toLowerCase();
  return org === undefined || org === '' || org === me(ctx);
}

/** The attendees to write to: everyone but the user, once each (RFC 5546 3.2.2: the organizer is not invited). */
function guests(ctx: InvitationContext, item: CalendarItem | undefined): Attendee[] {
  const seen = new Set<string>([me(ctx)]);
  const out: Attendee[] = [];
  for (const a of item?.Attendees ?? []) {
    const key = a.Email.toLowerCase();
    if (key === '' || seen.has(key)) continue;
    seen.add(key);
    out.push(a);
  }
  return out;
}

/** The properties an attendee sees: a change to any of them is an update worth sending. */
function visible(item: CalendarItem): string {
  const time = (d: Date | undefined): number | null => d?.getTime() ?? null;
  return JSON.stringify([
    item.Subject ?? null,
    time(item.StartTime),
    time(item.EndTime),
    item.AllDayEvent === true,
    zoneRules(item),
    item.Location?.DisplayName ?? null,
    typeof item.Body?.Data === 'string' && item.Body.Truncated !== true ? item.Body.Data : null,
    item.Recurrence ?? null,
    (item.Exceptions ?? []).map((e) => [
      time(e.ExceptionStartTime),
      e.Deleted === true,
      time(e.StartTime),
      time(e.EndTime),
      e.Subject ?? null,
      e.Location?.DisplayName ?? null,
    ]),
  ]);
}

/**
 * The zone's rules, only where they place occurrences (a series): phones resend the blob with
 * their own zone names, which must not count as an update.
 */
function zoneRules(item: CalendarItem): string | null {
  if (item.TimeZone === undefined || item.Recurrence === undefined) return null;
  try {
    const { StandardName: _s, DaylightName: _d, ...rules } = decodeTimeZone(item.TimeZone);
    return JSON.stringify(rules);
  } catch {
    return Buffer.from(item.TimeZone).toString('base64');
  }
}

/** Whether the meeting is over: a single event that ended, or a series whose last occurrence did. */
function ended(item: CalendarItem, now: Date): boolean {
  const r = item.Recurrence;
  if (r === undefined) return item.EndTime !== undefined && item.EndTime.getTime() < now.getTime();
  if (r.Until !== undefined) return r.Until.getTime() < now.getTime();
  if (r.Occurrences === undefined || item.StartTime === undefined) return false;
  // a counted series: walk it (RFC 5545 COUNT) to its last start
  try {
    const cal = new ICAL.Component(ICAL.parse(calendarToIcs(item, { now })) as unknown[]);
    const master = cal.getFirstSubcomponent('vevent');
    if (master === null) return false;
    const it = new ICAL.Event(master).iterator();
    let last: ICAL.Time | undefined;
    for (let next = it.next(), n = 0; next !== null && next !== undefined && n < 1000; next = it.next(), n++)
      last = next;
    const duration = (item.EndTime?.getTime() ?? item.StartTime.getTime()) - item.StartTime.getTime();
    return last !== undefined && last.toJSDate().getTime() + duration < now.getTime();
  } catch {
    return false;
  }
}

function plan(
  ctx: InvitationContext,
  before: CalendarItem | undefined,
  after: CalendarItem | undefined,
  now: Date,
): InvitationPlan | undefined {
  const messages: Outgoing[] = [];
  let item: CalendarItem | undefined;

  if (before === undefined && after !== undefined) {
    // Add: a meeting when it has guests and the phone did not mark it as received.
    const to = guests(ctx, after);
    if (to.length === 0 || !organizedByUser(ctx, after) || cancelled(after.MeetingStatus)) return undefined;
    item = asOrganizer(ctx, after, 0);
    messages.push({ method: 'REQUEST', to, item });
  } else if (before !== undefined && after === undefined) {
    // Delete: the guests learn the meeting is off, unless it was cancelled already or is over.
    const to = guests(ctx, before);
    if (to.length === 0 || !organizedByUser(ctx, before) || cancelled(before.MeetingStatus)) return undefined;
    if (ended(before, now)) return undefined;
    messages.push({ method: 'CANCEL', to, item: { ...before, Sequence: (before.Sequence ?? 0) + 1 } });
  } else if (before !== undefined && after !== undefined) {
    if (!organizedByUser(ctx, before) || !organizedByUser(ctx, after)) return undefined;
    const was = guests(ctx, before);
    const staying = guests(ctx, after);
    const keys = new Set(staying.map((a) => a.Email.toLowerCase()));
    const removed = was.filter((a) => !keys.has(a.Email.toLowerCase()));
    const wasKeys = new Set(was.map((a) => a.Email.toLowerCase()));
    const added = staying.filter((a) => !wasKeys.has(a.Email.toLowerCase()));
    const sequence = (before.Sequence ?? after.Sequence ?? 0) + 1;
    if (cancelled(after.MeetingStatus)) {
      if (cancelled(before.MeetingStatus) || was.length + staying.length === 0) return undefined;
      item = asOrganizer(ctx, after, sequence);
      const everyone = [...staying, ...removed];
      messages.push({ method: 'CANCEL', to: everyone, item });
    } else {
      const changed = visible(before) !== visible(after);
      if (!changed && added.length === 0 && removed.length === 0) return undefined;
      // without guests left it is an appointment again: only the SEQUENCE moves on
      item = staying.length > 0 ? asOrganizer(ctx, after, sequence) : { ...after, Sequence: sequence };
      // an unchanged meeting with new guests: only they need the invitation
      const to = changed || removed.length > 0 ? staying : added;
      if (to.length > 0) messages.push({ method: 'REQUEST', to, item });
      if (removed.length > 0) messages.push({ method: 'CANCEL', to: removed, item });
    }
  } else return undefined;

  return {
    ...(item !== undefined && { item }),
    messages: messages.map((m) => ({ method: m.method, to: m.to.map((a) => a.Email) })),
    send: () => sendAll(ctx, messages, now),
  };
}

interface Outgoing {
  method: 'REQUEST' | 'CANCEL';
  to: Attendee[];
  item: CalendarItem;
}

/** The meeting as the user's: their address as ORGANIZER (MS-ASCAL 2.2.2.35), a UID, the SEQUENCE. */
function asOrganizer(ctx: InvitationContext, item: CalendarItem, sequence: number): CalendarItem {
  return {
    ...item,
    UID: item.UID ?? item.ClientUid ?? randomUUID(),
    OrganizerEmail: ctx.account.email,
    ...(ctx.account.displayName !== undefined && { OrganizerName: ctx.account.displayName }),
    // MS-ASCAL 2.2.2.28: 1, a meeting the user organizes (keeping a cancellation's 5/13)
    MeetingStatus: cancelled(item.MeetingStatus) ? item.MeetingStatus! : 1,
    ResponseType: 1,
    Sequence: sequence,
  };
}

async function sendAll(ctx: InvitationContext, messages: readonly Outgoing[], now: Date): Promise<void> {
  const mail = ctx.backend.mail;
  if (mail === undefined) return;
  for (const m of messages) {
    try {
      const mime = await composeImip({
        from: ctx.account,
        to: m.to.map((a) => ({ address: a.Email, ...(a.Name !== undefined && { name: a.Name }) })),
        subject: subjectOf(m),
        text: textOf(m),
        method: m.method,
        ics: itipIcs(ctx, m, now),
      });
      await mail.send(ctx.account, mime, { saveInSent: true }, ctx.signal);
    } catch (err) {
      // the meeting is stored already; the phone cannot be told, so the log must say it
      ctx.log.warn({ err, method: m.method, recipients: m.to.length }, 'meeting invitation not sent');
    }
  }
}

/** A time as the organizer's calendar shows it: the wall clock of the event's zone, with its offset. */
function localTime(item: CalendarItem, at: Date): string {
  let offset = 0;
  try {
    if (item.TimeZone !== undefined)
      offset = timeZoneInformationZone(decodeTimeZone(item.TimeZone)).offsetAt(at.getTime());
  } catch {
    offset = 0;
  }
  // offsetAt is in minutes east of UTC
  const wall = new Date(at.getTime() + offset * 60_000);
  const sign = offset < 0 ? '-' : '+';
  const hhmm = (n: number): string => String(n).padStart(2, '0');
  const zone = `UTC${sign}${hhmm(Math.floor(Math.abs(offset) / 60))}:${hhmm(Math.abs(offset) % 60)}`;
  const day =
    item.AllDayEvent === true
      ? wall.toISOString().slice(0, 10)
      : wall.toISOString().slice(0, 16).replace('T', ' ');
  return item.AllDayEvent === true ? day : `${day} (${zone})`;
}

function subjectOf(m: Outgoing): string {
  const subject = m.item.Subject ?? '';
  if (m.method === 'CANCEL') return `Canceled: ${subject}`.trim();
  return (m.item.Sequence ?? 0) > 0 ? `Updated: ${subject}`.trim() : subject;
}

function textOf(m: Outgoing): string {
  const lines: string[] = [];
  if (m.method === 'CANCEL') lines.push('This meeting has been canceled.');
  if (m.item.StartTime !== undefined) {
    const end = m.item.EndTime === undefined ? '' : ` – ${localTime(m.item, m.item.EndTime)}`;
    lines.push(`When: ${localTime(m.item, m.item.StartTime)}${end}`);
  }
  if (m.item.Location?.DisplayName !== undefined) lines.push(`Where: ${m.item.Location.DisplayName}`);
  const body = m.item.Body;
  if (m.method === 'REQUEST' && body?.Type === 1 && typeof body.Data === 'string' && body.Data !== '')
    lines.push('', body.Data);
  return `${lines.join('\r\n')}\r\n`;
}

/** Properties of the user's own copy that are not the attendees' business. */
const privateProps = ['x-easd-timezone', 'x-easd-appointmentreplytime', 'x-microsoft-cdo-busystatus'];

/**
 * The iTIP object: the meeting as the converter writes it, with METHOD, the guests asked to reply
 * (RSVP, RFC 5546 3.2.2) and without the user's alarms. A CANCEL (RFC 5546 3.2.5) carries
 * STATUS:CANCELLED and only the attendees it cancels.
 */
export function itipIcs(
  ctx: Pick<InvitationContext, 'account'>,
  m: { method: 'REQUEST' | 'CANCEL'; to: readonly Attendee[]; item: CalendarItem },
  now: Date,
): string {
  // a CANCEL names exactly the attendees it cancels, removed ones included (RFC 5546 3.2.5)
  const item: CalendarItem = {
    ...m.item,
    // RFC 5546 3.2.2/3.2.5: every REQUEST and CANCEL names its organizer, the user here
    OrganizerEmail: m.item.OrganizerEmail ?? ctx.account.email,
    DtStamp: now,
    ...(m.method === 'CANCEL' && { Attendees: [...m.to] }),
  };
  const cal = new ICAL.Component(
    ICAL.parse(calendarToIcs(item, { userAddresses: [ctx.account.email], now })) as unknown[],
  );
  cal.updatePropertyWithValue('method', m.method);
  for (const ev of cal.getAllSubcomponents('vevent')) {
    for (const alarm of ev.getAllSubcomponents('valarm')) ev.removeSubcomponent(alarm);
    for (const p of privateProps) ev.removeAllProperties(p);
    for (const att of ev.getAllProperties('attendee')) {
      const address = String(att.getFirstValue())
        .replace(/^mailto:/i, '')
        .toLowerCase();
      if (
        m.method === 'REQUEST' &&
        address !== ctx.account.email.toLowerCase() &&
        m.item.ResponseRequested !== false
      )
        att.setParameter('rsvp', 'TRUE');
    }
    if (m.method === 'CANCEL') ev.updatePropertyWithValue('status', 'CANCELLED');
  }
  // the whole meeting is cancelled: its master says so, the changed occurrences go with it
  if (m.method === 'CANCEL')
    for (const ev of cal.getAllSubcomponents('vevent'))
      if (ev.hasProperty('recurrence-id')) cal.removeSubcomponent(ev);
  return cal.toString().replace(/\r?\n/g, '\r\n') + '\r\n';
}
