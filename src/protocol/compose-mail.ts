// SendMail, SmartForward and SmartReply requests and responses (MS-ASCMD 2.2.1.17, 2.2.1.19,
// 2.2.1.20), both forms: from 14.0 a ComposeMail WBXML document with the MIME message in Mime;
// in 12.x the raw MIME message as the request body, with SaveInSent, ItemId, CollectionId, LongId
// and Occurrence in the query (MS-ASHTTP 2.2.1.1.1.1.3 / 2.2.1.1.1.2.x). Pure: tree in, typed
// request out; a Status out, tree back.
import type { WbxmlElement } from '../../wbxml/tree.js';
import { child, expectRoot, has, ProtocolError, text, valueText } from './read.js';
import { statusOnlyResponse } from './status-only.js';

export type ComposeCommand = 'SendMail' | 'SmartReply' | 'SmartForward';

const NS = 'ComposeMail';

/**
 * MS-ASCMD 2.2.2 common Status values these commands answer with (14.0+). The values a backend
 * error becomes come from statusFor (src/backend/status.ts); these are the ones the command
 * itself decides.
 */
export const ComposeMailStatus = {
  /** The request's structure is wrong (a missing Mime or ClientId, a Source without an id). */
  InvalidXML: 103,
  /** The Mime element does not hold a message. */
  InvalidMIME: 107,
  ServerError: 110,
  /** The message was not sent because a recipient could not be resolved. */
  MessageRecipientUnresolved: 116,
  /** The ClientId was already sent (MS-ASCMD 2.2.3.28.1: the server detects duplicates by it). */
  MessagePreviouslySent: 118,
  MessageHasNoRecipient: 119,
  MailSubmissionFailed: 120,
  ItemNotFound: 150,
  /** MS-ASCMD 2.2.3.3.1: an AccountId the server does not know. */
  AccountIdInvalid: 166,
} as const;

/** The source message of a SmartReply/SmartForward (MS-ASCMD 2.2.3.173 Source). */
export interface ComposeSource {
  FolderId?: string;
  ItemId?: string;
  LongId?: string;
  InstanceId?: string;
}

export interface ComposeMailRequest {
  command: ComposeCommand;
  /** 'wbxml' from 14.0; 'mime' for the 12.x body-is-the-message form. */
  form: 'wbxml' | 'mime';
  /** MS-ASCMD 2.2.3.28.1: unique per message, up to 40 characters (14.0+ only). */
  ClientId?: string;
  AccountId?: string;
  SaveInSentItems: boolean;
  /** MS-ASCMD 2.2.3.148: the client sends the whole message; the original is not added. */
  ReplaceMime: boolean;
  /** SmartReply/SmartForward only. */
  Source?: ComposeSource;
  Mime: Uint8Array;
}

/** Length limits of MS-ASCMD 2.2.3.28.1 ClientId, 2.2.3.74 FolderId, 2.2.3.93 ItemId, 2.2.3.98.4 LongId. */
export const composeLimits = { ClientId: 40, FolderId: 64, ItemId: 64, LongId: 256 } as const;

function limited(value: string | undefined, name: keyof typeof composeLimits): string | undefined {
  if (value !== undefined && value.length > composeLimits[name])
    throw new ProtocolError(`${name} is longer than ${composeLimits[name]} characters`);
  return value;
}

/** The Mime element (or 12.x body) does not hold a message: Status 107 InvalidMIME. */
export class InvalidMimeError extends ProtocolError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMimeError';
  }
}

function mimeBytes(e: WbxmlElement | undefined): Uint8Array {
  // MS-ASCMD 2.2.3.109: the message travels as OPAQUE; some clients send it as an inline string.
  if (e === undefined) throw new ProtocolError('Missing Mime');
  const v = e.value;
  const bytes = v instanceof Uint8Array ? v : new TextEncoder().encode(valueText(e));
  if (bytes.byteLength === 0) throw new InvalidMimeError('Empty Mime');
  return bytes;
}

