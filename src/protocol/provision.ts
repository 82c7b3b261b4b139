// Provision (MS-ASPROV 2.2.2): the typed request and response, parsed from and built to the
// element tree. The two-phase logic lives in src/commands/provision.ts.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import {
  parseDeviceInformation,
  buildDeviceInformationStatus,
  type DeviceInformation,
} from './device-information.js';
import { child, children, expectRoot, integer, ProtocolError, text } from './read.js';

/** MS-ASPROV 2.2.2.41: the policy format of protocol 12.0 and later. */
export const wbxmlPolicyType = 'MS-EAS-Provisioning-WBXML';

export interface ProvisionRequest {
  deviceInformation?: DeviceInformation;
  /** Phase 1 names only the type; phase 2 (acknowledgement) adds the temporary key and Status. */
  policy?: { PolicyType: string; PolicyKey?: number; Status?: number };
  /** The client's acknowledgement of a remote wipe (MS-ASPROV 3.1.5.1.2). */
  remoteWipeStatus?: number;
  accountOnlyRemoteWipeStatus?: number;
}

export interface ProvisionResponse {
  Status: number;
  deviceInformationStatus?: number;
  policy?: { PolicyType: string; Status: number; PolicyKey?: number; EASProvisionDoc?: WbxmlElement };
  RemoteWipe?: boolean;
  AccountOnlyRemoteWipe?: boolean;
}

export function parseProvisionRequest(body: WbxmlElement | undefined): ProvisionRequest {
  const root = expectRoot(body, 'Provision', 'Provision');
  const request: ProvisionRequest = {};
  request.deviceInformation = parseDeviceInformation(root);

  const policies = child(root, 'Policies', 'Provision');
  if (policies !== undefined) {
    const list = children(policies, 'Policy', 'Provision');
    // MS-ASPROV 2.2.2.40: exactly one Policy element.
    if (list.length !== 1) throw new ProtocolError('Policies must hold exactly one Policy');
    const policy = list[0] as WbxmlElement;
    const type = text(policy, 'PolicyType', 'Provision');
    if (type === undefined) throw new ProtocolError('Policy without PolicyType');
    request.policy = { PolicyType: type };
    const key = integer(policy, 'PolicyKey', 'Provision');
    if (key !== undefined) request.policy.PolicyKey = key;
    const status = integer(policy, 'Status', 'Provision');
    if (status !== undefined) request.policy.Status = status;
  }

  const wipe = child(root, 'RemoteWipe', 'Provision');
  if (wipe !== undefined) request.remoteWipeStatus = integer(wipe, 'Status', 'Provision') ?? 1;
  const accountWipe = child(root, 'AccountOnlyRemoteWipe', 'Provision');
  if (accountWipe !== undefined)
    request.accountOnlyRemoteWipeStatus = integer(accountWipe, 'Status', 'Provision') ?? 1;

  if (request.policy === undefined && wipe === undefined && accountWipe === undefined) {
    throw new ProtocolError('Provision request has neither Policies nor a wipe acknowledgement');
  }
  return request;
}

/** Element order follows ProvisionResponse.xsd: DeviceInformation, Status, Policies, wipe. */
export function buildProvisionResponse(r: ProvisionResponse): WbxmlElement {
  const p = r.policy;
  return el(
    'Provision',
    'Provision',
    r.deviceInformationStatus !== undefined && buildDeviceInformationStatus(r.deviceInformationStatus),
    el('Provision', 'Status', r.Status),
    p !== undefined &&
      el(
        'Provision',
        'Policies',
        el(
          'Provision',
          'Policy',
          el('Provision', 'PolicyType', p.PolicyType),
          el('Provision', 'Status', p.Status),
          p.PolicyKey !== undefined && el('Provision', 'PolicyKey', String(p.PolicyKey)),
          p.EASProvisionDoc !== undefined && el('Provision', 'Data', p.EASProvisionDoc),
        ),
      ),
    r.RemoteWipe === true && el('Provision', 'RemoteWipe'),
    r.AccountOnlyRemoteWipe === true && el('Provision', 'AccountOnlyRemoteWipe'),
  );
}
