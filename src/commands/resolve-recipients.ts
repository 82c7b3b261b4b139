// ResolveRecipients (MS-ASCMD 2.2.1.15): each To is looked up in the backend's directory
// (search.directory, Type 1 "GAL" entries). Certificates are the entry's S/MIME certificates that
// are valid now and name the recipient's address; pictures are the entry's photo under the
// MaxSize/MaxPictures rules. easd has no free/busy source for directory entries, so Availability
// is answered with the spec's "none" Status rather than ignored. The user's own contacts (Type 2)
// are not searched.
import { X509Certificate } from 'node:crypto';
import type { Account, DirectoryEntry } from '../backend/contract.js';
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
  const unresolved: RecipientResponse = { To, Status: Status.NotResolved, RecipientCount: 0, recipients: [] };
  const directory = deps.backend.search?.directory?.bind(deps.backend.search);
  // Without a directory nothing can be resolved: every recipient is 4.
  if (directory === undefined) return unresolved;
  const text = lookupText(To);
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
  // Availability is 14.0+ (MS-ASCMD 2.2.3.125.4); easd has no free/busy source for directory
  // entries: 163, or 160 when more than 100 recipients were named.
  if (request.Availability && versionAtLeast(ctx.protocolVersion, '14.0'))
    r.Availability =
      request.To.length > maxAvailabilityRecipients
        ? Status.TooManyForAvailability
        : Status.FreeBusyUnavailable;
  // Picture is 14.1+ (MS-ASCMD 2.2.3.125.4); MaxPictures counts per To (2.2.3.104.2), and one To
  // resolves to one recipient here.
  if (request.Picture !== undefined && versionAtLeast(ctx.protocolVersion, '14.1'))
    r.Picture = pictureAnswers(request.Picture)(e.Picture);
  return r;
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
