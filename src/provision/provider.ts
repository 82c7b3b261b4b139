// What the engine needs of the admin's device policy: its EASProvisionDoc per protocol version,
// a hash that changes with it (devices provisioned under another hash must provision again),
// and the device access rules. Built from the policy file by src/app.ts.
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { ProtocolVersion } from '../commands/types.js';
import type { DeviceAccess } from '../state/devices.js';
import { evaluateDeviceAccess } from './access.js';
import { buildEASProvisionDoc, policyHash, type Policy } from './policy.js';

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

/** The engine's view of the admin's policy file (src/provision/policy.ts). */
export function policyProvider(
  policy: Policy,
  opts: { required?: boolean; allowPartialCompliance?: boolean } = {},
): PolicyProvider {
  const hash = policyHash(policy);
  const docs = new Map<ProtocolVersion, WbxmlElement>();
  return {
    // Provisioning is required even under the permissive default: it is how remote wipe reaches a
    // device, and every EAS client supports it.
    required: opts.required ?? true,
    hash,
    allowPartialCompliance: opts.allowPartialCompliance ?? true,
    provisionDoc(version) {
      let doc = docs.get(version);
      if (doc === undefined) {
        doc = buildEASProvisionDoc(policy, version);
        docs.set(version, doc);
      }
      return doc;
    },
    access: (device) => evaluateDeviceAccess(policy.deviceAccess, device).access,
  };
}
