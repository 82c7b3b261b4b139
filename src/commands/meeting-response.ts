// MeetingResponse (MS-ASCMD 2.2.1.11): the user answers a meeting request — an invitation in a
// mail folder (its text/calendar part, RFC 6047) or a meeting in a calendar folder.
//
// What easd does, per Request:
// - The event goes to the user's default Calendar folder (found there by UID, else added) with
//   the user's ResponseType and PARTSTAT (MS-ASCAL 2.2.2.40, RFC 5546 3.2.3), BusyStatus the
//   organizer intended on accept (MS-ASEMAIL 2.2.2.8) or tentative on tentative. CalendarId is its
//   ServerId (MS-ASCMD 2.2.3.18). A decline removes the event from the calendar, as Exchange does,
//   and answers no CalendarId (same section); one declined occurrence becomes a deleted exception.
// - The reply to the organizer (an iTIP REPLY, RFC 5546 3.2.3, sent as iMIP, RFC 6047) goes out
//   only in 16.x and only when the request has SendResponse (MS-ASCMD 2.2.3.163: "If the
//   SendResponse element is not present, no email will be sent"). Up to 14.1 the client sends it
//   itself with SendMail (MS-ASCMD 2.2.1.11), so easd never does: the organizer would get two.
// - A 16.1 proposal of a new time (SendResponse ProposedStartTime/ProposedEndTime, MS-ASCMD
//   2.2.3.140/141) goes out after the REPLY as an iTIP COUNTER (RFC 5546 3.2.7), the iTIP way to
//   propose a change: the REPLY records the answer with every organizer's client, the COUNTER
//   carries the new time to the ones that can accept it. The user's own copy keeps the old time.
// - The invitation itself moves to Deleted Items once answered, as Exchange does; clients drop it
//   from the Inbox anyway, and a failed move never fails the response.
import ICAL from 'ical.js';
import type { Account } from '../backend/contract.js';
import { composeImip } from '../calendar/imip.js';
import type { Attendee, CalendarItem, EmailItem } from '../backend/model.js';
import { icsToCalendar } from '../convert/icalendar.js';
import { calendarPartOf, htmlToPlain, meetingRequestOf, parseMime } from '../convert/mime-to-email.js';
import {
  buildMeetingResponseResponse,
  MeetingResponseStatus,
  parseMeetingResponseRequest,
  type MeetingResponseRequest,
  type MeetingResponseResult,
  type UserResponse,
} from '../protocol/meeting-response.js';
import { ProtocolError } from '../protocol/read.js';
import { itemIdOf, serverIdOf } from '../sync/collection.js';
import { loadDeviceFolders, type DeviceFolders } from '../sync/device-folders.js';
import { backendCall, type EngineContext, type EngineDeps } from './deps.js';
import { versionAtLeast, type CommandHandler, type CommandResult } from './types.js';

/** MS-ASCAL 2.2.2.40 ResponseType for each UserResponse: 3 accepted, 2 tentative, 4 declined. */
const responseTypeOf = { 1: 3, 2: 2, 3: 4 } as const;
/** RFC 5546 3.2.3 / RFC 5545 3.2.12 PARTSTAT for each UserResponse. */
const partstatOf = { 1: 'ACCEPTED', 2: 'TENTATIVE', 3: 'DECLINED' } as const;
/** Subject prefixes of the reply, as Outlook and Exchange write them. */
const verbOf = { 1: 'Accepted', 2: 'Tentative', 3: 'Declined' } as const;

/** How many calendar items one getItems call reads while looking for a UID. */
const uidLookupBatch = 100;

export function createMeetingResponseHandler(deps: EngineDeps): CommandHandler<Account> {
  return async (ctx): Promise<CommandResult> => {
    let requests: MeetingResponseRequest[];
    try {
      requests = parseMeetingResponseRequest(ctx.body);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      ctx.log.info({ reason: err.message }, 'MeetingResponse not understood');
      return {
        body: buildMeetingResponseResponse([{ Status: MeetingResponseStatus.InvalidMeetingRequest }]),
      };
    }
    const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
    const folders = await loadDeviceFolders(scope);
    const results: MeetingResponseResult[] = [];
    for (const req of requests) {
      const result = await respond(deps, ctx, folders, req);
      results.push({
        ...(req.RequestId !== undefined && { RequestId: req.RequestId }),
        ...result,
        ...(req.InstanceId !== undefined && result.Status === 1 && { InstanceId: req.InstanceId }),
      });
    }
    return { body: buildMeetingResponseResponse(results) };
  };
}

