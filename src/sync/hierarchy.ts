// The folder hierarchy as a device sees it: backend folders with short, stable ServerIds from the
// device's FolderIdMap and their FolderSync Type numbers; and the difference between two such
// lists, which is what a FolderSync response carries.
import type { Account, Backend } from '../backend/contract.js';
import { folderTypeFor, FolderType } from '../backend/folder-types.js';
import type { ItemClass } from '../backend/model.js';
import type { ProtocolVersion } from '../commands/types.js';
import { classSupported } from '../protocol/items/index.js';
import type { FolderSnapshot } from '../state/sync-state.js';
import type { FolderIdMap } from '../state/sync-state.js';

/**
 * The folders a device speaking `protocolVersion` is shown. MS-ASNOTE 1.7: a 12.x device gets no
 * Notes folders, which it could not sync (speaking 14.0 later, its next FolderSync adds them).
 */
export async function currentFolders(
  backend: Backend,
  account: Account,
  ids: FolderIdMap,
  protocolVersion: ProtocolVersion,
  signal: AbortSignal,
): Promise<FolderSnapshot[]> {
  const folders = await backend.listFolders(account, signal);
  return folders
    .filter((f) => classSupported(f.class, protocolVersion))
    .map((f) => ({
      ServerId: ids.assign(f.id),
      ParentId: f.parentId === null ? '0' : ids.assign(f.parentId),
      DisplayName: f.displayName,
      Type: folderTypeFor(f.class, f.role),
    }));
}

export interface HierarchyDiff {
  add: FolderSnapshot[];
  update: FolderSnapshot[];
  delete: string[];
}

export function diffFolders(
  known: readonly FolderSnapshot[],
  current: readonly FolderSnapshot[],
): HierarchyDiff {
  const before = new Map(known.map((f) => [f.ServerId, f]));
  const after = new Set(current.map((f) => f.ServerId));
  const diff: HierarchyDiff = { add: [], update: [], delete: [] };
  for (const f of current) {
    const old = before.get(f.ServerId);
    if (old === undefined) diff.add.push(f);
    else if (old.DisplayName !== f.DisplayName || old.ParentId !== f.ParentId || old.Type !== f.Type)
      diff.update.push(f);
  }
  for (const f of known) if (!after.has(f.ServerId)) diff.delete.push(f.ServerId);
  return diff;
}

export function diffIsEmpty(d: HierarchyDiff): boolean {
  return d.add.length === 0 && d.update.length === 0 && d.delete.length === 0;
}

/** The class of a collection from its FolderSync Type (MS-ASCMD 2.2.3.186.3). */
export function classOfType(type: number): ItemClass | undefined {
  switch (type) {
    case FolderType.UserGeneric:
    case FolderType.Inbox:
    case FolderType.Drafts:
    case FolderType.DeletedItems:
    case FolderType.SentItems:
    case FolderType.Outbox:
    case FolderType.UserMail:
      return 'Email';
    case FolderType.DefaultCalendar:
    case FolderType.UserCalendar:
      return 'Calendar';
    case FolderType.DefaultContacts:
    case FolderType.UserContacts:
      return 'Contacts';
    case FolderType.DefaultTasks:
    case FolderType.UserTasks:
      return 'Tasks';
    case FolderType.DefaultNotes:
    case FolderType.UserNotes:
      return 'Notes';
    default:
      return undefined;
  }
}
