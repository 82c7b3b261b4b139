// MS-ASWBXML 2.1.2.1.23 Code Page 22: Email2 — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const email2 = defineCodePage(22, 'Email2', {
  UmCallerID: 0x05,
  UmUserNotes: 0x06,
  UmAttDuration: 0x07,
  UmAttOrder: 0x08,
  ConversationId: 0x09,
  ConversationIndex: 0x0a,
  LastVerbExecuted: 0x0b,
  LastVerbExecutionTime: 0x0c,
  ReceivedAsBcc: 0x0d,
  Sender: 0x0e,
  CalendarType: 0x0f,
  IsLeapMonth: 0x10,
  AccountId: 0x11,
  FirstDayOfWeek: 0x12,
  MeetingMessageType: 0x13,
  IsDraft: 0x15,
  Bcc: 0x16,
  Send: 0x17,
});
