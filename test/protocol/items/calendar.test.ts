import { describe, expect, test } from 'vitest';
import { el, toXml } from '../../../wbxml/index.js';
import type { CalendarException, CalendarItem } from '../../../src/backend/model.js';
import type { ProtocolVersion } from '../../../src/commands/types.js';
import { absentProperties, encodeItem, parseItem } from '../../../src/protocol/items/index.js';
import { validateEasResponse } from '../../support/schema.js';
import {
  appData,
  parseError,
  atLeast,
  roundTrip,
  syncResponseWith,
  tagsOf,
  timeZoneBytes,
  versions,
  without,
} from './helpers.js';

const d = (s: string): Date => new Date(s);

const exception: CalendarException = {
  Deleted: false,
  ExceptionStartTime: d('2026-12-08T09:00:00.000Z'),
  Subject: 'Moved standup',
  StartTime: d('2026-12-08T10:00:00.000Z'),
  EndTime: d('2026-12-08T10:15:00.000Z'),
  Body: { Type: 1, EstimatedDataSize: 5, Data: 'moved', Preview: 'moved' },
  Location: { DisplayName: 'Room 2', Street: '1 Rue X', City: 'Lyon', PostalCode: '69001', Country: 'FR' },
  Categories: ['Team'],
  Sensitivity: 0,
  BusyStatus: 1,
  AllDayEvent: false,
  Reminder: 5,
  DtStamp: d('2026-12-01T08:00:00.000Z'),
  MeetingStatus: 3,
  Attendees: [{ Email: 'bob@example.com', Name: 'Bob', AttendeeStatus: 3, AttendeeType: 1 }],
  AppointmentReplyTime: d('2026-12-02T08:00:00.000Z'),
  ResponseType: 3,
  OnlineMeetingConfLink: 'sip:conf@example.com',
  OnlineMeetingExternalLink: 'https://meet.example.com/x',
};

/** Every CalendarItem property with a value. */
const full: CalendarItem = {
  TimeZone: timeZoneBytes(),
  AllDayEvent: false,
  Body: {
    Type: 2,
    EstimatedDataSize: 30,
    Truncated: false,
    Data: '<p>Daily standup</p>',
    Preview: 'Daily standup',
  },
  BusyStatus: 2,
  OrganizerName: 'Ann Lee',
  OrganizerEmail: 'ann@example.com',
  DtStamp: d('2026-11-22T03:04:05.000Z'),
  StartTime: d('2026-12-01T09:00:00.000Z'),
  EndTime: d('2026-12-01T09:15:00.000Z'),
  Location: {
    DisplayName: 'Room 4',
    Annotation: 'third floor',
    City: 'Lyon',
    Latitude: 45.764,
    Longitude: 4.8357,
    Accuracy: 10,
    Altitude: 170,
    AltitudeAccuracy: 5,
    LocationUri: 'geo:45.764,4.8357',
    State: 'ARA',
  },
  Reminder: 10,
  Sensitivity: 0,
  Subject: 'Standup',
  UID: '040000008200E00074C5B7101A82E008',
  MeetingStatus: 1,
  Attendees: [
    {
      Email: 'bob@example.com',
      Name: 'Bob',
      AttendeeStatus: 5,
      AttendeeType: 1,
      ProposedStartTime: d('2026-12-01T10:00:00.000Z'),
    },
    { Email: 'room4@example.com', Name: 'Room 4', AttendeeType: 3 },
  ],
  Categories: ['Team', 'Daily'],
  Recurrence: {
    Type: 1,
    Interval: 1,
    DayOfWeek: 62,
    Until: d('2027-06-30T09:00:00.000Z'),
    CalendarType: 0,
    IsLeapMonth: false,
    FirstDayOfWeek: 1,
  },
  Exceptions: [exception, { ExceptionStartTime: d('2026-12-09T09:00:00.000Z'), Deleted: true }],
  ResponseRequested: true,
  AppointmentReplyTime: d('2026-11-23T08:00:00.000Z'),
  ResponseType: 1,
  CalendarType: 0,
  IsLeapMonth: false,
  FirstDayOfWeek: 1,
  OnlineMeetingConfLink: 'sip:conf@example.com',
  OnlineMeetingExternalLink: 'https://meet.example.com/standup',
  DisallowNewTimeProposal: true,
  ClientUid: 'client-1',
  Attachments: [
    {
      DisplayName: 'notes.txt',
      FileReference: 'cal:1:1',
      Method: 1,
      EstimatedDataSize: 10,
      ContentType: 'text/plain',
    },
  ],
  AttachmentsAdd: [{ ClientId: 'c1', DisplayName: 'x.txt', Method: 1, Content: new Uint8Array([1]) }],
  AttachmentsDelete: ['cal:1:9'],
};

