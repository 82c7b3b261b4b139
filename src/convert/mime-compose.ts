// Outgoing mail: what SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17/.19/.20) do to the
// message a phone composed before it is submitted, and what a submitter needs from it. Pure: bytes
// in, bytes out. Header work is done on the raw header block (decoded as latin1, so every byte
// survives), never by re-serialising a parsed message: a client's headers go out as it wrote them.
import { createHash, randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { Address, Attachment as ParsedAttachment, Mailbox } from 'postal-mime';
import { bodySource, parseMime, plainToHtml, type ParsedMime } from './mime-to-email.js';

/** One header field as written: `raw` keeps its folding, without the final line break. */
export interface HeaderField {
  /** Lower-cased name; '' for a line that is not a field (kept as it is). */
  name: string;
  raw: string;
}

/** A message split at its header/body boundary. `body` starts after the empty line. */
export interface SplitMessage {
  fields: HeaderField[];
  eol: '\r\n' | '\n';
  body: Uint8Array;
}

/** RFC 5322 2.2 / 2.1: the header ends at the first empty line; folded lines start with WSP. */
export function splitMessage(raw: Uint8Array): SplitMessage {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  const eol: '\r\n' | '\n' = /\r\n/.test(text.slice(0, 4096)) ? '\r\n' : '\n';
  const blank = /\r?\n\r?\n/.exec(text);
  let headEnd: number;
  let bodyStart: number;
  if (/^\r?\n/.test(text)) {
    headEnd = 0;
    bodyStart = text.startsWith('\r\n') ? 2 : 1;
  } else if (blank === null) {
    headEnd = text.length;
    bodyStart = text.length;
  } else {
    headEnd = blank.index;
    bodyStart = blank.index + blank[0].length;
  }
  const fields: HeaderField[] = [];
  for (const line of text.slice(0, headEnd).split(/\r?\n/)) {
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && last !== undefined) {
      last.raw += eol + line;
      continue;
    }
    const colon = line.indexOf(':');
    const name =
      colon > 0 && /^[\x21-\x39\x3b-\x7e]+$/.test(line.slice(0, colon)) ? line.slice(0, colon) : '';
    fields.push({ name: name.toLowerCase(), raw: line });
  }
  return { fields, eol, body: raw.subarray(Math.min(bodyStart, raw.byteLength)) };
}

export function joinMessage(msg: SplitMessage): Uint8Array {
  const head = msg.fields.map((f) => f.raw + msg.eol).join('');
  return new Uint8Array(Buffer.concat([Buffer.from(head + msg.eol, 'latin1'), msg.body]));
}

/** The unfolded value of the first field with this name. */
export function headerValue(msg: SplitMessage, name: string): string | undefined {
  const f = msg.fields.find((x) => x.name === name.toLowerCase());
  if (f === undefined) return undefined;
  return f.raw
    .slice(f.raw.indexOf(':') + 1)
    .replace(/\r?\n(?=[ \t])/g, '')
    .trim();
}

/**
 * Removes Bcc and Resent-Bcc fields before a message leaves (RFC 5322 3.6.3: the Bcc line is
 * not passed on to the recipients). The same bytes come back when there is none.
 */
export function stripBcc(raw: Uint8Array): Uint8Array {
  const msg = splitMessage(raw);
  const kept = msg.fields.filter((f) => f.name !== 'bcc' && f.name !== 'resent-bcc');
  return kept.length === msg.fields.length ? raw : joinMessage({ ...msg, fields: kept });
}

/** Adds each field that the message does not have yet, at the end of its header. */
export function addMissingHeaders(
  raw: Uint8Array,
  add: ReadonlyArray<[name: string, value: string]>,
): Uint8Array {
  const msg = splitMessage(raw);
  const missing = add.filter(([name]) => !msg.fields.some((f) => f.name === name.toLowerCase()));
  if (missing.length === 0) return raw;
  const fields = [
    ...msg.fields,
    ...missing.map(([name, value]) => ({ name: name.toLowerCase(), raw: `${name}: ${value}` })),
  ];
  return joinMessage({ ...msg, fields });
}

