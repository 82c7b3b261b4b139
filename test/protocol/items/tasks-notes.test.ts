import { describe, expect, test } from 'vitest';
import { el, toXml } from '../../../wbxml/index.js';
import type { NoteItem, TaskItem } from '../../../src/backend/model.js';
import type { ProtocolVersion } from '../../../src/commands/types.js';
import {
  absentProperties,
  classSupported,
  encodeItem,
  parseItem,
} from '../../../src/protocol/items/index.js';
import { ProtocolError } from '../../../src/protocol/read.js';
import { validateEasResponse } from '../../support/schema.js';
import { appData, atLeast, parseError, roundTrip, syncResponseWith, versions, without } from './helpers.js';

const d = (s: string): Date => new Date(s);

const task: TaskItem = {
  Subject: 'File taxes',
  Body: { Type: 1, EstimatedDataSize: 12, Data: 'forms A, B…', Preview: 'forms' },
  Categories: ['Home'],
  Complete: false,
  DateCompleted: d('2026-04-10T12:00:00.000Z'),
  DueDate: d('2026-04-15T00:00:00.000Z'),
  UtcDueDate: d('2026-04-14T22:00:00.000Z'),
  Importance: 2,
  Recurrence: {
    Type: 5,
    Start: d('2026-04-01T00:00:00.000Z'),
    Until: d('2030-04-01T00:00:00.000Z'),
    Interval: 1,
    DayOfMonth: 15,
    MonthOfYear: 4,
    Regenerate: false,
    DeadOccur: false,
    CalendarType: 1,
    IsLeapMonth: false,
    FirstDayOfWeek: 1,
  },
  ReminderSet: true,
  ReminderTime: d('2026-04-14T08:00:00.000Z'),
  Sensitivity: 1,
  StartDate: d('2026-04-01T00:00:00.000Z'),
  UtcStartDate: d('2026-03-31T22:00:00.000Z'),
  OrdinalDate: d('2026-04-01T00:00:00.000Z'),
  SubOrdinalDate: '5555555',
};

function taskFor(v: ProtocolVersion): TaskItem {
  let r = { ...task.Recurrence! };
  let t = task;
  if (!atLeast(v, '14.0')) {
    r = without(r, 'CalendarType', 'IsLeapMonth');
    t = { ...t, Body: without(t.Body!, 'Preview') };
  }
  if (!atLeast(v, '14.1')) r = without(r, 'FirstDayOfWeek');
  return { ...t, Recurrence: r };
}

const note: NoteItem = {
  Subject: 'Groceries',
  Body: { Type: 1, EstimatedDataSize: 10, Data: 'eggs, milk', Preview: 'eggs' },
  MessageClass: 'IPM.StickyNote',
  LastModifiedDate: d('2026-11-22T03:04:05.000Z'),
  Categories: ['Yellow category'],
};

