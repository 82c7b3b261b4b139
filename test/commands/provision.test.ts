// Provision and the provisioning gate, driven with WBXML bytes through the HTTP layer against a
// real (SQLite, in-memory) state store. Every response document is checked against Microsoft's
// schemas.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { el } from '../../wbxml/index.js';
import { createGate } from '../../src/commands/gate.js';
import { createProvisionHandler } from '../../src/commands/provision.js';
import type { PolicyProvider } from '../../src/provision/provider.js';
import { buildServer, type AccountInfo } from '../../src/server.js';
import { getDevice, requestWipe } from '../../src/state/devices.js';
import { openStateStore, type StateStore } from '../../src/state/store.js';
import { EasTestClient, findText } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

let state: StateStore;
let app: FastifyInstance;
const policy: PolicyProvider = {
  required: true,
  hash: 'policy-v1',
  allowPartialCompliance: true,
  provisionDoc: () =>
    el(
      'Provision',
      'EASProvisionDoc',
      el('Provision', 'DevicePasswordEnabled', '1'),
      el('Provision', 'MinDevicePasswordLength', '4'),
    ),
  access: ({ deviceType }) => (deviceType === 'BlockedPhone' ? 'blocked' : 'allowed'),
};

const folderSync = '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>';
const phase1 =
  '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>';
const phase2 = (key: number, status = 1): string =>
  `<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>${key}</PolicyKey><Status>${status}</Status></Policy></Policies></Provision>`;

beforeAll(async () => {
  state = await openStateStore({ url: 'sqlite://:memory:', dataDir: '/nonexistent' });
  app = await buildServer<AccountInfo>({
    logger: false,
    authenticate: async (user, password) =>
      password === 'pw' ? { user, email: `${user}@example.com` } : null,
    gate: createGate({ state, policy }),
    handlers: {
      Provision: createProvisionHandler({ state, policy }),
      // A stand-in command behind the gate: the gate is what is under test here.
      FolderSync: async () => ({
        body: el(
          'FolderHierarchy',
          'FolderSync',
          el('FolderHierarchy', 'Status', '1'),
          el('FolderHierarchy', 'SyncKey', '1'),
        ),
      }),
    },
  });
});
afterAll(async () => {
  await app.close();
  await state.close();
});

let n = 0;
const client = (opts: Partial<ConstructorParameters<typeof EasTestClient>[1]> = {}): EasTestClient =>
  EasTestClient.inject(app, { user: 'alice', password: 'pw', deviceId: `DEV${++n}`, ...opts });

describe('the gate before provisioning', () => {
  it.each(['14.0', '14.1', '16.0', '16.1'])(
    'answers %s with Status 142 in the command document',
    async (version) => {
      const res = await client({ version }).command('FolderSync', folderSync);
      expect(res.status).toBe(200);
      expect(findText(res.doc, 'Status')).toBe('142');
      await validateEasResponse(res.doc!, 'FolderSync');
    },
  );

  it.each(['12.0', '12.1'])('answers %s with HTTP 449', async (version) => {
    const res = await client({ version }).command('FolderSync', folderSync);
    expect(res.status).toBe(449);
  });

  it('treats X-MS-PolicyKey: 0 as no key', async () => {
    const res = await client().command('FolderSync', folderSync, { policyKey: 0 });
    expect(findText(res.doc, 'Status')).toBe('142');
  });
});

