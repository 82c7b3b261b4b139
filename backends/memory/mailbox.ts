// One account's data in the memory backend: folders, items, a change log per folder, OOF
// settings, and the listeners `watch` registers. Everything is in memory; the owner persists
// the whole `AccountData` (debounced) after each change.
import type {
  ChangeBatch,
  ChangeHint,
  Folder,
  FolderRole,
  ItemChange,
  OofSettings,
} from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import type {
  CalendarItem,
  ContactItem,
  EmailFlag,
  ItemClass,
  NoteItem,
  TaskItem,
} from '../../src/backend/model.js';

export interface MailFlags {
  Read: boolean;
  Flag?: EmailFlag;
  Categories?: string[];
  LastVerbExecuted?: 0 | 1 | 2 | 3;
  LastVerbExecutionTime?: Date;
}

export interface StoredFile {
  name: string;
  contentType: string;
  content: Uint8Array;
  contentId?: string;
  inline?: boolean;
}

interface StoredBase {
  id: string;
  version: string;
  modified: Date;
}

export interface StoredEmail extends StoredBase {
  class: 'Email';
  received: Date;
  mime: Uint8Array;
  flags: MailFlags;
  draft: boolean;
}

export interface StoredOther extends StoredBase {
  class: Exclude<ItemClass, 'Email'>;
  item: CalendarItem | ContactItem | TaskItem | NoteItem;
  files: StoredFile[];
}

export type StoredItem = StoredEmail | StoredOther;

interface LogEntry {
  seq: number;
  kind: 'upsert' | 'delete';
  id: string;
  version?: string;
}

export interface AccountData {
  format: 1;
  /** Source of versions and change-log sequence numbers; only grows. */
  counter: number;
  /** Source of folder and item ids; only grows, so an id is never reused. */
  nextId: number;
  folders: Folder[];
  items: Record<string, Record<string, StoredItem>>;
  log: Record<string, { floor: number; entries: LogEntry[] }>;
  oof: OofSettings;
}

/** How many changes a folder's log keeps; older cursors get 'cursor-expired'. */
export const maxLogEntries = 2000;

const defaultFolders: Array<[string, ItemClass, FolderRole]> = [
  ['Inbox', 'Email', 'inbox'],
  ['Drafts', 'Email', 'drafts'],
  ['Deleted Items', 'Email', 'deleted'],
  ['Sent Items', 'Email', 'sent'],
  ['Outbox', 'Email', 'outbox'],
  ['Junk', 'Email', 'junk'],
  ['Calendar', 'Calendar', 'default'],
  ['Contacts', 'Contacts', 'default'],
  ['Tasks', 'Tasks', 'default'],
  ['Notes', 'Notes', 'default'],
];

export function newAccountData(): AccountData {
  const data: AccountData = {
    format: 1,
    counter: 0,
    nextId: 1,
    folders: [],
    items: {},
    log: {},
    oof: { OofState: 0, OofMessage: [] },
  };
  for (const [displayName, cls, role] of defaultFolders) {
    const id = String(data.nextId++);
    data.folders.push({ id, parentId: null, displayName, class: cls, role });
    data.items[id] = {};
    data.log[id] = { floor: 0, entries: [] };
  }
  return data;
}

type Listener = { folderIds: ReadonlySet<string>; onChange: (hint: ChangeHint) => void };

export class Mailbox {
  private readonly listeners = new Set<Listener>();
  /** item id → folder id, for FileReferences that name only the item. */
  private readonly where = new Map<string, string>();

  constructor(
    readonly data: AccountData,
    private readonly changed: () => void,
  ) {
    for (const [folderId, items] of Object.entries(data.items))
      for (const id of Object.keys(items)) this.where.set(id, folderId);
  }

  newId(): string {
    return String(this.data.nextId++);
  }

  nextVersion(): string {
    return String(++this.data.counter);
  }

  folder(id: string): Folder {
    const f = this.data.folders.find((x) => x.id === id);
    if (f === undefined) throw new BackendError('not-found', 'no such folder');
    return f;
  }

  byRole(role: FolderRole, cls: ItemClass = 'Email'): Folder {
    const f = this.data.folders.find((x) => x.role === role && x.class === cls);
    if (f === undefined) throw new BackendError('not-found', `no ${role} folder`);
    return f;
  }

