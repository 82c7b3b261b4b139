// Calendar class (MS-ASCAL). Its dates are Compact DateTime strings (MS-ASCAL 2.2.2.42 StartTime,
// 2.2.2.18 DtStamp, 2.2.2.47 Until, 2.2.2.23 ExceptionStartTime, 2.2.2.2 AppointmentReplyTime),
// Timezone is base64 text (2.2.2.44). Versions: ResponseRequested, AppointmentReplyTime,
// ResponseType, DisallowNewTimeProposal and Recurrence CalendarType/IsLeapMonth from 14.0;
// OnlineMeeting links and FirstDayOfWeek from 14.1; in 16.x airsyncbase:Location replaces
// calendar:Location, an Exception is named by airsyncbase:InstanceId instead of
// ExceptionStartTime, and attachments, ClientUid (requests only) appear.
import type { Attendee, CalendarException, CalendarItem, Recurrence } from '../../backend/model.js';
import {
  attachmentsRow,
  body,
  boolean,
  categories,
  compactDateTime,
  enumeration,
  locationObject,
  locationString,
  record,
  recordList,
  rowsFor,
  text,
  timeZone,
  unsigned,
  type Kind,
  type Row,
} from './common.js';

const CAL = 'Calendar';
const ASB = 'AirSyncBase';

const sensitivity = enumeration([0, 1, 2, 3] as const);
const busyStatus = enumeration([0, 1, 2, 3, 4] as const);
const responseType = enumeration([0, 1, 2, 3, 4, 5] as const);
/** MS-ASCAL 2.2.2.29 MeetingStatus: the values Calendar.xsd lists. */
const meetingStatus = enumeration<number>([0, 1, 3, 5, 7, 9, 11, 13, 15]);

// MS-ASCAL 2.2.2.3 Attendee (xs:all). Name is required by the schema: an attendee known only by
// address gets an empty Name.
const attendeeField = rowsFor<Attendee>();
const attendeeRows: Row<Attendee>[] = [
  attendeeField('Email', CAL, 'Email', text),
  attendeeField('Name', CAL, 'Name', text),
  attendeeField('AttendeeStatus', CAL, 'AttendeeStatus', enumeration([0, 2, 3, 4, 5] as const)),
  attendeeField('AttendeeType', CAL, 'AttendeeType', enumeration([1, 2, 3] as const)),
  // Not written: MeetingResponse:ProposedStartTime/ProposedEndTime (16.1), absent from the
  // MeetingResponse code page of wbxml/.
];
const attendeeRecord = record(attendeeRows, { required: ['Email'] });
const attendee: Kind<Attendee> = {
  encode: (ns, tag, v, ctx) => attendeeRecord.encode(ns, tag, { ...v, Name: v.Name ?? '' }, ctx),
  parse: (e, ctx) => attendeeRecord.parse(e, ctx),
};
const attendees = recordList(CAL, 'Attendee', attendee);

// MS-ASCAL 2.2.2.37 Recurrence (xs:all), in the spec's order.
const recurrenceField = rowsFor<Recurrence>();
const recurrenceRows: Row<Recurrence>[] = [
  recurrenceField('Type', CAL, 'Type', enumeration([0, 1, 2, 3, 5, 6] as const)),
  recurrenceField('Occurrences', CAL, 'Occurrences', unsigned),
  recurrenceField('Interval', CAL, 'Interval', unsigned),
  recurrenceField('WeekOfMonth', CAL, 'WeekOfMonth', unsigned),
  recurrenceField('DayOfWeek', CAL, 'DayOfWeek', unsigned),
  recurrenceField('MonthOfYear', CAL, 'MonthOfYear', unsigned),
  recurrenceField('Until', CAL, 'Until', compactDateTime),
  recurrenceField('DayOfMonth', CAL, 'DayOfMonth', unsigned),
  recurrenceField('CalendarType', CAL, 'CalendarType', unsigned, { since: '14.0' }),
  recurrenceField('IsLeapMonth', CAL, 'IsLeapMonth', boolean, { since: '14.0' }),
  recurrenceField('FirstDayOfWeek', CAL, 'FirstDayOfWeek', unsigned, { since: '14.1' }),
];