type Outcome = Pick<MeetingResponseResult, 'Status' | 'CalendarId'>;

const invalid: Outcome = { Status: MeetingResponseStatus.InvalidMeetingRequest };

/** The meeting a Request names: from an invitation, or a calendar item. */
interface Meeting {
  event: CalendarItem;
  /** The invitation's iCalendar text, when the request names a message. */
  ics?: string;
  /** The message, to move to Deleted Items once answered. */
  message?: { folderId: string; itemId: string };
  /** The calendar item, when the request names one. */
  calendarItem?: { folderId: string; itemId: string; version: string };
  /** The busy status the organizer intended (MS-ASEMAIL 2.2.2.8). */
  intendedBusy?: 0 | 1 | 2 | 3 | 4;
}

async function respond(
  deps: EngineDeps,
  ctx: EngineContext,
  folders: DeviceFolders,
  req: MeetingResponseRequest,
): Promise<Outcome> {
  const { backend } = deps;
  const { account, signal } = ctx;
  // A LongId is the ServerId Search handed out (`<collection>:<item>`).
  const serverId = req.LongId ?? req.RequestId ?? '';
  const collectionId = req.CollectionId ?? serverId.slice(0, Math.max(0, serverId.indexOf(':')));
  const coll = folders.resolve(collectionId, ctx.protocolVersion);
  if (coll === undefined || (coll.cls !== 'Email' && coll.cls !== 'Calendar')) return invalid;
  const itemId = itemIdOf(collectionId, serverId) ?? serverId;

  const found = await backendCall('MeetingResponse', () =>
    findMeeting(deps, ctx, coll.cls as 'Email' | 'Calendar', coll.folderId, itemId),
  );
  if (!found.ok) return { Status: found.status };
  const meeting = found.value;
  if (meeting === undefined) return invalid;
  const users = [account.email.toLowerCase()];
  // MS-ASCMD 2.2.3.177.9: 2 for a meeting the user organizes, or an InstanceId on a message.
  const organizer = meeting.event.OrganizerEmail?.toLowerCase();
  if (organizer === undefined || users.includes(organizer) || meeting.event.ResponseType === 1)
    return invalid;
  if (
    req.InstanceId !== undefined &&
    (meeting.message !== undefined || meeting.event.Recurrence === undefined)
  )
    return invalid;

  const calendar = await backendCall('MeetingResponse', () => defaultCalendar(deps, ctx), 'folder');
  if (!calendar.ok) return { Status: calendar.status };
  if (calendar.value === undefined) return { Status: MeetingResponseStatus.MailboxError };
  const calendarFolderId = calendar.value;

  const written = await backendCall('MeetingResponse', () =>
    writeCalendar(deps, ctx, calendarFolderId, meeting, req),
  );
  if (!written.ok) return { Status: written.status };

  if (versionAtLeast(ctx.protocolVersion, '16.0') && req.SendResponse !== undefined) {
    const mail = backend.mail;
    if (mail === undefined) return { Status: MeetingResponseStatus.MailboxError };
    const mime = await buildReplyMime(account, meeting, req);
    const sent = await backendCall('MeetingResponse', () =>
      mail.send(account, mime, { saveInSent: true }, signal),
    );
    if (!sent.ok) return { Status: sent.status };
    const proposal = req.SendResponse.ProposedStartTime;
    if (proposal !== undefined && versionAtLeast(ctx.protocolVersion, '16.1')) {
      const counter = await buildReplyMime(account, meeting, req, 'COUNTER');
      const countered = await backendCall('MeetingResponse', () =>
        mail.send(account, counter, { saveInSent: true }, signal),
      );
      if (!countered.ok) return { Status: countered.status };
    }
  }

  if (meeting.message !== undefined) await moveToTrash(deps, ctx, folders, meeting.message);

  const collection = folders.ids.serverId(calendarFolderId);
  return {
    Status: MeetingResponseStatus.Success,
    ...(req.UserResponse !== 3 &&
      written.value !== undefined &&
      collection !== undefined && { CalendarId: serverIdOf(collection, written.value) }),
  };
}