/** What a phone on version v receives of `full`, from the MS-ASCAL version tables. */
function expectedFor(v: ProtocolVersion): CalendarItem {
  // Never written: the top-level recurrence fields (Recurrence children in MS-ASCAL), ClientUid
  // (requests only), attachment Add/Delete (requests only), ProposedStart/EndTime (no WBXML tag yet).
  let e = without(
    full,
    'CalendarType',
    'IsLeapMonth',
    'FirstDayOfWeek',
    'ClientUid',
    'AttachmentsAdd',
    'AttachmentsDelete',
  );
  e.Attendees = e.Attendees!.map((a) => without(a, 'ProposedStartTime', 'ProposedEndTime'));
  e.Attachments = e.Attachments!.map((a) => without(a, 'ContentType'));
  let r = { ...e.Recurrence! };
  let ex = e.Exceptions!.map((x) => ({ ...x }));
  if (!atLeast(v, '14.0')) {
    e = without(e, 'ResponseRequested', 'AppointmentReplyTime', 'ResponseType', 'DisallowNewTimeProposal');
    e.Body = without(e.Body!, 'Preview');
    r = without(r, 'CalendarType', 'IsLeapMonth');
    ex = ex.map((x) => without(x, 'AppointmentReplyTime', 'ResponseType'));
    ex = ex.map((x) => (x.Body === undefined ? x : { ...x, Body: without(x.Body, 'Preview') }));
  }
  if (!atLeast(v, '14.1')) {
    e = without(e, 'OnlineMeetingConfLink', 'OnlineMeetingExternalLink');
    r = without(r, 'FirstDayOfWeek');
    ex = ex.map((x) => without(x, 'OnlineMeetingConfLink', 'OnlineMeetingExternalLink'));
  }
  if (!atLeast(v, '16.0')) {
    e = without(e, 'Attachments');
    e.Location = { DisplayName: full.Location!.DisplayName! };
    ex = ex.map((x) =>
      x.Location === undefined ? x : { ...x, Location: { DisplayName: x.Location.DisplayName! } },
    );
  }
  e.Recurrence = r;
  e.Exceptions = ex;
  return e;
}

