// MS-ASWBXML 2.1.2.1.20 Code Page 19: DocumentLibrary — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const documentLibrary = defineCodePage(19, 'DocumentLibrary', {
  LinkId: 0x05,
  DisplayName: 0x06,
  IsFolder: 0x07,
  CreationDate: 0x08,
  LastModifiedDate: 0x09,
  IsHidden: 0x0a,
  ContentLength: 0x0b,
  ContentType: 0x0c,
});
