// The device policy (MS-ASPROV 2.2.2.28 EASProvisionDoc): every element of the spec, typed with
// the spec's names, with permissive defaults (no PIN, no encryption, everything allowed) that the
// admin overrides in a JSON file (EASD_POLICY). One table below drives validation, defaults,
// hashing and the order and version filter of the document sent to devices.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import type { ProtocolVersion } from '../commands/types.js';
import { parseDeviceAccessRules, type DeviceAccessRules } from './access.js';

export interface EASProvisionDoc {
  DevicePasswordEnabled: boolean;
  AlphanumericDevicePasswordRequired: boolean;
  PasswordRecoveryEnabled: boolean;
  RequireStorageCardEncryption: boolean;
  AttachmentsEnabled: boolean;
  /** 1–16; null (empty element) or 1: no minimum. */
  MinDevicePasswordLength: number | null;
  /** Seconds; ≥ 9999 means unlimited; null: no lock policy. */
  MaxInactivityTimeDeviceLock: number | null;
  /** 4–16; null: no limit. */
  MaxDevicePasswordFailedAttempts: number | null;
  /** Bytes; null: no limit. */
  MaxAttachmentSize: number | null;
  AllowSimpleDevicePassword: boolean;
  /** Days; 0 or null: passwords do not expire. */
  DevicePasswordExpiration: number | null;
  DevicePasswordHistory: number;
  AllowStorageCard: boolean;
  AllowCamera: boolean;
  RequireDeviceEncryption: boolean;
  AllowUnsignedApplications: boolean;
  AllowUnsignedInstallationPackages: boolean;
  /** Character groups required, 1–4. */
  MinDevicePasswordComplexCharacters: number;
  AllowWiFi: boolean;
  AllowTextMessaging: boolean;
  AllowPOPIMAPEmail: boolean;
  /** 0 disable, 1 hands-free only, 2 allow. */
  AllowBluetooth: number;
  AllowIrDA: boolean;
  RequireManualSyncWhenRoaming: boolean;
  AllowDesktopSync: boolean;
  /** 0 all, 4 two weeks, 5 one month, 6 three months, 7 six months. */
  MaxCalendarAgeFilter: number;
  AllowHTMLEmail: boolean;
  /** 0 all, 1 one day, 2 three days, 3 one week, 4 two weeks, 5 one month. */
  MaxEmailAgeFilter: number;
  /** -1 no truncation, 0 headers only, > 0 size. */
  MaxEmailBodyTruncationSize: number;
  MaxEmailHTMLBodyTruncationSize: number;
  RequireSignedSMIMEMessages: boolean;
  RequireEncryptedSMIMEMessages: boolean;
  /** 0 SHA1, 1 MD5. */
  RequireSignedSMIMEAlgorithm: number;
  /** 0 TripleDES, 1 DES, 2 RC2 128-bit, 3 RC2 64-bit, 4 RC2 40-bit. */
  RequireEncryptionSMIMEAlgorithm: number;
  /** 0 do not negotiate, 1 strong algorithm only, 2 any algorithm. */
  AllowSMIMEEncryptionAlgorithmNegotiation: number;
  AllowSMIMESoftCerts: boolean;
  AllowBrowser: boolean;
  AllowConsumerEmail: boolean;
  AllowRemoteDesktop: boolean;
  AllowInternetSharing: boolean;
  /** ApplicationName children: in-ROM applications that must not run. */
  UnapprovedInROMApplicationList: string[];
  /** Hash children: in-memory applications approved to run (SHA-1 of the file). */
  ApprovedApplicationList: string[];
}

export type PolicyField = keyof EASProvisionDoc;

export interface Policy {
  EASProvisionDoc: EASProvisionDoc;
  deviceAccess: DeviceAccessRules;
  /** Fields the policy file set explicitly (the rest are defaults); for `easd policy show`. */
  explicit: PolicyField[];
  /** The file it came from; absent for the built-in default. */
  source?: string;
}

type Kind =
  | { type: 'boolean' }
  /** An unsigned number in a range; `orEmpty` allows null (an empty element, "no limit"). */
  | { type: 'number'; min: number; max: number; orEmpty?: boolean }
  | { type: 'enum'; values: readonly number[] }
  | { type: 'list'; item: 'ApplicationName' | 'Hash' };

interface FieldSpec {
  name: PolicyField;
  kind: Kind;
  /** MS-ASPROV 2.2.2.x "Protocol Versions": first version that has the element. */
  since: ProtocolVersion;
  section: string;
}

const bool: Kind = { type: 'boolean' };
const uint32 = 0xffffffff;

/**
 * Every EASProvisionDoc child in the order of the schema's xs:sequence (MS-ASPROV 6.1,
 * Provision.xsd), which is the order they must be sent in. Elements whose spec page lists 12.0
 * are present from 12.0; the rest came with 12.1.
 */
