// The generic differ (after Z-Push's idea): a backend need only list item stamps (id + version);
// comparing them with what the device was last sent yields the changes to send. Backends with a
// cheaper change log (IMAP CONDSTORE, DAV sync-collection) feed the same Change type directly.

export interface Stamp {
  id: string;
  version: string;
}

export type Change =
  | { kind: 'add'; id: string; version: string }
  | { kind: 'change'; id: string; version: string }
  | { kind: 'delete'; id: string };

/**
 * Changes that take a device from `known` (id → version it holds) to `current`. Adds come in
 * the order the backend listed them (backends list newest first, so a window shows new mail
 * first), then changes, then deletes.
 */
export function diffStamps(known: ReadonlyMap<string, string>, current: readonly Stamp[]): Change[] {
  const adds: Change[] = [];
  const changes: Change[] = [];
  const seen = new Set<string>();
  for (const s of current) {
    if (seen.has(s.id)) continue; // a backend listing an id twice must not make two Adds
    seen.add(s.id);
    const had = known.get(s.id);
    if (had === undefined) adds.push({ kind: 'add', id: s.id, version: s.version });
    else if (had !== s.version) changes.push({ kind: 'change', id: s.id, version: s.version });
  }
  const deletes: Change[] = [];
  for (const id of known.keys()) if (!seen.has(id)) deletes.push({ kind: 'delete', id });
  return [...adds, ...changes, ...deletes];
}

/** Applies changes the device has been sent to its known map (the state after a response). */
export function applyChanges(known: Map<string, string>, sent: readonly Change[]): void {
  for (const c of sent) {
    if (c.kind === 'delete') known.delete(c.id);
    else known.set(c.id, c.version);
  }
}
