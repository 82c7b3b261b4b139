// Folder class + role → the FolderSync Type number (MS-ASCMD 2.2.3.186.3), and back for
// FolderCreate. Backends describe folders by class and role; only the engine speaks numbers.
import type { FolderRole } from './contract.js';
import type { ItemClass } from './model.js';

/** MS-ASCMD 2.2.3.186.3 folder types easd uses. */
export const FolderType = {
  UserGeneric: 1,
  Inbox: 2,
  Drafts: 3,
  DeletedItems: 4,
  SentItems: 5,
  Outbox: 6,
  DefaultTasks: 7,
  DefaultCalendar: 8,
  DefaultContacts: 9,
  DefaultNotes: 10,
  DefaultJournal: 11,
  UserMail: 12,
  UserCalendar: 13,
  UserContacts: 14,
  UserTasks: 15,
  UserJournal: 16,
  UserNotes: 17,
  Unknown: 18,
  RecipientInformationCache: 19,
} as const;

const defaultOf: Record<Exclude<ItemClass, 'Email'>, number> = {
  Calendar: FolderType.DefaultCalendar,
  Contacts: FolderType.DefaultContacts,
  Tasks: FolderType.DefaultTasks,
  Notes: FolderType.DefaultNotes,
};

const userOf: Record<ItemClass, number> = {
  Email: FolderType.UserMail,
  Calendar: FolderType.UserCalendar,
  Contacts: FolderType.UserContacts,
  Tasks: FolderType.UserTasks,
  Notes: FolderType.UserNotes,
};

/** The Type a folder is announced with. Junk has no type of its own, so it is a user mail folder. */
export function folderTypeFor(cls: ItemClass, role: FolderRole | null): number {
  if (cls === 'Email') {
    switch (role) {
      case 'inbox':
        return FolderType.Inbox;
      case 'drafts':
        return FolderType.Drafts;
      case 'deleted':
        return FolderType.DeletedItems;
      case 'sent':
        return FolderType.SentItems;
      case 'outbox':
        return FolderType.Outbox;
      default:
        return FolderType.UserMail;
    }
  }
  return role === 'default' ? defaultOf[cls] : userOf[cls];
}

/**
 * The class a client asks for in FolderCreate (which only creates user folders, types 1 and
 * 12–17). Type 1 (generic) is created as a mail folder, as Exchange does. Undefined for types
 * a client may not create.
 */
export function classForCreateType(type: number): ItemClass | undefined {
  switch (type) {
    case FolderType.UserGeneric:
    case FolderType.UserMail:
      return 'Email';
    case FolderType.UserCalendar:
      return 'Calendar';
    case FolderType.UserContacts:
      return 'Contacts';
    case FolderType.UserTasks:
      return 'Tasks';
    case FolderType.UserNotes:
      return 'Notes';
    default:
      return undefined;
  }
}