function flatten(list: readonly Address[] | Address | undefined): Mailbox[] {
  if (list === undefined) return [];
  const arr: readonly Address[] = Array.isArray(list) ? list : [list as Address];
  return arr.flatMap((a) => a.group ?? [a]).filter((m) => m.address.includes('@'));
}

/** Addresses without duplicates (compared case-insensitively), spelled as first written. */
function unique(addresses: readonly string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const key = a.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What a submitter needs from a message: who it is from, and everyone it goes to. */
export interface MessageEnvelope {
  /** RFC 5322 3.6.2: the Sender when there is one, else the (first) From; null when neither. */
  from: string | null;
  /** The addresses in From and Sender, for "sends only as itself" checks. */
  authors: string[];
  /** To, Cc and Bcc (RFC 5322 3.6.3), without duplicates. */
  recipients: string[];
}

export function envelopeOf(parsed: ParsedMime): MessageEnvelope {
  const { email } = parsed;
  const from = flatten(email.from);
  const sender = flatten(email.sender);
  return {
    from: sender[0]?.address ?? from[0]?.address ?? null,
    authors: unique([...from, ...sender].map((m) => m.address)),
    recipients: unique(
      [...flatten(email.to), ...flatten(email.cc), ...flatten(email.bcc)].map((m) => m.address),
    ),
  };
}

/** `<uuid@domain>`: RFC 5322 3.6.4 msg-id, unique by construction. */
export function newMessageId(domain: string): string {
  const host = /^[A-Za-z0-9.-]+$/.test(domain) ? domain : 'easd.invalid';
  return `<${randomUUID()}@${host}>`;
}

/** RFC 5322 3.6.1 / 3.6.4: a message leaves with a Date and a Message-ID. */
export function ensureDateAndMessageId(
  raw: Uint8Array,
  fallbackDomain: string,
  now = new Date(),
): Uint8Array {
  const msg = splitMessage(raw);
  const from = /@([A-Za-z0-9.-]+)>?\s*$/.exec(
    headerValue(msg, 'sender') ?? headerValue(msg, 'from') ?? '',
  )?.[1];
  return addMissingHeaders(raw, [
    ['Date', now.toUTCString().replace('GMT', '+0000')],
    ['Message-ID', newMessageId(from ?? fallbackDomain)],
  ]);
}

/**
 * A saved draft made ready to leave (MS-ASEMAIL 2.2.2.69 Send): dated now rather than when it
 * was last saved (RFC 5322 3.6.1: the moment it was ready to enter the transport), with the
 * account as From when it has none, and a Message-ID when it has none.
 */
export function draftForSending(raw: Uint8Array, from: string, now = new Date()): Uint8Array {
  const msg = splitMessage(raw);
  const undated = joinMessage({ ...msg, fields: msg.fields.filter((f) => f.name !== 'date') });
  const domain = from.slice(from.lastIndexOf('@') + 1) || 'easd.invalid';
  return ensureDateAndMessageId(addMissingHeaders(undated, [['From', from]]), domain, now);
}

function messageIds(value: string | undefined): string[] {
  return value?.match(/<[^<>\s]+>/g) ?? [];
}

/**
 * RFC 5322 3.6.4: a reply names its parent in In-Reply-To and the thread in References (the
 * parent's References, or In-Reply-To, plus the parent's Message-ID). A forward is no reply, so
 * it gets References only: the sender's own client still threads it, the recipients' do not
 * hang it under a message they may never have seen. References is kept to the first id and the
 * last 19, as long threads would otherwise grow the field without bound.
 */
export function threadingHeaders(kind: 'reply' | 'forward', original: ParsedMime): Array<[string, string]> {
  const id = messageIds(original.email.messageId)[0];
  if (id === undefined) return [];
  const parents = messageIds(original.email.references);
  const chain = [...(parents.length > 0 ? parents : messageIds(original.email.inReplyTo)), id];
  const refs = chain.length > 20 ? [chain[0] as string, ...chain.slice(-19)] : chain;
  const references: [string, string] = ['References', refs.join('\r\n ')];
  return kind === 'reply' ? [['In-Reply-To', id], references] : [references];
}

/** The same raw message with the threading fields it does not have yet (ReplaceMime keeps the rest). */
export function withThreading(raw: Uint8Array, kind: 'reply' | 'forward', original: ParsedMime): Uint8Array {
  const msg = splitMessage(raw);
  const fields = threadingHeaders(kind, original).map(([name, value]): [string, string] => [
    name,
    value.replace(/\r\n/g, msg.eol),
  ]);
  return addMissingHeaders(raw, fields);
}

/** S/MIME messages cannot be changed without breaking the signature or the encryption. */
export function isSecureMime(parsed: ParsedMime): boolean {
  const ct = (parsed.email.headers.find((h) => h.key === 'content-type')?.value ?? '').toLowerCase();
  return ct.startsWith('multipart/signed') || /^application\/(x-)?pkcs7-mime/.test(ct);
}

function contentOf(a: ParsedAttachment): Buffer {
  return typeof a.content === 'string'
    ? Buffer.from(a.content, a.encoding === 'base64' ? 'base64' : 'utf8')
    : Buffer.from(a.content instanceof Uint8Array ? a.content : new Uint8Array(a.content));
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function composerAttachment(a: ParsedAttachment): Mail.Attachment {
  const cid = a.contentId?.replace(/^<|>$/g, '');
  return {
    ...(a.filename !== null && { filename: a.filename }),
    contentType: a.mimeType,
    content: contentOf(a),
    ...(cid !== undefined && { cid }),
    ...(a.disposition === 'inline' && { contentDisposition: 'inline' as const }),
  };
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

/** What is inside <body> (the whole text when there is no body element); head and styles go. */
function htmlBodyInner(html: string): string {
  const m = /<body[^>]*>([\s\S]*?)(<\/body\s*>|$)/i.exec(html);
  const inner = m?.[1] ?? html;
  return inner.replace(/<(head|style|script)[^>]*>[\s\S]*?<\/\1\s*>/gi, '').replace(/<\/?html[^>]*>/gi, '');
}

/** Puts `extra` before the closing </body> (or </html>), else at the end. */
function insertIntoHtml(html: string, extra: string): string {
  const at = html.search(/<\/body\s*>(?![\s\S]*<\/body\s*>)/i);
  if (at >= 0) return html.slice(0, at) + extra + html.slice(at);
  const htmlEnd = html.search(/<\/html\s*>(?![\s\S]*<\/html\s*>)/i);
  if (htmlEnd >= 0) return html.slice(0, htmlEnd) + extra + html.slice(htmlEnd);
  return html + extra;
}

function formatMailboxes(list: readonly Address[] | Address | undefined): string {
  return flatten(list)
    .map((m) => (m.name === '' ? m.address : `${m.name} <${m.address}>`))
    .join(', ');
}

function originalDate(original: ParsedMime): string {
  const d = original.email.date === undefined ? undefined : new Date(original.email.date);
  return d === undefined || Number.isNaN(d.getTime()) ? (original.email.date ?? '') : d.toUTCString();
}

/** The client's text, without the line break a multipart body leaves before its boundary. */
function trimPart(s: string | undefined): string | undefined {
  return s?.replace(/\r?\n$/, '');
}

/**
 * MS-ASCMD 2.2.1.20 SmartReply / 2.2.1.19 SmartForward without ReplaceMime (2.2.3.148): the
 * server adds the original to what the client wrote. A reply quotes the original's text (and its
 * HTML, with the inline images that HTML shows); a forward carries the original's text under a
 * "Forwarded message" block and the original's attachments. The client's header fields go out
 * as written; only the MIME structure is rebuilt. Plain text is added to the text part and HTML
 * inside the HTML part's body — never text after </html>, which clients do not show. An S/MIME
 * message cannot be changed and is sent as it is, with the threading fields only.
 */
export async function composeSmart(
  kind: 'reply' | 'forward',
  clientMime: Uint8Array,
  original: ParsedMime,
): Promise<Uint8Array> {
  const client = await parseMime(clientMime);
  if (isSecureMime(client)) return withThreading(clientMime, kind, original);

  const source = bodySource(original);
  const origText = String(source.get(1) ?? '');
  const origHtml = original.email.html ?? plainToHtml(origText);
  const o = original.email;
  const intro =
    kind === 'reply'
      ? [`On ${originalDate(original)}, ${formatMailboxes(o.from) || 'someone'} wrote:`]
      : [
          '---------- Forwarded message ----------',
          `From: ${formatMailboxes(o.from)}`,
          `Date: ${originalDate(original)}`,
          `Subject: ${o.subject ?? ''}`,
          `To: ${formatMailboxes(o.to)}`,
          ...(o.cc !== undefined && o.cc.length > 0 ? [`Cc: ${formatMailboxes(o.cc)}`] : []),
        ];

  let text = trimPart(client.email.text);
  let html = trimPart(client.email.html);
  if (text === undefined && html === undefined) text = '';
  if (text !== undefined) {
    const quoted =
      kind === 'reply'
        ? origText
            .replace(/\r?\n$/, '')
            .split(/\r?\n/)
            .map((l) => (l === '' || l.startsWith('>') ? `>${l}` : `> ${l}`))
            .join('\n')
        : origText;
    text = `${text}\n\n${intro.join('\n')}\n${kind === 'forward' ? '\n' : ''}${quoted}\n`;
  }
  if (html !== undefined) {
    const head = intro.map(escapeHtml).join('<br>\n');
    const inner = htmlBodyInner(origHtml);
    const block =
      kind === 'reply'
        ? `<div class="easd-original"><p>${head}</p><blockquote type="cite" style="margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex">${inner}</blockquote></div>`
        : `<div class="easd-original"><p>${head}</p>${inner}</div>`;
    html = insertIntoHtml(html, `\n<br>\n${block}\n`);
  }

  // The client's own parts first; then, on forward, the original's attachments that the client
  // did not already attach itself (some clients send them again without ReplaceMime); on reply,
  // only the original's inline images the quoted HTML refers to.
  const attachments = client.email.attachments.map(composerAttachment);
  const have = new Set(client.email.attachments.map((a) => sha256(contentOf(a))));
  for (const a of original.email.attachments) {
    if (a.mimeType === 'text/calendar' && a.method !== undefined) continue;
    const cid = a.contentId?.replace(/^<|>$/g, '');
    if (kind === 'reply' && (html === undefined || cid === undefined || !html.includes(`cid:${cid}`)))
      continue;
    const hash = sha256(contentOf(a));
    if (have.has(hash)) continue;
    have.add(hash);
    attachments.push(composerAttachment(a));
  }

  const built = await new MailComposer({
    ...(text !== undefined && { text }),
    ...(html !== undefined && { html }),
    attachments,
    newline: 'windows',
  })
    .compile()
    .build();
  const mime = splitMessage(new Uint8Array(built));
  const own = splitMessage(clientMime);
  const isContentField = (f: HeaderField): boolean =>
    f.name === 'mime-version' || f.name.startsWith('content-');
  const fields = [
    ...own.fields.filter((f) => !isContentField(f)),
    ...mime.fields.filter(isContentField).map((f) => ({ ...f, raw: f.raw.replace(/\r?\n/g, own.eol) })),
  ];
  const body =
    own.eol === '\r\n'
      ? mime.body
      : new Uint8Array(
          Buffer.from(Buffer.from(mime.body).toString('latin1').replace(/\r\n/g, '\n'), 'latin1'),
        );
  return withThreading(joinMessage({ fields, eol: own.eol, body }), kind, original);
}
