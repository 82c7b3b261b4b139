// Settings:DeviceInformation (MS-ASCMD 2.2.3.45), sent in Settings and, from 14.1, inside
// Provision. One parser for both places.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import { child, text } from './read.js';

/** The Settings:Set children of DeviceInformation, named as in MS-ASCMD 2.2.3.167.2. */
export interface DeviceInformation {
  Model?: string;
  IMEI?: string;
  FriendlyName?: string;
  OS?: string;
  OSLanguage?: string;
  PhoneNumber?: string;
  UserAgent?: string;
  EnableOutboundSMS?: boolean;
  MobileOperator?: string;
}

const stringFields = [
  'Model',
  'IMEI',
  'FriendlyName',
  'OS',
  'OSLanguage',
  'PhoneNumber',
  'UserAgent',
  'MobileOperator',
] as const;

/** Reads DeviceInformation/Set; returns undefined when the element is absent. */
export function parseDeviceInformation(parent: WbxmlElement | undefined): DeviceInformation | undefined {
  const info = child(parent, 'DeviceInformation', 'Settings');
  if (info === undefined) return undefined;
  const set = child(info, 'Set', 'Settings');
  const result: DeviceInformation = {};
  for (const field of stringFields) {
    const v = text(set, field, 'Settings');
    if (v !== undefined) result[field] = v;
  }
  const sms = text(set, 'EnableOutboundSMS', 'Settings');
  if (sms !== undefined) result.EnableOutboundSMS = sms === '1';
  return result;
}

/** The response side: DeviceInformation with only its Status (MS-ASCMD 2.2.3.177.15). */
export function buildDeviceInformationStatus(status: number): WbxmlElement {
  return el('Settings', 'DeviceInformation', el('Settings', 'Status', status));
}