export const provisionDocFields: readonly FieldSpec[] = [
  { name: 'DevicePasswordEnabled', kind: bool, since: '12.0', section: '2.2.2.25' },
  { name: 'AlphanumericDevicePasswordRequired', kind: bool, since: '12.0', section: '2.2.2.20' },
  { name: 'PasswordRecoveryEnabled', kind: bool, since: '12.0', section: '2.2.2.39' },
  { name: 'RequireStorageCardEncryption', kind: bool, since: '12.1', section: '2.2.2.52' },
  { name: 'AttachmentsEnabled', kind: bool, since: '12.0', section: '2.2.2.23' },
  {
    name: 'MinDevicePasswordLength',
    kind: { type: 'number', min: 1, max: 16, orEmpty: true },
    since: '12.0',
    section: '2.2.2.38',
  },
  {
    name: 'MaxInactivityTimeDeviceLock',
    kind: { type: 'number', min: 0, max: uint32, orEmpty: true },
    since: '12.0',
    section: '2.2.2.36',
  },
  {
    name: 'MaxDevicePasswordFailedAttempts',
    kind: { type: 'number', min: 4, max: 16, orEmpty: true },
    since: '12.0',
    section: '2.2.2.32',
  },
  {
    name: 'MaxAttachmentSize',
    kind: { type: 'number', min: 0, max: uint32, orEmpty: true },
    since: '12.0',
    section: '2.2.2.30',
  },
  { name: 'AllowSimpleDevicePassword', kind: bool, since: '12.0', section: '2.2.2.12' },
  {
    name: 'DevicePasswordExpiration',
    kind: { type: 'number', min: 0, max: uint32, orEmpty: true },
    since: '12.0',
    section: '2.2.2.26',
  },
  {
    name: 'DevicePasswordHistory',
    kind: { type: 'number', min: 0, max: uint32 },
    since: '12.0',
    section: '2.2.2.27',
  },
  { name: 'AllowStorageCard', kind: bool, since: '12.1', section: '2.2.2.15' },
  { name: 'AllowCamera', kind: bool, since: '12.1', section: '2.2.2.4' },
  { name: 'RequireDeviceEncryption', kind: bool, since: '12.1', section: '2.2.2.46' },
  { name: 'AllowUnsignedApplications', kind: bool, since: '12.1', section: '2.2.2.17' },
  { name: 'AllowUnsignedInstallationPackages', kind: bool, since: '12.1', section: '2.2.2.18' },
  {
    name: 'MinDevicePasswordComplexCharacters',
    kind: { type: 'number', min: 1, max: 4 },
    since: '12.1',
    section: '2.2.2.37',
  },
  // The spec's prose spells it AllowWifi (2.2.2.19); the schema and the code page say AllowWiFi.
  { name: 'AllowWiFi', kind: bool, since: '12.1', section: '2.2.2.19' },
  { name: 'AllowTextMessaging', kind: bool, since: '12.1', section: '2.2.2.16' },
  { name: 'AllowPOPIMAPEmail', kind: bool, since: '12.1', section: '2.2.2.10' },
  { name: 'AllowBluetooth', kind: { type: 'enum', values: [0, 1, 2] }, since: '12.1', section: '2.2.2.2' },
  { name: 'AllowIrDA', kind: bool, since: '12.1', section: '2.2.2.9' },
  { name: 'RequireManualSyncWhenRoaming', kind: bool, since: '12.1', section: '2.2.2.49' },
  { name: 'AllowDesktopSync', kind: bool, since: '12.1', section: '2.2.2.6' },
  {
    name: 'MaxCalendarAgeFilter',
    kind: { type: 'enum', values: [0, 4, 5, 6, 7] },
    since: '12.1',
    section: '2.2.2.31',
  },
  { name: 'AllowHTMLEmail', kind: bool, since: '12.1', section: '2.2.2.7' },
  {
    name: 'MaxEmailAgeFilter',
    kind: { type: 'enum', values: [0, 1, 2, 3, 4, 5] },
    since: '12.1',
    section: '2.2.2.33',
  },
  {
    name: 'MaxEmailBodyTruncationSize',
    kind: { type: 'number', min: -1, max: 0x7fffffff },
    since: '12.1',
    section: '2.2.2.34',
  },
  {
    name: 'MaxEmailHTMLBodyTruncationSize',
    kind: { type: 'number', min: -1, max: 0x7fffffff },
    since: '12.1',
    section: '2.2.2.35',
  },
  { name: 'RequireSignedSMIMEMessages', kind: bool, since: '12.1', section: '2.2.2.51' },
  { name: 'RequireEncryptedSMIMEMessages', kind: bool, since: '12.1', section: '2.2.2.47' },
  {
    name: 'RequireSignedSMIMEAlgorithm',
    kind: { type: 'enum', values: [0, 1] },
    since: '12.1',
    section: '2.2.2.50',
  },
  {
    name: 'RequireEncryptionSMIMEAlgorithm',
    kind: { type: 'enum', values: [0, 1, 2, 3, 4] },
    since: '12.1',
    section: '2.2.2.48',
  },
  {
    name: 'AllowSMIMEEncryptionAlgorithmNegotiation',
    kind: { type: 'enum', values: [0, 1, 2] },
    since: '12.1',
    section: '2.2.2.13',
  },
  { name: 'AllowSMIMESoftCerts', kind: bool, since: '12.1', section: '2.2.2.14' },
  { name: 'AllowBrowser', kind: bool, since: '12.1', section: '2.2.2.3' },
  { name: 'AllowConsumerEmail', kind: bool, since: '12.1', section: '2.2.2.5' },
  { name: 'AllowRemoteDesktop', kind: bool, since: '12.1', section: '2.2.2.11' },
  { name: 'AllowInternetSharing', kind: bool, since: '12.1', section: '2.2.2.8' },
  {
    name: 'UnapprovedInROMApplicationList',
    kind: { type: 'list', item: 'ApplicationName' },
    since: '12.1',
    section: '2.2.2.55',
  },
  {
    name: 'ApprovedApplicationList',
    kind: { type: 'list', item: 'Hash' },
    since: '12.1',
    section: '2.2.2.22',
  },
];

