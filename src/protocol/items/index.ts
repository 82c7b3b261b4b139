// The item codecs: the backend model ↔ the children of an ApplicationData element (Sync, and the
// Properties of ItemOperations/Search, which carry the same elements), per class and version.
// Pure: no I/O, no state. The engine decides what a client's Change means with absentProperties.
import type { WbxmlElement } from '../../../wbxml/tree.js';
import type { ItemByClass, ItemClass, TypedItem } from '../../backend/model.js';
import { versionAtLeast, type ProtocolVersion } from '../../commands/types.js';
import { ProtocolError } from '../read.js';
import { calendarRows } from './calendar.js';
import { encodeRows, inVersion, parseRows, rowProps, type ItemContext, type Row } from './common.js';
import { contactRows } from './contacts.js';
import { emailRows, parseEmail } from './email.js';
import { noteRows } from './notes.js';
import { taskRows } from './tasks.js';

export {
  applyBodyPreference,
  formatCompactDateTime,
  formatDateTime,
  parseDate,
  type ItemContext,
} from './common.js';

/** A model property name of class C. */
export type PropertyOf<C extends ItemClass> = keyof ItemByClass[C] & string;

export interface ParsedItem<C extends ItemClass> {
  /** The properties the client sent with a value (Body, AttachmentsAdd/AttachmentsDelete included). */
  item: ItemByClass[C];
  /** Every property whose element the client sent, with a value or empty. */
  present: Set<PropertyOf<C>>;
  /** Properties sent as an empty element: the client removes them (e.g. an empty Location, 16.x). */
  cleared: Set<PropertyOf<C>>;
  /** email2:Send (16.0+, Email only): send the draft once it is saved. */
  send: boolean;
}

const rowsOf: { [C in ItemClass]: readonly Row<ItemByClass[C]>[] } = {
  Email: emailRows,
  Calendar: calendarRows,
  Contacts: contactRows,
  Tasks: taskRows,
  Notes: noteRows,
};

/** MS-ASNOTE 1.7: the Notes class exists from 14.0; the other four in every version easd speaks. */
export function classSupported(cls: ItemClass, protocolVersion: ProtocolVersion): boolean {
  return cls !== 'Notes' || versionAtLeast(protocolVersion, '14.0');
}

/** The ApplicationData children for one item (server → client). */
export function encodeItem(typed: TypedItem, ctx: ItemContext): WbxmlElement[] {
  if (!classSupported(typed.class, ctx.protocolVersion)) {
    throw new RangeError(`${typed.class} items do not exist in protocol version ${ctx.protocolVersion}`);
  }
  // The switch narrows the item to its class, which one generic call could not.
  switch (typed.class) {
    case 'Email':
      return encodeRows(emailRows, typed.item, ctx);
    case 'Calendar':
      return encodeRows(calendarRows, typed.item, ctx);
    case 'Contacts':
      return encodeRows(contactRows, typed.item, ctx);
    case 'Tasks':
      return encodeRows(taskRows, typed.item, ctx);
    case 'Notes':
      return encodeRows(noteRows, typed.item, ctx);
  }
}

/**
 * Reads a client's ApplicationData (Sync Add or Change). Malformed content — an unknown element, a
 * repeated one, a bad date, boolean or number — raises ProtocolError.
 */
export function parseItem<C extends ItemClass>(
  cls: C,
  applicationData: WbxmlElement,
  ctx: ItemContext,
): ParsedItem<C> {
  if (!classSupported(cls, ctx.protocolVersion)) {
    throw new ProtocolError(`${cls} items do not exist in protocol version ${ctx.protocolVersion}`);
  }
  // Set<keyof X> is invariant in X, so the per-class results meet only as this loose shape. A
  // client may echo NativeBodyType, which only the Email model keeps.
  const rows = rowsOf[cls] as readonly Row<object>[];
  const parsed: { item: object; present: Set<string>; cleared: Set<string>; send: boolean } =
    cls === 'Email'
      ? parseEmail(applicationData, ctx)
      : { ...parseRows(rows, applicationData, ctx, ['AirSyncBase:NativeBodyType']), send: false };
  return {
    item: parsed.item as ItemByClass[C],
    present: parsed.present as Set<PropertyOf<C>>,
    cleared: parsed.cleared as Set<PropertyOf<C>>,
    send: parsed.send,
  };
}

// ---------------------------------------------------------------------------------------------
// What a Change leaves out