describe('Calendar codec', () => {
  test.each(versions)('every property round-trips through WBXML in %s', (v) => {
    expect(roundTrip({ class: 'Calendar', item: full }, v).parsed.item).toEqual(expectedFor(v));
  });

  // prettier-ignore
  const gated: [string, ProtocolVersion, ProtocolVersion?][] = [
    ['Calendar:ResponseRequested', '14.0'], ['Calendar:AppointmentReplyTime', '14.0'], ['Calendar:ResponseType', '14.0'],
    ['Calendar:DisallowNewTimeProposal', '14.0'], ['Calendar:CalendarType', '14.0'], ['Calendar:IsLeapMonth', '14.0'],
    ['AirSyncBase:Preview', '14.0'], ['Calendar:OnlineMeetingConfLink', '14.1'], ['Calendar:OnlineMeetingExternalLink', '14.1'],
    ['Calendar:FirstDayOfWeek', '14.1'], ['AirSyncBase:Location', '16.0'], ['AirSyncBase:InstanceId', '16.0'],
    ['AirSyncBase:Attachments', '16.0'], ['Calendar:Location', '12.0', '14.1'], ['Calendar:ExceptionStartTime', '12.0', '14.1'],
  ];
  test.each(versions)('elements are written only in the versions that have them (%s)', (v) => {
    const tags = tagsOf(encodeItem({ class: 'Calendar', item: full }, { protocolVersion: v }));
    for (const [tag, since, until] of gated) {
      const expected = atLeast(v, since) && (until === undefined || atLeast(until, v));
      expect([tag, tags.has(tag)]).toEqual([tag, expected]);
    }
    expect(tags.has('Calendar:ClientUid')).toBe(false); // MS-ASCAL 2.2.2.13: requests only
    expect(tags.has('Calendar:UID')).toBe(true); // still in 16.x responses (MS-ASCAL 2.2.2.46)
  });

  test('dates are Compact DateTime, Timezone is base64 text', () => {
    const out = encodeItem({ class: 'Calendar', item: full }, { protocolVersion: '14.1' });
    const value = (name: string): unknown => out.find((c) => c.name === name)!.value;
    expect(value('StartTime')).toBe('20261201T090000Z');
    expect(value('DtStamp')).toBe('20261122T030405Z');
    expect(value('AppointmentReplyTime')).toBe('20261123T080000Z');
    expect(value('Timezone')).toBe(Buffer.from(timeZoneBytes()).toString('base64'));
    const recurrence = out.find((c) => c.name === 'Recurrence')!;
    expect(recurrence.children.find((c) => c.name === 'Until')!.value).toBe('20270630T090000Z');
  });

  test('golden: a single appointment with one attendee as in the MS-ASCAL examples (14.1)', () => {
    const item: CalendarItem = {
      TimeZone: timeZoneBytes(),
      DtStamp: d('2026-11-22T03:04:05.000Z'),
      StartTime: d('2026-11-23T09:00:00.000Z'),
      Subject: 'Lunch',
      UID: 'A3E9C1F0',
      OrganizerName: 'Device User',
      OrganizerEmail: 'deviceuser@example.com',
      Attendees: [
        { Email: 'deviceuser2@example.com', Name: 'Device User 2', AttendeeStatus: 0, AttendeeType: 1 },
      ],
      Location: { DisplayName: 'Cafeteria' },
      EndTime: d('2026-11-23T10:00:00.000Z'),
      Body: { Type: 1, EstimatedDataSize: 0 },
      Sensitivity: 0,
      BusyStatus: 2,
      AllDayEvent: false,
      Reminder: 15,
      MeetingStatus: 1,
    };
    const xml = toXml(
      el('AirSync', 'ApplicationData', encodeItem({ class: 'Calendar', item }, { protocolVersion: '14.1' })),
    );
    expect(xml).toBe(`<?xml version="1.0" encoding="utf-8"?>
<ApplicationData xmlns="AirSync:">
  <Timezone xmlns="Calendar:">xP///wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==</Timezone>
  <AllDayEvent xmlns="Calendar:">0</AllDayEvent>
  <Body xmlns="AirSyncBase:">
    <Type>1</Type>
    <EstimatedDataSize>0</EstimatedDataSize>
  </Body>
  <BusyStatus xmlns="Calendar:">2</BusyStatus>
  <OrganizerName xmlns="Calendar:">Device User</OrganizerName>
  <OrganizerEmail xmlns="Calendar:">deviceuser@example.com</OrganizerEmail>
  <DtStamp xmlns="Calendar:">20261122T030405Z</DtStamp>
  <EndTime xmlns="Calendar:">20261123T100000Z</EndTime>
  <Location xmlns="Calendar:">Cafeteria</Location>
  <Reminder xmlns="Calendar:">15</Reminder>
  <Sensitivity xmlns="Calendar:">0</Sensitivity>
  <Subject xmlns="Calendar:">Lunch</Subject>
  <StartTime xmlns="Calendar:">20261123T090000Z</StartTime>
  <UID xmlns="Calendar:">A3E9C1F0</UID>
  <MeetingStatus xmlns="Calendar:">1</MeetingStatus>
  <Attendees xmlns="Calendar:">
    <Attendee>
      <Email>deviceuser2@example.com</Email>
      <Name>Device User 2</Name>
      <AttendeeStatus>0</AttendeeStatus>
      <AttendeeType>1</AttendeeType>
    </Attendee>
  </Attendees>
</ApplicationData>
`);
  });

  test('an attendee without a name gets the empty Name the schema requires', () => {
    const out = encodeItem(
      { class: 'Calendar', item: { Attendees: [{ Email: 'x@example.com' }] } },
      { protocolVersion: '16.1' },
    );
    expect(out[0]!.children[0]!.children.map((c) => [c.name, c.value])).toEqual([
      ['Email', 'x@example.com'],
      ['Name', ''],
    ]);
  });

  test.each(versions)('the Sync response holding the item validates against the schemas (%s)', async (v) => {
    await validateEasResponse(
      syncResponseWith(encodeItem({ class: 'Calendar', item: full }, { protocolVersion: v })),
      'Sync',
    );
  });
});

