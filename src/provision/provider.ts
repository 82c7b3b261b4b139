// What the engine needs of the admin's device policy: its EASProvisionDoc per protocol version,
// a hash that changes with it (devices provisioned under another hash must provision again),
// and the device access rules. Built from the policy file by src/app.ts.
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { ProtocolVersion } from '../commands/types.js';
import type { DeviceAccess } from '../state/devices.js';

export interface PolicyProvider {
  /** When false, devices are served without provisioning (Provision still answers). */
  required: boolean;
  hash: string;
  provisionDoc(version: ProtocolVersion): WbxmlElement;
  /** Device access rules by DeviceType and User-Agent. */
  access(device: { deviceType: string; userAgent?: string }): DeviceAccess;
  /** Accept a device that reports it could apply the policy only in part (MS-ASPROV Status 2). */
  allowPartialCompliance: boolean;
}
