// The declarative command table: which commands exist, from which protocol version, whether the
// device must be provisioned first, and what kind of body they take. Handlers are attached by
// name when the server is built, so this table stays free of I/O.
import type { CommandName, ProtocolVersion } from './types.js';

export interface CommandSpec {
  name: CommandName;
  minVersion: ProtocolVersion;
  /** Last version that has the command (GetAttachment ended with 12.1: MS-ASCMD 2.2.1.8). */
  maxVersion?: ProtocolVersion;
  /** MS-ASPROV 3.2.5.1: every command but Provision needs a current policy key when policies apply. */
  needsProvisioning: boolean;
  /**
   * wbxml: a WBXML body is required; wbxml-optional: may be empty (Ping and Sync reuse the last
   * request, MS-ASCMD 2.2.1.13 / 2.2.1.21); mime-or-wbxml: 12.x sends raw MIME, 14.0+ ComposeMail
   * WBXML; none: parameters only.
   */
  body: 'wbxml' | 'wbxml-optional' | 'mime-or-wbxml' | 'none';
}

const spec = (
  name: CommandName,
  body: CommandSpec['body'],
  minVersion: ProtocolVersion = '12.0',
  extra: Partial<CommandSpec> = {},
): CommandSpec => ({ name, minVersion, needsProvisioning: true, body, ...extra });

export const commandTable: ReadonlyMap<string, CommandSpec> = new Map(
  [
    spec('Sync', 'wbxml-optional'),
    spec('SendMail', 'mime-or-wbxml'),
    spec('SmartForward', 'mime-or-wbxml'),
    spec('SmartReply', 'mime-or-wbxml'),
    spec('GetAttachment', 'none', '12.0', { maxVersion: '12.1' }),
    spec('FolderSync', 'wbxml'),
    spec('FolderCreate', 'wbxml'),
    spec('FolderDelete', 'wbxml'),
    spec('FolderUpdate', 'wbxml'),
    spec('MoveItems', 'wbxml'),
    spec('GetItemEstimate', 'wbxml'),
    spec('MeetingResponse', 'wbxml'),
    spec('Search', 'wbxml'),
    spec('Settings', 'wbxml'),
    spec('Ping', 'wbxml-optional'),
    spec('ItemOperations', 'wbxml'),
    spec('Provision', 'wbxml', '12.0', { needsProvisioning: false }),
    spec('ResolveRecipients', 'wbxml'),
    spec('ValidateCert', 'wbxml'),
    spec('Find', 'wbxml', '16.1'),
  ].map((s) => [s.name.toLowerCase(), s]),
);

/** Looks a command up the way clients spell it: case-insensitively. */
export function findCommand(name: string): CommandSpec | undefined {
  return commandTable.get(name.toLowerCase());
}