describe('Calendar: what a client sends', () => {
  test('a 14.x string Location and a 16.x Location object both read as Location', () => {
    const s = parseItem('Calendar', appData(el('Calendar', 'Location', 'Room 1')), {
      protocolVersion: '14.1',
    });
    expect(s.item).toEqual({ Location: { DisplayName: 'Room 1' } });
    const o = parseItem(
      'Calendar',
      appData(
        el(
          'AirSyncBase',
          'Location',
          el('AirSyncBase', 'DisplayName', 'Room 1'),
          el('AirSyncBase', 'Latitude', '1.5'),
        ),
      ),
      { protocolVersion: '16.1' },
    );
    expect(o.item).toEqual({ Location: { DisplayName: 'Room 1', Latitude: 1.5 } });
    // MS-ASAIRS 2.2.2.28: an empty Location removes the location.
    expect(
      parseItem('Calendar', appData(el('AirSyncBase', 'Location')), { protocolVersion: '16.1' }).item,
    ).toEqual({ Location: {} });
  });

  test('a 16.x Add with ClientUid; every absent element is ghosted in 16.x', () => {
    const data = appData(
      el('Calendar', 'Subject', 'New'),
      el('Calendar', 'StartTime', '20261201T090000Z'),
      el('Calendar', 'ClientUid', 'abc'),
    );
    const parsed = parseItem('Calendar', data, { protocolVersion: '16.0' });
    expect(parsed.item).toEqual({
      Subject: 'New',
      StartTime: d('2026-12-01T09:00:00.000Z'),
      ClientUid: 'abc',
    });
    expect(absentProperties('Calendar', parsed, { protocolVersion: '16.0' }).size).toBe(0);
  });

  test('a 14.1 Change is the whole item except what Supported leaves ghosted', () => {
    const data = appData(
      el('Calendar', 'Subject', 'Changed'),
      el('Calendar', 'StartTime', '20261201T090000Z'),
      el('Calendar', 'EndTime', '20261201T100000Z'),
    );
    const parsed = parseItem('Calendar', data, { protocolVersion: '14.1' });
    const noSupported = absentProperties('Calendar', parsed, { protocolVersion: '14.1' });
    expect(noSupported.has('Location')).toBe(true);
    expect(noSupported.has('Attendees')).toBe(true);
    expect(noSupported.has('Subject')).toBe(false);
    // Server-side or request-less properties are never removed by absence.
    for (const p of [
      'Body',
      'AppointmentReplyTime',
      'ResponseType',
      'OnlineMeetingConfLink',
      'Attachments',
    ] as const) {
      expect([p, noSupported.has(p)]).toEqual([p, false]);
    }
    const supported = el('AirSync', 'Supported', el('Calendar', 'Categories'), el('Calendar', 'Reminder'));
    const withSupported = absentProperties('Calendar', parsed, { protocolVersion: '14.1', supported });
    expect(withSupported.has('Categories')).toBe(true); // the client handles it: absent means none
    expect(withSupported.has('Reminder')).toBe(true);
    expect(withSupported.has('Attendees')).toBe(false); // ghosted: the client never had it
    expect(withSupported.has('Location')).toBe(true); // MS-ASCAL 2.2.2.27: cannot be ghosted
    // 12.x has no ResponseRequested element, so a 12.x Change never removes it.
    expect(absentProperties('Calendar', parsed, { protocolVersion: '12.1' }).has('ResponseRequested')).toBe(
      false,
    );
  });

  // prettier-ignore
  const malformed: [string, ReturnType<typeof appData>, RegExp][] = [
    ['bad compact date', appData(el('Calendar', 'StartTime', '20261301T090000Z')), /not a valid date/],
    ['bad boolean', appData(el('Calendar', 'AllDayEvent', '2')), /must be 0 or 1/],
    ['Timezone not base64', appData(el('Calendar', 'Timezone', '***')), /not base64/],
    ['Timezone too short', appData(el('Calendar', 'Timezone', 'AAAA')), /172 bytes/],
    ['attendee without Email', appData(el('Calendar', 'Attendees', el('Calendar', 'Attendee', el('Calendar', 'Name', 'x')))), /without Email/],
    ['stray element in Attendees', appData(el('Calendar', 'Attendees', el('Calendar', 'Name', 'x'))), /Unexpected Calendar:Name in Calendar:Attendees/],
    ['exception without its start', appData(el('Calendar', 'Exceptions', el('Calendar', 'Exception', el('Calendar', 'Subject', 'x')))), /without ExceptionStartTime/],
    ['recurrence without Type', appData(el('Calendar', 'Recurrence', el('Calendar', 'Interval', '1'))), /without Type/],
    ['recurrence Type 4', appData(el('Calendar', 'Recurrence', el('Calendar', 'Type', '4'))), /one of 0, 1, 2, 3, 5, 6/],
    ['MeetingStatus 2', appData(el('Calendar', 'MeetingStatus', '2')), /one of 0, 1, 3/],
    ['Latitude not a number', appData(el('AirSyncBase', 'Location', el('AirSyncBase', 'Latitude', 'north'))), /must be a number/],
    ['an Email element', appData(el('Email', 'Subject', 'x')), /Unexpected Email:Subject/],
  ];
  test.each(malformed)('%s is a ProtocolError', (_name, data, message) => {
    expect(parseError('Calendar', data, '16.1').message).toMatch(message);
  });
});
