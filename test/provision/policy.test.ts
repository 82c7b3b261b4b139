// The policy model: validation of the admin's file, the hash that detects a change, and the
// EASProvisionDoc sent to devices (schema order, version filter, valid against Provision.xsd).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, encode, toXml, type WbxmlElement } from '../../wbxml/index.js';
import { protocolVersions } from '../../src/commands/types.js';
import {
  PolicyError,
  buildEASProvisionDoc,
  defaultPolicy,
  loadPolicy,
  parsePolicy,
  policyHash,
  provisionDocFields,
} from '../../src/provision/policy.js';
import { buildProvisionResponse, wbxmlPolicyType } from '../../src/protocol/provision.js';
import { easResponseViolations } from '../support/schema.js';

function problemsOf(json: unknown): string[] {
  try {
    parsePolicy(json, 'test.json');
  } catch (err) {
    if (err instanceof PolicyError) return err.problems;
    throw err;
  }
  return [];
}

const names = (doc: WbxmlElement): string[] => doc.children.map((c) => c.name);
const valueOf = (doc: WbxmlElement, name: string): WbxmlElement['value'] =>
  doc.children.find((c) => c.name === name)?.value;

describe('the EASProvisionDoc field table', () => {
  it('has every element of MS-ASPROV 2.2.2.28, once each', () => {
    const spec = [
      'AllowBluetooth',
      'AllowBrowser',
      'AllowCamera',
      'AllowConsumerEmail',
      'AllowDesktopSync',
      'AllowHTMLEmail',
      'AllowInternetSharing',
      'AllowIrDA',
      'AllowPOPIMAPEmail',
      'AllowRemoteDesktop',
      'AllowSimpleDevicePassword',
      'AllowSMIMEEncryptionAlgorithmNegotiation',
      'AllowSMIMESoftCerts',
      'AllowStorageCard',
      'AllowTextMessaging',
      'AllowUnsignedApplications',
      'AllowUnsignedInstallationPackages',
      'AllowWiFi',
      'AlphanumericDevicePasswordRequired',
      'ApprovedApplicationList',
      'AttachmentsEnabled',
      'DevicePasswordEnabled',
      'DevicePasswordExpiration',
      'DevicePasswordHistory',
      'MaxAttachmentSize',
      'MaxCalendarAgeFilter',
      'MaxDevicePasswordFailedAttempts',
      'MaxEmailAgeFilter',
      'MaxEmailBodyTruncationSize',
      'MaxEmailHTMLBodyTruncationSize',
      'MaxInactivityTimeDeviceLock',
      'MinDevicePasswordComplexCharacters',
      'MinDevicePasswordLength',
      'PasswordRecoveryEnabled',
      'RequireDeviceEncryption',
      'RequireEncryptedSMIMEMessages',
      'RequireEncryptionSMIMEAlgorithm',
      'RequireManualSyncWhenRoaming',
      'RequireSignedSMIMEAlgorithm',
      'RequireSignedSMIMEMessages',
      'RequireStorageCardEncryption',
      'UnapprovedInROMApplicationList',
    ];
    const ours = provisionDocFields.map((f) => f.name as string);
    expect(new Set(ours).size).toBe(ours.length);
    expect([...ours].sort()).toEqual([...spec].sort());
  });
});

