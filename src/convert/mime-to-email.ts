// RFC 5322 message → EmailItem (MS-ASEMAIL), for every backend that stores mail as MIME (the
// memory backend, IMAP). Pure: bytes in, item out; postal-mime does the MIME parsing. Flags
// (Read, Flag, Categories) are not in the message; the caller adds them from its store.
import { createHash } from 'node:crypto';
import PostalMime, { type Address, type Email, type Mailbox } from 'postal-mime';
import { applyBodyPreferences, type BodySource } from '../backend/body.js';
import type { Attachment, BodyPreference, EmailItem, MeetingRequest } from '../backend/model.js';
import { icsToCalendar } from './icalendar.js';
import { bodyPartOf } from './mime-body-part.js';
import { firstText, parseCalendar, readTime, timeContext } from './icalendar-common.js';

/** A parsed message; parse once, convert with different preferences as often as needed. */
export interface ParsedMime {
  raw: Uint8Array;
  email: Email;
}

export interface MimeToEmailOptions {
  bodyPreferences: readonly BodyPreference[];
  MIMESupport?: 0 | 1 | 2;
  /** MS-ASAIRS 2.2.2.11: when given, the item carries BodyPart (mime-body-part.ts). */
  bodyPartPreferences?: readonly BodyPreference[];
  /** The FileReference for the attachment at `index` (its position in `ParsedMime.email.attachments`). */
  fileReference(index: number): string;
  /** When the store received the message (IMAP INTERNALDATE); the Date header otherwise. */
  receivedAt?: Date;
  /** The account's addresses: an invitation's ResponseRequested is then the user's own RSVP. */
  userAddresses?: readonly string[];
}

// A message/rfc822 part is kept as one attachment (Method 5) rather than merged into the body.
const parseOptions = { attachmentEncoding: 'arraybuffer', rfc822Attachments: true } as const;

/**
 * Parses a message. One that postal-mime refuses (nesting or header limits) still reads as an
 * item with no headers, its bytes available as MIME: one hostile message must not stop a
 * mailbox from syncing.
 */
export async function parseMime(raw: Uint8Array): Promise<ParsedMime> {
  try {
    const email = await PostalMime.parse(raw, parseOptions);
    if (latin1Decoder) repairC1(email);
    return { raw, email };
  } catch {
    return { raw, email: { headers: [], headerLines: [], attachments: [] } };
  }
}

/**
 * Some Node releases (20.20 among them) decode the labels windows-1252, iso-8859-1 and us-ascii
 * as ISO-8859-1, leaving bytes 0x80–0x9F as C1 controls where the WHATWG Encoding Standard (which
 * maps all those labels to windows-1252) gives “ ” € – …: the most common charset of Western
 * mail would show smart quotes and the euro sign as garbage. C1 controls never belong in mail
 * text, so where the decoder is broken they are mapped as windows-1252 would.
 */
const latin1Decoder = new TextDecoder('windows-1252').decode(Uint8Array.of(0x80)) !== '\u20ac';
const cp1252High =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const fixC1 = <T extends string | undefined>(s: T): T =>
  (s === undefined ? s : s.replace(/[\x80-\x9f]/g, (c) => cp1252High[c.charCodeAt(0) - 0x80] ?? c)) as T;

function repairC1(email: Email): void {
  email.subject = fixC1(email.subject);
  email.text = fixC1(email.text);
  email.html = fixC1(email.html);
  const people = [
    email.from,
    email.sender,
    ...(email.to ?? []),
    ...(email.cc ?? []),
    ...(email.replyTo ?? []),
  ];
  for (const a of people) if (a !== undefined) fixAddress(a);
  for (const h of email.headers) h.value = fixC1(h.value);
  for (const a of email.attachments) if (a.filename !== null) a.filename = fixC1(a.filename);
}

function fixAddress(a: Address): void {
  a.name = fixC1(a.name);
  for (const m of a.group ?? []) m.name = fixC1(m.name);
}

