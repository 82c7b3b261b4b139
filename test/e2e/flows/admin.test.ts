// What an admin does to phones, through the compiled server and the `easd` CLI on the stack's
// Dovecot and Radicale: a changed policy file makes every device provision again (HTTP 449 for
// 12.1, Status 143 from 14.0) and then go on with its sync keys; a remote wipe and an
// account-only wipe reach the device and are acknowledged; a blocked device type is refused.
import { writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { findAll, findText } from '../../support/eas-client.js';
import { Device, eventually, FolderType, profiles, type DeviceProfile } from '../../support/device.js';
import { stackEnv, useScratch, type CompiledEasd } from '../../support/device-server.js';

const stack = inject('stack');
const bob = stack.users.find((u) => u.user === 'bob')!;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const scratch = useScratch('easd-flow-admin-');
let server: CompiledEasd;
let policyFile: string;

/** An Android phone that still speaks 12.1: no common Status codes, HTTP 449 and 403 instead. */
const oldAndroid: DeviceProfile = {
  ...profiles.android,
  label: 'Android 4 Email',
  userAgent: 'Android/4.4.2-EAS-1.3',
  version: '12.1',
};

const access = { block: [{ DeviceType: 'SAMSUNG*' }] };

beforeAll(async () => {
  policyFile = scratch.path('policy.json');
  await writeFile(
    policyFile,
    JSON.stringify({ EASProvisionDoc: { AllowCamera: true }, deviceAccess: access }),
  );
  server = await scratch.start({ ...stackEnv(stack, scratch.path('easd')), EASD_POLICY: policyFile });
});

function phone(profile: DeviceProfile, name: string): Device {
  return new Device(() => server.base, bob, profile, `${name}${run}`);
}

/** The `easd devices list` lines of these devices (one CLI run for all). */
async function listed(...devices: Device[]): Promise<string[]> {
  const { stdout } = await server.cli(['devices', 'list', '--user', bob.user]);
  const lines = stdout.split('\n');
  return devices.map((d) => lines.find((l) => l.includes(d.deviceId)) ?? '');
}

async function setUp(device: Device): Promise<string> {
  await device.provision();
  await device.folderSync();
  const inbox = device.folder(FolderType.Inbox);
  // The first Sync gives the phone a key; the Inbox's content does not matter here.
  expect((await device.sync(inbox)).status).toBe('1');
  return inbox;
}

// Generous: the whole suite shares two cores; each step waits for a condition, never a fixed time.
describe('admin actions reach the phones', { timeout: 90_000 }, () => {
  it('a changed policy makes each device provision again (449 for 12.1, 143 from 14.0), then it goes on with its keys', async () => {
    const devices = [
      phone(profiles.iPhone, 'POLI'),
      phone(profiles.android, 'POLA'),
      phone(oldAndroid, 'POLO'),
    ];
    const inboxes = [];
    for (const d of devices) inboxes.push(await setUp(d));
    for (const line of await listed(...devices)) expect(line).toMatch(/\bprovisioned\b/);

    await writeFile(
      policyFile,
      JSON.stringify({
        EASProvisionDoc: { AllowCamera: false, DevicePasswordEnabled: true, MinDevicePasswordLength: 6 },
        deviceAccess: access,
      }),
    );
    await server.restart();
    for (const line of await listed(...devices)) expect(line).toMatch(/\boutdated\b/);

    for (const [i, d] of devices.entries()) {
      const inbox = inboxes[i]!;
      const refused = await d.sync(inbox);
      if (d.profile.version === '12.1') expect(refused.reply.status).toBe(449);
      else expect([refused.reply.status, refused.status]).toEqual([200, '143']);

      const { first } = await d.provision();
      const doc = findAll(first.doc, 'EASProvisionDoc')[0];
      expect([
        findText(doc, 'DevicePasswordEnabled'),
        findText(doc, 'MinDevicePasswordLength'),
        findText(doc, 'AllowCamera'),
      ]).toEqual(['1', '6', '0']);
      // The same SyncKey as before the change: nothing to sync again.
      const after = await d.sync(inbox);
      expect([after.reply.status, after.status]).toEqual([200, '1']);
    }
    for (const line of await listed(...devices)) expect(line).toMatch(/\bprovisioned\b/);
  });

  it('a remote wipe requested with `easd devices wipe` reaches the phone, which wipes and acknowledges it', async () => {
    const device = phone(profiles.iPhone, 'WIPE');
    const inbox = await setUp(device);
    const asked = await server.cli(['devices', 'wipe', bob.user, device.deviceId]);
    expect(asked.code).toBe(0);
    expect((await listed(device))[0]).toMatch(/\brequested\b/);

    // Its next command is sent to Provision (Status 140), which carries the wipe.
    const next = await device.sync(inbox);
    expect(next.status).toBe('140');
    const { remoteWipe, accountOnlyRemoteWipe } = await device.provision();
    expect([remoteWipe, accountOnlyRemoteWipe]).toEqual([true, false]);
    expect((await listed(device))[0]).toMatch(/\backnowledged\b/);
    // A wiped device stays out until an admin removes it.
    const after = await device.send(
      'Provision',
      `<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>`,
      { policyKey: null },
    );
    expect(findAll(after.doc, 'RemoteWipe')).toHaveLength(1);
  });

  it('an account-only wipe reaches a 16.1 phone, is acknowledged, and is refused for a 14.1 phone', async () => {
    const outlook = phone(profiles.outlook, 'ACCW');
    await setUp(outlook);
    const asked = await server.cli(['devices', 'account-wipe', bob.user, outlook.deviceId]);
    expect(asked, asked.stderr).toMatchObject({ code: 0 });
    const ping = await outlook.ping([outlook.folder(FolderType.Inbox)]);
    expect(ping.status).toBe('140');
    const { remoteWipe, accountOnlyRemoteWipe } = await outlook.provision();
    expect([remoteWipe, accountOnlyRemoteWipe]).toEqual([false, true]);
    expect((await listed(outlook))[0]).toMatch(/acknowledged \(account\)/);

    const android = phone(profiles.android, 'ACCA');
    await setUp(android);
    const refused = await server.cli(['devices', 'account-wipe', bob.user, android.deviceId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('16.1');
    expect((await listed(android))[0]).not.toMatch(/requested|sent|acknowledged/);
  });

  it('a blocked device type is refused: Status 129 from 14.0, HTTP 403 for 12.1, and listed as blocked', async () => {
    const samsung = phone(profiles.samsung, 'BLKS');
    const ask = `<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>`;
    const provision = await samsung.send('Provision', ask, { policyKey: null });
    expect([provision.status, findText(provision.doc, 'Status')]).toEqual([200, '129']);
    const folders = await samsung.send(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    expect([folders.status, findText(folders.doc, 'Status')]).toEqual([200, '129']);
    expect((await listed(samsung))[0]).toMatch(/\bblocked\b/);

    const oldSamsung = phone({ ...oldAndroid, deviceType: 'SAMSUNGGTI9515' }, 'BLKO');
    expect((await oldSamsung.send('Provision', ask, { policyKey: null })).status).toBe(403);
    // Allowed types on the same account are not affected.
    const allowed = phone(profiles.android, 'BLKA');
    await setUp(allowed);
  });

  it('`easd devices` on the running server: list shows the last sync and a held Ping, resync of one folder and of everything, remove', async () => {
    const device = phone(profiles.android, 'CLIR');
    const inbox = await setUp(device);
    const contacts = device.folder(FolderType.Contacts);
    await device.syncAll(inbox);
    await device.syncAll(contacts);
    const inboxHeld = device.collection(inbox).items.size;

    // A held Ping is the push state `devices list` shows (HELD), beside the last Sync's time.
    const gone = new AbortController();
    const held = device.ping([inbox], { signal: gone.signal }).catch(() => undefined);
    const heldLine = await eventually('the held Ping in devices list', async () => {
      const [line] = await listed(device);
      return /Ping since \d\d:\d\dZ/.test(line ?? '') && line;
    });
    expect(heldLine).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\dZ/);
    gone.abort();
    await held;

    // One folder: its key is refused (Status 3), the phone starts it over and gets the same items.
    const one = await server.cli(['devices', 'resync', bob.user, device.deviceId, inbox]);
    expect(one, one.stderr).toMatchObject({ code: 0 });
    expect((await device.sync(inbox)).status).toBe('3');
    await device.syncAll(inbox);
    expect(device.collection(inbox).items.size).toBe(inboxHeld);
    expect((await device.sync(contacts)).status).toBe('1');

    // Everything: FolderSync answers 9, the phone starts over with the same folder ids.
    const before = [...device.folders.keys()].sort();
    const all = await server.cli(['devices', 'resync', bob.user, device.deviceId]);
    expect(all, all.stderr).toMatchObject({ code: 0 });
    expect((await device.folderSync()).status).toBe('9');
    expect([...device.folders.keys()].sort()).toEqual(before);
    await device.syncAll(inbox);
    expect(device.collection(inbox).items.size).toBe(inboxHeld);

    // Removed: gone from the list; its next command is sent to Provision as a new device's.
    const removed = await server.cli(['devices', 'remove', bob.user, device.deviceId]);
    expect(removed, removed.stderr).toMatchObject({ code: 0 });
    expect((await listed(device))[0]).toBe('');
    expect((await device.sync(inbox)).status).toBe('142');
    // That command made it a new, unprovisioned device again.
    expect((await listed(device))[0]).not.toMatch(/\bprovisioned\b/);
  });
});
