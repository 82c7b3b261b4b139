import { describe, expect, test } from 'vitest';
import { el, toXml } from '../../../wbxml/index.js';
import type { EmailItem, MeetingRequest } from '../../../src/backend/model.js';
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

const meeting: MeetingRequest = {
  AllDayEvent: false,
  StartTime: d('2026-12-01T09:00:00.000Z'),
  DtStamp: d('2026-11-20T08:00:00.000Z'),
  EndTime: d('2026-12-01T10:00:00.000Z'),
  InstanceType: 1,
  Location: { DisplayName: 'Room 4', City: 'Lyon', Latitude: 45.764, Longitude: 4.8357 },
  Organizer: '"Ann Lee" <ann@example.com>',
  RecurrenceId: d('2026-12-01T09:00:00.000Z'),
  Reminder: 15,
  ResponseRequested: true,
  Recurrences: [
    {
      Type: 1,
      Interval: 1,
      Until: d('2027-03-01T09:00:00.000Z'),
      DayOfWeek: 2,
      CalendarType: 0,
      IsLeapMonth: false,
      FirstDayOfWeek: 1,
    },
  ],
  Sensitivity: 0,
  BusyStatus: 2,
  TimeZone: timeZoneBytes(),
  GlobalObjId: 'BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAQAAAAdkNhbC1VaWQBAAAAdWlkLTEA',
  DisallowNewTimeProposal: false,
  MeetingMessageType: 1,
  UID: 'uid-1@example.com',
};

/** Every EmailItem property, each with a value. */
const full: EmailItem = {
  To: '"Bob" <bob@example.com>',
  Cc: 'carol@example.com',
  From: '"Ann Lee" <ann@example.com>',
  ReplyTo: 'ann@example.com',
  Subject: 'Quarterly review',
  DateReceived: d('2026-11-22T03:04:05.000Z'),
  DisplayTo: 'Bob',
  ThreadTopic: 'Quarterly review',
  Importance: 2,
  Read: false,
  Flag: {
    Status: 2,
    FlagType: 'Follow up',
    CompleteTime: d('2026-11-23T10:00:00.000Z'),
    StartDate: d('2026-11-22T00:00:00.000Z'),
    UtcStartDate: d('2026-11-21T23:00:00.000Z'),
    DueDate: d('2026-11-25T00:00:00.000Z'),
    UtcDueDate: d('2026-11-24T23:00:00.000Z'),
    DateCompleted: d('2026-11-23T10:00:00.000Z'),
    ReminderSet: true,
    ReminderTime: d('2026-11-24T08:00:00.000Z'),
    OrdinalDate: d('2026-11-22T03:04:05.000Z'),
    SubOrdinalDate: '5555555',
  },
  MessageClass: 'IPM.Schedule.Meeting.Request',
  InternetCPID: '65001',
  ContentClass: 'urn:content-classes:calendarmessage',
  NativeBodyType: 2,
  ConversationId: new Uint8Array([0x3d, 0x8a, 0x11, 0x02, 0xff, 0x00, 0x7e]),
  ConversationIndex: new Uint8Array([0x01, 0xd8, 0x5a, 0x22, 0x33]),
  Categories: ['Work', 'Blue category'],
  Body: {
    Type: 2,
    EstimatedDataSize: 2048,
    Truncated: true,
    Data: '<p>Let us meet — café</p>',
    Preview: 'Let us meet',
  },
  Attachments: [
    {
      DisplayName: 'agenda.pdf',
      FileReference: 'att:1:2',
      Method: 1,
      EstimatedDataSize: 12345,
      ContentId: 'agenda@x',
      ContentLocation: 'agenda.pdf',
      IsInline: false,
      UmAttDuration: 30,
      UmAttOrder: 1,
      ContentType: 'application/pdf',
    },
  ],
  MeetingRequest: meeting,
  UmCallerID: '+33100000000',
  UmUserNotes: 'call back',
  ReceivedAsBcc: true,
  Sender: 'assistant@example.com',
  LastVerbExecuted: 1,
  LastVerbExecutionTime: d('2026-11-22T05:00:00.000Z'),
  CalendarType: 0,
  IsLeapMonth: false,
  AccountId: 'acct-2',
  FirstDayOfWeek: 1,
  IsDraft: false,
  Bcc: 'dave@example.com',
  MessageId: '<abc@example.com>',
  AttachmentsAdd: [{ ClientId: 'c1', DisplayName: 'x.txt', Method: 1, Content: new Uint8Array([1]) }],
  AttachmentsDelete: ['att:1:9'],
};

