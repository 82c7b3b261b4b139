// MS-ASWBXML 2.1.2.1.22 Code Page 21: ComposeMail — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const composeMail = defineCodePage(21, 'ComposeMail', {
  SendMail: 0x05,
  SmartForward: 0x06,
  SmartReply: 0x07,
  SaveInSentItems: 0x08,
  ReplaceMime: 0x09,
  Source: 0x0b,
  FolderId: 0x0c,
  ItemId: 0x0d,
  LongId: 0x0e,
  InstanceId: 0x0f,
  Mime: 0x10,
  ClientId: 0x11,
  Status: 0x12,
  AccountId: 0x13,
  Forwardees: 0x15,
  Forwardee: 0x16,
  ForwardeeName: 0x17,
  ForwardeeEmail: 0x18,
});