describe('parsePolicy', () => {
  it('gives the permissive default for an empty file', () => {
    const p = parsePolicy({}, 'x.json');
    expect(p.EASProvisionDoc).toEqual(defaultPolicy().EASProvisionDoc);
    expect(p.EASProvisionDoc.DevicePasswordEnabled).toBe(false);
    expect(p.EASProvisionDoc.RequireDeviceEncryption).toBe(false);
    expect(p.explicit).toEqual([]);
    expect(p.source).toBe('x.json');
  });

  it('takes the admin values, with booleans as true/false or 0/1', () => {
    const p = parsePolicy({
      EASProvisionDoc: {
        DevicePasswordEnabled: true,
        AlphanumericDevicePasswordRequired: 1,
        MinDevicePasswordLength: 6,
        MaxDevicePasswordFailedAttempts: null,
        MaxAttachmentSize: 10_485_760,
        AllowCamera: 0,
        MaxEmailAgeFilter: 3,
        MaxEmailBodyTruncationSize: -1,
        ApprovedApplicationList: ['0123456789abcdef0123456789abcdef01234567'],
      },
    });
    expect(p.EASProvisionDoc).toMatchObject({
      DevicePasswordEnabled: true,
      AlphanumericDevicePasswordRequired: true,
      MinDevicePasswordLength: 6,
      MaxDevicePasswordFailedAttempts: null,
      MaxAttachmentSize: 10_485_760,
      AllowCamera: false,
      MaxEmailAgeFilter: 3,
    });
    expect(p.explicit).toContain('AllowCamera');
    expect(p.explicit).not.toContain('AllowBluetooth');
  });

  it.each([
    ['an unknown top-level key', { Policy: {} }, /unknown key "Policy"/],
    ['an unknown field', { EASProvisionDoc: { AllowTeleport: true } }, /unknown field "AllowTeleport"/],
    [
      'a field in the wrong case',
      { EASProvisionDoc: { AllowWifi: true } },
      /"AllowWifi" \(did you mean "AllowWiFi"\?\)/,
    ],
    [
      'a string for a boolean',
      { EASProvisionDoc: { AllowCamera: 'no' } },
      /AllowCamera .* must be true or false, not "no"/,
    ],
    ['2 for a boolean', { EASProvisionDoc: { DevicePasswordEnabled: 2 } }, /must be true or false, not 2/],
    [
      'a too short minimum length',
      { EASProvisionDoc: { MinDevicePasswordLength: 0 } },
      /MinDevicePasswordLength .* from 1 to 16 or null/,
    ],
    ['a too long minimum length', { EASProvisionDoc: { MinDevicePasswordLength: 17 } }, /from 1 to 16/],
    ['3 failed attempts', { EASProvisionDoc: { MaxDevicePasswordFailedAttempts: 3 } }, /from 4 to 16/],
    ['a fraction', { EASProvisionDoc: { MaxAttachmentSize: 1.5 } }, /must be a whole number or null/],
    ['a negative size', { EASProvisionDoc: { MaxAttachmentSize: -1 } }, /from 0 to 4294967295/],
    [
      'null where no empty form exists',
      { EASProvisionDoc: { DevicePasswordHistory: null } },
      /DevicePasswordHistory .* whole number, not null/,
    ],
    [
      'a calendar filter the spec does not list',
      { EASProvisionDoc: { MaxCalendarAgeFilter: 2 } },
      /one of 0, 4, 5, 6, 7, not 2/,
    ],
    ['Bluetooth 3', { EASProvisionDoc: { AllowBluetooth: 3 } }, /one of 0, 1, 2/],
    ['a truncation below -1', { EASProvisionDoc: { MaxEmailBodyTruncationSize: -2 } }, /from -1/],
    ['complex characters 5', { EASProvisionDoc: { MinDevicePasswordComplexCharacters: 5 } }, /from 1 to 4/],
    [
      'a list of numbers',
      { EASProvisionDoc: { UnapprovedInROMApplicationList: [1] } },
      /list of non-empty strings \(ApplicationName/,
    ],
    ['a non-object document', { EASProvisionDoc: [] }, /EASProvisionDoc must be an object/],
    [
      'a bad access rule',
      { deviceAccess: { block: [{ Model: 'x' }] } },
      /deviceAccess.block\[0\]: unknown key "Model"/,
    ],
    ['an empty access rule', { deviceAccess: { allow: [{}] } }, /must name DeviceType and\/or UserAgent/],
    ['a bad unmatched value', { deviceAccess: { unmatched: 'allowed' } }, /"blocked" or "quarantined"/],
  ])('reports %s', (_name, json, message) => {
    const problems = problemsOf(json);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(message);
  });

  it('reports every problem at once and names the file', () => {
    try {
      parsePolicy(
        { EASProvisionDoc: { AllowCamera: 'x', MinDevicePasswordLength: 99, Nope: 1 } },
        '/etc/easd/policy.json',
      );
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyError);
      expect((err as PolicyError).problems).toHaveLength(3);
      expect((err as PolicyError).message).toMatch(/^Invalid policy in \/etc\/easd\/policy.json:/);
    }
  });

  it('refuses a file that is not a JSON object', () => {
    expect(problemsOf([])).toEqual(['must hold a JSON object']);
  });
});

