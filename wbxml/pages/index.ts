// All MS-ASWBXML 2.1.2.1 code pages for protocol 16.1, indexed by number and by namespace.
import type { CodePage } from './define.js';
import { airSync } from './airsync.js';
import { contacts } from './contacts.js';
import { email } from './email.js';
import { airNotify } from './airnotify.js';
import { calendar } from './calendar.js';
import { move } from './move.js';
import { getItemEstimate } from './getitemestimate.js';
import { folderHierarchy } from './folderhierarchy.js';
import { meetingResponse } from './meetingresponse.js';
import { tasks } from './tasks.js';
import { resolveRecipients } from './resolverecipients.js';
import { validateCert } from './validatecert.js';
import { contacts2 } from './contacts2.js';
import { ping } from './ping.js';
import { provision } from './provision.js';
import { search } from './search.js';
import { gal } from './gal.js';
import { airSyncBase } from './airsyncbase.js';
import { settings } from './settings.js';
import { documentLibrary } from './documentlibrary.js';
import { itemOperations } from './itemoperations.js';
import { composeMail } from './composemail.js';
import { email2 } from './email2.js';
import { notes } from './notes.js';
import { rightsManagement } from './rightsmanagement.js';
import { find } from './find.js';

export type { CodePage } from './define.js';

/** Code pages 0–25, `codePages[n].number === n`. */
export const codePages: readonly CodePage[] = [
  airSync,
  contacts,
  email,
  airNotify,
  calendar,
  move,
  getItemEstimate,
  folderHierarchy,
  meetingResponse,
  tasks,
  resolveRecipients,
  validateCert,
  contacts2,
  ping,
  provision,
  search,
  gal,
  airSyncBase,
  settings,
  documentLibrary,
  itemOperations,
  composeMail,
  email2,
  notes,
  rightsManagement,
  find,
];

const byNamespace = new Map<string, CodePage>(codePages.map((p) => [p.namespace, p]));

/** The code page of a namespace name ("AirSync", …), or undefined. */
export function codePageByNamespace(namespace: string): CodePage | undefined {
  return byNamespace.get(namespace);
}
