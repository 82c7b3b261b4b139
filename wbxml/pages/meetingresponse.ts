// MS-ASWBXML 2.1.2.1.9 Code Page 8: MeetingResponse — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const meetingResponse = defineCodePage(8, 'MeetingResponse', {
  CalendarId: 0x05,
  CollectionId: 0x06,
  MeetingResponse: 0x07,
  RequestId: 0x08,
  Request: 0x09,
  Result: 0x0a,
  Status: 0x0b,
  UserResponse: 0x0c,
  InstanceId: 0x0e,
  // 16.1: a new time proposed with the answer (MS-ASCMD 2.2.3.140, 2.2.3.141)
  ProposedStartTime: 0x10,
  ProposedEndTime: 0x11,
  SendResponse: 0x12,
});