/**
 * Properties a client does not write back, so leaving them out of a Change never removes them:
 * server-computed ones (MS-ASCAL 2.2.2.2 AppointmentReplyTime, 2.2.2.40 ResponseType, 2.2.2.33/34
 * online meeting links "MUST NOT" be in requests; MS-ASCNTC Alias/WeightedRank come from the
 * recipient cache), attachments (16.x changes them only by Add/Delete), and Body, which a client
 * usually holds truncated and so only replaces when it sends one.
 */
const neverClearedByAbsence: { [C in ItemClass]: readonly PropertyOf<C>[] } = {
  Email: [],
  Calendar: [
    'Body',
    'AppointmentReplyTime',
    'ResponseType',
    'OnlineMeetingConfLink',
    'OnlineMeetingExternalLink',
    'Attachments',
    'AttachmentsAdd',
    'AttachmentsDelete',
    'ClientUid',
  ],
  Contacts: ['Body', 'Alias', 'WeightedRank'],
  Tasks: ['Body'],
  Notes: ['Body'],
};

/**
 * Calendar elements a client may ghost (Calendar.xsd GhostingProps), without Location, which
 * MS-ASCAL 2.2.2.27 says cannot be ghosted. Every Contacts/Contacts2 element can be ghosted.
 */
const ghostableCalendar: ReadonlySet<string> = new Set([
  'TimeZone',
  'AllDayEvent',
  'BusyStatus',
  'OrganizerName',
  'OrganizerEmail',
  'DtStamp',
  'EndTime',
  'Reminder',
  'Sensitivity',
  'Subject',
  'StartTime',
  'UID',
  'MeetingStatus',
  'Attendees',
  'Categories',
  'Recurrence',
  'Exceptions',
  'DisallowNewTimeProposal',
  'ResponseRequested',
]);

/**
 * The properties named by a Sync collection's Supported element (MS-ASCMD 2.2.3.179), the ones
 * the client handles in full. Elements this codec does not map are skipped.
 */
export function supportedProperties<C extends ItemClass>(
  cls: C,
  supported: WbxmlElement,
): Set<PropertyOf<C>> {
  const rows = rowsOf[cls] as readonly Row<ItemByClass[C]>[];
  const out = new Set<PropertyOf<C>>();
  for (const c of supported.children) {
    const row = rows.find((r) => r.ns === c.ns && r.tag === c.name);
    if (row !== undefined) for (const p of rowProps(row)) out.add(p);
  }
  return out;
}

export interface ChangeContext extends ItemContext {
  /** The collection's Supported element, as the client sent it with SyncKey 0. */
  supported?: WbxmlElement;
}

/**
 * The properties a Sync Change removes by leaving them out (the engine keeps every other absent
 * property as it is):
 * - Email: none. A Change carries only what changed: Read, Flag, Categories, and 16.x draft fields
 *   (MS-ASEMAIL 3.1.5.3).
 * - Calendar in 16.x: none; every absent top-level element is ghosted (MS-ASCAL 3.1.5.3).
 * - Contacts, and Calendar up to 14.1: a Change is the whole item, except the ghosted properties:
 *   with a Supported element, the ghostable properties it does not list (MS-ASCMD 2.2.3.179).
 * - Tasks and Notes: a Change is the whole item.
 * Properties the version has no element for, or that clients do not write, are never removed.
 */
export function absentProperties<C extends ItemClass>(
  cls: C,
  parsed: { present: ReadonlySet<string> },
  ctx: ChangeContext,
): Set<PropertyOf<C>> {
  const out = new Set<PropertyOf<C>>();
  if (cls === 'Email') return out;
  if (cls === 'Calendar' && versionAtLeast(ctx.protocolVersion, '16.0')) return out;
  const rows = rowsOf[cls] as readonly Row<ItemByClass[C]>[];
  const never = new Set<string>(neverClearedByAbsence[cls]);
  const supported = ctx.supported === undefined ? undefined : supportedProperties(cls, ctx.supported);
  for (const row of rows) {
    if (!inVersion(row, ctx.protocolVersion)) continue;
    for (const p of rowProps(row)) {
      if (parsed.present.has(p) || never.has(p)) continue;
      if (supported !== undefined) {
        const ghostable = cls === 'Contacts' || ghostableCalendar.has(p);
        if (ghostable && !supported.has(p)) continue;
      }
      out.add(p);
    }
  }
  return out;
}