/** Permissive: no device password, no encryption, nothing forbidden, no limits. */
export const defaultProvisionDoc: Readonly<EASProvisionDoc> = Object.freeze({
  DevicePasswordEnabled: false,
  AlphanumericDevicePasswordRequired: false,
  PasswordRecoveryEnabled: false,
  RequireStorageCardEncryption: false,
  AttachmentsEnabled: true,
  MinDevicePasswordLength: null,
  MaxInactivityTimeDeviceLock: null,
  MaxDevicePasswordFailedAttempts: null,
  MaxAttachmentSize: null,
  AllowSimpleDevicePassword: true,
  DevicePasswordExpiration: null,
  DevicePasswordHistory: 0,
  AllowStorageCard: true,
  AllowCamera: true,
  RequireDeviceEncryption: false,
  AllowUnsignedApplications: true,
  AllowUnsignedInstallationPackages: true,
  MinDevicePasswordComplexCharacters: 1,
  AllowWiFi: true,
  AllowTextMessaging: true,
  AllowPOPIMAPEmail: true,
  AllowBluetooth: 2,
  AllowIrDA: true,
  RequireManualSyncWhenRoaming: false,
  AllowDesktopSync: true,
  MaxCalendarAgeFilter: 0,
  AllowHTMLEmail: true,
  MaxEmailAgeFilter: 0,
  MaxEmailBodyTruncationSize: -1,
  MaxEmailHTMLBodyTruncationSize: -1,
  RequireSignedSMIMEMessages: false,
  RequireEncryptedSMIMEMessages: false,
  RequireSignedSMIMEAlgorithm: 0,
  RequireEncryptionSMIMEAlgorithm: 0,
  AllowSMIMEEncryptionAlgorithmNegotiation: 2,
  AllowSMIMESoftCerts: true,
  AllowBrowser: true,
  AllowConsumerEmail: true,
  AllowRemoteDesktop: true,
  AllowInternetSharing: true,
  UnapprovedInROMApplicationList: [],
  ApprovedApplicationList: [],
});

export class PolicyError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid policy in ${source}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PolicyError';
  }
}

export function defaultPolicy(): Policy {
  return { EASProvisionDoc: cloneDoc(defaultProvisionDoc), deviceAccess: {}, explicit: [] };
}