describe('Tasks codec', () => {
  test.each(versions)('every property round-trips through WBXML in %s', (v) => {
    expect(roundTrip({ class: 'Tasks', item: task }, v).parsed.item).toEqual(taskFor(v));
  });

  test('golden: a task as in the MS-ASTASK Sync example (14.1), dates in the long form', () => {
    const item: TaskItem = {
      Subject: 'Call Bob',
      Importance: 1,
      UtcStartDate: d('2026-11-22T00:00:00.000Z'),
      StartDate: d('2026-11-22T00:00:00.000Z'),
      UtcDueDate: d('2026-11-23T00:00:00.000Z'),
      DueDate: d('2026-11-23T00:00:00.000Z'),
      Complete: false,
      Sensitivity: 0,
      ReminderSet: false,
    };
    const xml = toXml(
      el('AirSync', 'ApplicationData', encodeItem({ class: 'Tasks', item }, { protocolVersion: '14.1' })),
    );
    expect(xml).toBe(`<?xml version="1.0" encoding="utf-8"?>
<ApplicationData xmlns="AirSync:">
  <Subject xmlns="Tasks:">Call Bob</Subject>
  <Importance xmlns="Tasks:">1</Importance>
  <UtcStartDate xmlns="Tasks:">2026-11-22T00:00:00.000Z</UtcStartDate>
  <StartDate xmlns="Tasks:">2026-11-22T00:00:00.000Z</StartDate>
  <UtcDueDate xmlns="Tasks:">2026-11-23T00:00:00.000Z</UtcDueDate>
  <DueDate xmlns="Tasks:">2026-11-23T00:00:00.000Z</DueDate>
  <Complete xmlns="Tasks:">0</Complete>
  <Sensitivity xmlns="Tasks:">0</Sensitivity>
  <ReminderSet xmlns="Tasks:">0</ReminderSet>
</ApplicationData>
`);
  });

  test.each(versions)('the Sync response holding the item validates against the schemas (%s)', async (v) => {
    await validateEasResponse(
      syncResponseWith(encodeItem({ class: 'Tasks', item: task }, { protocolVersion: v })),
      'Sync',
    );
  });

  test('a Change is the whole task: what it leaves out is removed, except the Body', () => {
    const parsed = parseItem('Tasks', appData(el('Tasks', 'Subject', 'x'), el('Tasks', 'Complete', '1')), {
      protocolVersion: '16.1',
    });
    const absent = absentProperties('Tasks', parsed, { protocolVersion: '16.1' });
    expect(absent.has('DueDate') && absent.has('Recurrence') && absent.has('Categories')).toBe(true);
    expect(absent.has('Subject') || absent.has('Body')).toBe(false);
  });

  // prettier-ignore
  const malformed: [string, ReturnType<typeof appData>, RegExp][] = [
    ['bad DueDate', appData(el('Tasks', 'DueDate', '2026-04-15T25:00:00.000Z')), /not a valid date/],
    ['bad Complete', appData(el('Tasks', 'Complete', 'true')), /must be 0 or 1/],
    ['Sensitivity 9', appData(el('Tasks', 'Sensitivity', '9')), /one of 0, 1, 2, 3/],
    ['a Notes element', appData(el('Notes', 'Subject', 'x')), /Unexpected Notes:Subject/],
  ];
  test.each(malformed)('%s is a ProtocolError', (_name, data, message) => {
    expect(parseError('Tasks', data, '14.1').message).toMatch(message);
  });
});

describe('Notes codec', () => {
  const noteVersions = versions.filter((v) => atLeast(v, '14.0'));

  test.each(noteVersions)('every property round-trips through WBXML in %s', (v) => {
    expect(roundTrip({ class: 'Notes', item: note }, v).parsed.item).toEqual(note);
  });

  test('MS-ASNOTE: no Notes class before 14.0', () => {
    expect(classSupported('Notes', '12.1')).toBe(false);
    expect(() => encodeItem({ class: 'Notes', item: note }, { protocolVersion: '12.1' })).toThrow(RangeError);
    expect(() =>
      parseItem('Notes', appData(el('Notes', 'Subject', 'x')), { protocolVersion: '12.0' }),
    ).toThrow(ProtocolError);
  });

  test('golden: LastModifiedDate is a Compact DateTime (MS-ASNOTE 2.2.2.4)', () => {
    const item: NoteItem = {
      Subject: 'Groceries',
      MessageClass: 'IPM.StickyNote',
      LastModifiedDate: d('2026-11-22T03:04:05.000Z'),
      Categories: [],
    };
    const xml = toXml(
      el('AirSync', 'ApplicationData', encodeItem({ class: 'Notes', item }, { protocolVersion: '14.0' })),
    );
    expect(xml).toBe(`<?xml version="1.0" encoding="utf-8"?>
<ApplicationData xmlns="AirSync:">
  <Subject xmlns="Notes:">Groceries</Subject>
  <MessageClass xmlns="Notes:">IPM.StickyNote</MessageClass>
  <LastModifiedDate xmlns="Notes:">20261122T030405Z</LastModifiedDate>
  <Categories xmlns="Notes:"/>
</ApplicationData>
`);
  });

  test.each(noteVersions)(
    'the Sync response holding the item validates against the schemas (%s)',
    async (v) => {
      await validateEasResponse(
        syncResponseWith(encodeItem({ class: 'Notes', item: note }, { protocolVersion: v })),
        'Sync',
      );
    },
  );

  test('malformed LastModifiedDate is a ProtocolError', () => {
    expect(() =>
      parseItem('Notes', appData(el('Notes', 'LastModifiedDate', '2026')), { protocolVersion: '16.1' }),
    ).toThrow(ProtocolError);
  });
});
