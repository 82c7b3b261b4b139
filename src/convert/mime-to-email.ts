// RFC 5322 message → EmailItem (MS-ASEMAIL), for every backend that stores mail as MIME (the
// memory backend, IMAP). Pure: bytes in, item out; postal-mime does the MIME parsing. Flags
// (Read, Flag, Categories) are not in the message; the caller adds them from its store.
import { createHash } from 'node:crypto';
import PostalMime, { type Address, type Email, type Mailbox } from 'postal-mime';
import { applyBodyPreferences, type BodySource } from '../backend/body.js';
import type { Attachment, BodyPreference, EmailItem } from '../backend/model.js';

/** A parsed message; parse once, convert with different preferences as often as needed. */
export interface ParsedMime {
  raw: Uint8Array;
  email: Email;
}

export interface MimeToEmailOptions {
  bodyPreferences: readonly BodyPreference[];
  MIMESupport?: 0 | 1 | 2;
  /** The FileReference for the attachment at `index` (its position in `ParsedMime.email.attachments`). */
  fileReference(index: number): string;
  /** When the store received the message (IMAP INTERNALDATE); the Date header otherwise. */
  receivedAt?: Date;
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
    return { raw, email: await PostalMime.parse(raw, parseOptions) };
  } catch {
    return { raw, email: { headers: [], headerLines: [], attachments: [] } };
  }
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
  const ical = email.attachments.find((a) => a.mimeType === 'text/calendar' && a.method !== undefined);
  if (ical?.method === 'REQUEST') return 'meeting-request';
  if (ical?.method === 'CANCEL') return 'meeting-cancel';
  if (ical?.method === 'REPLY') return 'meeting-reply';
  return 'note';
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
  if (atts.length > 0) item.Attachments = atts;
  set('MessageId', email.messageId);
  set('ConversationId', convId);
  if (threadIndex !== undefined) {
    const bytes = Buffer.from(threadIndex.trim(), 'base64');
    // MS-ASEMAIL 2.2.2.27: a 22-byte header plus 5 bytes per reply
    if (bytes.byteLength >= 22) item.ConversationIndex = new Uint8Array(bytes);
  }
  return item;
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