// MS-ASCAL 2.2.2.21 Exception (xs:all).
const exceptionField = rowsFor<CalendarException>();
const exceptionRows: Row<CalendarException>[] = [
  exceptionField('Deleted', CAL, 'Deleted', boolean),
  exceptionField('ExceptionStartTime', CAL, 'ExceptionStartTime', compactDateTime, { until: '14.1' }),
  // MS-ASAIRS 2.2.2.25 InstanceId: the occurrence's original start, Compact DateTime (16.0+).
  exceptionField('ExceptionStartTime', ASB, 'InstanceId', compactDateTime, { since: '16.0' }),
  exceptionField('Subject', CAL, 'Subject', text),
  exceptionField('StartTime', CAL, 'StartTime', compactDateTime),
  exceptionField('EndTime', CAL, 'EndTime', compactDateTime),
  exceptionField('Body', ASB, 'Body', body),
  exceptionField('Location', CAL, 'Location', locationString, { until: '14.1' }),
  exceptionField('Location', ASB, 'Location', locationObject, { since: '16.0' }),
  exceptionField('Categories', CAL, 'Categories', categories),
  exceptionField('Sensitivity', CAL, 'Sensitivity', sensitivity),
  exceptionField('BusyStatus', CAL, 'BusyStatus', busyStatus),
  exceptionField('AllDayEvent', CAL, 'AllDayEvent', boolean),
  exceptionField('Reminder', CAL, 'Reminder', unsigned),
  exceptionField('DtStamp', CAL, 'DtStamp', compactDateTime),
  exceptionField('MeetingStatus', CAL, 'MeetingStatus', meetingStatus),
  exceptionField('Attendees', CAL, 'Attendees', attendees),
  exceptionField('AppointmentReplyTime', CAL, 'AppointmentReplyTime', compactDateTime, { since: '14.0' }),
  exceptionField('ResponseType', CAL, 'ResponseType', responseType, { since: '14.0' }),
  exceptionField('OnlineMeetingConfLink', CAL, 'OnlineMeetingConfLink', text, { since: '14.1' }),
  exceptionField('OnlineMeetingExternalLink', CAL, 'OnlineMeetingExternalLink', text, { since: '14.1' }),
];
const exception = record(exceptionRows, { required: ['ExceptionStartTime'] });

const field = rowsFor<CalendarItem>();
/**
 * In the order of MS-ASCAL 2.2.2 (ApplicationData is an xs:choice). Model properties with no
 * top-level element, never written: CalendarType, IsLeapMonth, FirstDayOfWeek (Recurrence
 * children in MS-ASCAL).
 */
export const calendarRows: Row<CalendarItem>[] = [
  field('TimeZone', CAL, 'Timezone', timeZone),
  field('AllDayEvent', CAL, 'AllDayEvent', boolean),
  field('Body', ASB, 'Body', body),
  field('BusyStatus', CAL, 'BusyStatus', busyStatus),
  field('OrganizerName', CAL, 'OrganizerName', text),
  field('OrganizerEmail', CAL, 'OrganizerEmail', text),
  field('DtStamp', CAL, 'DtStamp', compactDateTime),
  field('EndTime', CAL, 'EndTime', compactDateTime),
  // MS-ASCAL 2.2.2.27: calendar:Location up to 14.1; airsyncbase:Location in 16.x.
  field('Location', CAL, 'Location', locationString, { until: '14.1' }),
  field('Location', ASB, 'Location', locationObject, { since: '16.0' }),
  field('Reminder', CAL, 'Reminder', unsigned),
  field('Sensitivity', CAL, 'Sensitivity', sensitivity),
  field('Subject', CAL, 'Subject', text),
  field('StartTime', CAL, 'StartTime', compactDateTime),
  field('UID', CAL, 'UID', text),
  field('MeetingStatus', CAL, 'MeetingStatus', meetingStatus),
  field('Attendees', CAL, 'Attendees', attendees),
  field('Categories', CAL, 'Categories', categories),
  field('Recurrence', CAL, 'Recurrence', record(recurrenceRows, { required: ['Type'] })),
  field('Exceptions', CAL, 'Exceptions', recordList(CAL, 'Exception', exception)),
  field('ResponseRequested', CAL, 'ResponseRequested', boolean, { since: '14.0' }),
  field('AppointmentReplyTime', CAL, 'AppointmentReplyTime', compactDateTime, { since: '14.0' }),
  field('ResponseType', CAL, 'ResponseType', responseType, { since: '14.0' }),
  field('DisallowNewTimeProposal', CAL, 'DisallowNewTimeProposal', boolean, { since: '14.0' }),
  field('OnlineMeetingConfLink', CAL, 'OnlineMeetingConfLink', text, { since: '14.1' }),
  field('OnlineMeetingExternalLink', CAL, 'OnlineMeetingExternalLink', text, { since: '14.1' }),
  // MS-ASCAL 2.2.2.13: ClientUid is sent by clients only (16.0+).
  field('ClientUid', CAL, 'ClientUid', text, { since: '16.0', parseOnly: true }),
  attachmentsRow<CalendarItem>('16.0'),
];
