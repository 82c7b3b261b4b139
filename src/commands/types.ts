// The shape every command handler has: typed context in, typed result out; no bytes, no HTTP.
import type { Logger } from 'pino';
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { EasRequestLine } from '../http/query.js';

/** Protocol versions easd speaks (MS-ASHTTP 2.2.1.1.2.4), oldest first. */
export const protocolVersions = ['12.0', '12.1', '14.0', '14.1', '16.0', '16.1'] as const;
export type ProtocolVersion = (typeof protocolVersions)[number];

export function isProtocolVersion(v: string | undefined): v is ProtocolVersion {
  return (protocolVersions as readonly string[]).includes(v ?? '');
}

/** Compares two versions as numbers: `versionAtLeast('14.1', '14.0')` is true. */
export function versionAtLeast(v: ProtocolVersion, min: ProtocolVersion): boolean {
  return Number(v) >= Number(min);
}

export interface CommandContext<A = unknown> {
  command: CommandName;
  line: EasRequestLine;
  protocolVersion: ProtocolVersion;
  /** X-MS-PolicyKey or the base64 query's policy key; absent when the client sent none. */
  policyKey?: number;
  userAgent?: string;
  remoteAddress: string;
  account: A;
  /** The decoded WBXML body; absent for an empty body (Ping/Sync reuse) or a MIME body. */
  body?: WbxmlElement;
  /** The raw body: the MIME message of 12.x SendMail/SmartReply/SmartForward. */
  rawBody: Uint8Array;
  contentType?: string;
  /** Ends on client disconnect or server shutdown; pass it to every async call. */
  signal: AbortSignal;
  log: Logger;
}

export interface CommandResult {
  /** HTTP status; 200 unless a command needs another (449, 503 …). */
  httpStatus?: number;
  headers?: Record<string, string>;
  /** A WBXML document, or raw bytes with their content type (ItemOperations multipart, GetAttachment). */
  body?: WbxmlElement | { contentType: string; data: Uint8Array | AsyncIterable<Uint8Array> };
}

export type CommandHandler<A = unknown> = (ctx: CommandContext<A>) => Promise<CommandResult>;

export type CommandName =
  | 'Sync'
  | 'SendMail'
  | 'SmartForward'
  | 'SmartReply'
  | 'GetAttachment'
  | 'FolderSync'
  | 'FolderCreate'
  | 'FolderDelete'
  | 'FolderUpdate'
  | 'MoveItems'
  | 'GetItemEstimate'
  | 'MeetingResponse'
  | 'Search'
  | 'Settings'
  | 'Ping'
  | 'ItemOperations'
  | 'Provision'
  | 'ResolveRecipients'
  | 'ValidateCert'
  | 'Find';
