// ResolveRecipients (MS-ASCMD 2.2.1.15): each To is looked up in the backend's directory
// (search.directory, Type 1 "GAL" entries); the user's own address resolves to the user even
// when the directory does not list them. Certificates are the entry's S/MIME certificates that
// are valid now and name the recipient's address; pictures are the entry's photo under the
// MaxSize/MaxPictures rules. Availability (14.0+) is the backend's free/busy (freeBusy: with
// CalDAV, the user's own calendars) merged into MergedFreeBusy; a recipient it cannot tell gets
// Status 163. The user's own contacts (Type 2) are not searched.
import { X509Certificate } from 'node:crypto';
import type { Account, BusyPeriod, DirectoryEntry } from '../backend/contract.js';
import { isBackendError } from '../backend/errors.js';
import { ProtocolError } from '../protocol/read.js';
import {
  buildResolveRecipientsResponse,
  maxAvailabilityRecipients,
  parseResolveRecipientsRequest,
  ResolveRecipientsStatus as Status,
  type RecipientResponse,
  type ResolvedRecipient,
  type ResolveRecipientsRequest,
} from '../protocol/resolve-recipients.js';
import { pictureAnswers } from '../protocol/search.js';
import { backendCall, type EngineContext, type EngineDeps } from './deps.js';
import { versionAtLeast, type CommandHandler } from './types.js';

/** Matches read per recipient at least, so an exact match is not cut off by a small MaxAmbiguousRecipients. */
const minLookup = 50;

export function createResolveRecipientsHandler(deps: EngineDeps): CommandHandler<Account> {
  return async (ctx) => {
    let request: ResolveRecipientsRequest;
    try {
      request = parseResolveRecipientsRequest(ctx.body);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return { body: buildResolveRecipientsResponse({ Status: Status.ProtocolError, responses: [] }) };
    }
    const responses: RecipientResponse[] = [];
    // MS-ASCMD 2.2.3.101: MaxCertificates counts every certificate of the response.
    const certificates = { left: request.MaxCertificates ?? Infinity };
    for (const to of request.To) {
      const r = await resolveOne(deps, ctx, request, to, certificates);
      // A failure that is not about this one recipient ends the request (6, server error).
      if (typeof r === 'number')
        return { body: buildResolveRecipientsResponse({ Status: r, responses: [] }) };
      responses.push(r);
    }
    // Availability is 14.0+ (MS-ASCMD 2.2.3.125.4), for each resolved recipient
    if (request.Availability !== undefined && versionAtLeast(ctx.protocolVersion, '14.0'))
      await fillAvailability(deps, ctx, request, request.Availability, responses);
    return { body: buildResolveRecipientsResponse({ Status: Status.Success, responses }) };
  };
}

/** The address in "Name <address>", or the text itself. */
function lookupText(to: string): string {
  return /<([^<>]+)>\s*$/.exec(to)?.[1]?.trim() ?? to.trim();
}

async function resolveOne(
  deps: EngineDeps,
  ctx: EngineContext,
  request: ResolveRecipientsRequest,
  To: string,
  certificates: { left: number },
): Promise<RecipientResponse | number> {
  const text = lookupText(To);
  // the user's own address is the user, listed in a directory or not
  const self: DirectoryEntry = {
    DisplayName: ctx.account.displayName ?? ctx.account.email,
    EmailAddress: ctx.account.email,
  };
  const unresolved: RecipientResponse =
    text.toLowerCase() === ctx.account.email.toLowerCase()
      ? {
          To,
          Status: Status.Success,
          RecipientCount: 1,
          recipients: [resolved(ctx, request, self, certificates)],
        }
      : { To, Status: Status.NotResolved, RecipientCount: 0, recipients: [] };
  const directory = deps.backend.search?.directory?.bind(deps.backend.search);
  // Without a directory nothing else can be resolved: every other recipient is 4.
  if (directory === undefined) return unresolved;
  const max = request.MaxAmbiguousRecipients;
  const got = await backendCall('ResolveRecipients', () =>
    directory(ctx.account, text, Math.max(max + 1, minLookup), ctx.signal).catch((err: unknown) => {
      // A directory this user may not read resolves nobody for them; it is no server failure.
      if (isBackendError(err) && err.kind === 'denied') return [];
      throw err;
    }),
  );
  if (!got.ok) return got.status === Status.NotResolved ? unresolved : got.status;
  // A recipient is an address: entries without one (a room's phone, say) cannot be one.
  const matches = got.value.filter((e) => e.EmailAddress !== '');
  const needle = text.toLowerCase();
  const exact = matches.filter((e) =>
    [e.EmailAddress, e.DisplayName, e.Alias ?? ''].some((v) => v.toLowerCase() === needle),
  );
  const one = matches.length === 1 ? matches[0] : exact.length === 1 ? exact[0] : undefined;
  if (one !== undefined)
    return {
      To,
      Status: Status.Success,
      RecipientCount: 1,
      recipients: [resolved(ctx, request, one, certificates)],
    };
  if (matches.length === 0) return unresolved;
  // MS-ASCMD 2.2.3.177.12: 2 when the suggestions are every match, 3 when MaxAmbiguousRecipients
  // cut them; RecipientCount says how many matched (2.2.3.146). Suggestions carry no
  // certificates (2.2.3.177.12, Status 2).
  return {
    To,
    Status: matches.length > max ? Status.AmbiguousPartial : Status.Ambiguous,
    RecipientCount: matches.length,
    recipients: matches.slice(0, max).map((e) => suggestion(e)),
  };
}

