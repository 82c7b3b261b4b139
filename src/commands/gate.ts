// The gate every command but Provision passes (MS-ASPROV 3.2.5.1): records the device, refuses
// blocked devices, sends a pending remote wipe, and checks the policy key. 12.x clients are told
// with HTTP 449 (or 403); 14.0+ with the common Status codes of MS-ASCMD 2.2.2 in the command's
// own response document.
import { EasHttpError } from '../errors.js';
import type { PolicyProvider } from '../provision/provider.js';
import { statusOnlyResponse } from '../protocol/status-only.js';
import type { AccountInfo, CommandGate } from '../server.js';
import { policyKeyIsCurrent, touchDevice, wipePending, type DeviceRecord } from '../state/devices.js';
import type { StateStore } from '../state/store.js';
import type { CommandSpec } from './table.js';
import { versionAtLeast, type CommandContext, type CommandResult } from './types.js';

/** MS-ASCMD 2.2.2 common status values used by the gate. */
export const CommonStatus = {
  DeviceIsBlockedForThisUser: 129,
  RemoteWipeRequested: 140,
  DeviceNotProvisioned: 142,
  PolicyRefresh: 143,
  InvalidPolicyKey: 144,
} as const;

export function createGate<A extends AccountInfo>(deps: {
  state: StateStore;
  policy: PolicyProvider;
}): CommandGate<A> {
  return async (ctx, spec) => {
    // Provision records the device and handles wipe and access itself: it is how a device gets out.
    if (!spec.needsProvisioning) return undefined;
    const record = await recordDevice(deps, ctx);
    return checkDevice(deps.policy, ctx, spec, record);
  };
}

/** Records this request on the device record, with the access rules' verdict. */
export async function recordDevice(
  deps: { state: StateStore; policy: PolicyProvider },
  ctx: CommandContext<AccountInfo>,
): Promise<DeviceRecord> {
  const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
  return touchDevice(
    scope,
    {
      deviceType: ctx.line.deviceType,
      userAgent: ctx.userAgent,
      protocolVersion: ctx.protocolVersion,
      command: ctx.command,
      access: deps.policy.access({ deviceType: ctx.line.deviceType, userAgent: ctx.userAgent }),
    },
    ctx.signal,
  );
}

function refuse(
  ctx: CommandContext<AccountInfo>,
  status: number,
  http: 'needs-provisioning' | 'device-blocked',
): CommandResult {
  // 12.x has no common Status codes: HTTP 449 asks it to Provision, 403 refuses it.
  if (!versionAtLeast(ctx.protocolVersion, '14.0')) throw new EasHttpError(http);
  return { body: statusOnlyResponse(ctx.command, status) };
}

export function checkDevice(
  policy: PolicyProvider,
  ctx: CommandContext<AccountInfo>,
  spec: CommandSpec,
  record: DeviceRecord,
): CommandResult | undefined {
  if (record.access !== 'allowed')
    return refuse(ctx, CommonStatus.DeviceIsBlockedForThisUser, 'device-blocked');
  // A wipe goes out in a Provision response; every other command sends the device there.
  if (wipePending(record) || record.wipe.state === 'acknowledged') {
    return refuse(ctx, CommonStatus.RemoteWipeRequested, 'needs-provisioning');
  }
  if (!policy.required) return undefined;
  if (policyKeyIsCurrent(record, ctx.policyKey, policy.hash)) return undefined;
  if (ctx.policyKey === undefined || ctx.policyKey === 0 || record.policy.status === 'none') {
    return refuse(ctx, CommonStatus.DeviceNotProvisioned, 'needs-provisioning');
  }
  // The device's own key, but the policy changed since: it must fetch the new one.
  if (record.policy.key === ctx.policyKey && record.policy.hash !== policy.hash) {
    return refuse(ctx, CommonStatus.PolicyRefresh, 'needs-provisioning');
  }
  return refuse(ctx, CommonStatus.InvalidPolicyKey, 'needs-provisioning');
}