/** What a phone on version v receives of `full`, stated from the specs independently of the code. */
function expectedFor(v: ProtocolVersion): EmailItem {
  // Never elements: MessageId (not in MS-ASEMAIL), top-level CalendarType/IsLeapMonth/
  // FirstDayOfWeek (MeetingRequest Recurrence children), Add/Delete (client requests only).
  let e = without(
    full,
    'MessageId',
    'CalendarType',
    'IsLeapMonth',
    'FirstDayOfWeek',
    'AttachmentsAdd',
    'AttachmentsDelete',
  );
  e.Attachments = e.Attachments!.map((a) => without(a, 'ContentType'));
  const m: MeetingRequest = { ...meeting, Recurrences: meeting.Recurrences!.map((r) => ({ ...r })) };
  const r = m.Recurrences![0]!;
  if (!atLeast(v, '14.0')) {
    e = without(
      e,
      'UmCallerID',
      'UmUserNotes',
      'ConversationId',
      'ConversationIndex',
      'LastVerbExecuted',
      'LastVerbExecutionTime',
      'ReceivedAsBcc',
      'Sender',
      'Categories',
    );
    e.Body = without(e.Body!, 'Preview');
    e.Attachments = e.Attachments!.map((a) => without(a, 'UmAttDuration', 'UmAttOrder'));
    delete m.DisallowNewTimeProposal;
    delete r.CalendarType;
    delete r.IsLeapMonth;
  }
  if (!atLeast(v, '14.1')) {
    e = without(e, 'AccountId');
    delete m.MeetingMessageType;
    delete r.FirstDayOfWeek;
  }
  if (!atLeast(v, '16.0')) {
    e = without(e, 'IsDraft', 'Bcc');
    delete m.UID;
    m.Location = { DisplayName: meeting.Location!.DisplayName! };
  } else {
    delete m.GlobalObjId;
  }
  e.MeetingRequest = m;
  return e;
}