const suggestion = (e: DirectoryEntry): ResolvedRecipient => ({
  Type: 1,
  DisplayName: e.DisplayName,
  EmailAddress: e.EmailAddress,
});

function resolved(
  ctx: EngineContext,
  request: ResolveRecipientsRequest,
  e: DirectoryEntry,
  certificates: { left: number },
): ResolvedRecipient {
  const r = suggestion(e);
  if (request.CertificateRetrieval !== 1) {
    const valid = validCertificates(e);
    // MS-ASCMD 2.2.3.177.12: 7 none valid; 8 when MaxCertificates would be passed, so no
    // recipient gets part of their set, and CertificateCount says how many were held back
    // (2.2.3.21). A mini certificate (CertificateRetrieval 3) is a Microsoft encoding easd cannot
    // make from an X.509 certificate: the full certificate is sent, as the schema allows.
    if (valid.length === 0) r.Certificates = { Status: Status.NoValidCertificate, CertificateCount: 0 };
    else if (valid.length > certificates.left)
      r.Certificates = { Status: Status.CertificateLimitReached, CertificateCount: valid.length };
    else {
      certificates.left -= valid.length;
      r.Certificates = { Status: Status.Success, CertificateCount: valid.length, Certificate: valid };
    }
  }
  // Picture is 14.1+ (MS-ASCMD 2.2.3.125.4); MaxPictures counts per To (2.2.3.104.2), and one To
  // resolves to one recipient here.
  if (request.Picture !== undefined && versionAtLeast(ctx.protocolVersion, '14.1'))
    r.Picture = pictureAnswers(request.Picture)(e.Picture);
  return r;
}

/**
 * Availability of every resolved recipient (MS-ASCMD 2.2.3.16): 160 for all when more than 100
 * recipients were named; else one free/busy question to the backend for all of them, and per
 * recipient Status 1 with MergedFreeBusy, or 163 when the backend cannot tell (or has no free/busy
 * at all, or failed).
 */
async function fillAvailability(
  deps: EngineDeps,
  ctx: EngineContext,
  request: ResolveRecipientsRequest,
  window: { StartTime: Date; EndTime: Date },
  responses: RecipientResponse[],
): Promise<void> {
  const targets = responses.filter((r) => r.Status === Status.Success).flatMap((r) => r.recipients);
  if (request.To.length > maxAvailabilityRecipients) {
    for (const p of targets) p.Availability = Status.TooManyForAvailability;
    return;
  }
  const source = deps.backend.freeBusy;
  let known = new Map<string, BusyPeriod[]>();
  if (source !== undefined && targets.length > 0) {
    try {
      known = await source.freeBusy(
        ctx.account,
        targets.map((p) => p.EmailAddress),
        window.StartTime,
        window.EndTime,
        ctx.signal,
      );
    } catch (err) {
      // a calendar store that fails leaves the names resolved: their free/busy is unavailable (163)
      if (!isBackendError(err)) throw err;
    }
  }
  const lower = new Map([...known].map(([a, v]) => [a.toLowerCase(), v]));
  for (const p of targets) {
    const periods = lower.get(p.EmailAddress.toLowerCase());
    if (periods === undefined) p.Availability = Status.FreeBusyUnavailable;
    else {
      p.Availability = Status.Success;
      p.MergedFreeBusy = mergedFreeBusy(periods, window.StartTime, window.EndTime);
    }
  }
}

const SLOT = 30 * 60_000;
/** MS-ASCMD 2.2.3.107: at most 32 KB; a client wanting more asks again with a later StartTime. */
const maxMergedFreeBusy = 32 * 1024;
const digitOf: Record<BusyPeriod['type'], number> = { tentative: 1, busy: 2, oof: 3 };

/**
 * MS-ASCMD 2.2.3.107: one digit per 30 minutes from `start` (0 free, 1 tentative, 2 busy, 3 out of
 * office); a slot partly taken gets the highest digit of what touches it.
 */
export function mergedFreeBusy(periods: readonly BusyPeriod[], start: Date, end: Date): string {
  const t0 = start.getTime();
  const slots = Math.min(maxMergedFreeBusy, Math.ceil((end.getTime() - t0) / SLOT));
  const digits = new Array<number>(Math.max(0, slots)).fill(0);
  for (const p of periods) {
    const from = Math.max(0, Math.floor((p.start.getTime() - t0) / SLOT));
    const to = Math.min(slots, Math.ceil((p.end.getTime() - t0) / SLOT));
    for (let i = from; i < to; i++) digits[i] = Math.max(digits[i]!, digitOf[p.type]);
  }
  return digits.join('');
}

/**
 * The entry's certificates an S/MIME sender can use now: X.509 that parses, within its validity
 * period, naming the recipient's address (subjectAltName rfc822Name, or the subject's
 * emailAddress when it has none: RFC 8550 §3).
 */
export function validCertificates(e: DirectoryEntry, now = new Date()): Uint8Array[] {
  return (e.Certificates ?? []).filter((der) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return false;
    }
    return (
      new Date(cert.validFrom) <= now &&
      now <= new Date(cert.validTo) &&
      cert.checkEmail(e.EmailAddress) !== undefined
    );
  });
}
