// Directories for the GAL (Search Store "GAL", ResolveRecipients, Find): a CardDAV address book
// shared by the organisation, or an LDAP directory. See docs/backends.md, "The global address list".
import type { Account, Backend, DirectoryEntry, Searcher } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import { CardDavGal } from './carddav-gal.js';
import { LdapGal } from './ldap-gal.js';

export { CardDavGal, type CardDavGalOptions } from './carddav-gal.js';
export { entryFromVcard } from './entry.js';
export { LdapGal, type LdapGalOptions } from './ldap-gal.js';
export { fold, indexEntry, lookup, matches } from './match.js';

export type DirectoryLookup = (
  account: Account,
  text: string,
  limit: number,
  signal: AbortSignal,
) => Promise<DirectoryEntry[]>;

/**
 * `backend` with `directory` as its search.directory (replacing any it had); everything else is
 * the backend's own. A backend without mailbox search gets one that answers 'unsupported', the
 * same answer the engine gives when no search exists.
 */
export function withDirectory(backend: Backend, directory: DirectoryLookup): Backend {
  const inner = backend.search;
  const search: Searcher = {
    mailbox:
      inner === undefined
        ? () => Promise.reject(new BackendError('unsupported', 'this store has no mailbox search'))
        : (account, query, signal) => inner.mailbox(account, query, signal),
    directory,
  };
  return new Proxy(backend, {
    get(target, key) {
      if (key === 'search') return search;
      const v: unknown = Reflect.get(target, key, target);
      // Methods run on the backend itself, so its private state is theirs.
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** What EASD_GAL_* say (src/config.ts Config['gal']). */
export interface GalSettings {
  url: string;
  user?: string;
  password?: string;
  refreshSeconds: number;
  /** LDAP only: where people are found. */
  baseDN?: string;
}

/**
 * The directory EASD_GAL_URL names: an LDAP server (ldap://, ldaps://; bound as the service
 * account or anonymously) or a CardDAV address book (read as the service account, or as each
 * user through `userPassword`). Undefined `userPassword` and no service account: a CardDAV book
 * cannot be read, and this throws.
 */
export function openGal(
  gal: GalSettings,
  userPassword?: (account: Account) => string | undefined,
): { lookup: DirectoryLookup; close: () => void } {
  const service =
    gal.user !== undefined && gal.password !== undefined
      ? { user: gal.user, password: gal.password }
      : undefined;
  if (/^ldaps?:/i.test(gal.url)) {
    const ldap = new LdapGal({
      url: gal.url,
      baseDN: gal.baseDN ?? '',
      ...(service !== undefined && { bind: { dn: service.user, password: service.password } }),
    });
    return {
      lookup: (a, text, limit, signal) => ldap.directory(a, text, limit, signal),
      close: () => undefined,
    };
  }
  // CardDavGal refuses to exist with neither a service account nor users' passwords.
  const book = new CardDavGal({
    url: gal.url,
    refreshMs: gal.refreshSeconds * 1000,
    ...(service !== undefined ? { service } : userPassword !== undefined ? { userPassword } : {}),
  });
  return {
    lookup: (a, text, limit, signal) => book.directory(a, text, limit, signal),
    close: () => book.close(),
  };
}
