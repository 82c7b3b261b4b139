// Directories for the GAL (Search Store "GAL", ResolveRecipients, Find): a CardDAV address book
// shared by the organisation. See docs/backends.md, "The global address list".
import type { Account, Backend, DirectoryEntry, Searcher } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';

export { CardDavGal, type CardDavGalOptions } from './carddav-gal.js';
export { entryFromVcard } from './entry.js';
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
