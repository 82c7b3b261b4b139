// Account setup as each kind of phone does it, against the compiled server on the stack's Dovecot,
// Radicale and SMTP receiver: Autodiscover, OPTIONS, Provision (both phases, DeviceInformation in
// Provision or in Settings), FolderSync, and the initial Sync of mail, contacts, calendar and
// tasks — checked against what IMAP and WebDAV themselves hold.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { imapConnect } from '../../stack/dovecot.js';
import { findText } from '../../support/eas-client.js';
import { Device, FolderType, profiles, type DeviceProfile } from '../../support/device.js';
import { stackEnv, useScratch, type CompiledEasd } from '../../support/device-server.js';
import { davSeed } from '../../support/device-stores.js';

const stack = inject('stack');
const alice = stack.users.find((u) => u.user === 'alice')!;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const mailCount = 30;
let server: CompiledEasd;
const scratch = useScratch('easd-flow-setup-');
let inboxSubjects: string[];

beforeAll(async () => {
  server = await scratch.start(stackEnv(stack, scratch.path('easd')));
  // Mail that was there before the phone: more than one window for every profile.
  inboxSubjects = Array.from({ length: mailCount }, (_, i) => `Setup ${run} #${i}`);
  const client = await imapConnect(stack.imap, alice);
  try {
    for (const [i, subject] of inboxSubjects.entries()) {
      await client.append(
        'INBOX',
        `From: Bob <bob@easd.test>\r\nTo: ${alice.email}\r\nSubject: ${subject}\r\nDate: ${new Date(Date.now() - i * 60_000).toUTCString()}\r\nMessage-ID: <setup-${run}-${i}@easd.test>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>message <b>${i}</b></p>\r\n`,
        i % 3 === 0 ? ['\\Seen'] : [],
      );
    }
  } finally {
    await client.logout();
  }
});

/** Every folder of the types given (default and user-created ones of a class). */
function foldersOf(device: Device, ...types: string[]): string[] {
  return [...device.folders.values()].filter((f) => types.includes(f.type)).map((f) => f.serverId);
}

// Thunderbird's add-on syncs no mail; its own setup and daily use are in thunderbird.test.ts.
const cases = (Object.entries(profiles) as Array<[string, DeviceProfile]>).filter(
  ([, profile]) => profile.pimOnly !== true,
);

describe('account setup, as each client does it', () => {
  it.each(cases)(
    '%s: Autodiscover, OPTIONS, Provision, Settings, FolderSync and the first Sync of every folder class',
    async (name, profile) => {
      const device = new Device(() => server.base, alice, profile, `${name.toUpperCase()}${run}`);

      // Autodiscover names the endpoint; Outlook asks with the capitalised path.
      const auto = await device.autodiscover(
        name === 'outlook' ? '/Autodiscover/Autodiscover.xml' : '/autodiscover/autodiscover.xml',
      );
      expect(auto.status).toBe(200);
      expect(auto.xml).toContain(`<Url>${server.base}/Microsoft-Server-ActiveSync</Url>`);
      // The login is a bare name; EASD_MAIL_DOMAIN makes the address.
      expect(auto.xml).toContain(`<EMailAddress>${alice.email}</EMailAddress>`);

      const offered = await device.options();
      expect(offered.versions).toContain(profile.version);
      expect(offered.commands).toEqual(expect.arrayContaining(['Sync', 'FolderSync', 'Ping', 'Provision']));

      // A first command without a policy key is sent to Provision (MS-ASPROV 3.1.5.1).
      const early = await device.send(
        'FolderSync',
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
      );
      expect([early.status, findText(early.doc, 'Status')]).toEqual([200, '142']);

      const { policyKey } = await device.provision();
      expect(policyKey).toBeGreaterThan(0);
      if (profile.deviceInformationIn === 'Settings') {
        const settings = await device.settings();
        expect([findText(settings.doc, 'Status'), findText(settings.doc, 'DeviceInformation')]).toEqual([
          '1',
          undefined,
        ]);
      }

      expect((await device.folderSync()).status).toBe('1');
      for (const type of [FolderType.Inbox, FolderType.Drafts, FolderType.Deleted, FolderType.Sent])
        expect(device.folder(type)).toBeDefined();
      // Every mailbox Dovecot lists is a folder on the phone.
      const imap = await imapConnect(stack.imap, alice);
      const mailboxes = (await imap.list()).map((m) => m.name);
      await imap.logout();
      for (const box of ['Drafts', 'Sent', 'Trash', 'Junk', 'Archive']) expect(mailboxes).toContain(box);
      const names = [...device.folders.values()].map((f) => f.displayName);
      expect(names).toEqual(expect.arrayContaining(['Junk', 'Archive']));
      expect(foldersOf(device, '8', '13').length).toBeGreaterThan(0);
      expect(foldersOf(device, '9', '14').length).toBeGreaterThan(0);
      expect(foldersOf(device, '7', '15').length).toBeGreaterThan(0);

      // Another client adds a contact, an event and a task on Radicale before the first Sync.
      const tag = `${name}${run}`;
      await davSeed(stack.dav.url, alice, tag);

      // The first Sync of mail comes in windows of the profile's size, each message once
      // (the device fails on a second Add of a ServerId).
      const inbox = device.folder(FolderType.Inbox);
      expect((await device.sync(inbox)).status).toBe('1');
      // Android clients ask how much there is before fetching it.
      if (profile.deviceInformationIn === 'Settings') {
        const { status, estimate } = await device.estimate(inbox);
        expect(status).toBe('1');
        expect(estimate).toBeGreaterThanOrEqual(mailCount);
      }
      const windows = await device.syncAll(inbox);
      expect(windows.length).toBeGreaterThanOrEqual(Math.ceil(mailCount / profile.windowSize));
      for (const w of windows) expect(w.adds.length).toBeLessThanOrEqual(profile.windowSize);
      for (const [i, subject] of inboxSubjects.entries()) {
        const held = device.find(inbox, 'Subject', subject);
        expect(held, subject).toBeDefined();
        expect(findText(held!.data, 'Read')).toBe(i % 3 === 0 ? '1' : '0');
        // The body in the form the profile asked for: HTML (2) or plain text (1).
        expect(findText(held!.data, 'Type')).toBe(String(profile.mailBody.type));
        expect(findText(held!.data, 'Data')).toContain(profile.mailBody.type === 2 ? '<b>' : `message ${i}`);
      }

      const found = async (types: string[], field: string, value: string): Promise<boolean> => {
        for (const id of foldersOf(device, ...types)) {
          await device.syncAll(id);
          if (device.find(id, field, value) !== undefined) return true;
        }
        return false;
      };
      expect(await found(['9', '14'], 'LastName', tag)).toBe(true);
      expect(await found(['8', '13'], 'Subject', `Event ${tag}`)).toBe(true);
      expect(await found(['7', '15'], 'Subject', `Task ${tag}`)).toBe(true);

      // The server recorded the device as the phone described it.
      const shown = await server.cli(['devices', 'show', alice.user, device.deviceId]);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain(profile.deviceType);
      expect(shown.stdout).toContain(profile.model);
    },
    90_000,
  );
});