describe('loadPolicy', () => {
  it('reads the file named by EASD_POLICY, or gives the default without one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'easd-policy-'));
    try {
      const file = path.join(dir, 'policy.json');
      await writeFile(file, JSON.stringify({ EASProvisionDoc: { DevicePasswordEnabled: true } }));
      const p = await loadPolicy(file);
      expect(p.EASProvisionDoc.DevicePasswordEnabled).toBe(true);
      expect(p.source).toBe(file);
      expect((await loadPolicy(undefined)).EASProvisionDoc.DevicePasswordEnabled).toBe(false);

      await writeFile(file, '{ "EASProvisionDoc": ');
      await expect(loadPolicy(file)).rejects.toThrow(/is not JSON/);
      await expect(loadPolicy(path.join(dir, 'missing.json'))).rejects.toThrow(/cannot be read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('policyHash', () => {
  it('is stable for the same effective policy, whatever the key order or access rules', () => {
    const a = parsePolicy({ EASProvisionDoc: { DevicePasswordEnabled: true, MinDevicePasswordLength: 4 } });
    const b = parsePolicy({
      EASProvisionDoc: { MinDevicePasswordLength: 4, DevicePasswordEnabled: 1 },
      deviceAccess: { block: [{ DeviceType: 'x' }] },
    });
    expect(policyHash(a)).toBe(policyHash(b));
    expect(policyHash(a)).toMatch(/^[0-9a-f]{16}$/);
    // Writing a default explicitly changes nothing either.
    expect(policyHash(parsePolicy({ EASProvisionDoc: { AllowCamera: true } }))).toBe(
      policyHash(defaultPolicy()),
    );
  });

  it('changes when any element changes', () => {
    const base = policyHash(defaultPolicy());
    const seen = new Set([base]);
    for (const field of provisionDocFields) {
      const doc: Record<string, unknown> = {};
      const d = defaultPolicy().EASProvisionDoc[field.name];
      if (typeof d === 'boolean') doc[field.name] = !d;
      else if (Array.isArray(d)) doc[field.name] = ['x'];
      else if (field.kind.type === 'enum') doc[field.name] = field.kind.values.find((v) => v !== d);
      else doc[field.name] = d === null ? 5 : d === 1 ? 2 : 1;
      const h = policyHash(parsePolicy({ EASProvisionDoc: doc }));
      expect(seen.has(h), field.name).toBe(false);
      seen.add(h);
    }
  });
});

describe('buildEASProvisionDoc', () => {
  const strict = parsePolicy({
    EASProvisionDoc: {
      DevicePasswordEnabled: true,
      MinDevicePasswordLength: 8,
      MaxInactivityTimeDeviceLock: 300,
      RequireDeviceEncryption: true,
      AllowCamera: false,
      UnapprovedInROMApplicationList: ['game.exe', 'browser.exe'],
      ApprovedApplicationList: ['a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'],
    },
  });

  it('writes every element in schema order for 12.1 and later', () => {
    const doc = buildEASProvisionDoc(strict, '16.1');
    expect(doc.ns).toBe('Provision');
    expect(doc.name).toBe('EASProvisionDoc');
    expect(names(doc)).toEqual(provisionDocFields.map((f) => f.name));
    expect(valueOf(doc, 'DevicePasswordEnabled')).toBe('1');
    expect(valueOf(doc, 'AllowCamera')).toBe('0');
    expect(valueOf(doc, 'MinDevicePasswordLength')).toBe('8');
    expect(valueOf(doc, 'MaxDevicePasswordFailedAttempts')).toBeUndefined(); // empty: no limit
    expect(valueOf(doc, 'MaxCalendarAgeFilter')).toBe('0');
    expect(valueOf(doc, 'MaxEmailBodyTruncationSize')).toBe('-1');
    const list = doc.children.find((c) => c.name === 'UnapprovedInROMApplicationList');
    expect(list?.children.map((c) => [c.name, c.value])).toEqual([
      ['ApplicationName', 'game.exe'],
      ['ApplicationName', 'browser.exe'],
    ]);
    expect(buildEASProvisionDoc(strict, '12.1')).toEqual(doc);
  });

  it('leaves out the elements protocol 12.0 does not have', () => {
    expect(names(buildEASProvisionDoc(strict, '12.0'))).toEqual([
      'DevicePasswordEnabled',
      'AlphanumericDevicePasswordRequired',
      'PasswordRecoveryEnabled',
      'AttachmentsEnabled',
      'MinDevicePasswordLength',
      'MaxInactivityTimeDeviceLock',
      'MaxDevicePasswordFailedAttempts',
      'MaxAttachmentSize',
      'AllowSimpleDevicePassword',
      'DevicePasswordExpiration',
      'DevicePasswordHistory',
    ]);
  });

  it('round-trips through the WBXML codec', () => {
    const doc = buildEASProvisionDoc(strict, '14.1');
    const response = buildProvisionResponse({
      Status: 1,
      policy: { PolicyType: wbxmlPolicyType, Status: 1, PolicyKey: 1234567890, EASProvisionDoc: doc },
    });
    const back = decode(encode(response));
    expect(back).toEqual(response);
    expect(toXml(back)).toContain('<MinDevicePasswordLength>8</MinDevicePasswordLength>');
  });

  it.each(protocolVersions)('makes a Provision response that Provision.xsd accepts (%s)', async (version) => {
    for (const policy of [defaultPolicy(), strict]) {
      const response = buildProvisionResponse({
        Status: 1,
        policy: {
          PolicyType: wbxmlPolicyType,
          Status: 1,
          PolicyKey: 42,
          EASProvisionDoc: buildEASProvisionDoc(policy, version),
        },
      });
      expect(await easResponseViolations(response, 'Provision')).toEqual([]);
    }
  });

  it('is checked for real: the schema refuses the same elements out of order', async () => {
    const doc = buildEASProvisionDoc(defaultPolicy(), '16.1');
    const shuffled = { ...doc, children: [...doc.children].reverse() };
    const response = buildProvisionResponse({
      Status: 1,
      policy: { PolicyType: wbxmlPolicyType, Status: 1, PolicyKey: 42, EASProvisionDoc: shuffled },
    });
    expect(await easResponseViolations(response, 'Provision')).not.toEqual([]);
  });
});
