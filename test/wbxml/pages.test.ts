// The MS-ASWBXML 2.1.2.1 tables: 26 pages for protocol 16.1, spot checks against the spec tables.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { codePageByNamespace, codePages } from '../../wbxml/index.js';

const namespaces = [
  'AirSync',
  'Contacts',
  'Email',
  'AirNotify',
  'Calendar',
  'Move',
  'GetItemEstimate',
  'FolderHierarchy',
  'MeetingResponse',
  'Tasks',
  'ResolveRecipients',
  'ValidateCert',
  'Contacts2',
  'Ping',
  'Provision',
  'Search',
  'GAL',
  'AirSyncBase',
  'Settings',
  'DocumentLibrary',
  'ItemOperations',
  'ComposeMail',
  'Email2',
  'Notes',
  'RightsManagement',
  'Find',
];

describe('code pages', () => {
  it('numbers the 26 namespaces as MS-ASWBXML 2.1.2.1 does, one file each', () => {
    expect(codePages.map((p) => p.namespace)).toEqual(namespaces);
    codePages.forEach((p, i) => expect(p.number).toBe(i));
    for (const ns of namespaces) expect(codePageByNamespace(ns)?.namespace).toBe(ns);
    expect(codePageByNamespace('POOMMAIL')).toBeUndefined();
    const files = readdirSync(fileURLToPath(new URL('../../wbxml/pages/', import.meta.url)));
    for (const ns of namespaces) expect(files).toContain(`${ns.toLowerCase()}.ts`);
  });

  it('keeps tokens and names two-way consistent', () => {
    let total = 0;
    for (const p of codePages) {
      for (const [name, token] of p.tokens) {
        expect(p.names[token]).toBe(name);
        total++;
      }
      expect(p.names.filter((n) => n !== undefined)).toHaveLength(p.tokens.size);
    }
    expect(total).toBe(586);
  });

  it.each([
    ['AirSync', 'Sync', 0x05],
    ['AirSync', 'HeartbeatInterval', 0x29],
    ['Contacts', 'BusinessAddressCity', 0x0d],
    ['Email', 'ReplyTo', 0x19],
    ['Email', 'DtStamp', 0x1d],
    ['Calendar', 'Timezone', 0x05],
    ['Calendar', 'ClientUid', 0x3c],
    ['MeetingResponse', 'ProposedStartTime', 0x10],
    ['MeetingResponse', 'ProposedEndTime', 0x11],
    ['FolderHierarchy', 'FolderSync', 0x16],
    ['MeetingResponse', 'SendResponse', 0x12],
    ['Tasks', 'UtcDueDate', 0x0d],
    ['Ping', 'MaxFolders', 0x0d],
    ['Provision', 'RequireStorageCardEncryption', 0x10],
    ['Provision', 'AccountOnlyRemoteWipe', 0x3b],
    ['Search', 'MaxPictures', 0x23],
    ['AirSyncBase', 'InstanceId', 0x2d],
    ['Settings', 'RightsManagementInformation', 0x2b],
    ['ItemOperations', 'MoveAlways', 0x19],
    ['ComposeMail', 'Mime', 0x10],
    ['Email2', 'Send', 0x17],
    ['RightsManagement', 'RemoveRightsManagementProtection', 0x18],
    ['Find', 'GalSearchCriterion', 0x19],
    ['Find', 'Picture', 0x22],
  ])('%s:%s is 0x%s', (ns, name, token) => {
    expect(codePageByNamespace(ns)!.tokens.get(name)).toBe(token);
  });

  it('leaves AirNotify (code page 3) without tags, as the spec does', () => {
    expect(codePageByNamespace('AirNotify')!.tokens.size).toBe(0);
  });
});
