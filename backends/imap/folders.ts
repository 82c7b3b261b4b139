// IMAP mailboxes → easd folders: roles from SPECIAL-USE (RFC 6154) or, where a server has none,
// from well-known names; hierarchy from the delimiter; ids as described in index.ts.
import { createHash } from 'node:crypto';
import type { ListResponse } from 'imapflow';
import type { Folder, FolderRole } from '../../src/backend/contract.js';

export interface MailboxInfo {
  id: string;
  path: string;
  /** The hierarchy delimiter, or '' for a flat namespace. */
  delimiter: string;
  uidValidity?: bigint;
  role: FolderRole | null;
  /** \Noselect: a container that holds no messages. */
  noSelect: boolean;
}

/** RFC 6154 attributes easd has a role for (\Archive, \All, \Flagged stay plain folders). */
const specialUseRoles: Readonly<Record<string, FolderRole>> = {
  '\\sent': 'sent',
  '\\drafts': 'drafts',
  '\\trash': 'deleted',
  '\\junk': 'junk',
};

/**
 * Names that give a role when no mailbox carries the SPECIAL-USE attribute for it (servers
 * without RFC 6154). Compared case-insensitively with top-level names and children of INBOX.
 */
export const roleNames: Readonly<Record<Exclude<FolderRole, 'inbox' | 'default'>, readonly string[]>> = {
  sent: ['Sent', 'Sent Items', 'Sent Messages', 'Sent Mail', 'Gesendet', 'Gesendete Elemente', 'Envoyés'],
  drafts: ['Drafts', 'Draft', 'Entwürfe', 'Brouillons'],
  deleted: ['Trash', 'Deleted Items', 'Deleted Messages', 'Deleted', 'Bin', 'Papierkorb', 'Corbeille'],
  junk: ['Junk', 'Spam', 'Junk E-mail', 'Junk Email', 'Junk Mail', 'Bulk Mail', 'Spamverdacht'],
  outbox: ['Outbox', 'Postausgang'],
};

const byName = new Map<string, FolderRole>(
  Object.entries(roleNames).flatMap(([role, names]) =>
    names.map((n): [string, FolderRole] => [n.toLowerCase(), role as FolderRole]),
  ),
);

const isInbox = (path: string): boolean => path.toUpperCase() === 'INBOX';

function depth(path: string, delimiter: string): number {
  return delimiter === '' ? 0 : path.split(delimiter).length - 1;
}

function parentPath(path: string, delimiter: string): string | null {
  if (delimiter === '') return null;
  const at = path.lastIndexOf(delimiter);
  return at <= 0 ? null : path.slice(0, at);
}

/** A path-derived id for mailboxes without a usable UIDVALIDITY: short, stable while the path is. */
export function pathId(path: string): string {
  return `p${createHash('sha256').update(path).digest('base64url').slice(0, 27)}`;
}

function roleOf(entry: ListResponse, taken: Set<FolderRole>): FolderRole | null {
  if (isInbox(entry.path)) return 'inbox';
  for (const flag of entry.flags) {
    const role = specialUseRoles[flag.toLowerCase()];
    if (role !== undefined && !taken.has(role)) return role;
  }
  return null;
}

function heuristicRole(entry: ListResponse, delimiter: string): FolderRole | undefined {
  const parent = parentPath(entry.path, delimiter);
  if (parent !== null && !isInbox(parent)) return undefined;
  return byName.get(entry.name.toLowerCase());
}

/**
 * Folders of one LIST (with STATUS UIDVALIDITY). Roles: INBOX, then SPECIAL-USE attributes, then
 * names for roles still free; each role goes to one folder at most. Ids: the role for a folder
 * with one, else `u<UIDVALIDITY>` (kept by RENAME, new after delete + create), else a hash of
 * the path (a \Noselect container, or a server that repeats UIDVALIDITY values).
 */
export function mailboxesFrom(list: readonly ListResponse[]): MailboxInfo[] {
  const entries = list.filter((e) => !hasFlag(e, '\\NonExistent'));
  const roles = new Map<ListResponse, FolderRole>();
  const taken = new Set<FolderRole>();
  for (const e of entries) {
    const role = roleOf(e, taken);
    if (role !== null) {
      roles.set(e, role);
      taken.add(role);
    }
  }
  for (const e of entries) {
    if (roles.has(e)) continue;
    const role = heuristicRole(e, e.delimiter ?? '');
    if (role !== undefined && !taken.has(role)) {
      roles.set(e, role);
      taken.add(role);
    }
  }
  const validityCount = new Map<string, number>();
  for (const e of entries) {
    const v = e.status?.uidValidity?.toString();
    if (v !== undefined) validityCount.set(v, (validityCount.get(v) ?? 0) + 1);
  }
  return entries.map((e) => {
    const role = roles.get(e) ?? null;
    const uidValidity = e.status?.uidValidity;
    const unique = uidValidity !== undefined && validityCount.get(uidValidity.toString()) === 1;
    const noSelect = hasFlag(e, '\\Noselect');
    const id = role !== null ? role : unique && !noSelect ? `u${uidValidity.toString()}` : pathId(e.path);
    return {
      id,
      path: e.path,
      delimiter: e.delimiter ?? '',
      ...(uidValidity !== undefined && { uidValidity }),
      role,
      noSelect,
    };
  });
}

function hasFlag(e: ListResponse, flag: string): boolean {
  const lower = flag.toLowerCase();
  for (const f of e.flags) if (f.toLowerCase() === lower) return true;
  return false;
}

export function displayNameOf(m: MailboxInfo): string {
  if (isInbox(m.path)) return 'Inbox';
  return m.delimiter === '' ? m.path : (m.path.split(m.delimiter).pop() ?? m.path);
}

/** easd folders for the mailboxes, parents before children. */
export function foldersFrom(boxes: readonly MailboxInfo[]): Folder[] {
  const byPath = new Map(boxes.map((b) => [b.path, b]));
  return [...boxes]
    .sort((a, b) => depth(a.path, a.delimiter) - depth(b.path, b.delimiter))
    .map((b) => {
      const parent = parentPath(b.path, b.delimiter);
      return {
        id: b.id,
        parentId: parent === null ? null : (byPath.get(parent)?.id ?? null),
        displayName: displayNameOf(b),
        class: 'Email' as const,
        role: b.role,
      };
    });
}

export function childPath(parent: MailboxInfo | null, name: string, delimiter: string): string {
  return parent === null ? name : `${parent.path}${parent.delimiter || delimiter}${name}`;
}

/** Every mailbox below `path`, deepest first (the order to delete them in). */
export function descendants(boxes: readonly MailboxInfo[], root: MailboxInfo): MailboxInfo[] {
  if (root.delimiter === '') return [];
  const prefix = root.path + root.delimiter;
  return boxes
    .filter((b) => b.path.startsWith(prefix))
    .sort((a, b) => depth(b.path, b.delimiter) - depth(a.path, a.delimiter));
}
