// MS-ASWBXML 2.1.2.1.6 Code Page 5: Move — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const move = defineCodePage(5, 'Move', {
  MoveItems: 0x05,
  Move: 0x06,
  SrcMsgId: 0x07,
  SrcFldId: 0x08,
  DstFldId: 0x09,
  Response: 0x0a,
  Status: 0x0b,
  DstMsgId: 0x0c,
});