async function findMeeting(
  deps: EngineDeps,
  ctx: EngineContext,
  cls: 'Email' | 'Calendar',
  folderId: string,
  itemId: string,
): Promise<Meeting | undefined> {
  const { account, signal } = ctx;
  if (cls === 'Calendar') {
    const [rec] = await deps.backend.getItems(account, folderId, [itemId], { bodyPreferences: [] }, signal);
    if (rec?.class !== 'Calendar') return undefined;
    return {
      event: rec.item,
      calendarItem: { folderId, itemId, version: rec.version },
      ...(rec.item.BusyStatus !== undefined && { intendedBusy: rec.item.BusyStatus }),
    };
  }
  const [rec] = await deps.backend.getItems(
    account,
    folderId,
    [itemId],
    { bodyPreferences: [{ Type: 4 }], MIMESupport: 2 },
    signal,
  );
  if (rec?.class !== 'Email') return undefined;
  const raw = mimeOf(rec.item);
  if (raw === undefined) return undefined;
  const part = calendarPartOf(await parseMime(raw));
  // RFC 5546 3.2.2: only a REQUEST asks for an answer.
  if (part === undefined || part.method !== 'REQUEST') return undefined;
  let event: CalendarItem;
  try {
    event = icsToCalendar(part.text, { userAddresses: [account.email] });
  } catch {
    return undefined;
  }
  const request = meetingRequestOf(part.text, 'meeting-request', [account.email]);
  return {
    event,
    ics: part.text,
    message: { folderId, itemId },
    ...(request?.BusyStatus !== undefined && { intendedBusy: request.BusyStatus }),
  };
}

function mimeOf(item: EmailItem): Uint8Array | undefined {
  const body = item.Body;
  if (body?.Type !== 4 || body.Data === undefined || body.Truncated === true) return undefined;
  return typeof body.Data === 'string' ? new TextEncoder().encode(body.Data) : body.Data;
}

/** The default Calendar folder's backend id (MS-ASCMD 2.2.3.186.3 Type 8), else the first calendar. */
async function defaultCalendar(deps: EngineDeps, ctx: EngineContext): Promise<string | undefined> {
  const all = (await deps.backend.listFolders(ctx.account, ctx.signal)).filter((f) => f.class === 'Calendar');
  return (all.find((f) => f.role === 'default') ?? all[0])?.id;
}

/** The calendar item with this UID, read whole (updateItem replaces a calendar item's properties). */
async function findByUid(
  deps: EngineDeps,
  ctx: EngineContext,
  folderId: string,
  uid: string,
): Promise<{ id: string; version: string; item: CalendarItem } | undefined> {
  const stamps = await deps.backend.listStamps(ctx.account, folderId, {}, ctx.signal);
  for (let i = 0; i < stamps.length; i += uidLookupBatch) {
    const ids = stamps.slice(i, i + uidLookupBatch).map((s) => s.id);
    const recs = await deps.backend.getItems(ctx.account, folderId, ids, { bodyPreferences: [] }, ctx.signal);
    for (const r of recs)
      if (r.class === 'Calendar' && r.item.UID === uid) return { id: r.id, version: r.version, item: r.item };
  }
  return undefined;
}

/** The user's answer applied to an event (RFC 5546 3.2.3: the attendee's PARTSTAT). */
function answered(
  event: CalendarItem,
  account: Account,
  response: UserResponse,
  meeting: Meeting,
): CalendarItem {
  const me = account.email.toLowerCase();
  const status = responseTypeOf[response];
  const attendees: Attendee[] = (event.Attendees ?? []).map((a) =>
    a.Email.toLowerCase() === me ? { ...a, AttendeeStatus: status } : a,
  );
  if (!attendees.some((a) => a.Email.toLowerCase() === me))
    attendees.push({ Email: account.email, AttendeeStatus: status, AttendeeType: 1 });
  return {
    ...event,
    Attendees: attendees,
    // MS-ASCAL 2.2.2.29: 3, a meeting the user received.
    MeetingStatus: 3,
    ResponseType: status,
    AppointmentReplyTime: new Date(),
    BusyStatus: response === 2 ? 1 : (meeting.intendedBusy ?? event.BusyStatus ?? 2),
  };
}