describe('Email codec', () => {
  test.each(versions)('every property round-trips through WBXML in %s', (v) => {
    const { parsed } = roundTrip({ class: 'Email', item: full }, v);
    expect(parsed.item).toEqual(expectedFor(v));
    expect(parsed.send).toBe(false);
  });

  // One line per element: [element, first version that has it, last version (if any)].
  // prettier-ignore
  const gated: [string, ProtocolVersion, ProtocolVersion?][] = [
    ['Email:Categories', '14.0'], ['Email2:ConversationId', '14.0'], ['Email2:ConversationIndex', '14.0'],
    ['Email2:UmCallerID', '14.0'], ['Email2:UmUserNotes', '14.0'], ['Email2:LastVerbExecuted', '14.0'],
    ['Email2:LastVerbExecutionTime', '14.0'], ['Email2:ReceivedAsBcc', '14.0'], ['Email2:Sender', '14.0'],
    ['Email2:UmAttDuration', '14.0'], ['Email2:UmAttOrder', '14.0'], ['AirSyncBase:Preview', '14.0'],
    ['Email:DisallowNewTimeProposal', '14.0'], ['Email2:CalendarType', '14.0'], ['Email2:IsLeapMonth', '14.0'],
    ['Email2:AccountId', '14.1'], ['Email2:MeetingMessageType', '14.1'], ['Email2:FirstDayOfWeek', '14.1'],
    ['Email2:IsDraft', '16.0'], ['Email2:Bcc', '16.0'], ['AirSyncBase:Location', '16.0'], ['Calendar:UID', '16.0'],
    ['Email:Location', '12.0', '14.1'], ['Email:GlobalObjId', '12.0', '14.1'],
  ];
  test.each(versions)('elements are written only in the versions that have them (%s)', (v) => {
    const tags = tagsOf(encodeItem({ class: 'Email', item: full }, { protocolVersion: v }));
    for (const [tag, since, until] of gated) {
      const expected = atLeast(v, since) && (until === undefined || atLeast(until, v));
      expect([tag, tags.has(tag)]).toEqual([tag, expected]);
    }
    // Never written: ContentType of an attachment, top-level email2 recurrence elements.
    expect(tags.has('AirSyncBase:ContentType')).toBe(false);
  });

  test.each(versions)(
    'Flag children are in the Tasks namespace except Status, FlagType, CompleteTime (%s)',
    (v) => {
      const flag = encodeItem({ class: 'Email', item: { Flag: full.Flag! } }, { protocolVersion: v })[0]!;
      const ns = Object.fromEntries(flag.children.map((c) => [c.name, c.ns]));
      expect(ns).toEqual({
        Status: 'Email',
        FlagType: 'Email',
        CompleteTime: 'Email',
        DateCompleted: 'Tasks',
        StartDate: 'Tasks',
        UtcStartDate: 'Tasks',
        DueDate: 'Tasks',
        UtcDueDate: 'Tasks',
        ReminderSet: 'Tasks',
        ReminderTime: 'Tasks',
        OrdinalDate: 'Tasks',
        SubOrdinalDate: 'Tasks',
      });
    },
  );

  test('MeetingRequest children follow the schema sequence, and dates use the long form', () => {
    for (const v of ['14.1', '16.1'] as const) {
      const mr = encodeItem(
        { class: 'Email', item: { MeetingRequest: meeting } },
        { protocolVersion: v },
      )[0]!;
      const names = mr.children.map((c) => `${c.ns}:${c.name}`);
      const order = [
        'Email:AllDayEvent',
        'Email:StartTime',
        'Email:DtStamp',
        'Email:EndTime',
        'Email:InstanceType',
        'Email:Location',
        'AirSyncBase:Location',
        'Email:Organizer',
        'Email:RecurrenceId',
        'Email:Reminder',
        'Email:ResponseRequested',
        'Email:Recurrences',
        'Email:Sensitivity',
        'Email:BusyStatus',
        'Email:TimeZone',
        'Email:GlobalObjId',
        'Email:DisallowNewTimeProposal',
        'Email2:MeetingMessageType',
        'Calendar:UID',
      ];
      expect(names).toEqual(order.filter((n) => names.includes(n)));
      expect(mr.children.find((c) => c.name === 'StartTime')!.value).toBe('2026-12-01T09:00:00.000Z');
      // Email.xsd types TimeZone as a string: base64 text, not OPAQUE.
      expect(typeof mr.children.find((c) => c.name === 'TimeZone')!.value).toBe('string');
    }
  });

  test('ConversationId and ConversationIndex are OPAQUE; DateReceived is the long dateTime form', () => {
    const out = encodeItem({ class: 'Email', item: full }, { protocolVersion: '14.1' });
    expect(out.find((c) => c.name === 'ConversationId')!.value).toBeInstanceOf(Uint8Array);
    expect(out.find((c) => c.name === 'ConversationIndex')!.value).toBeInstanceOf(Uint8Array);
    expect(out.find((c) => c.name === 'DateReceived')!.value).toBe('2026-11-22T03:04:05.000Z');
    expect(out.find((c) => c.name === 'Read')!.value).toBe('0');
  });

  test('golden: a plain message as in the MS-ASCMD Sync examples (14.1)', () => {
    const item: EmailItem = {
      To: '"Device User" <deviceuser@example.com>',
      From: '"Device User 2" <deviceuser2@example.com>',
      Subject: 'New mail',
      DateReceived: d('2026-11-22T03:04:05.000Z'),
      DisplayTo: 'Device User',
      ThreadTopic: 'New mail',
      Importance: 1,
      Read: false,
      Body: { Type: 1, EstimatedDataSize: 17, Truncated: false, Data: 'Hello from Alice.' },
      MessageClass: 'IPM.Note',
      InternetCPID: '28591',
      Flag: {},
      ContentClass: 'urn:content-classes:message',
      NativeBodyType: 1,
      ConversationId: new Uint8Array([0x2a, 0x4b]),
      ConversationIndex: new Uint8Array([0x01, 0x02, 0x03, 0x04, 0x05]),
      Categories: [],
    };
    const xml = toXml(
      el('AirSync', 'ApplicationData', encodeItem({ class: 'Email', item }, { protocolVersion: '14.1' })),
    );
    expect(xml).toBe(`<?xml version="1.0" encoding="utf-8"?>
<ApplicationData xmlns:wbxml="urn:easd:wbxml" xmlns="AirSync:">
  <To xmlns="Email:">"Device User" &lt;deviceuser@example.com&gt;</To>
  <From xmlns="Email:">"Device User 2" &lt;deviceuser2@example.com&gt;</From>
  <Subject xmlns="Email:">New mail</Subject>
  <DateReceived xmlns="Email:">2026-11-22T03:04:05.000Z</DateReceived>
  <DisplayTo xmlns="Email:">Device User</DisplayTo>
  <ThreadTopic xmlns="Email:">New mail</ThreadTopic>
  <Importance xmlns="Email:">1</Importance>
  <Read xmlns="Email:">0</Read>
  <Body xmlns="AirSyncBase:">
    <Type>1</Type>
    <EstimatedDataSize>17</EstimatedDataSize>
    <Truncated>0</Truncated>
    <Data>Hello from Alice.</Data>
  </Body>
  <MessageClass xmlns="Email:">IPM.Note</MessageClass>
  <InternetCPID xmlns="Email:">28591</InternetCPID>
  <Flag xmlns="Email:"/>
  <ContentClass xmlns="Email:">urn:content-classes:message</ContentClass>
  <NativeBodyType xmlns="AirSyncBase:">1</NativeBodyType>
  <ConversationId xmlns="Email2:" wbxml:base64="opaque">Kks=</ConversationId>
  <ConversationIndex xmlns="Email2:" wbxml:base64="opaque">AQIDBAU=</ConversationIndex>
  <Categories xmlns="Email:"/>
</ApplicationData>
`);
  });

  test('a MIME body (Type 4) round-trips as bytes, 8-bit content included', () => {
    const mime = new Uint8Array([...new TextEncoder().encode('Subject: x\r\n\r\n'), 0xe9, 0x0d, 0x0a]);
    for (const v of ['12.0', '16.1'] as const) {
      const { parsed } = roundTrip(
        { class: 'Email', item: { Body: { Type: 4, EstimatedDataSize: mime.length, Data: mime } } },
        v,
      );
      expect(parsed.item.Body).toEqual({ Type: 4, EstimatedDataSize: mime.length, Data: mime });
    }
  });

  test.each(versions)('the Sync response holding the item validates against the schemas (%s)', async (v) => {
    const item = v.startsWith('16') ? without(full, 'MessageId') : full;
    await validateEasResponse(
      syncResponseWith(encodeItem({ class: 'Email', item }, { protocolVersion: v })),
      'Sync',
    );
  });
});

