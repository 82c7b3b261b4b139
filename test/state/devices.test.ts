// Device records: touch, DeviceInformation, provisioning keys, remote wipe, resync, removal.
import { describe, expect, it } from 'vitest';
import {
  DeviceNotFoundError,
  acknowledgePolicy,
  cancelWipe,
  getDevice,
  issuePolicyKey,
  lastSeenResolutionMs,
  listDevices,
  markForResync,
  newPolicyKey,
  policyKeyIsCurrent,
  recordWipeAck,
  recordWipeSent,
  removeDevice,
  requestWipe,
  setDeviceInformation,
  touchDevice,
  wipePending,
} from '../../src/state/devices.js';
import { SyncStateStore } from '../../src/state/sync-state.js';
import { storeKinds, useTestStore } from './stores.js';

const t0 = new Date('2025-03-01T10:00:00.000Z');
const at = (ms: number): Date => new Date(t0.getTime() + ms);
const sighting = {
  deviceType: 'iPhone',
  userAgent: 'Apple-iPhone13C2/2001.1',
  protocolVersion: '16.1',
  command: 'FolderSync',
};

describe('newPolicyKey', () => {
  it('is a non-zero uint32 that differs from the key it replaces', () => {
    for (let i = 0; i < 200; i++) {
      const k = newPolicyKey(5);
      expect(Number.isInteger(k) && k > 0 && k <= 0xffffffff && k !== 5).toBe(true);
    }
  });
});