/** Query parameters of the 12.x form (MS-ASHTTP 2.2.1.1.1.2: ItemId, CollectionId, LongId, Occurrence, SaveInSent). */
export interface ComposeQuery {
  saveInSent: boolean;
  itemId?: string | undefined;
  collectionId?: string | undefined;
  longId?: string | undefined;
  occurrence?: string | undefined;
}

/**
 * Reads a request. `body` is the decoded WBXML when the client sent WBXML; otherwise `raw` is the
 * MIME message and the query carries the rest. A 14.0+ client that sends raw MIME is read the
 * 12.x way (seen from clients that pick the body form by server rather than by version).
 */
export function parseComposeMailRequest(
  command: ComposeCommand,
  body: WbxmlElement | undefined,
  raw: Uint8Array,
  query: ComposeQuery,
): ComposeMailRequest {
  if (body === undefined) {
    if (raw.byteLength === 0) throw new ProtocolError(`Empty ${command} request`);
    const req: ComposeMailRequest = {
      command,
      form: 'mime',
      SaveInSentItems: query.saveInSent,
      ReplaceMime: false,
      Mime: raw,
    };
    if (command !== 'SendMail') {
      const source: ComposeSource = {};
      const itemId = limited(query.itemId, 'ItemId');
      const folderId = limited(query.collectionId, 'FolderId');
      const longId = limited(query.longId, 'LongId');
      if (itemId !== undefined) source.ItemId = itemId;
      if (folderId !== undefined) source.FolderId = folderId;
      if (longId !== undefined) source.LongId = longId;
      if (query.occurrence !== undefined) source.InstanceId = query.occurrence;
      if (source.ItemId === undefined && source.LongId === undefined)
        throw new ProtocolError(`${command} needs ItemId or LongId`);
      req.Source = source;
    }
    return req;
  }

  const root = expectRoot(body, NS, command);
  const clientId = limited(text(root, 'ClientId', NS), 'ClientId');
  // MS-ASCMD 2.2.3.28.1: ClientId is required in all three requests.
  if (clientId === undefined || clientId === '') throw new ProtocolError('Missing ClientId');
  const req: ComposeMailRequest = {
    command,
    form: 'wbxml',
    ClientId: clientId,
    SaveInSentItems: has(root, 'SaveInSentItems', NS),
    ReplaceMime: command !== 'SendMail' && has(root, 'ReplaceMime', NS),
    Mime: mimeBytes(child(root, 'Mime', NS)),
  };
  const accountId = text(root, 'AccountId', NS);
  if (accountId !== undefined) req.AccountId = accountId;
  if (command !== 'SendMail') {
    const s = child(root, 'Source', NS);
    // MS-ASCMD 2.2.3.173: Source is required in SmartForward and SmartReply.
    if (s === undefined) throw new ProtocolError('Missing Source');
    const source: ComposeSource = {};
    const folderId = limited(text(s, 'FolderId', NS), 'FolderId');
    const itemId = limited(text(s, 'ItemId', NS), 'ItemId');
    const longId = limited(text(s, 'LongId', NS), 'LongId');
    const instanceId = text(s, 'InstanceId', NS);
    if (folderId !== undefined) source.FolderId = folderId;
    if (itemId !== undefined) source.ItemId = itemId;
    if (longId !== undefined) source.LongId = longId;
    if (instanceId !== undefined) source.InstanceId = instanceId;
    // MS-ASCMD 2.2.3.98.4: LongId excludes FolderId and ItemId; 2.2.3.74: FolderId needs ItemId.
    if (longId !== undefined && (folderId !== undefined || itemId !== undefined))
      throw new ProtocolError('LongId with FolderId or ItemId');
    if (longId === undefined && itemId === undefined)
      throw new ProtocolError('Source without ItemId or LongId');
    req.Source = source;
  }
  return req;
}

/** MS-ASCMD 2.2.3.177.14 / .16: a failure is the command's root with a Status (success has no body). */
export function buildComposeMailResponse(command: ComposeCommand, status: number): WbxmlElement {
  return statusOnlyResponse(command, status);
}
