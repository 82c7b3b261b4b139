// Thunderbird with TbSync's "Provider for Exchange ActiveSync" (EAS-4-TbSync) against the compiled
// server on the stack's Radicale: the add-on's own sequence (read from its source, see the
// profile in test/support/device.ts) — OPTIONS, a FolderSync without a policy key that the server
// answers with 142, Provision, Settings with DeviceInformation before every FolderSync, a
// UserInformation Get, then per contacts/calendar/tasks folder a key-0 Sync, GetItemEstimate with
// the Class in Options, Sync in windows of 50 — and its daily use: no Ping, a sync every few
// minutes, its own changes sent in a Sync of their own. Each step is checked on Radicale.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { findText } from '../../support/eas-client.js';
import { Device, eventually, FolderType, profiles } from '../../support/device.js';
import { serverCertificate } from '../../support/certs.js';
import {
  httpRequest,
  stackEnv,
  trustServer,
  useScratch,
  type CompiledEasd,
} from '../../support/device-server.js';
import { davFind, davPut, davSeed } from '../../support/device-stores.js';

const stack = inject('stack');
const bob = stack.users.find((u) => u.user === 'bob')!;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const scratch = useScratch('easd-flow-thunderbird-');
let server: CompiledEasd;
let tb: Device;

beforeAll(async () => {
  // TbSync connects over HTTPS by default and takes an Autodiscover answer only over HTTPS: easd
  // serves TLS itself here (EASD_TLS_CERT), with a certificate Thunderbird was told to trust.
  const { cert, key } = serverCertificate(scratch.dir, 'localhost');
  server = await scratch.start({
    ...stackEnv(stack, scratch.path('easd')),
    EASD_TLS_CERT: cert,
    EASD_TLS_KEY: key,
  });
  trustServer(server.base, { ca: await readFile(cert, 'utf8'), servername: 'localhost' });
  // TbSync's device ids are "MZTB" and a number.
  tb = new Device(() => server.base, bob, profiles.thunderbird, `MZTB${run}`.toUpperCase());
});

/** The folder types TbSync keeps (MS-ASCMD 2.2.3.186.3): contacts, calendars, tasks. */
const pimTypes = ['9', '14', '8', '13', '7', '15'];

function pimFolders(): string[] {
  return [...tb.folders.values()].filter((f) => pimTypes.includes(f.type)).map((f) => f.serverId);
}

/** Settings with the DeviceInformation TbSync sends: Model "Computer", no OSLanguage. */
async function setDeviceInformation(): Promise<void> {
  const reply = await tb.send(
    'Settings',
    `<Settings xmlns="Settings:"><DeviceInformation><Set><Model>Computer</Model><FriendlyName>TbSync on Device ${tb.deviceId.slice(4)}</FriendlyName><OS>Linux</OS><UserAgent>${tb.profile.userAgent}</UserAgent></Set></DeviceInformation></Settings>`,
  );
  expect([reply.status, findText(reply.doc, 'Status')]).toEqual([200, '1']);
}

/**
 * One of TbSync's sync runs: Settings, FolderSync, then per folder GetItemEstimate (14.0 form:
 * AirSync SyncKey, CollectionId, Options with FilterType for calendars and the Class) and Syncs
 * until nothing more is available. Returns the estimates.
 */
async function syncRun(): Promise<Map<string, number>> {
  await setDeviceInformation();
  expect((await tb.folderSync()).status).toBe('1');
  const estimates = new Map<string, number>();
  for (const id of pimFolders()) {
    if (tb.collection(id).key === '0') expect((await tb.sync(id)).status).toBe('1');
    const cls = tb.classOf(id);
    const reply = await tb.send(
      'GetItemEstimate',
      `<GetItemEstimate xmlns="GetItemEstimate:"><Collections><Collection><SyncKey xmlns="AirSync:">${tb.collection(id).key}</SyncKey><CollectionId>${id}</CollectionId><Options xmlns="AirSync:">${cls === 'Calendar' ? '<FilterType>7</FilterType>' : ''}<Class>${cls}</Class></Options></Collection></Collections></GetItemEstimate>`,
    );
    const status = findText(reply.doc, 'Status');
    // TbSync ignores a failed estimate and syncs anyway. A folder whose state the server dropped
    // is "not primed" here (MS-ASCMD 2.2.3.177.6: Status 3; 4 for a key it does not know) and
    // Status 3 in the Sync, where TbSync drops the folder and starts it over from key 0.
    expect(['1', '3', '4'], `GetItemEstimate of ${cls} ${id}`).toContain(status);
    if (status === '1') estimates.set(id, Number(findText(reply.doc, 'Estimate')));
    else {
      expect((await tb.sync(id)).status).toBe('3');
      expect((await tb.sync(id)).status).toBe('1');
    }
    await tb.syncAll(id);
  }
  return estimates;
}

