// Provision (MS-ASPROV 3.2.5.1): phase one hands out the policy with a temporary key, phase two
// trades the client's acknowledgement for the final key. A pending remote wipe is delivered here
// instead, and its acknowledgement recorded.
import type { PolicyProvider } from '../provision/provider.js';
import {
  buildProvisionResponse,
  parseProvisionRequest,
  wbxmlPolicyType,
  type ProvisionResponse,
} from '../protocol/provision.js';
import { ProtocolError } from '../protocol/read.js';
import type { AccountInfo } from '../server.js';
import {
  acknowledgePolicy,
  issuePolicyKey,
  recordWipeAck,
  recordWipeSent,
  setDeviceInformation,
  wipePending,
} from '../state/devices.js';
import type { StateStore } from '../state/store.js';
import { EasHttpError } from '../errors.js';
import { CommonStatus, recordDevice } from './gate.js';
import { versionAtLeast, type CommandHandler } from './types.js';

/** MS-ASPROV 2.2.2.54.2 (Provision) and 2.2.2.54.1 (Policy) status values. */
const ProvisionStatus = { Success: 1, ProtocolError: 2, ServerError: 3 } as const;
const PolicyStatus = { Success: 1, NoPolicy: 2, UnknownPolicyType: 3, PolicyKeyMismatch: 5 } as const;
/** MS-ASPROV 3.1.5.2: the device cannot fully comply and the server does not allow that. */
const PolicyNotFullyApplied = 139;

export function createProvisionHandler(deps: {
  state: StateStore;
  policy: PolicyProvider;
}): CommandHandler<AccountInfo> {
  return async (ctx) => {
    const record = await recordDevice(deps, ctx);
    if (record.access !== 'allowed') {
      if (!versionAtLeast(ctx.protocolVersion, '14.0')) throw new EasHttpError('device-blocked');
      return { body: buildProvisionResponse({ Status: CommonStatus.DeviceIsBlockedForThisUser }) };
    }
    const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
    let request;
    try {
      request = parseProvisionRequest(ctx.body);
    } catch (err) {
      if (err instanceof ProtocolError)
        return { body: buildProvisionResponse({ Status: ProvisionStatus.ProtocolError }) };
      throw err;
    }

    const response: ProvisionResponse = { Status: ProvisionStatus.Success };
    if (request.deviceInformation !== undefined) {
      await setDeviceInformation(scope, request.deviceInformation, ctx.signal);
      response.deviceInformationStatus = 1;
    }

    const wipeAck = request.remoteWipeStatus ?? request.accountOnlyRemoteWipeStatus;
    if (wipeAck !== undefined) {
      await recordWipeAck(scope, wipeAck, new Date(), ctx.signal);
      ctx.log.warn(
        { user: ctx.account.user, device: ctx.line.deviceId, status: wipeAck },
        'remote wipe acknowledged',
      );
      return { body: buildProvisionResponse(response) };
    }
    if (wipePending(record) || record.wipe.state === 'acknowledged') {
      // MS-ASPROV 2.2.2.1: AccountOnlyRemoteWipe exists from 16.1 only; older clients get no
      // account-only form, and a full wipe is never sent in its place.
      if (record.wipe.accountOnly && !versionAtLeast(ctx.protocolVersion, '16.1')) {
        return { body: buildProvisionResponse({ Status: ProvisionStatus.ServerError }) };
      }
      await recordWipeSent(scope, new Date(), ctx.signal);
      if (record.wipe.accountOnly) response.AccountOnlyRemoteWipe = true;
      else response.RemoteWipe = true;
      return { body: buildProvisionResponse(response) };
    }

    const policy = request.policy;
    if (policy === undefined)
      return { body: buildProvisionResponse({ ...response, Status: ProvisionStatus.ProtocolError }) };
    if (policy.PolicyType !== wbxmlPolicyType) {
      response.policy = { PolicyType: policy.PolicyType, Status: PolicyStatus.UnknownPolicyType };
      return { body: buildProvisionResponse(response) };
    }

    if (policy.PolicyKey === undefined) {
      // Phase one: the policy and a temporary key.
      const temporaryKey = await issuePolicyKey(scope, deps.policy.hash, new Date(), ctx.signal);
      response.policy = {
        PolicyType: wbxmlPolicyType,
        Status: PolicyStatus.Success,
        PolicyKey: temporaryKey,
        EASProvisionDoc: deps.policy.provisionDoc(ctx.protocolVersion),
      };
      return { body: buildProvisionResponse(response) };
    }

    // Phase two: MS-ASPROV 2.2.2.54.1: 1 applied, 2 partially applied, others: not applied.
    const clientStatus = policy.Status ?? 1;
    if (clientStatus !== 1 && !(clientStatus === 2 && deps.policy.allowPartialCompliance)) {
      return { body: buildProvisionResponse({ ...response, Status: PolicyNotFullyApplied }) };
    }
    const finalKey = await acknowledgePolicy(scope, policy.PolicyKey, clientStatus, new Date(), ctx.signal);
    response.policy =
      finalKey === undefined
        ? { PolicyType: wbxmlPolicyType, Status: PolicyStatus.PolicyKeyMismatch }
        : { PolicyType: wbxmlPolicyType, Status: PolicyStatus.Success, PolicyKey: finalKey };
    return { body: buildProvisionResponse(response) };
  };
}
