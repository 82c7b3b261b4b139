// MS-ASWBXML 2.1.2.1.13 Code Page 12: Contacts2 — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const contacts2 = defineCodePage(12, 'Contacts2', {
  CustomerId: 0x05,
  GovernmentId: 0x06,
  IMAddress: 0x07,
  IMAddress2: 0x08,
  IMAddress3: 0x09,
  ManagerName: 0x0a,
  CompanyMainPhone: 0x0b,
  AccountName: 0x0c,
  NickName: 0x0d,
  MMS: 0x0e,
});
