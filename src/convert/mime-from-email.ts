// EmailItem → RFC 5322 message, for stores that keep mail as MIME and a client that writes an
// email as properties (16.x drafts: Sync Add/Change in Drafts). nodemailer's composer builds the
// MIME; this only maps MS-ASEMAIL names onto it.
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { AttachmentAdd, EmailItem } from '../backend/model.js';

export interface EmailToMimeOptions {
  /** Used when the item has no From (a draft takes the account's address). */
  defaultFrom?: string;
  /** Attachments kept from an earlier version of the message (a draft being edited). */
  keptAttachments?: Array<{
    filename: string | null;
    contentType: string;
    content: Uint8Array;
    contentId?: string;
    inline?: boolean;
  }>;
}

// RFC 2156 Importance plus the X-Priority most clients read (MS-ASEMAIL 2.2.2.39 Importance).
const priorityHeaders = {
  0: { Importance: 'Low', 'X-Priority': '5 (Lowest)' },
  1: {},
  2: { Importance: 'High', 'X-Priority': '1 (Highest)' },
} as const;

function attachment(a: AttachmentAdd): Mail.Attachment {
  return {
    filename: a.DisplayName,
    content: Buffer.from(a.Content),
    ...(a.ContentType !== undefined && { contentType: a.ContentType }),
    ...(a.ContentId !== undefined && { cid: a.ContentId }),
    ...(a.IsInline === true && { contentDisposition: 'inline' as const }),
  };
}

export async function emailToMime(item: EmailItem, opts: EmailToMimeOptions = {}): Promise<Uint8Array> {
  const body = item.Body;
  // A Type 4 body is a whole message already: store it as it is.
  if (body?.Type === 4 && body.Data !== undefined) {
    return typeof body.Data === 'string' ? new TextEncoder().encode(body.Data) : body.Data;
  }
  const data =
    body?.Data === undefined
      ? ''
      : typeof body.Data === 'string'
        ? body.Data
        : new TextDecoder().decode(body.Data);
  const kept: Mail.Attachment[] = (opts.keptAttachments ?? []).map((a) => ({
    ...(a.filename !== null && { filename: a.filename }),
    contentType: a.contentType,
    content: Buffer.from(a.content),
    ...(a.contentId !== undefined && { cid: a.contentId }),
    ...(a.inline === true && { contentDisposition: 'inline' as const }),
  }));
  const mail: Mail.Options = {
    from: item.From ?? opts.defaultFrom,
    ...(item.To !== undefined && { to: item.To }),
    ...(item.Cc !== undefined && { cc: item.Cc }),
    ...(item.Bcc !== undefined && { bcc: item.Bcc }),
    ...(item.ReplyTo !== undefined && { replyTo: item.ReplyTo }),
    subject: item.Subject ?? '',
    date: item.DateReceived ?? new Date(),
    ...(item.MessageId !== undefined && { messageId: item.MessageId }),
    ...(body?.Type === 2 ? { html: data } : { text: data }),
    attachments: [...kept, ...(item.AttachmentsAdd ?? []).map(attachment)],
    headers: { 'X-Mailer': 'easd', ...priorityHeaders[item.Importance ?? 1] },
  };
  const node = new MailComposer(mail).compile();
  // Drafts keep their Bcc line; a sent copy is built by the client and never passes here.
  node.keepBcc = true;
  const built = await node.build();
  return new Uint8Array(built);
}
