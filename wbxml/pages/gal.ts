// MS-ASWBXML 2.1.2.1.17 Code Page 16: GAL — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const gal = defineCodePage(16, 'GAL', {
  DisplayName: 0x05,
  Phone: 0x06,
  Office: 0x07,
  Title: 0x08,
  Company: 0x09,
  Alias: 0x0a,
  FirstName: 0x0b,
  LastName: 0x0c,
  HomePhone: 0x0d,
  MobilePhone: 0x0e,
  EmailAddress: 0x0f,
  Picture: 0x10,
  Status: 0x11,
  Data: 0x12,
});
