// Email class (MS-ASEMAIL, with the email2 namespace and the AirSyncBase parts of MS-ASAIRS).
// Versions: AirSyncBase Body/Attachments/NativeBodyType from 12.0; email:Categories and most
// email2 elements from 14.0; AccountId, MeetingMessageType and FirstDayOfWeek from 14.1; IsDraft,
// Bcc and attachment Add/Delete from 16.0. In a MeetingRequest, 16.x replaces email:Location by
// airsyncbase:Location and GlobalObjId by calendar:UID.
import type { WbxmlElement } from '../../../wbxml/tree.js';
import type { BodyPart, EmailFlag, EmailItem, MeetingRequest, Recurrence } from '../../backend/model.js';
import { ProtocolError } from '../read.js';
import {
  attachmentsRow,
  body,
  bodyType,
  boolean,
  categories,
  compactDateTime,
  dateTime,
  encodeRows,
  enumeration,
  isEmptyElement,
  locationObject,
  locationString,
  opaque,
  parseRows,
  record,
  recordList,
  rowsFor,
  text,
  timeZone,
  unsigned,
  type ItemContext,
  type Kind,
  type ParsedRows,
  type Row,
} from './common.js';

const E = 'Email';
const E2 = 'Email2';
const T = 'Tasks';
const ASB = 'AirSyncBase';

// MS-ASEMAIL 2.2.2.34 Flag (xs:all): Status, FlagType and CompleteTime are Email elements; the dates,
// reminder and ordinal elements are the Tasks namespace's (MS-ASTASK). tasks:Subject is legal
// inside Flag but the model has no property for it.
const flagField = rowsFor<EmailFlag>();
const flagRows: Row<EmailFlag>[] = [
  flagField('Status', E, 'Status', enumeration([0, 1, 2] as const)),
  flagField('FlagType', E, 'FlagType', text),
  flagField('DateCompleted', T, 'DateCompleted', dateTime),
  flagField('CompleteTime', E, 'CompleteTime', dateTime),
  flagField('StartDate', T, 'StartDate', dateTime),
  flagField('DueDate', T, 'DueDate', dateTime),
  flagField('UtcStartDate', T, 'UtcStartDate', dateTime),
  flagField('UtcDueDate', T, 'UtcDueDate', dateTime),
  flagField('ReminderSet', T, 'ReminderSet', boolean),
  flagField('ReminderTime', T, 'ReminderTime', dateTime),
  flagField('OrdinalDate', T, 'OrdinalDate', dateTime),
  flagField('SubOrdinalDate', T, 'SubOrdinalDate', text),
];
/** An empty Flag element clears the flag; it reads as `{}` (MS-ASEMAIL 3.1.4.3). */
const flag = record(flagRows, { ignore: ['Tasks:Subject'] });

// MS-ASEMAIL 2.2.2.60 Recurrence, in the schema's xs:sequence order.
const recurrenceField = rowsFor<Recurrence>();
export const recurrenceTypes = [0, 1, 2, 3, 5, 6] as const;
const recurrenceRows: Row<Recurrence>[] = [
  recurrenceField('Type', E, 'Type', enumeration(recurrenceTypes)),
  recurrenceField('Interval', E, 'Interval', unsigned),
  // xs:string in Email.xsd, unlike the dateTime siblings: the Compact DateTime of MS-ASCAL.
  recurrenceField('Until', E, 'Until', compactDateTime),
  recurrenceField('Occurrences', E, 'Occurrences', unsigned),
  recurrenceField('WeekOfMonth', E, 'WeekOfMonth', unsigned),
  recurrenceField('DayOfMonth', E, 'DayOfMonth', unsigned),
  recurrenceField('DayOfWeek', E, 'DayOfWeek', unsigned),
  recurrenceField('MonthOfYear', E, 'MonthOfYear', unsigned),
  recurrenceField('CalendarType', E2, 'CalendarType', unsigned, { since: '14.0' }),
  recurrenceField('IsLeapMonth', E2, 'IsLeapMonth', boolean, { since: '14.0' }),
  recurrenceField('FirstDayOfWeek', E2, 'FirstDayOfWeek', unsigned, { since: '14.1' }),
];
const recurrence = record(recurrenceRows, { required: ['Type'] });

// MS-ASEMAIL 2.2.2.48 MeetingRequest: an xs:sequence, written in its order. Its dates are the long
// dateTime form (MS-ASEMAIL 2.2.2.30 DtStamp, 2.2.2.73 StartTime …).
// Not written: MeetingResponse:ProposedStartTime/ProposedEndTime (16.1), which the MeetingResponse
// code page of wbxml/ does not define yet.
const meetingField = rowsFor<MeetingRequest>();
const meetingRows: Row<MeetingRequest>[] = [
  meetingField('AllDayEvent', E, 'AllDayEvent', boolean),
  meetingField('StartTime', E, 'StartTime', dateTime),
  meetingField('DtStamp', E, 'DtStamp', dateTime),
  meetingField('EndTime', E, 'EndTime', dateTime),
  meetingField('InstanceType', E, 'InstanceType', enumeration([0, 1, 2, 3, 4] as const)),
  // MS-ASEMAIL 2.2.2.46: email:Location up to 14.1, airsyncbase:Location in 16.x.
  meetingField('Location', E, 'Location', locationString, { until: '14.1' }),
  meetingField('Location', ASB, 'Location', locationObject, { since: '16.0' }),
  meetingField('Organizer', E, 'Organizer', text),
  meetingField('RecurrenceId', E, 'RecurrenceId', dateTime),
  meetingField('Reminder', E, 'Reminder', unsigned),
  meetingField('ResponseRequested', E, 'ResponseRequested', boolean),
  meetingField('Recurrences', E, 'Recurrences', recordList(E, 'Recurrence', recurrence)),
  meetingField('Sensitivity', E, 'Sensitivity', enumeration([0, 1, 2, 3] as const)),
  meetingField('BusyStatus', E, 'BusyStatus', enumeration([0, 1, 2, 3, 4] as const)),
  meetingField('TimeZone', E, 'TimeZone', timeZone),
  // MS-ASEMAIL 2.2.2.37: GlobalObjId up to 14.1; 16.x identifies the meeting by calendar:UID.
  meetingField('GlobalObjId', E, 'GlobalObjId', text, { until: '14.1' }),
  meetingField('DisallowNewTimeProposal', E, 'DisallowNewTimeProposal', boolean, { since: '14.0' }),
  meetingField('MeetingMessageType', E2, 'MeetingMessageType', unsigned, { since: '14.1' }),
  meetingField('UID', 'Calendar', 'UID', text, { since: '16.0' }),
];
const meetingRequest = record(meetingRows);