describe('two-phase provisioning (MS-ASPROV 3.2.5.1)', () => {
  it('hands out the policy with a temporary key, then a final key that opens the other commands', async () => {
    const c = client({ version: '14.1' });
    const first = await c.command('Provision', phase1, { policyKey: null });
    await validateEasResponse(first.doc!, 'Provision');
    expect(findText(first.doc, 'Status')).toBe('1');
    expect(findText(first.doc, 'PolicyType')).toBe('MS-EAS-Provisioning-WBXML');
    expect(findText(first.doc, 'MinDevicePasswordLength')).toBe('4');
    const temp = Number(findText(first.doc, 'PolicyKey'));
    expect(temp).toBeGreaterThan(0);

    // The temporary key does not open other commands.
    const early = await c.command('FolderSync', folderSync, { policyKey: temp });
    expect(findText(early.doc, 'Status')).toBe('144');

    const second = await c.command('Provision', phase2(temp), { policyKey: temp });
    await validateEasResponse(second.doc!, 'Provision');
    const final = Number(findText(second.doc, 'PolicyKey'));
    expect(final).toBeGreaterThan(0);
    expect(final).not.toBe(temp);
    expect(
      second.doc?.children
        .find((e) => e.name === 'Policies')
        ?.children[0]?.children.some((e) => e.name === 'Data'),
    ).toBe(false);

    const ok = await c.command('FolderSync', folderSync, { policyKey: final });
    expect(findText(ok.doc, 'Status')).toBe('1');
  });

  it('works the same with the base64 query form', async () => {
    const c = client({ base64: true, version: '14.0' });
    const key = await c.provision();
    expect(key).toBeGreaterThan(0);
    const ok = await c.command('FolderSync', folderSync);
    expect(findText(ok.doc, 'Status')).toBe('1');
  });

  it('lets 12.1 through after provisioning', async () => {
    const c = client({ version: '12.1' });
    await c.provision();
    const ok = await c.command('FolderSync', folderSync);
    expect(ok.status).toBe(200);
  });

  it('answers an acknowledgement of an unknown key with Policy Status 5', async () => {
    const c = client();
    await c.command('Provision', phase1, { policyKey: null });
    const res = await c.command('Provision', phase2(12345), { policyKey: 12345 });
    await validateEasResponse(res.doc!, 'Provision');
    const policyEl = res.doc?.children.find((e) => e.name === 'Policies')?.children[0];
    expect(policyEl?.children.find((e) => e.name === 'Status')?.value).toBe('5');
  });

  it('accepts partial compliance when the policy allows it, and refuses a failed one with 139', async () => {
    const c = client();
    const first = await c.command('Provision', phase1, { policyKey: null });
    const temp = Number(findText(first.doc, 'PolicyKey'));
    const partial = await c.command('Provision', phase2(temp, 2));
    expect(Number(findText(partial.doc, 'PolicyKey'))).toBeGreaterThan(0);

    const d = client();
    const f2 = await d.command('Provision', phase1, { policyKey: null });
    const failed = await d.command('Provision', phase2(Number(findText(f2.doc, 'PolicyKey')), 3));
    expect(findText(failed.doc, 'Status')).toBe('139');
  });

  it('answers an unknown PolicyType with Policy Status 3', async () => {
    const res = await client().command(
      'Provision',
      phase1.replace('MS-EAS-Provisioning-WBXML', 'MS-WAP-Provisioning-XML'),
    );
    const policyEl = res.doc?.children.find((e) => e.name === 'Policies')?.children[0];
    expect(policyEl?.children.find((e) => e.name === 'Status')?.value).toBe('3');
  });

  it.each([
    [
      'two Policy elements',
      '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>a</PolicyType></Policy><Policy><PolicyType>b</PolicyType></Policy></Policies></Provision>',
    ],
    ['no Policies', '<Provision xmlns="Provision:"/>'],
    ['a non-numeric key', phase1.replace('</PolicyType>', '</PolicyType><PolicyKey>abc</PolicyKey>')],
  ])('answers %s with Status 2', async (_name, body) => {
    const res = await client().command('Provision', body);
    expect(res.status).toBe(200);
    expect(findText(res.doc, 'Status')).toBe('2');
    await validateEasResponse(res.doc!, 'Provision');
  });

  it('stores DeviceInformation sent inside Provision (14.1+)', async () => {
    const c = client({ version: '14.1' });
    const body = `<Provision xmlns="Provision:"><DeviceInformation xmlns="Settings:"><Set><Model>iPhone15,2</Model><IMEI>356938035643809</IMEI><FriendlyName>Alice's phone</FriendlyName><OS>iOS 17.1</OS><OSLanguage>en</OSLanguage><UserAgent>Apple-iPhone15C2/2101.1</UserAgent></Set></DeviceInformation><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>`;
    const res = await c.command('Provision', body, { policyKey: null });
    await validateEasResponse(res.doc!, 'Provision');
    expect(res.doc?.children[0]?.name).toBe('DeviceInformation');
    const record = await getDevice(state.device('alice', c.opts.deviceId));
    expect(record).toMatchObject({
      model: 'iPhone15,2',
      imei: '356938035643809',
      os: 'iOS 17.1',
      friendlyName: "Alice's phone",
    });
  });
});

