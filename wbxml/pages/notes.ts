// MS-ASWBXML 2.1.2.1.24 Code Page 23: Notes — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const notes = defineCodePage(23, 'Notes', {
  Subject: 0x05,
  MessageClass: 0x06,
  LastModifiedDate: 0x07,
  Categories: 0x08,
  Category: 0x09,
});
