// MS-ASWBXML 2.1.2.1.14 Code Page 13: Ping — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const ping = defineCodePage(13, 'Ping', {
  Ping: 0x05,
  Status: 0x07,
  HeartbeatInterval: 0x08,
  Folders: 0x09,
  Folder: 0x0a,
  Id: 0x0b,
  Class: 0x0c,
  MaxFolders: 0x0d,
});
