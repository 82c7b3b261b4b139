// ResolveRecipients (MS-ASCMD 2.2.1.15): each To is looked up in the backend's directory
// (search.directory, Type 1 "GAL" entries). easd keeps no S/MIME certificates, free/busy or
// pictures for directory entries, so those options are answered with the spec's "none" Status
// values rather than ignored. The user's own contacts (Type 2) are not searched.
import type { Account, DirectoryEntry } from '../backend/contract.js';
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
import { NoPicture } from '../protocol/search.js';
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
    for (const to of request.To) {
      const r = await resolveOne(deps, ctx, request, to);
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
): Promise<RecipientResponse | number> {
  const unresolved: RecipientResponse = { To, Status: Status.NotResolved, RecipientCount: 0, recipients: [] };
  const directory = deps.backend.search?.directory?.bind(deps.backend.search);
  // Without a directory nothing can be resolved: every recipient is 4.
  if (directory === undefined) return unresolved;
  const text = lookupText(To);
  const max = request.MaxAmbiguousRecipients;
  const got = await backendCall('ResolveRecipients', () =>
    directory(ctx.account, text, Math.max(max + 1, minLookup), ctx.signal),
  );
  if (!got.ok) return got.status === Status.NotResolved ? unresolved : got.status;
  const matches = got.value;
  const needle = text.toLowerCase();
  const exact = matches.filter((e) =>
    [e.EmailAddress, e.DisplayName, e.Alias ?? ''].some((v) => v.toLowerCase() === needle),
  );
  const one = matches.length === 1 ? matches[0] : exact.length === 1 ? exact[0] : undefined;
  if (one !== undefined)
    return { To, Status: Status.Success, RecipientCount: 1, recipients: [resolved(ctx, request, one)] };
  if (matches.length === 0) return unresolved;
  // MS-ASCMD 2.2.3.177.12: 2 when the suggestions are every match, 3 when MaxAmbiguousRecipients
  // cut them; RecipientCount says how many matched (2.2.3.146).
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
): ResolvedRecipient {
  const r = suggestion(e);
  // MS-ASCMD 2.2.3.177.12: a Certificates Status of 7 is "the recipient does not have a valid
  // S/MIME certificate"; easd's directory holds none, so it is what CertificateRetrieval 2 or 3 gets.
  if (request.CertificateRetrieval !== 1)
    r.Certificates = { Status: Status.NoValidCertificate, CertificateCount: 0 };
  // Availability is 14.0+ (MS-ASCMD 2.2.3.125.4); easd has no free/busy source for directory
  // entries: 163, or 160 when more than 100 recipients were named.
  if (request.Availability && versionAtLeast(ctx.protocolVersion, '14.0'))
    r.Availability =
      request.To.length > maxAvailabilityRecipients
        ? Status.TooManyForAvailability
        : Status.FreeBusyUnavailable;
  // Picture is 14.1+ (MS-ASCMD 2.2.3.125.4): 173, no picture (MS-ASCMD 2.2.2).
  if (request.Picture !== undefined && versionAtLeast(ctx.protocolVersion, '14.1')) r.Picture = NoPicture;
  return r;
}