function mailboxes(list: readonly Address[] | Address | undefined): Mailbox[] {
  if (list === undefined) return [];
  const arr: readonly Address[] = Array.isArray(list) ? list : [list as Address];
  return arr.flatMap((a) => (a.group !== undefined ? a.group : [a]));
}

/** `"Name" <addr>` — MS-ASEMAIL 2.2.2.79 To: comma-separated RFC 5322 addresses. */
function formatMailbox(m: Mailbox): string {
  if (m.name === '') return m.address;
  const name = /^[\w .'-]*$/.test(m.name) ? m.name : m.name.replace(/["\\]/g, (c) => `\\${c}`);
  return `"${name}" <${m.address}>`;
}

function formatList(list: readonly Address[] | Address | undefined): string | undefined {
  const all = mailboxes(list);
  return all.length === 0 ? undefined : all.map(formatMailbox).join(', ');
}

function header(email: Email, name: string): string | undefined {
  return email.headers.find((h) => h.key === name)?.value;
}

/** MS-ASEMAIL 2.2.2.39 Importance from Importance / X-Priority / Priority headers. */
function importance(email: Email): 0 | 1 | 2 {
  const imp = header(email, 'importance')?.trim().toLowerCase();
  if (imp === 'high') return 2;
  if (imp === 'low') return 0;
  const xp = /^\s*(\d)/.exec(header(email, 'x-priority') ?? '')?.[1];
  if (xp === '1' || xp === '2') return 2;
  if (xp === '4' || xp === '5') return 0;
  const p = header(email, 'priority')?.trim().toLowerCase();
  if (p === 'urgent') return 2;
  if (p === 'non-urgent') return 0;
  return 1;
}

type Kind = 'note' | 'signed' | 'encrypted' | 'meeting-request' | 'meeting-cancel' | 'meeting-reply';

function kindOf(email: Email): Kind {
  const ct = (header(email, 'content-type') ?? '').toLowerCase();
  if (ct.startsWith('multipart/signed') && ct.includes('pkcs7-signature')) return 'signed';
  if (ct.startsWith('application/pkcs7-mime') || ct.startsWith('application/x-pkcs7-mime'))
    return 'encrypted';
  const method = calendarPart(email)?.method;
  if (method === 'REQUEST') return 'meeting-request';
  if (method === 'CANCEL') return 'meeting-cancel';
  if (method === 'REPLY') return 'meeting-reply';
  return 'note';
}

/** The iTIP part of a message (RFC 6047 2.4: text/calendar with a method parameter). */
interface CalendarPart {
  /** RFC 5546 1.4 METHOD, upper-cased: REQUEST, CANCEL, REPLY … */
  method: string;
  text: string;
}

function contentText(content: ArrayBuffer | Uint8Array | string): string {
  if (typeof content === 'string') return content;
  const bytes = content instanceof Uint8Array ? content : new Uint8Array(content);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

function calendarPart(email: Email): CalendarPart | undefined {
  const a = email.attachments.find((x) => x.mimeType === 'text/calendar' && x.method !== undefined);
  if (a?.method === undefined) return undefined;
  return { method: a.method.trim().toUpperCase(), text: contentText(a.content) };
}

/** The iCalendar text and METHOD of an invitation, reply or cancellation; undefined for other mail. */
export function calendarPartOf(parsed: ParsedMime): CalendarPart | undefined {
  return calendarPart(parsed.email);
}

/** MS-ASEMAIL 2.2.2.50 MessageClass values (MS-OXCMSG names). */
const messageClass: Record<Kind, string> = {
  note: 'IPM.Note',
  signed: 'IPM.Note.SMIME.MultipartSigned',
  encrypted: 'IPM.Note.SMIME',
  'meeting-request': 'IPM.Schedule.Meeting.Request',
  'meeting-cancel': 'IPM.Schedule.Meeting.Canceled',
  'meeting-reply': 'IPM.Schedule.Meeting.Resp.Pos',
};

function byteSize(content: ArrayBuffer | Uint8Array | string): number {
  return typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
}

/** Subject without reply/forward prefixes (MS-ASEMAIL 2.2.2.77 ThreadTopic). */
export function threadTopic(subject: string): string {
  return subject.replace(/^(\s*(re|fw|fwd|aw|wg|sv|vs)(\[\d+\])?\s*:\s*)+/i, '').trim();
}

function messageIds(value: string | undefined): string[] {
  return value?.match(/<[^<>\s]+>/g) ?? [];
}

/**
 * MS-ASEMAIL 2.2.2.26 ConversationId: 16 bytes, the same for every message of a thread. Derived
 * from the thread's first Message-ID (References' first entry, else In-Reply-To, else its own).
 */
function conversationId(email: Email): Uint8Array | undefined {
  const root =
    messageIds(email.references)[0] ?? messageIds(email.inReplyTo)[0] ?? messageIds(email.messageId)[0];
  if (root === undefined) return undefined;
  return new Uint8Array(createHash('md5').update(root.toLowerCase()).digest());
}

/**
 * The text and HTML bodies. In a multipart message the line break before a boundary belongs to
 * the boundary (RFC 2046 5.1.1), but postal-mime leaves it on 7bit and quoted-printable parts;
 * it is removed here so bodies do not grow a newline on every round trip.
 */
function texts(email: Email): { text?: string; html?: string } {
  const multipart = /^\s*multipart\//i.test(header(email, 'content-type') ?? '');
  const trim = (s: string | undefined): string | undefined =>
    s !== undefined && multipart ? s.replace(/\r?\n$/, '') : s;
  const text = trim(email.text);
  const html = trim(email.html);
  return { ...(text !== undefined && { text }), ...(html !== undefined && { html }) };
}

/** The body a BodySource needs: plain and HTML each derived from the other when missing. */
export function bodySource(parsed: ParsedMime): BodySource {
  const { email, raw } = parsed;
  const kind = kindOf(email);
  const { text, html } = texts(email);
  return {
    native: html !== undefined ? 2 : 1,
    smime: kind === 'signed' || kind === 'encrypted',
    get: (type) => {
      if (type === 1) return text ?? (html !== undefined ? htmlToPlain(html) : undefined) ?? '';
      if (type === 2) return html ?? (text !== undefined ? plainToHtml(text) : undefined) ?? '';
      if (type === 4) return raw;
      return undefined;
    },
  };
}

/** Enough HTML-to-text for previews and plain-text clients: drop tags, keep line breaks. */
export function htmlToPlain(html: string): string {
  return decodeEntities(
    html
      .replace(/<(script|style|head)[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
      .replace(/<br\s*\/?>/gi, '\n')
      .replace(/<\/(p|div|tr|li|h[1-6]|blockquote)\s*>/gi, '\n')
      .replace(/<[^>]+>/g, ''),
  )
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function decodeEntities(s: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return named[e.toLowerCase()] ?? m;
  });
}

export function plainToHtml(text: string): string {
  const escaped = text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c,
  );
  return `<html><body><pre style="white-space: pre-wrap">${escaped}</pre></body></html>`;
}

function attachments(email: Email, fileReference: (index: number) => string): Attachment[] {
  const out: Attachment[] = [];
  email.attachments.forEach((a, index) => {
    // The iCalendar part of an invitation is the meeting itself, not a file for the user.
    if (a.mimeType === 'text/calendar' && a.method !== undefined) return;
    const contentId = a.contentId?.replace(/^<|>$/g, '');
    const inline = a.disposition === 'inline' || (a.related === true && contentId !== undefined);
    const isMessage = a.mimeType === 'message/rfc822';
    out.push({
      DisplayName: a.filename ?? (isMessage ? 'message.eml' : `attachment-${index + 1}`),
      FileReference: fileReference(index),
      Method: isMessage ? 5 : 1,
      EstimatedDataSize: byteSize(a.content),
      ...(contentId !== undefined && { ContentId: contentId }),
      ...(inline && { IsInline: true }),
      ContentType: a.mimeType,
    });
  });
  return out;
}

function parseDate(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The EmailItem for a parsed message. */
export function emailFromParsed(parsed: ParsedMime, opts: MimeToEmailOptions): EmailItem {
  const { email } = parsed;
  const kind = kindOf(email);
  const to = mailboxes(email.to);
  const subject = email.subject ?? '';
  const from = formatList(email.from);
  const sender = formatList(email.sender);
  const body = applyBodyPreferences(bodySource(parsed), opts.bodyPreferences, opts.MIMESupport ?? 0);
  const bodyPart =
    opts.bodyPartPreferences === undefined
      ? undefined
      : bodyPartOf(texts(email), opts.bodyPartPreferences, htmlToPlain);
  const atts = attachments(email, opts.fileReference);
  const threadIndex = header(email, 'thread-index');
  const convId = conversationId(email);
  const received = opts.receivedAt ?? parseDate(email.date);
  const item: EmailItem = {
    Subject: subject,
    Importance: importance(email),
    MessageClass: messageClass[kind],
    ContentClass: kind.startsWith('meeting')
      ? 'urn:content-classes:calendarmessage'
      : 'urn:content-classes:message',
    // postal-mime decodes every charset to Unicode and easd sends UTF-8 (code page 65001).
    InternetCPID: '65001',
    NativeBodyType: email.html !== undefined ? 2 : 1,
    ThreadTopic: header(email, 'thread-topic') ?? threadTopic(subject),
    DisplayTo: to.map((m) => m.name || m.address).join('; '),
  };
  const set = <K extends keyof EmailItem>(key: K, value: EmailItem[K] | undefined): void => {
    if (value !== undefined) item[key] = value;
  };
  set('To', formatList(email.to));
  set('Cc', formatList(email.cc));
  set('Bcc', formatList(email.bcc));
  set('From', from);
  set('ReplyTo', formatList(email.replyTo));
  if (sender !== undefined && sender !== from) item.Sender = sender;
  set('DateReceived', received);
  set('Body', body);
  set('BodyPart', bodyPart);
  if (atts.length > 0) item.Attachments = atts;
  set('MessageId', email.messageId);
  set('ConversationId', convId);
  if (threadIndex !== undefined) {
    const bytes = Buffer.from(threadIndex.trim(), 'base64');
    // MS-ASEMAIL 2.2.2.27: a 22-byte header plus 5 bytes per reply
    if (bytes.byteLength >= 22) item.ConversationIndex = new Uint8Array(bytes);
  }
  if (kind === 'meeting-request' || kind === 'meeting-cancel') {
    const part = calendarPart(email);
    const meeting = part === undefined ? undefined : meetingRequestOf(part.text, kind, opts.userAddresses);
    if (meeting !== undefined) item.MeetingRequest = meeting;
  }
  return item;
}

// ---------------------------------------------------------------------------------------------
// Invitations: MS-ASEMAIL 2.2.2.48 MeetingRequest from the VEVENT of an iTIP REQUEST or CANCEL
// (RFC 5546 3.2.2 / 3.2.5), read by the calendar converter so an invitation shows the same
// times, zone and recurrence as the event it becomes.

/** MS-OXOCAL 2.2.1.27 PidLidGlobalObjectId class id, the first 16 bytes of every GlobalObjId. */
const GOID_CLASS = Buffer.from('040000008200E00074C5B7101A82E008', 'hex');

/**
 * MS-ASEMAIL 2.2.2.37 GlobalObjId (base64 of MS-OXOCAL 2.2.1.27's PidLidGlobalObjectId) for an
 * iCalendar UID. A UID that is an Outlook id in hex (MS-ASEMAIL 3.1.4.7: it starts with the class
 * id) is that id's bytes; any other UID is wrapped as "vCal-Uid" data. The creation time is left
 * zero so the value stays the same on every sync (as in MS-ASEMAIL 4.3 example 2); the instance
 * date is that of `recurrenceId` for the invitation to one occurrence.
 */
export function globalObjIdOf(uid: string, recurrenceId?: Date): string {
  let bytes: Buffer;
  const outlookId =
    /^[0-9a-f]+$/i.test(uid) &&
    uid.length >= 80 &&
    uid.length % 2 === 0 &&
    uid.slice(0, 32).toUpperCase() === GOID_CLASS.toString('hex').toUpperCase();
  if (outlookId) {
    bytes = Buffer.from(uid, 'hex');
  } else {
    const data = Buffer.concat([
      Buffer.from('vCal-Uid', 'latin1'),
      Buffer.from([1, 0, 0, 0]),
      Buffer.from(uid, 'utf8'),
      Buffer.from([0]),
    ]);
    bytes = Buffer.alloc(40 + data.length);
    GOID_CLASS.copy(bytes, 0);
    bytes.writeUInt32LE(data.length, 36);
    data.copy(bytes, 40);
  }
  // INSTDATE: YEARHIGH YEARLOW MONTH DATE of the occurrence, zeros for the whole meeting.
  if (recurrenceId !== undefined) {
    const y = recurrenceId.getUTCFullYear();
    bytes.writeUInt8(y >> 8, 16);
    bytes.writeUInt8(y & 0xff, 17);
    bytes.writeUInt8(recurrenceId.getUTCMonth() + 1, 18);
    bytes.writeUInt8(recurrenceId.getUTCDate(), 19);
  } else {
    bytes.fill(0, 16, 20);
  }
  return bytes.toString('base64');
}

/** MS-ASEMAIL 2.2.2.8 BusyStatus names in X-MICROSOFT-CDO-INTENDEDSTATUS. */
const INTENDED: Record<string, 0 | 1 | 2 | 3 | 4> = {
  FREE: 0,
  TENTATIVE: 1,
  BUSY: 2,
  OOF: 3,
  WORKINGELSEWHERE: 4,
};

function formatAddress(name: string | undefined, address: string): string {
  return name === undefined || name === '' ? address : formatMailbox({ name, address });
}

/** The MeetingRequest of an invitation's iCalendar text; undefined when it has no usable VEVENT. */
export function meetingRequestOf(
  text: string,
  kind: 'meeting-request' | 'meeting-cancel',
  userAddresses?: readonly string[],
): MeetingRequest | undefined {
  let event;
  let cal;
  try {
    cal = parseCalendar(text);
    event = icsToCalendar(text, userAddresses === undefined ? {} : { userAddresses });
  } catch {
    return undefined; // an invitation that cannot be read is still shown as a message
  }
  const vevent =
    cal.getAllSubcomponents('vevent').find((v) => firstText(v, 'uid') === event.UID) ??
    cal.getFirstSubcomponent('vevent') ??
    undefined;
  const m: MeetingRequest = {};
  const set = <K extends keyof MeetingRequest>(key: K, value: MeetingRequest[K] | undefined): void => {
    if (value !== undefined) m[key] = value;
  };
  m.AllDayEvent = event.AllDayEvent === true;
  set('StartTime', event.StartTime);
  set('EndTime', event.EndTime);
  set('DtStamp', event.DtStamp);
  // MS-ASEMAIL 2.2.2.43 InstanceType: 0 single, 1 recurring master, 3 exception (one occurrence).
  const ridProp = vevent?.getFirstProperty('recurrence-id') ?? null;
  const rid =
    ridProp === null
      ? undefined
      : readTime(
          timeContext(cal, {}, () => undefined),
          ridProp,
        );
  if (rid !== undefined) {
    m.InstanceType = 3;
    m.RecurrenceId = new Date(rid.utc);
  } else m.InstanceType = event.Recurrence !== undefined ? 1 : 0;
  set('Location', event.Location);
  if (event.OrganizerEmail !== undefined)
    m.Organizer = formatAddress(event.OrganizerName, event.OrganizerEmail);
  set('Reminder', event.Reminder);
  // MS-ASEMAIL 2.2.2.67: the user's RSVP when the account is known, else any attendee's.
  const users = new Set((userAddresses ?? []).map((a) => a.toLowerCase()));
  const mine = vevent?.getAllProperties('attendee').find((p) =>
    users.has(
      String(p.getFirstValue() ?? '')
        .replace(/^mailto:/i, '')
        .toLowerCase(),
    ),
  );
  if (mine !== undefined) {
    const rsvp = mine.getParameter('rsvp');
    m.ResponseRequested = String(Array.isArray(rsvp) ? rsvp[0] : (rsvp ?? '')).toUpperCase() === 'TRUE';
  } else set('ResponseRequested', event.ResponseRequested);
  // MS-ASEMAIL 2.2.2.45: Interval is required in a MeetingRequest's Recurrence (RFC 5545 default 1).
  if (event.Recurrence !== undefined)
    m.Recurrences = [{ ...event.Recurrence, Interval: event.Recurrence.Interval ?? 1 }];
  m.Sensitivity = event.Sensitivity ?? 0;
  // MS-ASEMAIL 2.2.2.8: the status the meeting will have once accepted (Outlook's intended one).
  const intended = vevent === undefined ? undefined : firstText(vevent, 'x-microsoft-cdo-intendedstatus');
  m.BusyStatus = INTENDED[(intended ?? '').toUpperCase()] ?? event.BusyStatus ?? 2;
  set('TimeZone', event.TimeZone);
  if (event.UID !== undefined) {
    m.GlobalObjId = globalObjIdOf(event.UID, m.RecurrenceId);
    // MS-ASEMAIL 2.2.2.37: 16.x carries calendar:UID instead of GlobalObjId.
    m.UID = event.UID;
  }
  set('DisallowNewTimeProposal', event.DisallowNewTimeProposal);
  // MS-ASEMAIL 2.2.2.47 MeetingMessageType: 1 a new request, 2 a full update (RFC 5546 2.1.4: a
  // higher SEQUENCE is a revision), 0 for a cancellation (no response expected).
  if (kind === 'meeting-cancel') m.MeetingMessageType = 0;
  else {
    const seq = Number(vevent?.getFirstPropertyValue('sequence') ?? 0);
    m.MeetingMessageType = Number.isFinite(seq) && seq > 0 ? 2 : 1;
  }
  return m;
}

/** Parses and converts in one go. */
export async function mimeToEmail(raw: Uint8Array, opts: MimeToEmailOptions): Promise<EmailItem> {
  return emailFromParsed(await parseMime(raw), opts);
}

/** The attachment at `index` of a parsed message, as bytes. */
export function attachmentAt(
  parsed: ParsedMime,
  index: number,
): { contentType: string; filename: string | null; content: Uint8Array } | undefined {
  const a = parsed.email.attachments[index];
  if (a === undefined) return undefined;
  const content =
    typeof a.content === 'string'
      ? new TextEncoder().encode(a.content)
      : a.content instanceof Uint8Array
        ? a.content
        : new Uint8Array(a.content);
  return { contentType: a.mimeType, filename: a.filename, content };
}

/** Every recipient address (To, Cc, Bcc), lower-cased and without duplicates, for delivery. */
export function recipientsOf(parsed: ParsedMime): string[] {
  const all = [...mailboxes(parsed.email.to), ...mailboxes(parsed.email.cc), ...mailboxes(parsed.email.bcc)];
  return [...new Set(all.map((m) => m.address.toLowerCase()).filter((a) => a.includes('@')))];
}