/** Writes the answer to the calendar; the calendar item's backend id, or undefined when removed. */
async function writeCalendar(
  deps: EngineDeps,
  ctx: EngineContext,
  calendarFolderId: string,
  meeting: Meeting,
  req: MeetingResponseRequest,
): Promise<string | undefined> {
  const { backend } = deps;
  const { account, signal } = ctx;
  const existing =
    meeting.calendarItem !== undefined
      ? {
          id: meeting.calendarItem.itemId,
          version: meeting.calendarItem.version,
          item: meeting.event,
          folderId: meeting.calendarItem.folderId,
        }
      : meeting.event.UID === undefined
        ? undefined
        : await findByUid(deps, ctx, calendarFolderId, meeting.event.UID).then((f) =>
            f === undefined ? undefined : { ...f, folderId: calendarFolderId },
          );

  const update = async (at: { folderId: string; id: string }, item: CalendarItem): Promise<string> =>
    (await backend.updateItem(account, at.folderId, at.id, { class: 'Calendar', item }, {}, signal)).id;

  if (req.InstanceId !== undefined && existing !== undefined) {
    // One occurrence (16.x InstanceId): its answer is an exception of the series.
    const at = req.InstanceId.getTime();
    const others = (existing.item.Exceptions ?? []).filter((e) => e.ExceptionStartTime.getTime() !== at);
    const old = (existing.item.Exceptions ?? []).find((e) => e.ExceptionStartTime.getTime() === at);
    const exception =
      req.UserResponse === 3
        ? { ExceptionStartTime: req.InstanceId, Deleted: true }
        : {
            ...old,
            ExceptionStartTime: req.InstanceId,
            ResponseType: responseTypeOf[req.UserResponse],
            BusyStatus: req.UserResponse === 2 ? (1 as const) : (meeting.intendedBusy ?? 2),
            AppointmentReplyTime: new Date(),
          };
    return update(existing, { ...existing.item, Exceptions: [...others, exception] });
  }

  if (req.UserResponse === 3) {
    if (existing !== undefined) await backend.deleteItem(account, existing.folderId, existing.id, {}, signal);
    return undefined;
  }
  const item = answered(existing?.item ?? meeting.event, account, req.UserResponse, meeting);
  if (existing !== undefined) return update(existing, item);
  return (await backend.createItem(account, calendarFolderId, { class: 'Calendar', item }, signal)).id;
}

async function moveToTrash(
  deps: EngineDeps,
  ctx: EngineContext,
  folders: DeviceFolders,
  message: { folderId: string; itemId: string },
): Promise<void> {
  const trash = folders.trashFolderId();
  if (trash === undefined || trash === message.folderId) return;
  try {
    await deps.backend.moveItem(ctx.account, message.folderId, message.itemId, trash, ctx.signal);
  } catch (err) {
    ctx.log.warn({ err }, 'could not move the answered meeting request to Deleted Items');
  }
}

/**
 * The iTIP REPLY (RFC 5546 3.2.3): METHOD:REPLY, one VEVENT with the UID, SEQUENCE, ORGANIZER,
 * DTSTAMP, the replying ATTENDEE with its PARTSTAT, and RECURRENCE-ID for one occurrence. With
 * `proposed`, the COUNTER (RFC 5546 3.2.7): the same VEVENT with the proposed DTSTART/DTEND.
 */