/** TbSync sends its changes of one folder in a Sync without GetChanges; ClientIds are "<ms>-<n>". */
async function upload(collectionId: string, commands: string) {
  const result = await tb.sync(collectionId, { upload: true, commands });
  expect(result.status).toBe('1');
  return result;
}

function tbTag(): string {
  return `tb${run}${Math.random().toString(36).slice(2, 6)}`;
}

/** TbSync's Timezone (MS-ASDTYPE 2.2.1.1): W. Europe, the zone of the test's Thunderbird. */
function berlinTimeZone(): string {
  const tz = Buffer.alloc(172);
  tz.writeInt32LE(-60, 0);
  tz.write('W. Europe Standard Time', 4, 'utf16le');
  // StandardDate: October, last (5th) Sunday, 03:00; DaylightDate: March, last Sunday, 02:00.
  for (const [at, month, hour] of [
    [68, 10, 3],
    [152, 3, 2],
  ] as const) {
    tz.writeUInt16LE(month, at + 2);
    tz.writeUInt16LE(0, at + 4);
    tz.writeUInt16LE(5, at + 6);
    tz.writeUInt16LE(hour, at + 8);
  }
  tz.write('W. Europe Daylight Time', 88, 'utf16le');
  tz.writeInt32LE(-60, 168);
  return tz.toString('base64');
}

