// MS-ASWBXML 2.1.2.1.9 Code Page 8: MeetingResponse — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const meetingResponse = defineCodePage(8, 'MeetingResponse', {
  CalendarId: 0x05,
  CollectionId: 0x06,
  MeetingResponse: 0x07,
  RequestId: 0x08,
  Request: 0x09,
  Result: 0x0A,
  Status: 0x0B,
  UserResponse: 0x0C,
  InstanceId: 0x0E,
  SendResponse: 0x12,
});