export function buildReplyIcs(
  event: CalendarItem,
  attendee: { email: string; name?: string },
  response: UserResponse,
  opts: {
    now: Date;
    sequence?: number;
    recurrenceId?: Date;
    comment?: string;
    proposed?: { start: Date; end: Date };
  },
): string {
  const cal = new ICAL.Component(['vcalendar', [], []]);
  cal.addPropertyWithValue('prodid', '-//easd//easd//EN');
  cal.addPropertyWithValue('version', '2.0');
  cal.addPropertyWithValue('method', opts.proposed === undefined ? 'REPLY' : 'COUNTER');
  const ev = new ICAL.Component(['vevent', [], []]);
  cal.addSubcomponent(ev);
  ev.addPropertyWithValue('uid', event.UID ?? '');
  ev.addPropertyWithValue('dtstamp', ICAL.Time.fromJSDate(opts.now, true));
  if (opts.sequence !== undefined && opts.sequence > 0) ev.addPropertyWithValue('sequence', opts.sequence);
  if (opts.recurrenceId !== undefined)
    ev.addPropertyWithValue('recurrence-id', ICAL.Time.fromJSDate(opts.recurrenceId, true));
  const org = ev.addPropertyWithValue('organizer', `mailto:${event.OrganizerEmail ?? ''}`);
  if (event.OrganizerName !== undefined && event.OrganizerName !== '')
    org.setParameter('cn', event.OrganizerName);
  const att = ev.addPropertyWithValue('attendee', `mailto:${attendee.email}`);
  att.setParameter('partstat', partstatOf[response]);
  if (attendee.name !== undefined && attendee.name !== '') att.setParameter('cn', attendee.name);
  if (event.Subject !== undefined) ev.addPropertyWithValue('summary', event.Subject);
  const span =
    opts.proposed ?? (opts.recurrenceId === undefined ? { start: event.StartTime, end: event.EndTime } : {});
  if (span.start !== undefined) ev.addPropertyWithValue('dtstart', ICAL.Time.fromJSDate(span.start, true));
  if (span.end !== undefined) ev.addPropertyWithValue('dtend', ICAL.Time.fromJSDate(span.end, true));
  if (opts.comment !== undefined && opts.comment !== '') ev.addPropertyWithValue('comment', opts.comment);
  return cal.toString().replace(/\r?\n/g, '\r\n') + '\r\n';
}

function sequenceOf(ics: string | undefined, uid: string | undefined): number | undefined {
  if (ics === undefined) return undefined;
  try {
    const cal = new ICAL.Component(ICAL.parse(ics) as unknown[]);
    const ev = cal.getAllSubcomponents('vevent').find((e) => e.getFirstPropertyValue('uid') === uid);
    const seq = Number(ev?.getFirstPropertyValue('sequence') ?? 0);
    return Number.isFinite(seq) ? seq : undefined;
  } catch {
    return undefined;
  }
}

/** The reply as a message: a readable text part and the REPLY as text/calendar (RFC 6047 2.4). */
async function buildReplyMime(
  account: Account,
  meeting: Meeting,
  req: MeetingResponseRequest,
  method: 'REPLY' | 'COUNTER' = 'REPLY',
): Promise<Uint8Array> {
  const event = meeting.event;
  // RFC 5546 3.2.3: the REPLY names the version it answers
  const sequence = sequenceOf(meeting.ics, event.UID) ?? event.Sequence;
  const start = req.SendResponse?.ProposedStartTime;
  const end = req.SendResponse?.ProposedEndTime;
  const proposed = start !== undefined && end !== undefined ? { start, end } : undefined;
  const body = req.SendResponse?.Body;
  const comment = body === undefined ? undefined : body.Type === 2 ? htmlToPlain(body.Data) : body.Data;
  const name = account.displayName ?? account.email;
  const ics = buildReplyIcs(
    event,
    { email: account.email, ...(account.displayName !== undefined && { name: account.displayName }) },
    req.UserResponse,
    {
      now: new Date(),
      ...(sequence !== undefined && { sequence }),
      ...(req.InstanceId !== undefined && { recurrenceId: req.InstanceId }),
      ...(comment !== undefined && { comment }),
      ...(method === 'COUNTER' && proposed !== undefined && { proposed }),
    },
  );
  const verb = verbOf[req.UserResponse];
  let summary = `${name} has ${verb === 'Tentative' ? 'tentatively accepted' : verb.toLowerCase()} this invitation.`;
  let subject = `${verb}: ${event.Subject ?? ''}`.trim();
  if (method === 'COUNTER' && proposed !== undefined) {
    // Outlook's wording for a proposal, which organizers recognise
    subject = `New Time Proposed: ${event.Subject ?? ''}`.trim();
    summary = `${name} proposes a new time: ${proposed.start.toUTCString()} – ${proposed.end.toUTCString()}.`;
  }
  return composeImip({
    from: account,
    to: [
      {
        address: event.OrganizerEmail ?? '',
        ...(event.OrganizerName !== undefined && { name: event.OrganizerName }),
      },
    ],
    subject,
    text: comment !== undefined && comment !== '' ? `${comment}\r\n\r\n${summary}\r\n` : `${summary}\r\n`,
    method,
    ics,
  });
}
