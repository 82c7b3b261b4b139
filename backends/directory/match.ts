// Looking people up in a directory held in memory, the way Exchange's ambiguous name resolution
// answers a GAL Search (MS-ASCMD 2.2.3.139.2: the Query is text, matched by the server): by
// prefix, case- and accent-insensitively, over the display name, first and last name, alias and
// e-mail address. "smi" finds John Smith, "john sm" finds him too (each word a prefix of one of
// his words), "j.smith@" finds him by address; a domain alone ("example.com") finds no one, as
// every entry would match.
import type { DirectoryEntry } from '../../src/backend/contract.js';

/** Lower case, without accents (NFKD, combining marks dropped), blanks collapsed. */
export function fold(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** What a query is compared with, computed once per entry. */
export interface Indexed {
  entry: DirectoryEntry;
  /** Whole values a query may be the start of: display name, first/last name, alias, address. */
  fields: string[];
  /** Words of the names and of the address's local part. */
  words: string[];
}

const nameBreaks = /[\s,;()"]+/;
const localBreaks = /[._+-]+/;

export function indexEntry(entry: DirectoryEntry): Indexed {
  const names = [entry.DisplayName, entry.FirstName, entry.LastName, entry.Alias]
    .filter((v): v is string => v !== undefined && v !== '')
    .map(fold);
  const address = fold(entry.EmailAddress);
  const local = address.includes('@') ? address.slice(0, address.lastIndexOf('@')) : address;
  const words = new Set<string>();
  for (const n of names) for (const w of n.split(nameBreaks)) if (w !== '') words.add(w);
  for (const w of [local, ...local.split(localBreaks)]) if (w !== '') words.add(w);
  return { entry, fields: [...names, address].filter((f) => f !== ''), words: [...words] };
}

/** The words of a folded query, each to be the start of some word of an entry. */
export function queryParts(query: string): string[] {
  return query.split(/[\s,;]+/).filter((p) => p !== '');
}

/** Whether `query` (already folded, not empty; `parts` its queryParts) finds the entry. */
export function matches(x: Indexed, query: string, parts = queryParts(query)): boolean {
  if (x.fields.some((f) => f.startsWith(query))) return true;
  return parts.length > 0 && parts.every((p) => x.words.some((w) => w.startsWith(p)));
}

/** Display-name order, as an address list is shown (then address, so the order is total). */
export function byDisplayName(a: Indexed, b: Indexed): number {
  const an = a.fields[0] ?? '';
  const bn = b.fields[0] ?? '';
  return an < bn ? -1 : an > bn ? 1 : a.entry.EmailAddress < b.entry.EmailAddress ? -1 : 1;
}

/** The first `limit` entries of `sorted` that `text` finds; an empty query finds no one. */
export function lookup(sorted: readonly Indexed[], text: string, limit: number): DirectoryEntry[] {
  const query = fold(text);
  const out: DirectoryEntry[] = [];
  if (query === '' || limit <= 0) return out;
  const parts = queryParts(query);
  for (const x of sorted) {
    if (!matches(x, query, parts)) continue;
    out.push(x.entry);
    if (out.length >= limit) break;
  }
  return out;
}