/** Reads the policy file; without one (EASD_POLICY unset) the permissive default. */
export async function loadPolicy(file?: string): Promise<Policy> {
  if (file === undefined || file === '') return defaultPolicy();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PolicyError(file, [`cannot be read: ${(err as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(file, [`is not JSON: ${(err as Error).message}`]);
  }
  return parsePolicy(json, file);
}

const topLevelKeys = ['EASProvisionDoc', 'deviceAccess'] as const;

/**
 * Validates a parsed policy file: { "EASProvisionDoc": { <spec name>: value, … }, "deviceAccess":
 * { "allow": [rules], "block": [rules], "unmatched": "blocked" | "quarantined" } }. Every problem is
 * reported at once (unknown field, wrong type, out of range); booleans may be written 0/1 as in
 * the spec.
 */
export function parsePolicy(json: unknown, source = 'policy'): Policy {
  const problems: string[] = [];
  if (!isObject(json)) throw new PolicyError(source, ['must hold a JSON object']);
  for (const key of Object.keys(json)) {
    if (!(topLevelKeys as readonly string[]).includes(key)) {
      problems.push(`unknown key "${key}"${suggest(key, topLevelKeys)} (known: ${topLevelKeys.join(', ')})`);
    }
  }
  const doc = cloneDoc(defaultProvisionDoc);
  const explicit: PolicyField[] = [];
  const given = json['EASProvisionDoc'];
  if (given !== undefined) {
    if (!isObject(given)) problems.push('EASProvisionDoc must be an object');
    else {
      const names = provisionDocFields.map((f) => f.name);
      for (const key of Object.keys(given)) {
        if (!(names as string[]).includes(key))
          problems.push(`EASProvisionDoc: unknown field "${key}"${suggest(key, names)}`);
      }
      for (const field of provisionDocFields) {
        if (!Object.prototype.hasOwnProperty.call(given, field.name)) continue;
        const value = readField(field, given[field.name], problems);
        if (value !== invalid) {
          (doc as unknown as Record<string, unknown>)[field.name] = value;
          explicit.push(field.name);
        }
      }
    }
  }
  const deviceAccess = parseDeviceAccessRules(json['deviceAccess'], problems);
  if (problems.length > 0) throw new PolicyError(source, problems);
  const policy: Policy = { EASProvisionDoc: doc, deviceAccess, explicit };
  if (source !== 'policy') policy.source = source;
  return policy;
}

const invalid = Symbol('invalid');

function readField(field: FieldSpec, value: unknown, problems: string[]): unknown {
  const where = `EASProvisionDoc.${field.name} (MS-ASPROV ${field.section})`;
  const k = field.kind;
  switch (k.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 0 || value === 1) return value === 1;
      problems.push(`${where} must be true or false, not ${show(value)}`);
      return invalid;
    case 'number':
      if (value === null && k.orEmpty === true) return null;
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        problems.push(
          `${where} must be a whole number${k.orEmpty === true ? ' or null (no limit)' : ''}, not ${show(value)}`,
        );
        return invalid;
      }
      if (value < k.min || value > k.max) {
        problems.push(
          `${where} must be from ${k.min} to ${k.max}${k.orEmpty === true ? ' or null (no limit)' : ''}, not ${value}`,
        );
        return invalid;
      }
      return value;
    case 'enum':
      if (typeof value === 'number' && k.values.includes(value)) return value;
      problems.push(`${where} must be one of ${k.values.join(', ')}, not ${show(value)}`);
      return invalid;
    case 'list':
      if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== ''))
        return [...(value as string[])];
      problems.push(`${where} must be a list of non-empty strings (${k.item} values), not ${show(value)}`);
      return invalid;
  }
}

/**
 * A short digest of the effective EASProvisionDoc. The device record keeps the hash it was
 * provisioned under; when the admin changes the policy the hash changes and devices re-provision
 * (MS-ASPROV 3.2.5.1: the server answers with status 142/449 until they do). Device access rules
 * are not part of it: changing them needs no new policy on the device.
 */
export function policyHash(policy: Policy): string {
  const canonical = provisionDocFields.map((f) => [f.name, policy.EASProvisionDoc[f.name]]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

/**
 * The Provision:EASProvisionDoc element for Policy/Data (MS-ASPROV 2.2.2.24.1), children in schema
 * order, leaving out those the client's protocol version does not have. Unset limits are sent as
 * empty elements (unsignedByteOrEmpty / unsignedIntOrEmpty, MS-ASPROV 2.2.3.2–2.2.3.3).
 */
export function buildEASProvisionDoc(policy: Policy, protocolVersion: ProtocolVersion): WbxmlElement {
  const children: WbxmlElement[] = [];
  for (const field of provisionDocFields) {
    if (Number(protocolVersion) < Number(field.since)) continue;
    const value = policy.EASProvisionDoc[field.name];
    if (field.kind.type === 'list') {
      const item = field.kind.item;
      children.push(
        el(
          'Provision',
          field.name,
          (value as string[]).map((v) => el('Provision', item, v)),
        ),
      );
    } else if (typeof value === 'boolean') {
      children.push(el('Provision', field.name, value ? '1' : '0'));
    } else {
      children.push(el('Provision', field.name, value as number | null));
    }
  }
  return el('Provision', 'EASProvisionDoc', children);
}

function cloneDoc(doc: Readonly<EASProvisionDoc>): EASProvisionDoc {
  return {
    ...doc,
    UnapprovedInROMApplicationList: [...doc.UnapprovedInROMApplicationList],
    ApprovedApplicationList: [...doc.ApprovedApplicationList],
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

/** ' (did you mean "X"?)' for a key that differs from a known one only in case. */
export function suggest(key: string, known: readonly string[]): string {
  const match = known.find((k) => k.toLowerCase() === key.toLowerCase());
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}
