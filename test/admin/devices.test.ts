// The admin commands, run against both stores the way `easd devices …` / `easd policy show` run.
import { describe, expect, it } from 'vitest';
import { adminUsage, devicesCli } from '../../src/admin/devices.js';
import { defaultPolicy, parsePolicy, policyHash, type Policy } from '../../src/provision/policy.js';
import {
  acknowledgePolicy,
  getDevice,
  issuePolicyKey,
  recordWipeAck,
  setDeviceInformation,
  touchDevice,
} from '../../src/state/devices.js';
import type { StateStore } from '../../src/state/store.js';
import { HierarchyStateStore, SyncStateStore } from '../../src/state/sync-state.js';
import { storeKinds, useTestStore } from '../state/stores.js';

const t0 = new Date('2025-03-01T10:00:00.000Z');

async function run(
  store: StateStore,
  argv: string[],
  policy: Policy = defaultPolicy(),
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await devicesCli(argv, { store, policy, out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function seed(store: StateStore): Promise<void> {
  const a = store.device('alice', 'IPHONE1');
  await touchDevice(a, {
    deviceType: 'iPhone',
    userAgent: 'Apple-iPhone13C2/2001.1',
    protocolVersion: '16.1',
    command: 'Sync',
    now: t0,
  });
  await setDeviceInformation(a, { Model: 'iPhone13C2', OS: 'iOS 17.2', IMEI: '350000000000001' });
  const key = await issuePolicyKey(a, policyHash(defaultPolicy()), t0);
  await acknowledgePolicy(a, key, 1, t0);
  await new HierarchyStateStore(a).commit('h-3', { folders: [] });
  await new SyncStateStore<{ n: number }>(a).commit('7', 'k-12', { n: 1 });
  await touchDevice(store.device('bob', 'ANDROID9'), {
    deviceType: 'Android',
    userAgent: 'Android-Mail/1',
    protocolVersion: '14.1',
    now: t0,
  });
}

describe.each(storeKinds)('admin commands on %s', (kind) => {
  const t = useTestStore(kind);

  it('lists no devices on an empty store', async () => {
    expect(await run(t.store, ['devices', 'list'])).toEqual({ code: 0, out: 'No devices.', err: '' });
  });

  it('lists devices as a table, optionally of one user', async () => {
    await seed(t.store);
    const { code, out } = await run(t.store, ['devices', 'list']);
    expect(code).toBe(0);
    // LAST SYNC is the newest collection state: seed() commits one now.
    const synced = /\d{4}-\d\d-\d\d \d\d:\d\dZ/.source;
    const lines = out.split('\n');
    expect(lines[0]).toBe(
      'USER   DEVICE ID  TYPE     MODEL       LAST SEEN          LAST SYNC          HELD  PROTOCOL  POLICY       WIPE',
    );
    expect(lines[1]).toMatch(
      new RegExp(
        `^alice  IPHONE1    iPhone   iPhone13C2  2025-03-01 10:00Z  ${synced}  -     16.1      provisioned  -$`,
      ),
    );
    expect(lines[2]).toBe(
      'bob    ANDROID9   Android  -           2025-03-01 10:00Z  -                  -     14.1      none         -',
    );
    expect(lines).toHaveLength(3);
    expect((await run(t.store, ['devices', 'list', '--user', 'bob'])).out).not.toContain('alice');
  });

  it('shows a provisioned device as outdated once the policy changed', async () => {
    await seed(t.store);
    const stricter = parsePolicy({ EASProvisionDoc: { DevicePasswordEnabled: true } });
    expect((await run(t.store, ['devices', 'list'], stricter)).out).toMatch(/alice .* outdated/);
  });

  it('shows one device with its sync state', async () => {
    await seed(t.store);
    const { code, out } = await run(t.store, ['devices', 'show', 'alice', 'IPHONE1']);
    expect(code).toBe(0);
    expect(out).toMatch(/^User: +alice$/m);
    expect(out).toMatch(/^Model: +iPhone13C2$/m);
    expect(out).toMatch(/^IMEI: +350000000000001$/m);
    expect(out).toMatch(/^Policy: +provisioned$/m);
    expect(out).toMatch(/^Policy key: +\d+$/m);
    expect(out).toMatch(/^Folder hierarchy: +key h-3/m);
    expect(out).toMatch(/^ {2}7 +key k-12 +\d{4}-/m);
    expect(out).toMatch(/^Wipe: +none$/m);
  });

  it('requests, cancels and reports a remote wipe', async () => {
    await seed(t.store);
    expect((await run(t.store, ['devices', 'wipe', 'bob', 'ANDROID9'])).code).toBe(0);
    expect((await getDevice(t.store.device('bob', 'ANDROID9')))?.wipe).toMatchObject({
      state: 'requested',
      accountOnly: false,
    });
    expect((await run(t.store, ['devices', 'list'])).out).toMatch(/bob .* requested$/m);
    expect((await run(t.store, ['devices', 'wipe', 'bob', 'ANDROID9', '--cancel'])).out).toMatch(/cancelled/);
    expect((await getDevice(t.store.device('bob', 'ANDROID9')))?.wipe.state).toBe('none');

    await run(t.store, ['devices', 'wipe', 'bob', 'ANDROID9']);
    await recordWipeAck(t.store.device('bob', 'ANDROID9'), 1, t0);
    expect((await run(t.store, ['devices', 'show', 'bob', 'ANDROID9'])).out).toMatch(
      /^Wipe acknowledged: +2025-03-01 10:00Z \(status 1\)$/m,
    );
  });

  it('requests an account-only wipe only of a 16.1 device', async () => {
    await seed(t.store);
    const refused = await run(t.store, ['devices', 'account-wipe', 'bob', 'ANDROID9']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/needs 16.1/);
    expect((await getDevice(t.store.device('bob', 'ANDROID9')))?.wipe.state).toBe('none');

    expect((await run(t.store, ['devices', 'account-wipe', 'alice', 'IPHONE1'])).code).toBe(0);
    expect((await getDevice(t.store.device('alice', 'IPHONE1')))?.wipe).toMatchObject({
      state: 'requested',
      accountOnly: true,
    });
    expect((await run(t.store, ['devices', 'list'])).out).toMatch(/alice .* requested \(account\)$/m);
  });

  it('resyncs one collection or everything', async () => {
    await seed(t.store);
    const scope = t.store.device('alice', 'IPHONE1');
    const one = await run(t.store, ['devices', 'resync', 'alice', 'IPHONE1', '7']);
    expect(one.out).toMatch(/Collection 7 .* reset/);
    expect(await new SyncStateStore(scope).current('7')).toBeUndefined();
    expect(await new HierarchyStateStore(scope).current()).toBeDefined();
    const all = await run(t.store, ['devices', 'resync', 'alice', 'IPHONE1']);
    expect(all.out).toMatch(/Folder hierarchy and \d+ collection\(s\)/);
    expect(await new HierarchyStateStore(scope).current()).toBeUndefined();
  });

  it('removes a device', async () => {
    await seed(t.store);
    expect((await run(t.store, ['devices', 'remove', 'alice', 'IPHONE1'])).code).toBe(0);
    expect(await getDevice(t.store.device('alice', 'IPHONE1'))).toBeUndefined();
    expect((await run(t.store, ['devices', 'list'])).out).not.toContain('alice');
    expect(await run(t.store, ['devices', 'remove', 'alice', 'IPHONE1'])).toMatchObject({
      code: 1,
      err: 'No device IPHONE1 of user alice.',
    });
  });

  it.each([
    [['devices', 'show', 'alice', 'NOPE']],
    [['devices', 'wipe', 'alice', 'NOPE']],
    [['devices', 'account-wipe', 'alice', 'NOPE']],
    [['devices', 'resync', 'alice', 'NOPE']],
  ])('fails with exit code 1 for an unknown device: %j', async (argv) => {
    expect(await run(t.store, argv)).toMatchObject({ code: 1, err: 'No device NOPE of user alice.' });
  });
});

describe('admin command line', () => {
  const t = useTestStore('sqlite');

  it.each([
    [[]],
    [['devices']],
    [['devices', 'frobnicate', 'a', 'b']],
    [['devices', 'show', 'alice']],
    [['devices', 'list', '--all']],
    [['devices', 'remove', 'a', 'b', 'c']],
    [['devices', 'remove', 'a', 'b', '--force']],
    [['policy']],
    [['policy', 'show', 'extra']],
  ])('prints the usage with exit code 2 for %j', async (argv) => {
    const r = await run(t.store, argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(adminUsage);
    expect(r.out).toBe('');
  });

  it('prints the usage with exit code 0 when asked for help', async () => {
    expect(await run(t.store, ['devices', 'help'])).toEqual({ code: 0, out: adminUsage, err: '' });
  });

  it('shows the effective policy, its hash and the access rules', async () => {
    const policy = parsePolicy(
      {
        EASProvisionDoc: {
          DevicePasswordEnabled: true,
          MinDevicePasswordLength: 6,
          UnapprovedInROMApplicationList: ['a.exe', 'b.exe'],
        },
        deviceAccess: {
          allow: [{ DeviceType: 'iPhone' }],
          block: [{ UserAgent: 'Bad/*' }],
          unmatched: 'quarantined',
        },
      },
      '/etc/easd/policy.json',
    );
    const { code, out } = await run(t.store, ['policy', 'show'], policy);
    expect(code).toBe(0);
    expect(out).toContain('Policy: /etc/easd/policy.json');
    expect(out).toContain(`Hash: ${policyHash(policy)}`);
    expect(out).toMatch(/^ {2}DevicePasswordEnabled +true +set$/m);
    expect(out).toMatch(/^ {2}MinDevicePasswordLength +6 +set$/m);
    expect(out).toMatch(/^ {2}MaxDevicePasswordFailedAttempts +\(no limit\) +default$/m);
    expect(out).toMatch(/^ {2}AllowCamera +true +default +from 12.1$/m);
    expect(out).toMatch(/^ {2}UnapprovedInROMApplicationList +a.exe, b.exe +set +from 12.1$/m);
    expect(out).toContain('  block[0]  UserAgent=Bad/*');
    expect(out).toContain('  allow[0]  DeviceType=iPhone');
    expect(out).toContain('devices matching no allow rule: quarantined');
    expect((await run(t.store, ['policy', 'show'])).out).toContain('built-in default (EASD_POLICY not set)');
  });
});
