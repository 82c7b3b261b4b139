// Settings (MS-ASCMD 2.2.1.18): the typed request and response. One request may carry several
// parts (Oof, DeviceInformation, DevicePassword, UserInformation, RightsManagementInformation);
// each part gets its own Status in the response (MS-ASCMD 2.2.3.177.15).
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import type { OofMessage, OofSettings } from '../backend/contract.js';
import { versionAtLeast, type ProtocolVersion } from '../commands/types.js';
import {
  buildDeviceInformationStatus,
  parseDeviceInformation,
  type DeviceInformation,
} from './device-information.js';
import { formatDateTime, parseDate } from './items/common.js';
import { child, children, expectRoot, has, ProtocolError, text } from './read.js';

const ns = 'Settings';

/** MS-ASCMD 2.2.3.177.15: the same values for the Settings element and for each part. */
export const SettingsStatus = {
  Success: 1,
  ProtocolError: 2,
  AccessDenied: 3,
  ServerUnavailable: 4,
  InvalidArguments: 5,
  ConflictingArguments: 6,
  DeniedByPolicy: 7,
} as const;

/** MS-ASCMD 2.2.3.16.1 BodyType (Settings): the form of OOF reply messages. */
export type OofBodyType = 'Text' | 'HTML';

/** An Oof Set as sent: what is absent keeps its current value. */
export interface OofSet {
  OofState?: 0 | 1 | 2;
  StartTime?: Date;
  EndTime?: Date;
  OofMessage: OofMessage[];
}

export type OofRequest =
  | { kind: 'Get'; BodyType: OofBodyType }
  | { kind: 'Set'; set: OofSet }
  /** Well-formed, but a value makes no sense (an unknown BodyType, a bad date): Status 5. */
  | { kind: 'Invalid'; reason: string };

export interface SettingsRequest {
  Oof?: OofRequest;
  DeviceInformation?: DeviceInformation;
  /**
   * DevicePassword Set (MS-ASCMD 2.2.3.46). Only its presence is kept: the recovery password
   * itself is never read into the request (see the handler).
   */
  DevicePassword?: { Set: true };
  /** UserInformation Get (MS-ASCMD 2.2.3.192). */
  UserInformation?: { Get: true };
  /** RightsManagementInformation Get (MS-ASCMD 2.2.3.156, protocol 14.1+). */
  RightsManagementInformation?: { Get: true };
}

function bodyTypeOf(v: string | undefined): OofBodyType | undefined {
  // Clients differ in case ("Text", "TEXT", "html"); MS-ASCMD 2.2.3.16.1 names Text and HTML.
  const u = v?.trim().toUpperCase();
  return u === 'TEXT' ? 'Text' : u === 'HTML' ? 'HTML' : undefined;
}

/** MS-ASCMD 2.2.3.123 OofMessage: one audience (AppliesTo*), Enabled, ReplyMessage, BodyType. */
function parseOofMessage(e: WbxmlElement): OofMessage | string {
  const audiences = (['Internal', 'ExternalKnown', 'ExternalUnknown'] as const).filter((a) =>
    has(e, `AppliesTo${a}`, ns),
  );
  const [AppliesTo] = audiences;
  if (AppliesTo === undefined || audiences.length > 1) return 'OofMessage must name exactly one audience';
  const message: OofMessage = { AppliesTo, Enabled: (text(e, 'Enabled', ns) ?? '0').trim() === '1' };
  const reply = text(e, 'ReplyMessage', ns);
  if (reply !== undefined) message.ReplyMessage = reply;
  const bodyType = text(e, 'BodyType', ns);
  if (bodyType !== undefined) {
    const bt = bodyTypeOf(bodyType);
    if (bt === undefined) return `unknown BodyType "${bodyType}"`;
    message.BodyType = bt;
  }
  return message;
}

function parseOof(oof: WbxmlElement): OofRequest {
  const get = child(oof, 'Get', ns);
  const set = child(oof, 'Set', ns);
  if ((get === undefined) === (set === undefined))
    throw new ProtocolError('Oof needs exactly one of Get and Set');
  if (get !== undefined) {
    // MS-ASCMD 2.2.3.83.2: Get names the BodyType the client wants the replies in.
    const raw = text(get, 'BodyType', ns);
    if (raw === undefined) throw new ProtocolError('Oof Get without BodyType');
    const BodyType = bodyTypeOf(raw);
    return BodyType === undefined
      ? { kind: 'Invalid', reason: `unknown BodyType "${raw}"` }
      : { kind: 'Get', BodyType };
  }
  const result: OofSet = { OofMessage: [] };
  const state = text(set, 'OofState', ns);
  if (state !== undefined) {
    // MS-ASCMD 2.2.3.124: 0 disabled, 1 global, 2 time-based.
    const s = state.trim();
    if (s !== '0' && s !== '1' && s !== '2') return { kind: 'Invalid', reason: `OofState "${state}"` };
    result.OofState = Number(s) as 0 | 1 | 2;
  }
  for (const name of ['StartTime', 'EndTime'] as const) {
    const v = text(set, name, ns);
    if (v === undefined) continue;
    try {
      result[name] = parseDate(v, name);
    } catch (err) {
      if (err instanceof ProtocolError) return { kind: 'Invalid', reason: err.message };
      throw err;
    }
  }
  for (const m of children(set, 'OofMessage', ns)) {
    const parsed = parseOofMessage(m);
    if (typeof parsed === 'string') return { kind: 'Invalid', reason: parsed };
    result.OofMessage.push(parsed);
  }
  return { kind: 'Set', set: result };
}

/** A part whose only child must be Get (UserInformation, RightsManagementInformation). */
function requireGet(part: WbxmlElement): { Get: true } {
  if (!has(part, 'Get', ns)) throw new ProtocolError(`${part.name} without Get`);
  return { Get: true };
}

