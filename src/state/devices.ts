// Device records: who a device is (MS-ASHTTP request line, Settings DeviceInformation), where it
// stands with the policy (MS-ASPROV two-phase provisioning) and with remote wipe. Every
// read-modify-write runs under the device's "device" lock, which the SQLite and Redis stores share
// across processes, so the admin CLI and the server never overwrite each other's changes.
import { randomBytes } from 'node:crypto';
import type { DeviceInformation } from '../protocol/device-information.js';
import type { DeviceScope, StateStore } from './store.js';

export type DeviceAccess = 'allowed' | 'blocked' | 'quarantined';

export interface DevicePolicyState {
  /** The final policy key (uint32, never 0) the device acknowledged; the X-MS-PolicyKey it must send. */
  key?: number;
  status: 'none' | 'pending' | 'provisioned';
  /** The Status the client sent with its acknowledgement (MS-ASPROV 2.2.2.54.1: 1 = applied). */
  ackStatus?: number;
  issuedAt?: Date;
  ackAt?: Date;
  /** The temporary key of phase one, awaiting the acknowledgement (MS-ASPROV 3.1.5.1). */
  pendingKey?: number;
  /** policyHash of the policy the pending key was issued for. */
  pendingHash?: string;
  /** policyHash of the policy the device acknowledged; a different current hash means re-provision. */
  hash?: string;
}

export interface DeviceWipeState {
  state: 'none' | 'requested' | 'sent' | 'acknowledged';
  /** AccountOnlyRemoteWipe (MS-ASPROV 2.2.2.1, protocol 16.1): remove the account's data only. */
  accountOnly: boolean;
  requestedAt?: Date;
  sentAt?: Date;
  ackAt?: Date;
  /** The Status the client sent with its wipe acknowledgement (1 = success). */
  ackStatus?: number;
}

export interface DeviceRecord {
  user: string;
  deviceId: string;
  deviceType: string;
  userAgent: string;
  protocolVersion: string;
  firstSeen: Date;
  lastSeen: Date;
  lastCommand?: string;
  // Settings DeviceInformation (MS-ASCMD 2.2.3.45), names lower-cased from the spec's.
  model?: string;
  imei?: string;
  os?: string;
  osLanguage?: string;
  phoneNumber?: string;
  friendlyName?: string;
  mobileOperator?: string;
  enableOutboundSMS?: boolean;
  policy: DevicePolicyState;
  wipe: DeviceWipeState;
  access: DeviceAccess;
}

export class DeviceNotFoundError extends Error {
  constructor(
    readonly user: string,
    readonly deviceId: string,
  ) {
    super(`no device ${deviceId} of user ${user}`);
    this.name = 'DeviceNotFoundError';
  }
}

/** lastSeen alone is written at most this often: a phone's Ping loop should not cost a write each time. */
export const lastSeenResolutionMs = 60_000;

export interface DeviceSighting {
  deviceType: string;
  userAgent?: string;
  protocolVersion: string;
  command?: string;
  /** The result of the device access rules for this request, when the caller evaluated them. */
  access?: DeviceAccess;
  now?: Date;
}

export function getDevice(scope: DeviceScope): Promise<DeviceRecord | undefined> {
  return scope.record.get<DeviceRecord>();
}

/**
 * Records a request: creates the record on first sight, updates type, user agent, version and
 * access when they change, and lastSeen/lastCommand when a minute has passed. Reads once; writes
 * only when something changed.
 */
export async function touchDevice(
  scope: DeviceScope,
  seen: DeviceSighting,
  signal?: AbortSignal,
): Promise<DeviceRecord> {
  const now = seen.now ?? new Date();
  const existing = await getDevice(scope);
  if (existing !== undefined && !touchChanges(existing, seen, now)) return existing;
  return scope.lock(
    'device',
    async () => {
      const record = await getDevice(scope);
      if (record === undefined) {
        const created = newRecord(scope, seen, now);
        await scope.record.set(created);
        return created;
      }
      if (!touchChanges(record, seen, now)) return record;
      record.deviceType = seen.deviceType;
      if (seen.userAgent !== undefined) record.userAgent = seen.userAgent;
      record.protocolVersion = seen.protocolVersion;
      if (seen.access !== undefined) record.access = seen.access;
      if (seen.command !== undefined) record.lastCommand = seen.command;
      if (now > record.lastSeen) record.lastSeen = now;
      await scope.record.set(record);
      return record;
    },
    { signal },
  );
}

