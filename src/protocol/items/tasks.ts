// Tasks class (MS-ASTASK). Every date is the long dateTime form (MS-ASTASK 2.2.2: xs:dateTime).
import type { Recurrence, TaskItem } from '../../backend/model.js';
import {
  body,
  boolean,
  categories,
  dateTime,
  enumeration,
  record,
  rowsFor,
  text,
  unsigned,
  type Row,
} from './common.js';

const T = 'Tasks';

// MS-ASTASK 2.2.2.18 Recurrence (xs:all); CalendarType and IsLeapMonth are 14.0+, FirstDayOfWeek
// 14.1+ (MS-ASTASK 2.2.2.4, 2.2.2.13, 2.2.2.11).
const recurrenceField = rowsFor<Recurrence>();
const recurrenceRows: Row<Recurrence>[] = [
  recurrenceField('Type', T, 'Type', enumeration([0, 1, 2, 3, 5, 6] as const)),
  recurrenceField('Start', T, 'Start', dateTime),
  recurrenceField('Until', T, 'Until', dateTime),
  recurrenceField('Occurrences', T, 'Occurrences', unsigned),
  recurrenceField('Interval', T, 'Interval', unsigned),
  recurrenceField('DayOfWeek', T, 'DayOfWeek', unsigned),
  recurrenceField('DayOfMonth', T, 'DayOfMonth', unsigned),
  recurrenceField('WeekOfMonth', T, 'WeekOfMonth', unsigned),
  recurrenceField('MonthOfYear', T, 'MonthOfYear', unsigned),
  recurrenceField('Regenerate', T, 'Regenerate', boolean),
  recurrenceField('DeadOccur', T, 'DeadOccur', boolean),
  recurrenceField('CalendarType', T, 'CalendarType', unsigned, { since: '14.0' }),
  recurrenceField('IsLeapMonth', T, 'IsLeapMonth', boolean, { since: '14.0' }),
  recurrenceField('FirstDayOfWeek', T, 'FirstDayOfWeek', unsigned, { since: '14.1' }),
];

const field = rowsFor<TaskItem>();
export const taskRows: Row<TaskItem>[] = [
  field('Subject', T, 'Subject', text),
  field('Body', 'AirSyncBase', 'Body', body),
  field('Importance', T, 'Importance', enumeration([0, 1, 2] as const)),
  field('UtcStartDate', T, 'UtcStartDate', dateTime),
  field('StartDate', T, 'StartDate', dateTime),
  field('UtcDueDate', T, 'UtcDueDate', dateTime),
  field('DueDate', T, 'DueDate', dateTime),
  field('Categories', T, 'Categories', categories),
  field('Recurrence', T, 'Recurrence', record(recurrenceRows, { required: ['Type'] })),
  field('Complete', T, 'Complete', boolean),
  field('DateCompleted', T, 'DateCompleted', dateTime),
  field('Sensitivity', T, 'Sensitivity', enumeration([0, 1, 2, 3] as const)),
  field('ReminderTime', T, 'ReminderTime', dateTime),
  field('ReminderSet', T, 'ReminderSet', boolean),
  field('OrdinalDate', T, 'OrdinalDate', dateTime),
  field('SubOrdinalDate', T, 'SubOrdinalDate', text),
];
