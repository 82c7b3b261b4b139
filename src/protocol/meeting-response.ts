// MeetingResponse (MS-ASCMD 2.2.1.11): the typed request and response. Each Request accepts,
// tentatively accepts or declines one meeting request — an invitation in a mail folder or a
// calendar item — named by CollectionId + RequestId or by a Search LongId; each gets one Result.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import { parseDate } from './items/common.js';
import { child, children, expectRoot, integer, ProtocolError, text } from './read.js';

const ns = 'MeetingResponse';

/** MS-ASCMD 2.2.3.177.9 Status (MeetingResponse). */
export const MeetingResponseStatus = {
  Success: 1,
  /** Not a meeting request, the user organizes it, or a bad InstanceId: not transient. */
  InvalidMeetingRequest: 2,
  MailboxError: 3,
  ServerError: 4,
} as const;

/** MS-ASCMD 2.2.3.194 UserResponse: 1 accepted, 2 tentatively accepted, 3 declined. */
export type UserResponse = 1 | 2 | 3;

/** MS-ASCMD 2.2.3.163 SendResponse (16.0+): present means "send the organizer a reply". */
export interface SendResponse {
  /** airsyncbase:Body Data, the text the user wrote (Type 1 plain or 2 HTML). */
  Body?: { Type: number; Data: string };
  /**
   * MS-ASCMD 2.2.3.141 / 2.2.3.140 (16.1): a new time the user proposes, Compact DateTime; each
   * requires the other.
   */
  ProposedStartTime?: Date;
  ProposedEndTime?: Date;
}

/** MS-ASCMD 2.2.3.150.2 Request (MeetingResponse). */
export interface MeetingResponseRequest {
  UserResponse: UserResponse;
  CollectionId?: string;
  RequestId?: string;
  /** MS-ASCMD 2.2.3.98.2 search:LongId; then CollectionId and RequestId MUST NOT be present. */
  LongId?: string;
  /** MS-ASCMD 2.2.3.92.1 InstanceId (16.x): the original start of one occurrence. */
  InstanceId?: Date;
  SendResponse?: SendResponse;
}

/** MS-ASCMD 2.2.3.155.2 Result (MeetingResponse). */
export interface MeetingResponseResult {
  RequestId?: string;
  Status: number;
  /** MS-ASCMD 2.2.3.18: the calendar item's ServerId, never for a decline. */
  CalendarId?: string;
  InstanceId?: Date;
}

/** MS-ASCMD 2.2.3.151 RequestId, 2.2.3.30.4 CollectionId, 2.2.3.18 CalendarId: up to 64 characters. */
const maxIdLength = 64;

function id(parent: WbxmlElement, name: string, idNs = ns): string | undefined {
  const v = text(parent, name, idNs);
  if (v === undefined) return undefined;
  if (v.length === 0 || v.length > maxIdLength)
    throw new ProtocolError(`${name} must be 1–${maxIdLength} characters`);
  return v;
}

function parseRequest(r: WbxmlElement): MeetingResponseRequest {
  const response = integer(r, 'UserResponse', ns);
  if (response !== 1 && response !== 2 && response !== 3)
    throw new ProtocolError('UserResponse must be 1, 2 or 3');
  const req: MeetingResponseRequest = { UserResponse: response };
  const collectionId = id(r, 'CollectionId');
  const requestId = id(r, 'RequestId');
  const longId = id(r, 'LongId', 'Search');
  if (longId !== undefined) {
    if (collectionId !== undefined || requestId !== undefined)
      throw new ProtocolError('LongId with CollectionId or RequestId');
    req.LongId = longId;
  } else {
    if (requestId === undefined) throw new ProtocolError('Request without RequestId or LongId');
    req.RequestId = requestId;
    if (collectionId !== undefined) req.CollectionId = collectionId;
  }
  const instance = text(r, 'InstanceId', ns);
  if (instance !== undefined) {
    const at = new Date(instance);
    if (Number.isNaN(at.getTime())) throw new ProtocolError(`InstanceId "${instance}" is not a date`);
    req.InstanceId = at;
  }
  const send = child(r, 'SendResponse', ns);
  if (send !== undefined) {
    const body = child(send, 'Body', 'AirSyncBase');
    const data = text(body, 'Data', 'AirSyncBase');
    req.SendResponse =
      body === undefined || data === undefined
        ? {}
        : { Body: { Type: integer(body, 'Type', 'AirSyncBase') ?? 1, Data: data } };
    const start = text(send, 'ProposedStartTime', ns);
    const end = text(send, 'ProposedEndTime', ns);
    if ((start === undefined) !== (end === undefined))
      throw new ProtocolError('ProposedStartTime and ProposedEndTime come together');
    if (start !== undefined && end !== undefined) {
      const proposed = {
        start: parseDate(start, 'ProposedStartTime'),
        end: parseDate(end, 'ProposedEndTime'),
      };
      if (proposed.end.getTime() < proposed.start.getTime())
        throw new ProtocolError('ProposedEndTime is before ProposedStartTime');
      req.SendResponse.ProposedStartTime = proposed.start;
      req.SendResponse.ProposedEndTime = proposed.end;
    }
  }
  return req;
}

export function parseMeetingResponseRequest(body: WbxmlElement | undefined): MeetingResponseRequest[] {
  const root = expectRoot(body, ns, 'MeetingResponse');
  const requests = children(root, 'Request', ns).map(parseRequest);
  if (requests.length === 0) throw new ProtocolError('MeetingResponse without Request');
  return requests;
}

/** MS-ASCMD 2.2.3.92.1: InstanceId in the dateTime form of MS-ASDTYPE 2.3. */
function dateTime(d: Date): string {
  return d.toISOString();
}

export function buildMeetingResponseResponse(results: readonly MeetingResponseResult[]): WbxmlElement {
  return el(
    ns,
    'MeetingResponse',
    results.map((r) =>
      el(
        ns,
        'Result',
        r.RequestId !== undefined && el(ns, 'RequestId', r.RequestId),
        el(ns, 'Status', r.Status),
        r.CalendarId !== undefined && el(ns, 'CalendarId', r.CalendarId),
        r.InstanceId !== undefined && el(ns, 'InstanceId', dateTime(r.InstanceId)),
      ),
    ),
  );
}
