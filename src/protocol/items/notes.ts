// Notes class (MS-ASNOTE), 14.0+ only. LastModifiedDate is a Compact DateTime (MS-ASNOTE 2.2.2.4).
import type { NoteItem } from '../../backend/model.js';
import { body, categories, compactDateTime, rowsFor, text, type Row } from './common.js';

const N = 'Notes';
const field = rowsFor<NoteItem>();

export const noteRows: Row<NoteItem>[] = [
  field('Subject', N, 'Subject', text),
  field('Body', 'AirSyncBase', 'Body', body),
  field('MessageClass', N, 'MessageClass', text),
  field('LastModifiedDate', N, 'LastModifiedDate', compactDateTime),
  field('Categories', N, 'Categories', categories),
];