function touchChanges(r: DeviceRecord, seen: DeviceSighting, now: Date): boolean {
  return (
    r.deviceType !== seen.deviceType ||
    (seen.userAgent !== undefined && r.userAgent !== seen.userAgent) ||
    r.protocolVersion !== seen.protocolVersion ||
    (seen.access !== undefined && r.access !== seen.access) ||
    now.getTime() - r.lastSeen.getTime() >= lastSeenResolutionMs
  );
}

function newRecord(scope: DeviceScope, seen: DeviceSighting, now: Date): DeviceRecord {
  return {
    user: scope.user,
    deviceId: scope.deviceId,
    deviceType: seen.deviceType,
    userAgent: seen.userAgent ?? '',
    protocolVersion: seen.protocolVersion,
    firstSeen: now,
    lastSeen: now,
    policy: { status: 'none' },
    wipe: { state: 'none', accountOnly: false },
    access: seen.access ?? 'allowed',
    ...(seen.command === undefined ? {} : { lastCommand: seen.command }),
  };
}

/** Changes an existing record under the device lock; DeviceNotFoundError when there is none. */
export async function updateDevice(
  scope: DeviceScope,
  change: (record: DeviceRecord) => void,
  signal?: AbortSignal,
): Promise<DeviceRecord> {
  return scope.lock(
    'device',
    async () => {
      const record = await getDevice(scope);
      if (record === undefined) throw new DeviceNotFoundError(scope.user, scope.deviceId);
      change(record);
      await scope.record.set(record);
      return record;
    },
    { signal },
  );
}

/**
 * Stores Settings:DeviceInformation (sent with Settings, and inside Provision from 14.1); fields
 * the client left out keep their value.
 */
export function setDeviceInformation(
  scope: DeviceScope,
  info: DeviceInformation,
  signal?: AbortSignal,
): Promise<DeviceRecord> {
  return updateDevice(
    scope,
    (r) => {
      if (info.Model !== undefined) r.model = info.Model;
      if (info.IMEI !== undefined) r.imei = info.IMEI;
      if (info.FriendlyName !== undefined) r.friendlyName = info.FriendlyName;
      if (info.OS !== undefined) r.os = info.OS;
      if (info.OSLanguage !== undefined) r.osLanguage = info.OSLanguage;
      if (info.PhoneNumber !== undefined) r.phoneNumber = info.PhoneNumber;
      if (info.MobileOperator !== undefined) r.mobileOperator = info.MobileOperator;
      if (info.EnableOutboundSMS !== undefined) r.enableOutboundSMS = info.EnableOutboundSMS;
      if (info.UserAgent !== undefined && info.UserAgent !== '') r.userAgent = info.UserAgent;
    },
    signal,
  );
}

/** Devices of one user, or of everyone, ordered by user then device id. */
export async function listDevices(store: StateStore, user?: string): Promise<DeviceRecord[]> {
  const users = user === undefined ? await store.users() : [user];
  const records: DeviceRecord[] = [];
  for (const u of users) {
    for (const id of await store.deviceIds(u)) {
      const record = await getDevice(store.device(u, id));
      if (record !== undefined) records.push(record);
    }
  }
  return records;
}

/** Removes the device and all its state (hierarchy, sync states, engine records); false if unknown. */
export async function removeDevice(
  store: StateStore,
  user: string,
  deviceId: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const scope = store.device(user, deviceId);
  return scope.lock(
    'device',
    async () => {
      const known = (await getDevice(scope)) !== undefined || (await scope.collectionIds()).length > 0;
      await scope.removeAll();
      return known;
    },
    { signal },
  );
}

/**
 * Forces a resync: the collection's (or, without one, the hierarchy's and every collection's)
 * state is dropped, so the client's key becomes invalid and it starts over from "0".
 */
export async function markForResync(
  scope: DeviceScope,
  collectionId?: string,
  signal?: AbortSignal,
): Promise<string[]> {
  if (collectionId !== undefined) {
    await scope.lock(collectionId, () => scope.collection(collectionId).delete(), { signal });
    return [collectionId];
  }
  const ids = await scope.collectionIds();
  await scope.lock('hierarchy', () => scope.hierarchy.delete(), { signal });
  for (const id of ids) await scope.lock(id, () => scope.collection(id).delete(), { signal });
  return ids;
}

// Remote wipe (MS-ASPROV 3.2.5.1.2 / 3.1.5.1.2): requested by the admin, sent in a Provision
// response (every other command answers Status 140 until then), acknowledged by the client.