export function parseSettingsRequest(body: WbxmlElement | undefined): SettingsRequest {
  const root = expectRoot(body, ns, 'Settings');
  const request: SettingsRequest = {};
  const oof = child(root, 'Oof', ns);
  if (oof !== undefined) request.Oof = parseOof(oof);
  const info = child(root, 'DeviceInformation', ns);
  if (info !== undefined) {
    if (!has(info, 'Set', ns)) throw new ProtocolError('DeviceInformation without Set');
    request.DeviceInformation = parseDeviceInformation(root) ?? {};
  }
  const password = child(root, 'DevicePassword', ns);
  if (password !== undefined) {
    if (!has(password, 'Set', ns)) throw new ProtocolError('DevicePassword without Set');
    request.DevicePassword = { Set: true };
  }
  const user = child(root, 'UserInformation', ns);
  if (user !== undefined) request.UserInformation = requireGet(user);
  const rights = child(root, 'RightsManagementInformation', ns);
  if (rights !== undefined) request.RightsManagementInformation = requireGet(rights);
  if (Object.keys(request).length === 0) throw new ProtocolError('Settings request asks for nothing');
  return request;
}

/** UserInformation Get as built: the shape depends on the protocol version (see below). */
export interface UserInformationGet {
  UserDisplayName?: string;
  PrimarySmtpAddress: string;
  SMTPAddress: string[];
}

export interface SettingsResponse {
  Status: number;
  Oof?: { Status: number; Get?: OofSettings };
  DeviceInformation?: { Status: number };
  DevicePassword?: { Status: number };
  UserInformation?: { Status: number; Get?: UserInformationGet };
  /** Get is always built, with the templates easd has: none (MS-ASRM 2.2.2.17). */
  RightsManagementInformation?: { Status: number };
}

function buildOofMessage(m: OofMessage): WbxmlElement {
  return el(
    ns,
    'OofMessage',
    el(ns, `AppliesTo${m.AppliesTo}`),
    el(ns, 'Enabled', m.Enabled ? '1' : '0'),
    m.ReplyMessage !== undefined && el(ns, 'ReplyMessage', m.ReplyMessage),
    m.BodyType !== undefined && el(ns, 'BodyType', m.BodyType),
  );
}

/** MS-ASCMD 2.2.3.83.2: OofState, StartTime, EndTime, then up to three OofMessage, in that order. */
function buildOofGet(o: OofSettings): WbxmlElement {
  return el(
    ns,
    'Get',
    el(ns, 'OofState', o.OofState),
    o.StartTime !== undefined && el(ns, 'StartTime', formatDateTime(o.StartTime)),
    o.EndTime !== undefined && el(ns, 'EndTime', formatDateTime(o.EndTime)),
    o.OofMessage.slice(0, 3).map(buildOofMessage),
  );
}

/**
 * MS-ASCMD 2.2.3.57: up to 14.0 EmailAddresses (SMTPAddress only) is a child of Get; from 14.1
 * Get holds Accounts/Account (2.2.3.2), whose EmailAddresses adds PrimarySmtpAddress (2.2.3.138).
 * The primary account has no AccountId (2.2.3.3.2). SMTPAddress is 1…N (2.2.3.171).
 */
function buildUserInformationGet(u: UserInformationGet, version: ProtocolVersion): WbxmlElement {
  const addresses = u.SMTPAddress.length > 0 ? u.SMTPAddress : [u.PrimarySmtpAddress];
  if (!versionAtLeast(version, '14.1')) {
    return el(
      ns,
      'Get',
      el(
        ns,
        'EmailAddresses',
        addresses.map((a) => el(ns, 'SMTPAddress', a)),
      ),
    );
  }
  return el(
    ns,
    'Get',
    el(
      ns,
      'Accounts',
      el(
        ns,
        'Account',
        u.UserDisplayName !== undefined && el(ns, 'UserDisplayName', u.UserDisplayName),
        el(
          ns,
          'EmailAddresses',
          addresses.map((a) => el(ns, 'SMTPAddress', a)),
          el(ns, 'PrimarySmtpAddress', u.PrimarySmtpAddress),
        ),
      ),
    ),
  );
}

/**
 * Element order follows SettingsResponse.xsd (an xs:all, written in its declared order): Status,
 * Oof, DeviceInformation, DevicePassword, UserInformation, RightsManagementInformation.
 */
export function buildSettingsResponse(r: SettingsResponse, version: ProtocolVersion): WbxmlElement {
  const part = (name: string, status: number, ...rest: Array<WbxmlElement | false>): WbxmlElement =>
    el(ns, name, el(ns, 'Status', status), ...rest);
  return el(
    ns,
    'Settings',
    el(ns, 'Status', r.Status),
    r.Oof !== undefined && part('Oof', r.Oof.Status, r.Oof.Get !== undefined && buildOofGet(r.Oof.Get)),
    r.DeviceInformation !== undefined && buildDeviceInformationStatus(r.DeviceInformation.Status),
    r.DevicePassword !== undefined && part('DevicePassword', r.DevicePassword.Status),
    r.UserInformation !== undefined &&
      part(
        'UserInformation',
        r.UserInformation.Status,
        r.UserInformation.Get !== undefined && buildUserInformationGet(r.UserInformation.Get, version),
      ),
    r.RightsManagementInformation !== undefined &&
      part(
        'RightsManagementInformation',
        r.RightsManagementInformation.Status,
        // SettingsResponse.xsd requires Get here; an empty template list says "none available".
        el(ns, 'Get', el('RightsManagement', 'RightsManagementTemplates')),
      ),
  );
}
