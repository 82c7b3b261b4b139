// MS-ASWBXML 2.1.2.1.7 Code Page 6: GetItemEstimate — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const getItemEstimate = defineCodePage(6, 'GetItemEstimate', {
  GetItemEstimate: 0x05,
  Collections: 0x07,
  Collection: 0x08,
  Class: 0x09,
  CollectionId: 0x0a,
  Estimate: 0x0c,
  Response: 0x0d,
  Status: 0x0e,
});