const field = rowsFor<EmailItem>();
/**
 * Email properties in the order Exchange writes them (ApplicationData is an xs:choice, so any
 * order is valid). Not spec elements, never written: MessageId. Not Email elements at top level:
 * CalendarType, IsLeapMonth, FirstDayOfWeek (they are children of MeetingRequest's Recurrence).
 */
const bodyPartField = rowsFor<BodyPart>();
// MS-ASAIRS 2.2.2.10: Status, Type, EstimatedDataSize, Truncated, Data, Preview (xs:sequence).
const bodyPart: Kind<BodyPart> = {
  ...record<BodyPart>([
    bodyPartField('Status', ASB, 'Status', enumeration([1, 176] as const)),
    bodyPartField('Type', ASB, 'Type', bodyType),
    bodyPartField('EstimatedDataSize', ASB, 'EstimatedDataSize', unsigned),
    bodyPartField('Truncated', ASB, 'Truncated', boolean),
    bodyPartField('Data', ASB, 'Data', text),
    bodyPartField('Preview', ASB, 'Preview', text),
  ]),
  // MS-ASAIRS 2.2.2.10: "Command requests MUST NOT include the BodyPart element."
  parse: () => {
    throw new ProtocolError('BodyPart is not allowed in a request');
  },
};

export const emailRows: Row<EmailItem>[] = [
  field('To', E, 'To', text),
  field('Cc', E, 'Cc', text),
  field('From', E, 'From', text),
  field('Subject', E, 'Subject', text),
  field('ReplyTo', E, 'ReplyTo', text),
  field('DateReceived', E, 'DateReceived', dateTime),
  field('DisplayTo', E, 'DisplayTo', text),
  field('ThreadTopic', E, 'ThreadTopic', text),
  field('Importance', E, 'Importance', enumeration([0, 1, 2] as const)),
  field('Read', E, 'Read', boolean),
  attachmentsRow<EmailItem>('12.0'),
  field('Body', ASB, 'Body', body),
  // MS-ASAIRS 2.2.2.10 BodyPart: 14.1+, server to client only
  field('BodyPart', ASB, 'BodyPart', bodyPart, { since: '14.1' }),
  field('MessageClass', E, 'MessageClass', text),
  field('MeetingRequest', E, 'MeetingRequest', meetingRequest),
  field('InternetCPID', E, 'InternetCPID', text),
  field('Flag', E, 'Flag', flag),
  field('ContentClass', E, 'ContentClass', text),
  field('NativeBodyType', ASB, 'NativeBodyType', bodyType),
  field('UmCallerID', E2, 'UmCallerID', text, { since: '14.0' }),
  field('UmUserNotes', E2, 'UmUserNotes', text, { since: '14.0' }),
  field('ConversationId', E2, 'ConversationId', opaque, { since: '14.0' }),
  field('ConversationIndex', E2, 'ConversationIndex', opaque, { since: '14.0' }),
  field('LastVerbExecuted', E2, 'LastVerbExecuted', enumeration([0, 1, 2, 3] as const), { since: '14.0' }),
  field('LastVerbExecutionTime', E2, 'LastVerbExecutionTime', dateTime, { since: '14.0' }),
  field('ReceivedAsBcc', E2, 'ReceivedAsBcc', boolean, { since: '14.0' }),
  field('Sender', E2, 'Sender', text, { since: '14.0' }),
  field('Categories', E, 'Categories', categories, { since: '14.0' }),
  field('AccountId', E2, 'AccountId', text, { since: '14.1' }),
  field('IsDraft', E2, 'IsDraft', boolean, { since: '16.0' }),
  field('Bcc', E2, 'Bcc', text, { since: '16.0' }),
];

export function encodeEmail(item: EmailItem, ctx: ItemContext): WbxmlElement[] {
  return encodeRows(emailRows, item, ctx);
}

export interface ParsedEmail extends ParsedRows<EmailItem> {
  /** email2:Send (16.0+): the client asks to send the draft it adds or changes. */
  send: boolean;
}

export function parseEmail(applicationData: WbxmlElement, ctx: ItemContext): ParsedEmail {
  const sendElements = applicationData.children.filter((c) => c.ns === E2 && c.name === 'Send');
  if (sendElements.length > 1) throw new ProtocolError('Email2:Send appears twice');
  if (sendElements.some((s) => !isEmptyElement(s))) throw new ProtocolError('Email2:Send must be empty');
  const parsed = parseRows(emailRows, applicationData, ctx, ['Email2:Send']);
  return { ...parsed, send: sendElements.length === 1 };
}