describe.each(storeKinds)('device records on %s', (kind) => {
  const t = useTestStore(kind);

  it('creates the record on first sight with safe defaults', async () => {
    const r = await touchDevice(t.store.device('alice', 'ABC'), { ...sighting, now: t0 });
    expect(r).toEqual({
      user: 'alice',
      deviceId: 'ABC',
      deviceType: 'iPhone',
      userAgent: 'Apple-iPhone13C2/2001.1',
      protocolVersion: '16.1',
      firstSeen: t0,
      lastSeen: t0,
      lastCommand: 'FolderSync',
      policy: { status: 'none' },
      wipe: { state: 'none', accountOnly: false },
      access: 'allowed',
    });
    expect(await getDevice(t.store.device('alice', 'ABC'))).toEqual(r);
    expect(await t.store.deviceIds('alice')).toEqual(['ABC']);
  });

  it('writes lastSeen at most once a minute, but any other change at once', async () => {
    const scope = t.store.device('alice', 'ABC');
    await touchDevice(scope, { ...sighting, now: t0 });
    await touchDevice(scope, { ...sighting, command: 'Ping', now: at(30_000) });
    let r = await getDevice(scope);
    expect(r?.lastSeen).toEqual(t0);
    expect(r?.lastCommand).toBe('FolderSync');

    await touchDevice(scope, { ...sighting, command: 'Sync', now: at(lastSeenResolutionMs) });
    r = await getDevice(scope);
    expect(r?.lastSeen).toEqual(at(lastSeenResolutionMs));
    expect(r?.lastCommand).toBe('Sync');

    await touchDevice(scope, { ...sighting, protocolVersion: '14.1', now: at(lastSeenResolutionMs + 1) });
    r = await getDevice(scope);
    expect(r?.protocolVersion).toBe('14.1');
    expect(r?.firstSeen).toEqual(t0);
  });

  it('stores DeviceInformation from Settings, keeping fields the client left out', async () => {
    const scope = t.store.device('alice', 'ABC');
    await touchDevice(scope, { ...sighting, now: t0 });
    await setDeviceInformation(scope, {
      Model: 'iPhone13C2',
      IMEI: '350000000000001',
      OS: 'iOS 17.2',
      OSLanguage: 'en',
      EnableOutboundSMS: false,
    });
    await setDeviceInformation(scope, {
      FriendlyName: "Alice's phone",
      PhoneNumber: '+4912345',
      MobileOperator: 'Op',
      UserAgent: 'Apple/2',
    });
    const r = await getDevice(scope);
    expect(r).toMatchObject({
      model: 'iPhone13C2',
      imei: '350000000000001',
      os: 'iOS 17.2',
      osLanguage: 'en',
      enableOutboundSMS: false,
      friendlyName: "Alice's phone",
      phoneNumber: '+4912345',
      mobileOperator: 'Op',
      userAgent: 'Apple/2',
    });
    await expect(setDeviceInformation(t.store.device('alice', 'NOPE'), { Model: 'x' })).rejects.toThrow(
      DeviceNotFoundError,
    );
  });

  it('runs the two provisioning phases and detects a policy change', async () => {
    const scope = t.store.device('alice', 'ABC');
    await touchDevice(scope, { ...sighting, now: t0 });
    const temporary = await issuePolicyKey(scope, 'hash-1', at(1));
    let r = await getDevice(scope);
    expect(r?.policy).toMatchObject({ status: 'pending', pendingKey: temporary, issuedAt: at(1) });
    expect(policyKeyIsCurrent(r!, temporary, 'hash-1')).toBe(false);

    expect(await acknowledgePolicy(scope, temporary + 1, 1)).toBeUndefined();
    const final = await acknowledgePolicy(scope, temporary, 1, at(2));
    expect(final).toBeTypeOf('number');
    expect(final).not.toBe(temporary);
    r = await getDevice(scope);
    expect(r?.policy).toEqual({
      key: final,
      status: 'provisioned',
      ackStatus: 1,
      issuedAt: at(1),
      ackAt: at(2),
      hash: 'hash-1',
    });
    expect(policyKeyIsCurrent(r!, final, 'hash-1')).toBe(true);
    expect(policyKeyIsCurrent(r!, temporary, 'hash-1')).toBe(false);
    expect(policyKeyIsCurrent(r!, undefined, 'hash-1')).toBe(false);
    // The admin changed the policy: the same key is no longer good enough.
    expect(policyKeyIsCurrent(r!, final, 'hash-2')).toBe(false);
    // A replayed acknowledgement of the spent temporary key gets nothing.
    expect(await acknowledgePolicy(scope, temporary, 1)).toBeUndefined();
  });

  it('records the wipe flow: requested, sent, acknowledged', async () => {
    const scope = t.store.device('alice', 'ABC');
    await touchDevice(scope, { ...sighting, now: t0 });
    let r = await requestWipe(scope, { accountOnly: false, now: at(1) });
    expect(r.wipe).toEqual({ state: 'requested', accountOnly: false, requestedAt: at(1) });
    expect(wipePending(r)).toBe(true);
    r = await recordWipeSent(scope, at(2));
    expect(r.wipe.state).toBe('sent');
    expect(wipePending(r)).toBe(true);
    r = await recordWipeAck(scope, 1, at(3));
    expect(r.wipe).toEqual({
      state: 'acknowledged',
      accountOnly: false,
      requestedAt: at(1),
      sentAt: at(2),
      ackAt: at(3),
      ackStatus: 1,
    });
    expect(wipePending(r)).toBe(false);
    // Acknowledged wipes are history: cancelling does not erase them.
    expect((await cancelWipe(scope)).wipe.state).toBe('acknowledged');
  });

  it('records an account-only wipe and can cancel one not yet acknowledged', async () => {
    const scope = t.store.device('alice', 'ABC');
    await touchDevice(scope, { ...sighting, now: t0 });
    expect((await requestWipe(scope, { accountOnly: true })).wipe).toMatchObject({
      state: 'requested',
      accountOnly: true,
    });
    expect((await cancelWipe(scope)).wipe).toEqual({ state: 'none', accountOnly: false });
    await expect(requestWipe(t.store.device('alice', 'OTHER'), { accountOnly: true })).rejects.toThrow(
      DeviceNotFoundError,
    );
  });

  it('lists devices by user and all users', async () => {
    await touchDevice(t.store.device('bob', 'B1'), { ...sighting, now: t0 });
    await touchDevice(t.store.device('alice', 'A2'), { ...sighting, now: t0 });
    await touchDevice(t.store.device('alice', 'A1'), { ...sighting, now: t0 });
    expect((await listDevices(t.store)).map((d) => `${d.user}/${d.deviceId}`)).toEqual([
      'alice/A1',
      'alice/A2',
      'bob/B1',
    ]);
    expect((await listDevices(t.store, 'bob')).map((d) => d.deviceId)).toEqual(['B1']);
    expect(await listDevices(t.store, 'nobody')).toEqual([]);
  });

  it('marks one collection or everything for resync', async () => {
    const scope = t.store.device('alice', 'ABC');
    await touchDevice(scope, { ...sighting, now: t0 });
    const states = new SyncStateStore<{ n: number }>(scope);
    await states.commit('1', 'k-1', { n: 1 });
    await states.commit('2', 'k-1', { n: 2 });
    await scope.hierarchy.set({ current: { key: 'h-1', state: {}, at: t0 } });

    expect(await markForResync(scope, '1')).toEqual(['1']);
    expect(await states.load('1', 'k-1')).toBeNull();
    expect(await states.load('2', 'k-1')).not.toBeNull();

    await markForResync(scope);
    expect(await states.load('2', 'k-1')).toBeNull();
    expect(await scope.hierarchy.get()).toBeUndefined();
    expect(await getDevice(scope)).toBeDefined();
  });

  it('removes a device with all its state', async () => {
    const scope = t.store.device('alice', 'ABC');
    await touchDevice(scope, { ...sighting, now: t0 });
    await new SyncStateStore<{ n: number }>(scope).commit('1', 'k-1', { n: 1 });
    await touchDevice(t.store.device('alice', 'KEEP'), { ...sighting, now: t0 });

    expect(await removeDevice(t.store, 'alice', 'ABC')).toBe(true);
    expect(await getDevice(scope)).toBeUndefined();
    expect(await scope.collection('1').get()).toBeUndefined();
    expect(await t.store.deviceIds('alice')).toEqual(['KEEP']);
    expect(await removeDevice(t.store, 'alice', 'ABC')).toBe(false);
  });

  it('loses no update when two nodes change one device at once', async () => {
    const other = await t.location.open();
    await touchDevice(t.store.device('alice', 'ABC'), { ...sighting, now: t0 });
    await Promise.all([
      requestWipe(t.store.device('alice', 'ABC'), { accountOnly: false, now: at(1) }),
      setDeviceInformation(other.device('alice', 'ABC'), { Model: 'M' }),
      touchDevice(other.device('alice', 'ABC'), {
        ...sighting,
        protocolVersion: '14.0',
        now: at(lastSeenResolutionMs),
      }),
    ]);
    const r = await getDevice(t.store.device('alice', 'ABC'));
    expect(r?.wipe.state).toBe('requested');
    expect(r?.model).toBe('M');
    expect(r?.protocolVersion).toBe('14.0');
  });
});