describe('policy keys', () => {
  it('asks for a refresh (143) when the policy changed since the device acknowledged it', async () => {
    const c = client();
    const key = await c.provision();
    const changed = { ...policy, hash: 'policy-v2' };
    const other = await buildServer<AccountInfo>({
      logger: false,
      authenticate: async (user) => ({ user, email: user }),
      gate: createGate({ state, policy: changed }),
      handlers: {
        FolderSync: async () => ({
          body: el('FolderHierarchy', 'FolderSync', el('FolderHierarchy', 'Status', '1')),
        }),
      },
    });
    const res = await EasTestClient.inject(other, c.opts).command('FolderSync', folderSync, {
      policyKey: key,
    });
    expect(findText(res.doc, 'Status')).toBe('143');
    await other.close();
  });

  it("refuses a key that is not the device's own (144), and one user's key for another user", async () => {
    const c = client();
    const key = await c.provision();
    const res = await c.command('FolderSync', folderSync, { policyKey: key + 1 });
    expect(findText(res.doc, 'Status')).toBe('144');

    const bob = EasTestClient.inject(app, { user: 'bob', password: 'pw', deviceId: c.opts.deviceId });
    const cross = await bob.command('FolderSync', folderSync, { policyKey: key });
    expect(findText(cross.doc, 'Status')).toBe('142');
  });
});

describe('device access and remote wipe', () => {
  it('refuses a blocked device type: Status 129 from 14.0, HTTP 403 before', async () => {
    const res = await client({ deviceType: 'BlockedPhone' }).command('FolderSync', folderSync);
    expect(findText(res.doc, 'Status')).toBe('129');
    const old = await client({ deviceType: 'BlockedPhone', version: '12.1' }).command(
      'FolderSync',
      folderSync,
    );
    expect(old.status).toBe(403);
    const prov = await client({ deviceType: 'BlockedPhone' }).command('Provision', phase1);
    expect(findText(prov.doc, 'Status')).toBe('129');
  });

  it('delivers a remote wipe through Provision and records the acknowledgement', async () => {
    const c = client();
    await c.provision();
    const scope = state.device('alice', c.opts.deviceId);
    await requestWipe(scope, { accountOnly: false });

    const blocked = await c.command('FolderSync', folderSync);
    expect(findText(blocked.doc, 'Status')).toBe('140');

    const wipe = await c.command('Provision', phase1);
    await validateEasResponse(wipe.doc!, 'Provision');
    expect(wipe.doc?.children.some((e) => e.name === 'RemoteWipe')).toBe(true);
    expect((await getDevice(scope))?.wipe.state).toBe('sent');

    const ack = await c.command(
      'Provision',
      '<Provision xmlns="Provision:"><RemoteWipe><Status>1</Status></RemoteWipe></Provision>',
    );
    await validateEasResponse(ack.doc!, 'Provision');
    expect((await getDevice(scope))?.wipe).toMatchObject({ state: 'acknowledged', ackStatus: 1 });
  });

  it('sends AccountOnlyRemoteWipe to a 16.1 client, and never a full wipe in its place to an older one', async () => {
    const c = client({ version: '16.1' });
    await c.provision();
    await requestWipe(state.device('alice', c.opts.deviceId), { accountOnly: true });
    const res = await c.command('Provision', phase1);
    await validateEasResponse(res.doc!, 'Provision');
    expect(res.doc?.children.map((e) => e.name)).toContain('AccountOnlyRemoteWipe');
    expect(res.doc?.children.map((e) => e.name)).not.toContain('RemoteWipe');

    const old = client({ version: '14.1' });
    await old.provision();
    await requestWipe(state.device('alice', old.opts.deviceId), { accountOnly: true });
    const oldRes = await old.command('Provision', phase1);
    expect(oldRes.doc?.children.map((e) => e.name)).not.toContain('RemoteWipe');
    expect(findText(oldRes.doc, 'Status')).toBe('3');
  });
});
