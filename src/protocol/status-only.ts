// A command response that carries only a top-level Status: how 14.0+ servers report failures
// that stop a command before it starts (MS-ASCMD 2.2.2: 142 not provisioned, 143 policy
// refresh, 144 invalid policy key, 129 blocked device, 140 remote wipe requested, …).
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import type { CommandName } from '../commands/types.js';

/** The code page of each command's root element (MS-ASWBXML 2.1.2.1). */
export const commandNamespace: Readonly<Record<CommandName, string>> = {
  Sync: 'AirSync',
  SendMail: 'ComposeMail',
  SmartForward: 'ComposeMail',
  SmartReply: 'ComposeMail',
  GetAttachment: 'AirSync',
  FolderSync: 'FolderHierarchy',
  FolderCreate: 'FolderHierarchy',
  FolderDelete: 'FolderHierarchy',
  FolderUpdate: 'FolderHierarchy',
  MoveItems: 'Move',
  GetItemEstimate: 'GetItemEstimate',
  MeetingResponse: 'MeetingResponse',
  Search: 'Search',
  Settings: 'Settings',
  Ping: 'Ping',
  ItemOperations: 'ItemOperations',
  Provision: 'Provision',
  ResolveRecipients: 'ResolveRecipients',
  ValidateCert: 'ValidateCert',
  Find: 'Find',
};

export function statusOnlyResponse(command: CommandName, status: number): WbxmlElement {
  const ns = commandNamespace[command];
  return el(ns, command, el(ns, 'Status', status));
}
