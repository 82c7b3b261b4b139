// ResolveRecipients (MS-ASCMD 2.2.1.15): the typed request and response. The request names the
// recipients (To) and options for certificates (CertificateRetrieval, MaxCertificates),
// suggestions (MaxAmbiguousRecipients), free/busy (Availability, 14.0+) and pictures (14.1+).
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import { child, children, expectRoot, integer, ProtocolError, text, valueText } from './read.js';
import { parsePicture, type PictureAnswer, type PictureRequest } from './search.js';

const ns = 'ResolveRecipients';

/** MS-ASCMD 2.2.3.177.12 */
export const ResolveRecipientsStatus = {
  /** ResolveRecipients, Response, Certificates, Availability, Picture: success. */
  Success: 1,
  /** Response: the recipient was ambiguous; the Recipients are suggestions, all of them. */
  Ambiguous: 2,
  /** Response: ambiguous, and the suggestions are only part of the matches. */
  AmbiguousPartial: 3,
  /** Response: the recipient could not be resolved. */
  NotResolved: 4,
  /** ResolveRecipients: an invalid parameter, or a range beyond the limits. */
  ProtocolError: 5,
  /** ResolveRecipients: an error on the server; the client should retry. */
  ServerError: 6,
  /** Certificates: the recipient has no valid S/MIME certificate. */
  NoValidCertificate: 7,
  /** Certificates: MaxCertificates was reached before this recipient; none of theirs are returned. */
  CertificateLimitReached: 8,
  /** Availability: more than 100 recipients named with free/busy asked for. */
  TooManyForAvailability: 160,
  /** Availability: free/busy data could not be retrieved for the recipient. */
  FreeBusyUnavailable: 163,
} as const;

/**
 * MS-ASCMD To (ResolveRecipients): each at most 256 characters; more than 1000 is undefined and
 * the server may answer a protocol error, which easd does. With Availability, at most 100.
 */
export const maxRecipients = 1000;
export const maxAvailabilityRecipients = 100;
const maxToLength = 256;
/** MS-ASCMD 2.2.3.100: 0–9999 suggestions; how many when the client sets none is the server's choice. */
const maxAmbiguousLimit = 9999;
const maxCertificatesLimit = 9999;
export const defaultMaxAmbiguousRecipients = 20;
const DAY = 86_400_000;
/** MS-ASCMD 2.2.3.61.1: without EndTime the window is seven days from StartTime. */
const defaultAvailabilityDays = 7;
/** MS-ASCMD 2.2.3.61.1: EndTime at least 30 minutes after StartTime. */
const minAvailabilityMs = 30 * 60_000;
/** MS-ASCMD 2.2.3.61.1 note 5: at most a server-specific number of days; Exchange 2010/2013 take 42. */
const maxAvailabilityDays = 42;

export interface ResolveRecipientsRequest {
  To: string[];
  /** MS-ASCMD 2.2.3.22: 1 no certificates, 2 full certificates, 3 mini certificates. */
  CertificateRetrieval: 1 | 2 | 3;
  MaxAmbiguousRecipients: number;
  /** MS-ASCMD 2.2.3.101: the most certificates in the whole response; no limit when absent. */
  MaxCertificates?: number;
  /** Free/busy asked for, from StartTime to EndTime (MS-ASCMD 2.2.3.16), EndTime defaulted. */
  Availability?: { StartTime: Date; EndTime: Date };
  Picture?: PictureRequest;
}