export function requestWipe(
  scope: DeviceScope,
  opts: { accountOnly: boolean; now?: Date },
  signal?: AbortSignal,
): Promise<DeviceRecord> {
  return updateDevice(
    scope,
    (r) => {
      r.wipe = { state: 'requested', accountOnly: opts.accountOnly, requestedAt: opts.now ?? new Date() };
    },
    signal,
  );
}

/** Withdraws a wipe the device has not acknowledged yet. */
export function cancelWipe(scope: DeviceScope, signal?: AbortSignal): Promise<DeviceRecord> {
  return updateDevice(
    scope,
    (r) => {
      if (r.wipe.state !== 'acknowledged') r.wipe = { state: 'none', accountOnly: false };
    },
    signal,
  );
}

export function recordWipeSent(
  scope: DeviceScope,
  now = new Date(),
  signal?: AbortSignal,
): Promise<DeviceRecord> {
  return updateDevice(
    scope,
    (r) => {
      if (r.wipe.state === 'none') return;
      r.wipe.state = r.wipe.state === 'acknowledged' ? 'acknowledged' : 'sent';
      r.wipe.sentAt = now;
    },
    signal,
  );
}

export function recordWipeAck(
  scope: DeviceScope,
  status: number,
  now = new Date(),
  signal?: AbortSignal,
): Promise<DeviceRecord> {
  return updateDevice(
    scope,
    (r) => {
      r.wipe.state = 'acknowledged';
      r.wipe.ackAt = now;
      r.wipe.ackStatus = status;
    },
    signal,
  );
}

/** True while a wipe is due: the server answers with RemoteWipe instead of serving the command. */
export function wipePending(r: DeviceRecord): boolean {
  return r.wipe.state === 'requested' || r.wipe.state === 'sent';
}

// Provisioning (MS-ASPROV 3.2.5.1): phase one hands out a temporary key with the policy, phase
// two trades its acknowledgement for the final key that every later request carries.

/** A random policy key: uint32, never 0 (0 means "no policy" in X-MS-PolicyKey). */
export function newPolicyKey(avoid?: number): number {
  for (;;) {
    const key = randomBytes(4).readUInt32BE(0);
    if (key !== 0 && key !== avoid) return key;
  }
}

/** Phase one: issues a temporary key for the policy with this hash. */
export async function issuePolicyKey(
  scope: DeviceScope,
  policyHash: string,
  now = new Date(),
  signal?: AbortSignal,
): Promise<number> {
  let issued = 0;
  await updateDevice(
    scope,
    (r) => {
      issued = newPolicyKey(r.policy.key);
      // The old final key stops being accepted: a device provisions again only when told to.
      r.policy = {
        ...r.policy,
        status: 'pending',
        pendingKey: issued,
        pendingHash: policyHash,
        issuedAt: now,
      };
    },
    signal,
  );
  return issued;
}

/**
 * Phase two: the client acknowledges `temporaryKey` with `status`. When it matches the pending key,
 * the device is provisioned under a new final key, which is returned; otherwise undefined (the
 * handler answers Status 3 / asks the client to start over).
 */
export async function acknowledgePolicy(
  scope: DeviceScope,
  temporaryKey: number,
  status: number,
  now = new Date(),
  signal?: AbortSignal,
): Promise<number | undefined> {
  let finalKey: number | undefined;
  await updateDevice(
    scope,
    (r) => {
      if (r.policy.pendingKey === undefined || r.policy.pendingKey !== temporaryKey) return;
      finalKey = newPolicyKey(temporaryKey);
      const state: DevicePolicyState = {
        key: finalKey,
        status: 'provisioned',
        ackStatus: status,
        ackAt: now,
      };
      if (r.policy.issuedAt !== undefined) state.issuedAt = r.policy.issuedAt;
      if (r.policy.pendingHash !== undefined) state.hash = r.policy.pendingHash;
      r.policy = state;
    },
    signal,
  );
  return finalKey;
}

/** Whether a request's policy key is the device's current one under the current policy. */
export function policyKeyIsCurrent(
  r: DeviceRecord,
  policyKey: number | undefined,
  policyHash: string,
): boolean {
  return (
    r.policy.status === 'provisioned' &&
    policyKey !== undefined &&
    policyKey !== 0 &&
    r.policy.key === policyKey &&
    r.policy.hash === policyHash
  );
}