  items(folderId: string): Record<string, StoredItem> {
    this.folder(folderId);
    return (this.data.items[folderId] ??= {});
  }

  item(folderId: string, id: string): StoredItem {
    const rec = this.items(folderId)[id];
    if (rec === undefined) throw new BackendError('not-found', 'no such item');
    return rec;
  }

  locate(id: string): StoredItem | undefined {
    const folderId = this.where.get(id);
    return folderId === undefined ? undefined : this.data.items[folderId]?.[id];
  }

  /** Stores an item (new or replaced), logs it and tells watchers. */
  put(folderId: string, rec: StoredItem): void {
    this.items(folderId)[rec.id] = rec;
    this.where.set(rec.id, folderId);
    this.record(folderId, { kind: 'upsert', id: rec.id, version: rec.version });
  }

  remove(folderId: string, id: string): StoredItem {
    const items = this.items(folderId);
    const rec = items[id];
    if (rec === undefined) throw new BackendError('not-found', 'no such item');
    delete items[id];
    this.where.delete(id);
    this.record(folderId, { kind: 'delete', id });
    return rec;
  }

  addFolder(folder: Folder): void {
    this.data.folders.push(folder);
    this.data.items[folder.id] = {};
    this.data.log[folder.id] = { floor: this.data.counter, entries: [] };
    this.hierarchyChanged();
  }

  dropFolder(id: string): void {
    for (const itemId of Object.keys(this.data.items[id] ?? {})) this.where.delete(itemId);
    this.data.folders = this.data.folders.filter((f) => f.id !== id);
    delete this.data.items[id];
    delete this.data.log[id];
  }

  /** For changes outside items and folders (OOF settings): persist, tell no one. */
  markChanged(): void {
    this.changed();
  }

  hierarchyChanged(): void {
    this.changed();
    for (const l of this.listeners) l.onChange({ hierarchy: true });
  }

  currentCursor(folderId: string): string {
    this.folder(folderId);
    return String(this.data.counter);
  }

  changesSince(folderId: string, cursor: string): ChangeBatch {
    this.folder(folderId);
    const log = this.data.log[folderId];
    const from = /^\d+$/.test(cursor) ? Number(cursor) : NaN;
    if (log === undefined || !Number.isSafeInteger(from) || from < log.floor || from > this.data.counter) {
      throw new BackendError('cursor-expired', 'cursor unknown or too old');
    }
    const last = new Map<string, ItemChange>();
    for (const e of log.entries) {
      if (e.seq <= from) continue;
      last.delete(e.id); // keep the order of each item's last change
      last.set(
        e.id,
        e.kind === 'upsert'
          ? { kind: 'upsert', id: e.id, version: e.version ?? '' }
          : { kind: 'delete', id: e.id },
      );
    }
    return { changes: [...last.values()], cursor: String(this.data.counter) };
  }

  watch(
    folderIds: readonly string[],
    onChange: (hint: ChangeHint) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve) => {
      const listener: Listener = { folderIds: new Set(folderIds), onChange };
      const stop = (): void => {
        this.listeners.delete(listener);
        resolve();
      };
      if (signal.aborted) return stop();
      this.listeners.add(listener);
      signal.addEventListener('abort', stop, { once: true });
    });
  }

  private record(
    folderId: string,
    change: { kind: 'upsert' | 'delete'; id: string; version?: string },
  ): void {
    const log = (this.data.log[folderId] ??= { floor: 0, entries: [] });
    // A change's sequence number is a fresh counter value; an upsert's version already is one.
    const seq = change.version !== undefined ? Number(change.version) : ++this.data.counter;
    log.entries.push({ seq, ...change });
    if (log.entries.length > maxLogEntries) {
      const dropped = log.entries.splice(0, log.entries.length - maxLogEntries);
      log.floor = dropped[dropped.length - 1]?.seq ?? log.floor;
    }
    this.changed();
    for (const l of this.listeners) {
      try {
        if (l.folderIds.has(folderId)) l.onChange({ folderId });
      } catch {
        // a watcher's failure is its own business and must not undo the write
      }
    }
  }
}