describe('Thunderbird (TbSync) against Radicale', { timeout: 90_000 }, () => {
  it('sets up as TbSync does: OPTIONS, 142 without a key, Provision, Settings, FolderSync, the first sync of contacts, calendar and tasks', async () => {
    // Autodiscover: TbSync tries HEAD first and POSTs where the HEAD loaded.
    const head = await httpRequest(server.base, {
      method: 'HEAD',
      url: '/autodiscover/autodiscover.xml',
      headers: { 'user-agent': tb.profile.userAgent },
    });
    expect(head.statusCode).toBeLessThan(500);
    const auto = await tb.autodiscover();
    expect(auto.status).toBe(200);
    // An https:// Url: TbSync keeps its host and connects there over HTTPS.
    expect(server.base).toMatch(/^https:/);
    expect(auto.xml).toContain(`<Url>${server.base}/Microsoft-Server-ActiveSync</Url>`);

    const offered = await tb.options();
    // TbSync picks 14.0 when offered ("auto"), else 2.5.
    expect(offered.versions).toContain('14.0');
    expect(offered.commands).toEqual(
      expect.arrayContaining(['Settings', 'GetItemEstimate', 'FolderSync', 'Sync', 'Provision']),
    );

    // No policy key yet ("provision" off): the server asks for one with 142, TbSync turns
    // provisioning on and runs the account again.
    const early = await tb.send(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
      { policyKey: null },
    );
    expect([early.status, findText(early.doc, 'Status')]).toEqual([200, '142']);
    const { policyKey } = await tb.provision();
    expect(policyKey).toBeGreaterThan(0);

    const info = await tb.send(
      'Settings',
      '<Settings xmlns="Settings:"><UserInformation><Get/></UserInformation></Settings>',
    );
    expect(findText(info.doc, 'Status')).toBe('1');

    await setDeviceInformation();
    expect((await tb.folderSync()).status).toBe('1');
    // Another client puts a contact, an event and a task on Radicale (the collections exist
    // since the FolderSync).
    const tag = tbTag();
    await davSeed(stack.dav.url, bob, tag);

    const estimates = await syncRun();
    for (const type of [FolderType.Contacts, FolderType.Calendar, FolderType.Tasks])
      expect(tb.folder(type)).toBeDefined();
    // Each folder was estimated before its first fetch, counting at least the three just put there
    // (other test files add and remove items of the same account meanwhile: no exact count).
    expect(estimates.size).toBe(pimFolders().length);
    expect([...estimates.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);

    const held = (field: string, value: string) =>
      pimFolders().some((id) => tb.find(id, field, value) !== undefined);
    expect(held('LastName', tag)).toBe(true);
    expect(held('Subject', `Event ${tag}`)).toBe(true);
    expect(held('Subject', `Task ${tag}`)).toBe(true);

    const shown = await server.cli(['devices', 'show', bob.user, tb.deviceId]);
    expect(shown.stdout).toContain('TbSync');
    expect(shown.stdout).toContain('Computer');
  });

  it('daily use: contacts, events and tasks made and edited in Thunderbird land on Radicale, edits there come back on the next sync run', async () => {
    if (tb.policyKey === undefined) {
      await tb.provision();
      await syncRun();
    }
    const contacts = tb.folder(FolderType.Contacts);
    const calendar = tb.folder(FolderType.Calendar);
    const tasks = tb.folder(FolderType.Tasks);
    const tag = tbTag();
    const clientId = (n: number) => `${Date.now()}-${n}`;

    // Thunderbird → Radicale: one new item per folder, each in its own upload Sync.
    const card = await upload(
      contacts,
      `<Add><ClientId>${clientId(0)}</ClientId><ApplicationData><FileAs xmlns="Contacts:">${tag}, Tilda</FileAs><FirstName xmlns="Contacts:">Tilda</FirstName><LastName xmlns="Contacts:">${tag}</LastName><Email1Address xmlns="Contacts:">tilda@example.com</Email1Address><MobilePhoneNumber xmlns="Contacts:">+49 171 7654321</MobilePhoneNumber><Body xmlns="AirSyncBase:"><Type>1</Type><Data>met at the fair</Data></Body></ApplicationData></Add>`,
    );
    const event = await upload(
      calendar,
      `<Add><ClientId>${clientId(0)}</ClientId><ApplicationData><Timezone xmlns="Calendar:">${berlinTimeZone()}</Timezone><AllDayEvent xmlns="Calendar:">0</AllDayEvent><Body xmlns="AirSyncBase:"><Type>1</Type><Data>bring the slides</Data></Body><BusyStatus xmlns="Calendar:">2</BusyStatus><DtStamp xmlns="Calendar:">20300101T090000Z</DtStamp><EndTime xmlns="Calendar:">20300410T090000Z</EndTime><Location xmlns="Calendar:">Room 7</Location><Reminder xmlns="Calendar:">15</Reminder><Sensitivity xmlns="Calendar:">0</Sensitivity><Subject xmlns="Calendar:">Planning ${tag}</Subject><StartTime xmlns="Calendar:">20300410T080000Z</StartTime><UID xmlns="Calendar:">${tag}-tb-ev</UID><MeetingStatus xmlns="Calendar:">0</MeetingStatus></ApplicationData></Add>`,
    );
    const task = await upload(
      tasks,
      `<Add><ClientId>${clientId(0)}</ClientId><ApplicationData><Subject xmlns="Tasks:">Chores ${tag}</Subject><Importance xmlns="Tasks:">1</Importance><UtcDueDate xmlns="Tasks:">2030-04-12T16:00:00.000Z</UtcDueDate><DueDate xmlns="Tasks:">2030-04-12T18:00:00.000Z</DueDate><Complete xmlns="Tasks:">0</Complete><Sensitivity xmlns="Tasks:">0</Sensitivity><ReminderSet xmlns="Tasks:">0</ReminderSet></ApplicationData></Add>`,
    );
    const added = (r: typeof card) => {
      const response = r.responses.find((x) => x.name === 'Add');
      expect(findText(response, 'Status')).toBe('1');
      return findText(response, 'ServerId')!;
    };
    const [cardId, eventId, taskId] = [added(card), added(event), added(task)];

    const onDav = async (needle: string) => {
      const found = await davFind(stack.dav.url, bob, needle);
      expect(found, needle).toHaveLength(1);
      return found[0]!;
    };
    const vcard = await onDav(`N:${tag};Tilda`);
    expect(vcard.body).toMatch(/EMAIL[^\n]*:tilda@example\.com/);
    expect(vcard.body).toMatch(/TEL[^\n]*:\+49 171 7654321/);
    expect(vcard.body).toContain('met at the fair');
    const vevent = await onDav(`SUMMARY:Planning ${tag}`);
    expect(vevent.body).toContain(`UID:${tag}-tb-ev`);
    expect(vevent.body).toMatch(/LOCATION:Room 7/);
    // 08:00 UTC is 10:00 in Berlin summer time, written either way.
    expect(vevent.body).toMatch(/DTSTART(:20300410T080000Z|;TZID=[^:]+:20300410T100000)/);
    expect(vevent.body).toMatch(/TRIGGER[^\n]*:-PT15M/);
    const vtodo = await onDav(`SUMMARY:Chores ${tag}`);
    expect(vtodo.body).toMatch(/DUE[^\n]*:20300412T(160000Z|180000)/);

    // The next run brings none of them back (TbSync would show them twice).
    await syncRun();
    for (const [folder, id] of [
      [contacts, cardId],
      [calendar, eventId],
      [tasks, taskId],
    ] as const)
      expect(tb.collection(folder).items.has(id), id).toBe(true);

    // Thunderbird edits the contact (a Change carries the whole item) and completes the task.
    await upload(
      contacts,
      `<Change><ServerId>${cardId}</ServerId><ApplicationData><FileAs xmlns="Contacts:">${tag}, Tilda</FileAs><FirstName xmlns="Contacts:">Tilda</FirstName><LastName xmlns="Contacts:">${tag}</LastName><Email1Address xmlns="Contacts:">tilda@work.example</Email1Address><MobilePhoneNumber xmlns="Contacts:">+49 171 7654321</MobilePhoneNumber><CompanyName xmlns="Contacts:">Fair GmbH</CompanyName></ApplicationData></Change>`,
    );
    await upload(
      tasks,
      `<Change><ServerId>${taskId}</ServerId><ApplicationData><Subject xmlns="Tasks:">Chores ${tag}</Subject><Importance xmlns="Tasks:">1</Importance><Complete xmlns="Tasks:">1</Complete><DateCompleted xmlns="Tasks:">2030-04-11T10:00:00.000Z</DateCompleted><Sensitivity xmlns="Tasks:">0</Sensitivity><ReminderSet xmlns="Tasks:">0</ReminderSet></ApplicationData></Change>`,
    );
    const edited = await onDav(`N:${tag};Tilda`);
    expect(edited.body).toMatch(/EMAIL[^\n]*:tilda@work\.example/);
    expect(edited.body).not.toContain('tilda@example.com');
    expect(edited.body).toMatch(/ORG[^\n]*:Fair GmbH/);
    expect((await onDav(`SUMMARY:Chores ${tag}`)).body).toMatch(/STATUS:COMPLETED/);

    // Another client moves the event on Radicale; TbSync's next run (no Ping) brings the Change.
    const now = await onDav(`SUMMARY:Planning ${tag}`);
    await davPut(
      stack.dav.url,
      bob,
      now.href,
      now.body.replace('LOCATION:Room 7', 'LOCATION:Room 9'),
      now.etag,
    );
    await eventually('the Radicale edit in Thunderbird', async () => {
      await syncRun();
      return findText(tb.collection(calendar).items.get(eventId), 'Location') === 'Room 9';
    });

    // Deleted in Thunderbird: gone from Radicale, and no later run mentions it.
    const gone = await upload(calendar, `<Delete><ServerId>${eventId}</ServerId></Delete>`);
    expect(gone.status).toBe('1');
    expect(await davFind(stack.dav.url, bob, `SUMMARY:Planning ${tag}`)).toHaveLength(0);
    expect(tb.collection(calendar).items.has(eventId)).toBe(false);
    // The device throws on a Delete or Change of what it no longer holds.
    await syncRun();
  });

  it('a folder reset with `easd devices resync` comes back whole: TbSync meets Status 3, drops the folder and syncs it again', async () => {
    if (tb.policyKey === undefined) {
      await tb.provision();
      await syncRun();
    }
    const contacts = tb.folder(FolderType.Contacts);
    const before = [...tb.collection(contacts).items.keys()].sort();
    expect(before.length).toBeGreaterThan(0);
    const reset = await server.cli(['devices', 'resync', bob.user, tb.deviceId, contacts]);
    expect(reset, reset.stderr).toMatchObject({ code: 0 });
    await syncRun();
    // The same cards under the same ServerIds, each once (the device fails on a second Add).
    expect([...tb.collection(contacts).items.keys()].sort()).toEqual(before);
    // The next run goes on from the new key (other test files may add cards meanwhile: none of
    // these comes again, or the device fails).
    expect((await syncRun()).has(contacts)).toBe(true);
  });
});
