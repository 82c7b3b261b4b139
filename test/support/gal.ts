// A directory of fixed entries (with photos and certificates, which the memory backend's has not)
// for the Search, Find and ResolveRecipients command tests, through the same lookup as the
// CardDAV GAL.
import type { DirectoryEntry } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import type { EngineDeps } from '../../src/commands/deps.js';
import { indexEntry, lookup, withDirectory } from '../../backends/directory/index.js';
import { byDisplayName } from '../../backends/directory/match.js';

/** `deps` whose backend's directory holds `entries`; 'denied' makes every lookup refused. */
export function withFixedDirectory(deps: EngineDeps, entries: DirectoryEntry[] | 'denied'): EngineDeps {
  const sorted = entries === 'denied' ? [] : entries.map(indexEntry).sort(byDisplayName);
  const backend = withDirectory(deps.backend, (_account, text, limit) =>
    entries === 'denied'
      ? Promise.reject(new BackendError('denied', 'the address list cannot be read'))
      : Promise.resolve(lookup(sorted, text, limit)),
  );
  return { ...deps, backend };
}

/** A few bytes that start and end like a JPEG. */
export const testPhoto = (n: number): Uint8Array =>
  new Uint8Array([0xff, 0xd8, ...Array.from({ length: n }, (_, i) => i % 251), 0xff, 0xd9]);
