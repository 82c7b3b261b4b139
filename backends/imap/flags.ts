// IMAP flags and keywords ↔ the Email properties that live outside the message: Read, Flag,
// Categories, LastVerbExecuted, IsDraft. The mapping (documented in docs/backends.md):
//
//   \Seen                  Read
//   \Flagged               Flag { Status: 2 (active), FlagType: 'Follow up' }
//   $Completed             Flag { Status: 1 (complete) } — no registered IMAP keyword exists
//   \Answered / $Forwarded LastVerbExecuted 1 (reply) / 3 (forward)
//   \Draft                 IsDraft
//   $label1 … $label5      Categories Important, Work, Personal, To Do, Later (Thunderbird's tags)
//   any other keyword      a Category of that name, unless it starts with '$' or is a known
//                          system keyword (Junk, NonJunk, …)
//   $easd.<base64url>      a Category whose name is not an IMAP atom (spaces, non-ASCII)
//
// Flag dates (StartDate, DueDate, ReminderTime, CompleteTime) have no place in IMAP and are lost.
import { createHash } from 'node:crypto';
import type { EmailFlag, EmailItem } from '../../src/backend/model.js';

export const COMPLETED = '$Completed';
const FORWARDED = '$Forwarded';
const ENCODED = '$easd.';

const labels: ReadonlyArray<[string, string]> = [
  ['$label1', 'Important'],
  ['$label2', 'Work'],
  ['$label3', 'Personal'],
  ['$label4', 'To Do'],
  ['$label5', 'Later'],
];

/** Keywords some clients set that are not categories a user chose. */
const systemKeywords = new Set(['junk', 'nonjunk', 'notjunk', 'forwarded', 'redirected', 'phishing']);

// RFC 3501 atom: no (, ), {, space, controls, %, *, ", \, ]
const atom = /^[^(){ %*"\\\]\x00-\x1f\x7f-\uffff]+$/;

export function categoryOfKeyword(keyword: string): string | undefined {
  if (keyword.startsWith('\\')) return undefined;
  const lower = keyword.toLowerCase();
  const label = labels.find(([k]) => k === lower);
  if (label !== undefined) return label[1];
  if (keyword.startsWith(ENCODED)) {
    try {
      return Buffer.from(keyword.slice(ENCODED.length), 'base64url').toString('utf8');
    } catch {
      return undefined;
    }
  }
  if (keyword.startsWith('$') || systemKeywords.has(lower)) return undefined;
  return keyword;
}

export function keywordOfCategory(category: string): string {
  const label = labels.find(([, name]) => name.toLowerCase() === category.toLowerCase());
  if (label !== undefined) return label[0];
  if (atom.test(category) && !category.startsWith('$') && !systemKeywords.has(category.toLowerCase()))
    return category;
  return ENCODED + Buffer.from(category, 'utf8').toString('base64url');
}

const has = (flags: ReadonlySet<string>, flag: string): boolean => {
  const lower = flag.toLowerCase();
  for (const f of flags) if (f.toLowerCase() === lower) return true;
  return false;
};

/** The Email properties that come from flags. */
export function itemFlags(flags: ReadonlySet<string>): Partial<EmailItem> {
  const out: Partial<EmailItem> = { Read: has(flags, '\\Seen') };
  if (has(flags, '\\Flagged')) out.Flag = { Status: 2, FlagType: 'Follow up' };
  else if (has(flags, COMPLETED)) out.Flag = { Status: 1, FlagType: 'Follow up' };
  if (has(flags, FORWARDED)) out.LastVerbExecuted = 3;
  else if (has(flags, '\\Answered')) out.LastVerbExecuted = 1;
  if (has(flags, '\\Draft')) out.IsDraft = true;
  const categories = [...flags].flatMap((f) => {
    const c = categoryOfKeyword(f);
    return c === undefined ? [] : [c];
  });
  if (categories.length > 0) out.Categories = categories.sort();
  return out;
}

/** Flags for a new message: what the item says, plus \Seen/\Draft the folder implies. */
export function flagsForNew(item: EmailItem, opts: { draft: boolean; read: boolean }): string[] {
  const set = new Set<string>();
  if (item.Read ?? opts.read) set.add('\\Seen');
  if (opts.draft || item.IsDraft === true) set.add('\\Draft');
  applyFlag(set, item.Flag);
  for (const c of item.Categories ?? []) set.add(keywordOfCategory(c));
  applyVerb(set, item.LastVerbExecuted);
  return [...set];
}

function applyFlag(set: Set<string>, flag: EmailFlag | undefined): void {
  if (flag === undefined) return;
  deleteFlag(set, '\\Flagged');
  deleteFlag(set, COMPLETED);
  // An empty Flag clears it (MS-ASEMAIL 2.2.2.34); Status 0 is cleared too.
  if (flag.Status === 2) set.add('\\Flagged');
  else if (flag.Status === 1) set.add(COMPLETED);
  else if (flag.Status === undefined && Object.keys(flag).length > 0) set.add('\\Flagged');
}

function applyVerb(set: Set<string>, verb: EmailItem['LastVerbExecuted']): void {
  if (verb === 1 || verb === 2) set.add('\\Answered');
  if (verb === 3) set.add(FORWARDED);
}

function deleteFlag(set: Set<string>, flag: string): void {
  const lower = flag.toLowerCase();
  for (const f of [...set]) if (f.toLowerCase() === lower) set.delete(f);
}

/**
 * The flags after an Email patch (only the properties present change), or undefined when the
 * patch changes none of them. \Recent is never sent back (RFC 3501 2.3.2: it cannot be stored).
 */
export function patchFlags(current: ReadonlySet<string>, item: EmailItem): Set<string> | undefined {
  const next = new Set([...current].filter((f) => f.toLowerCase() !== '\\recent'));
  if (item.Read !== undefined) {
    if (item.Read) next.add('\\Seen');
    else deleteFlag(next, '\\Seen');
  }
  applyFlag(next, item.Flag);
  if (item.Categories !== undefined) {
    for (const f of [...next]) if (categoryOfKeyword(f) !== undefined) next.delete(f);
    for (const c of item.Categories) next.add(keywordOfCategory(c));
  }
  applyVerb(next, item.LastVerbExecuted);
  const same =
    next.size === current.size - (has(current, '\\Recent') ? 1 : 0) &&
    [...next].every((f) => has(current, f));
  return same ? undefined : next;
}

/** A version for servers without CONDSTORE: the flags, hashed (messages never change otherwise). */
export function flagsVersion(flags: ReadonlySet<string>): string {
  const sorted = [...flags]
    .filter((f) => f.toLowerCase() !== '\\recent')
    .map((f) => f.toLowerCase())
    .sort();
  return `f${createHash('sha256').update(sorted.join(' ')).digest('base64url').slice(0, 16)}`;
}