export function parseResolveRecipientsRequest(body: WbxmlElement | undefined): ResolveRecipientsRequest {
  const root = expectRoot(body, ns, 'ResolveRecipients');
  const To = children(root, 'To', ns).map(valueText);
  if (To.length === 0 || To.length > maxRecipients)
    throw new ProtocolError(`ResolveRecipients must name 1–${maxRecipients} recipients`);
  if (To.some((t) => t.trim() === '' || t.length > maxToLength))
    throw new ProtocolError(`To must be 1–${maxToLength} characters`);
  const options = child(root, 'Options', ns);
  const retrieval = integer(options, 'CertificateRetrieval', ns) ?? 1;
  if (retrieval !== 1 && retrieval !== 2 && retrieval !== 3)
    throw new ProtocolError(`CertificateRetrieval ${retrieval} is not 1, 2 or 3`);
  const maxAmbiguous = integer(options, 'MaxAmbiguousRecipients', ns) ?? defaultMaxAmbiguousRecipients;
  if (maxAmbiguous > maxAmbiguousLimit)
    throw new ProtocolError(`MaxAmbiguousRecipients above ${maxAmbiguousLimit}`);
  const request: ResolveRecipientsRequest = {
    To,
    CertificateRetrieval: retrieval,
    MaxAmbiguousRecipients: maxAmbiguous,
  };
  const maxCertificates = integer(options, 'MaxCertificates', ns);
  if (maxCertificates !== undefined) {
    // MS-ASCMD 2.2.3.101: 0–9999.
    if (maxCertificates > maxCertificatesLimit)
      throw new ProtocolError(`MaxCertificates above ${maxCertificatesLimit}`);
    request.MaxCertificates = maxCertificates;
  }
  const availability = child(options, 'Availability', ns);
  if (availability !== undefined) {
    // MS-ASCMD 2.2.3.176.1 StartTime: required; 2.2.3.61.1 EndTime: optional. Both dateTime.
    const at = (name: string): Date | undefined => {
      const v = text(availability, name, ns);
      if (v === undefined) return undefined;
      const d = new Date(v);
      if (Number.isNaN(d.getTime())) throw new ProtocolError(`Availability ${name} is not a date-time`);
      return d;
    };
    const StartTime = at('StartTime');
    if (StartTime === undefined) throw new ProtocolError('Availability without StartTime');
    const EndTime = at('EndTime') ?? new Date(StartTime.getTime() + defaultAvailabilityDays * DAY);
    // MS-ASCMD 2.2.3.61.1: Status 5 below StartTime + 30 minutes or beyond the server's days
    const span = EndTime.getTime() - StartTime.getTime();
    if (span < minAvailabilityMs)
      throw new ProtocolError('Availability EndTime is less than 30 minutes after StartTime');
    if (span > maxAvailabilityDays * DAY)
      throw new ProtocolError(`Availability spans more than ${maxAvailabilityDays} days`);
    request.Availability = { StartTime, EndTime };
  }
  const picture = parsePicture(child(options, 'Picture', ns), ns);
  if (picture !== undefined) request.Picture = picture;
  return request;
}

export interface ResolvedRecipient {
  /** MS-ASCMD 2.2.3.186.5: 1 a GAL entry, 2 a contact. */
  Type: 1 | 2;
  DisplayName: string;
  EmailAddress: string;
  /** Availability Status, when free/busy was asked for (14.0+). */
  Availability?: number;
  /** MS-ASCMD 2.2.3.107: one digit per 30 minutes from StartTime, with Availability Status 1. */
  MergedFreeBusy?: string;
  /**
   * Certificates Status and count, when certificates were asked for, with the DER certificates
   * returned (MS-ASCMD 2.2.3.19 Certificate, base64 on the wire).
   */
  Certificates?: { Status: number; CertificateCount: number; Certificate?: Uint8Array[] };
  /** Picture Status and the photo, when pictures were asked for (14.1+). */
  Picture?: PictureAnswer;
}

export interface RecipientResponse {
  To: string;
  Status: number;
  /** MS-ASCMD 2.2.3.146: how many matched, which may be more than the suggestions returned. */
  RecipientCount: number;
  recipients: ResolvedRecipient[];
}

export interface ResolveRecipientsResponse {
  Status: number;
  responses: RecipientResponse[];
}

/** Element order follows ResolveRecipientsResponse.xsd. */
export function buildResolveRecipientsResponse(r: ResolveRecipientsResponse): WbxmlElement {
  return el(
    ns,
    'ResolveRecipients',
    el(ns, 'Status', r.Status),
    r.responses.map((x) =>
      el(
        ns,
        'Response',
        el(ns, 'To', x.To),
        el(ns, 'Status', x.Status),
        x.Status !== ResolveRecipientsStatus.NotResolved && el(ns, 'RecipientCount', x.RecipientCount),
        x.recipients.map((p) =>
          el(
            ns,
            'Recipient',
            el(ns, 'Type', p.Type),
            el(ns, 'DisplayName', p.DisplayName),
            el(ns, 'EmailAddress', p.EmailAddress),
            p.Availability !== undefined &&
              el(
                ns,
                'Availability',
                el(ns, 'Status', p.Availability),
                p.MergedFreeBusy !== undefined && el(ns, 'MergedFreeBusy', p.MergedFreeBusy),
              ),
            p.Certificates !== undefined &&
              el(
                ns,
                'Certificates',
                el(ns, 'Status', p.Certificates.Status),
                el(ns, 'CertificateCount', p.Certificates.CertificateCount),
                (p.Certificates.Certificate ?? []).map((c) => el(ns, 'Certificate', base64(c))),
              ),
            p.Picture !== undefined &&
              el(
                ns,
                'Picture',
                el(ns, 'Status', p.Picture.Status),
                p.Picture.Data !== undefined && el(ns, 'Data', base64(p.Picture.Data)),
              ),
          ),
        ),
      ),
    ),
  );
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
