// iCalendar VJOURNAL (RFC 5545 3.6.3) ↔ NoteItem (MS-ASNOTE). Pure, like the VEVENT and VTODO
// converters; a journal entry is what CalDAV servers and their clients (Evolution's memo lists,
// Radicale, Nextcloud) keep notes as.
//
//   SUMMARY ↔ Subject (MS-ASNOTE 2.2.2.6);  DESCRIPTION / X-ALT-DESC ↔ Body (2.2.2.1, MS-ASAIRS
//     Body; several DESCRIPTIONs, which RFC 5545 allows in a VJOURNAL, read as one text);
//   CATEGORIES ↔ Categories (2.2.2.2);  LAST-MODIFIED ↔ LastModifiedDate (2.2.2.4), DTSTAMP when
//     there is none (RFC 5545 3.8.7.2: without METHOD it is the last revision);
//   MessageClass (2.2.2.5) is IPM.StickyNote unless X-EASD-MESSAGECLASS says another
//     IPM.StickyNote.* class.
// Updates rewrite the stored object: what a note does not map (DTSTART, STATUS, ATTACH …) stays.
import { randomUUID } from 'node:crypto';
import ICAL from 'ical.js';
import type { BodyPreference, NoteItem } from '../backend/model.js';
import {
  IcalendarError,
  firstText,
  jcalUtc,
  newCalendar,
  parseCalendar,
  readBody,
  readCategories,
  setProps,
  setText,
  setXText,
  writeBody,
  writeCategories,
} from './icalendar-common.js';

export interface IcsToNoteOptions {
  /** The UID to read when the text holds several journals; default: the first one's. */
  uid?: string;
  bodyPreferences?: readonly BodyPreference[];
}

export interface NoteToIcsOptions {
  /** The stored object to update: what a note does not map is kept. */
  base?: string;
  prodId?: string;
  /** LAST-MODIFIED and DTSTAMP when the note carries no LastModifiedDate. */
  now?: Date;
  /** UID of a new object (default a random UUID); a stored one keeps its own. */
  uid?: string;
}

/** MS-ASNOTE 2.2.2.5: the class of every note a phone makes. */
export const STICKY_NOTE = 'IPM.StickyNote';
const PRODID = '-//easd//easd//EN';

function journalOf(cal: ICAL.Component, uid: string | undefined): ICAL.Component | undefined {
  const all = cal.getAllSubcomponents('vjournal');
  const want = uid ?? (all[0] ? firstText(all[0], 'uid') : undefined);
  const mine = all.filter((j) => firstText(j, 'uid') === want);
  return mine.find((j) => !j.hasProperty('recurrence-id')) ?? mine[0];
}

function readDate(comp: ICAL.Component, name: string): Date | undefined {
  const v = comp.getFirstPropertyValue(name);
  return v instanceof ICAL.Time ? v.toJSDate() : undefined;
}

/** The note of `uid` (default: the first VJOURNAL). Throws IcalendarError without one. */
export function icsToNote(text: string, options: IcsToNoteOptions = {}): NoteItem {
  const cal = parseCalendar(text);
  const journal = journalOf(cal, options.uid);
  if (journal === undefined)
    throw new IcalendarError(
      options.uid === undefined ? 'no VJOURNAL' : `no VJOURNAL with UID ${options.uid}`,
    );
  const item: NoteItem = {};
  const subject = firstText(journal, 'summary');
  if (subject !== undefined) item.Subject = subject;
  const descriptions = journal.getAllProperties('description');
  if (descriptions.length > 1) {
    // read on a copy: the stored object keeps its parts until the note is written back
    const copy = new ICAL.Component(structuredClone(journal.jCal));
    const joined = descriptions.map((p) => String(p.getFirstValue() ?? '')).join('\n\n');
    setText(copy, 'description', joined);
    const body = readBody(copy, options.bodyPreferences);
    if (body !== undefined) item.Body = body;
  } else {
    const body = readBody(journal, options.bodyPreferences);
    if (body !== undefined) item.Body = body;
  }
  item.MessageClass = firstText(journal, 'x-easd-messageclass') ?? STICKY_NOTE;
  const modified = readDate(journal, 'last-modified') ?? readDate(journal, 'dtstamp');
  if (modified !== undefined) item.LastModifiedDate = modified;
  item.Categories = readCategories(journal) ?? [];
  return item;
}

/**
 * The iCalendar object for a note: a new VCALENDAR, or `base` updated. The note is complete for
 * what it maps (a mapped property it lacks is removed); everything else in `base` is kept.
 */
export function noteToIcs(item: NoteItem, options: NoteToIcsOptions = {}): string {
  const cal =
    options.base !== undefined ? parseCalendar(options.base) : newCalendar(options.prodId ?? PRODID);
  let journal = journalOf(cal, undefined);
  if (journal === undefined) {
    journal = new ICAL.Component(['vjournal', [], []]);
    cal.addSubcomponent(journal);
  }
  setText(journal, 'uid', firstText(journal, 'uid') ?? options.uid ?? randomUUID());
  const modified = (item.LastModifiedDate ?? options.now ?? new Date()).getTime();
  setProps(journal, 'dtstamp', [['dtstamp', {}, 'date-time', jcalUtc(modified)]]);
  setProps(journal, 'last-modified', [['last-modified', {}, 'date-time', jcalUtc(modified)]]);
  setText(journal, 'summary', item.Subject);
  writeBody(journal, item.Body);
  writeCategories(journal, item.Categories);
  const cls = item.MessageClass;
  setXText(journal, 'x-easd-messageclass', cls === undefined || cls === STICKY_NOTE ? undefined : cls);
  return cal.toString().replace(/\r?\n/g, '\r\n') + '\r\n';
}
