// The non-delivery report easd files for the user when a submission server refused some of a
// message's recipients but took it for the others: an RFC 3464 delivery status notification
// (multipart/report, RFC 6522) as an MTA would send back, so the user learns which recipients did
// not get it and why, the way Exchange tells its users with an NDR. Pure: bytes in, bytes out.
import { randomUUID } from 'node:crypto';
import { headerValue, splitMessage } from './mime-compose.js';
import { parseMime } from './mime-to-email.js';

export interface RefusedRecipient {
  address: string;
  /** The server's reply at RCPT TO, e.g. "550 5.1.1 User unknown". */
  reply: string;
}

export interface ReportOptions {
  /** The message that was sent, as submitted. */
  original: Uint8Array;
  refused: readonly RefusedRecipient[];
  /** Who gets the report: the sender's own address. */
  to: string;
  /** The domain named as reporting MTA and in the report's Message-ID. */
  domain: string;
  date?: Date;
}

/** RFC 3464 2.3.4 Status: the reply's enhanced code (RFC 3463), else the class of its reply code. */
function statusOf(reply: string): string {
  const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  if (enhanced?.[1] !== undefined) return enhanced[1];
  return /^4/.test(reply.trim()) ? '4.0.0' : '5.0.0';
}

/** One line, no CR/LF, printable ASCII (a server's reply is untrusted text inside our headers). */
const oneLine = (s: string): string => s.replace(/[^\x20-\x7e]+/g, ' ').trim();

const base64Lines = (s: string): string =>
  Buffer.from(s, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');

/** RFC 2047 encoded-word for a header value that is not plain ASCII. */
const encodedWord = (s: string): string =>
  /^[\x20-\x7e]*$/.test(s) ? s : `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;

export async function nonDeliveryReport(opts: ReportOptions): Promise<Uint8Array> {
  const date = opts.date ?? new Date();
  const split = splitMessage(opts.original);
  const subject = (await parseMime(opts.original)).email.subject ?? '';
  const domain = oneLine(opts.domain) || 'easd.invalid';
  const boundary = `=_easd_report_${randomUUID()}`;
  const temporary = opts.refused.every((r) => statusOf(r.reply).startsWith('4'));
  const lines = opts.refused.map((r) => `  ${oneLine(r.address)}\r\n    ${oneLine(r.reply)}`);
  const human = [
    `Your message${subject === '' ? '' : ` "${subject}"`} was not delivered to ${
      opts.refused.length === 1 ? 'this recipient' : 'these recipients'
    }:`,
    '',
    ...lines,
    '',
    temporary
      ? 'The mail server could not take it for them now. Send it to them again later.'
      : 'The mail server refused it for them. Check the addresses and send it to them again.',
    'Everyone else it was addressed to has received it.',
    '',
  ].join('\r\n');
  const status = [
    `Reporting-MTA: dns; ${domain}`,
    `Arrival-Date: ${date.toUTCString()}`,
    ...opts.refused.flatMap((r) => [
      '',
      `Final-Recipient: rfc822; ${oneLine(r.address)}`,
      // RFC 3464 2.3.3: easd does not queue, so a deferral is final here too
      'Action: failed',
      `Status: ${statusOf(r.reply)}`,
      `Diagnostic-Code: smtp; ${oneLine(r.reply)}`,
    ]),
    '',
  ].join('\r\n');
  const originalHead = split.fields.map((f) => f.raw).join('\r\n');
  const messageId = headerValue(split, 'message-id');
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${domain}>`,
    `To: <${oneLine(opts.to)}>`,
    `Subject: ${encodedWord(`Undeliverable: ${subject}`.trim())}`,
    `Date: ${date.toUTCString()}`,
    `Message-ID: <${randomUUID()}@${domain}>`,
    ...(messageId === undefined
      ? []
      : [`In-Reply-To: ${oneLine(messageId)}`, `References: ${oneLine(messageId)}`]),
    // RFC 3834 5: reports are automatic replies, which other robots must not answer
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ];
  const body = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(human),
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    status,
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    originalHead,
    '',
    `--${boundary}--`,
    '',
  ];
  return new Uint8Array(Buffer.from([...head, '', ...body].join('\r\n'), 'latin1'));
}
