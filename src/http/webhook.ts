// The push webhook: the mail server reports new mail or flag changes for a user, so a large site
// needs no IMAP connection per user to push. Dovecot's push_notification plugin (OX driver) PUTs
// JSON like {"user":"alice","event":"messageNew","folder":"INBOX","imap-uid":7,…} with HTTP Basic
// credentials taken from its URL; easd accepts the shared secret as that password, or as a Bearer
// token, on PUT or POST. Fields easd does not use (uid, from, subject, snippet) are ignored.
import { timingSafeEqual } from 'node:crypto';
import { parseBasicAuth } from './auth.js';

export interface WebhookEvent {
  user: string;
  /** Mailbox name as the mail server calls it; absent → any folder. */
  folder?: string;
  event?: string;
}

export class WebhookError extends Error {
  constructor(
    readonly httpStatus: 400 | 401,
    message: string,
  ) {
    super(message);
  }
}

function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function checkWebhookAuth(authorization: string | undefined, secret: string): void {
  if (authorization !== undefined) {
    const bearer = /^Bearer\s+(.+)$/i.exec(authorization);
    if (bearer !== null && sameSecret(bearer[1] ?? '', secret)) return;
    const basic = parseBasicAuth(authorization);
    if (basic !== null && sameSecret(basic.password, secret)) return;
  }
  throw new WebhookError(401, 'webhook secret required');
}

/** Reads one event; Dovecot's OX driver sends one JSON object per request. */
export function parseWebhookEvent(body: Buffer): WebhookEvent {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new WebhookError(400, 'body is not JSON');
  }
  if (typeof json !== 'object' || json === null) throw new WebhookError(400, 'body must be a JSON object');
  const o = json as Record<string, unknown>;
  if (typeof o['user'] !== 'string' || o['user'] === '') throw new WebhookError(400, '"user" is required');
  const event: WebhookEvent = { user: o['user'] };
  if (typeof o['folder'] === 'string') event.folder = o['folder'];
  if (typeof o['event'] === 'string') event.event = o['event'];
  return event;
}