describe('Email: what a client sends', () => {
  test('a 14.1 Change: Read, Flag and Categories only, and nothing else is removed', () => {
    const data = appData(
      el('Email', 'Read', '1'),
      el(
        'Email',
        'Flag',
        el('Email', 'Status', '1'),
        el('Email', 'CompleteTime', '2026-11-22T10:00:00.000Z'),
        el('Tasks', 'DateCompleted', '2026-11-22T10:00:00.000Z'),
      ),
      el('Email', 'Categories', el('Email', 'Category', 'Red')),
    );
    const parsed = parseItem('Email', data, { protocolVersion: '14.1' });
    expect(parsed.item).toEqual({
      Read: true,
      Flag: {
        Status: 1,
        CompleteTime: d('2026-11-22T10:00:00.000Z'),
        DateCompleted: d('2026-11-22T10:00:00.000Z'),
      },
      Categories: ['Red'],
    });
    expect([...parsed.present].sort()).toEqual(['Categories', 'Flag', 'Read']);
    expect(absentProperties('Email', parsed, { protocolVersion: '14.1' }).size).toBe(0);
  });

  test('an empty Flag clears the flag; tasks:Subject inside a Flag is accepted', () => {
    expect(parseItem('Email', appData(el('Email', 'Flag')), { protocolVersion: '14.0' }).item).toEqual({
      Flag: {},
    });
    const withSubject = appData(el('Email', 'Flag', el('Tasks', 'Subject', 'x'), el('Email', 'Status', '2')));
    expect(parseItem('Email', withSubject, { protocolVersion: '14.0' }).item).toEqual({
      Flag: { Status: 2 },
    });
  });

  test('a 16.1 draft: Body without size, attachments added and deleted, Send', () => {
    const data = appData(
      el('Email', 'To', 'bob@example.com'),
      el('Email2', 'Bcc', 'eve@example.com'),
      el('Email', 'Subject', 'Draft'),
      el('AirSyncBase', 'Body', el('AirSyncBase', 'Type', '1'), el('AirSyncBase', 'Data', 'Hé')),
      el(
        'AirSyncBase',
        'Attachments',
        el(
          'AirSyncBase',
          'Add',
          el('AirSyncBase', 'ClientId', 'c-1'),
          el('AirSyncBase', 'DisplayName', 'a.txt'),
          el('AirSyncBase', 'Method', '1'),
          el('AirSyncBase', 'ContentType', 'text/plain'),
          el('AirSyncBase', 'Content', new Uint8Array([104, 105])),
        ),
        el('AirSyncBase', 'Delete', el('AirSyncBase', 'FileReference', 'att:7')),
      ),
      el('Email2', 'IsDraft', '1'),
      el('Email2', 'Send'),
    );
    const parsed = parseItem('Email', data, { protocolVersion: '16.1' });
    expect(parsed.item).toEqual({
      To: 'bob@example.com',
      Bcc: 'eve@example.com',
      Subject: 'Draft',
      Body: { Type: 1, EstimatedDataSize: 3, Data: 'Hé' },
      AttachmentsAdd: [
        {
          ClientId: 'c-1',
          DisplayName: 'a.txt',
          Method: 1,
          ContentType: 'text/plain',
          Content: new Uint8Array([104, 105]),
        },
      ],
      AttachmentsDelete: ['att:7'],
      IsDraft: true,
    });
    expect(parsed.send).toBe(true);
    expect(parsed.present.has('AttachmentsAdd') && parsed.present.has('AttachmentsDelete')).toBe(true);
  });

  // One line per malformed ApplicationData and the error it must give.
  // prettier-ignore
  const malformed: [string, ReturnType<typeof appData>, RegExp][] = [
    ['bad boolean', appData(el('Email', 'Read', 'yes')), /Email:Read must be 0 or 1/],
    ['bad date', appData(el('Email', 'DateReceived', '2026-13-45T00:00:00.000Z')), /not a valid date/],
    ['not a date', appData(el('Email', 'DateReceived', 'yesterday')), /not a date/],
    ['unknown element', appData(el('Email', 'MIMEData', 'x')), /Unexpected Email:MIMEData/],
    ['element of another class', appData(el('Contacts', 'FirstName', 'x')), /Unexpected Contacts:FirstName/],
    ['repeated element', appData(el('Email', 'Read', '1'), el('Email', 'Read', '0')), /appears twice/],
    ['Importance out of range', appData(el('Email', 'Importance', '7')), /one of 0, 1, 2/],
    ['negative number', appData(el('Email', 'Importance', '-1')), /one of 0, 1, 2/],
    ['Flag Status not a number', appData(el('Email', 'Flag', el('Email', 'Status', 'x'))), /integer/],
    ['unknown element in Flag', appData(el('Email', 'Flag', el('Email', 'Read', '1'))), /Unexpected Email:Read in Email:Flag/],
    ['text where elements belong', appData(el('Email', 'Flag', 'x')), /must contain elements/],
    ['elements where text belongs', appData(el('Email', 'Subject', el('Email', 'To', 'x'))), /must carry text/],
    ['Body without Type', appData(el('AirSyncBase', 'Body', el('AirSyncBase', 'Data', 'x'))), /without Type/],
    ['Body Type 9', appData(el('AirSyncBase', 'Body', el('AirSyncBase', 'Type', '9'))), /one of 1, 2, 3, 4/],
    ['Attachment Add without Content', appData(el('AirSyncBase', 'Attachments', el('AirSyncBase', 'Add', el('AirSyncBase', 'ClientId', 'c'), el('AirSyncBase', 'DisplayName', 'a'), el('AirSyncBase', 'Method', '1')))), /without Content/],
    ['Attachment Content not base64', appData(el('AirSyncBase', 'Attachments', el('AirSyncBase', 'Add', el('AirSyncBase', 'ClientId', 'c'), el('AirSyncBase', 'DisplayName', 'a'), el('AirSyncBase', 'Method', '1'), el('AirSyncBase', 'Content', '%%')))), /not base64/],
    ['Delete without FileReference', appData(el('AirSyncBase', 'Attachments', el('AirSyncBase', 'Delete'))), /exactly one FileReference/],
    ['Send with content', appData(el('Email2', 'Send', '1')), /Send must be empty/],
    ['bad TimeZone', appData(el('Email', 'MeetingRequest', el('Email', 'TimeZone', 'AAAA'))), /172 bytes/],
    ['invalid UTF-8 as text', appData(el('Email', 'Subject', new Uint8Array([0xff, 0xfe]))), /not valid UTF-8/],
  ];
  test.each(malformed)('%s is a ProtocolError', (_name, data, message) => {
    expect(parseError('Email', data, '16.1').message).toMatch(message);
  });

  test('an empty scalar element asks to clear the property', () => {
    const parsed = parseItem('Email', appData(el('Email', 'Importance'), el('Email', 'Subject')), {
      protocolVersion: '16.0',
    });
    expect(parsed.item).toEqual({ Subject: '' });
    expect([...parsed.cleared]).toEqual(['Importance']);
    expect([...parsed.present].sort()).toEqual(['Importance', 'Subject']);
  });
});
