// MS-ASWBXML 2.1.2.1.8 Code Page 7: FolderHierarchy — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const folderHierarchy = defineCodePage(7, 'FolderHierarchy', {
  Folders: 0x05,
  Folder: 0x06,
  DisplayName: 0x07,
  ServerId: 0x08,
  ParentId: 0x09,
  Type: 0x0a,
  Status: 0x0c,
  Changes: 0x0e,
  Add: 0x0f,
  Delete: 0x10,
  Update: 0x11,
  SyncKey: 0x12,
  FolderCreate: 0x13,
  FolderDelete: 0x14,
  FolderUpdate: 0x15,
  FolderSync: 0x16,
  Count: 0x17,
});
