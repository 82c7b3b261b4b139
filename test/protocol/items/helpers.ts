// Shared by the item codec tests: one item through the whole path a phone sees (ApplicationData
// children → a Sync response → WBXML bytes → decoded tree → parseItem), and the Sync response
// the item sits in, for schema validation.
import { decode, encode, type WbxmlElement } from '../../../wbxml/index.js';
import type { ItemClass, TypedItem } from '../../../src/backend/model.js';
import { protocolVersions, type ProtocolVersion } from '../../../src/commands/types.js';
import { encodeItem, parseItem, type ParsedItem } from '../../../src/protocol/items/index.js';
import { ProtocolError } from '../../../src/protocol/read.js';
import { buildSyncResponse } from '../../../src/protocol/sync.js';

export const versions: readonly ProtocolVersion[] = protocolVersions;

/** A Sync response whose one collection adds one item with these ApplicationData children. */
export function syncResponseWith(applicationData: WbxmlElement[], cls?: string): WbxmlElement {
  return buildSyncResponse({
    collections: [
      {
        SyncKey: '2',
        CollectionId: '1',
        Status: 1,
        responses: [],
        commands: [
          { kind: 'Add', ServerId: '1:1', ApplicationData: applicationData, ...(cls ? { Class: cls } : {}) },
        ],
        MoreAvailable: false,
      },
    ],
  });
}

/** The ApplicationData element of the first Add in a decoded Sync response. */
export function applicationDataOf(sync: WbxmlElement): WbxmlElement {
  const find = (e: WbxmlElement): WbxmlElement | undefined =>
    e.name === 'ApplicationData' && e.ns === 'AirSync'
      ? e
      : e.children.map(find).find((x) => x !== undefined);
  const found = find(sync);
  if (found === undefined) throw new Error('no ApplicationData');
  return found;
}

export interface RoundTrip<C extends ItemClass> {
  children: WbxmlElement[];
  response: WbxmlElement;
  parsed: ParsedItem<C>;
}

/** encodeItem → WBXML bytes → decode → parseItem. */
export function roundTrip<C extends ItemClass>(
  typed: TypedItem & { class: C },
  protocolVersion: ProtocolVersion,
): RoundTrip<C> {
  const children = encodeItem(typed, { protocolVersion });
  const response = syncResponseWith(children);
  const decoded = decode(encode(response));
  const parsed = parseItem(typed.class as C, applicationDataOf(decoded), { protocolVersion });
  return { children, response, parsed };
}

/** "ns:tag" of every element in a tree, depth first. */
export function tagsOf(elements: WbxmlElement[]): Set<string> {
  const out = new Set<string>();
  const walk = (e: WbxmlElement): void => {
    out.add(`${e.ns}:${e.name}`);
    e.children.forEach(walk);
  };
  elements.forEach(walk);
  return out;
}

/** An ApplicationData element as a client would send it. */
export function appData(...children: WbxmlElement[]): WbxmlElement {
  return { ns: 'AirSync', name: 'ApplicationData', children };
}

/** A copy without the listed top-level properties. */
export function without<T extends object>(item: T, ...props: (keyof T)[]): T {
  const copy = { ...item };
  for (const p of props) delete copy[p];
  return copy;
}

export const atLeast = (v: ProtocolVersion, min: ProtocolVersion): boolean => Number(v) >= Number(min);

/** A 172-byte TIME_ZONE_INFORMATION (UTC+1 with no DST is enough for a codec test). */
export function timeZoneBytes(): Uint8Array {
  const b = new Uint8Array(172);
  new DataView(b.buffer).setInt32(0, -60, true);
  return b;
}

/** The error parseItem throws for this ApplicationData, checked to be a ProtocolError. */
export function parseError(
  cls: ItemClass,
  data: WbxmlElement,
  protocolVersion: ProtocolVersion,
): ProtocolError {
  try {
    parseItem(cls, data, { protocolVersion });
  } catch (e) {
    if (e instanceof ProtocolError) return e;
    throw new Error(`expected a ProtocolError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a ProtocolError, but the ApplicationData was accepted');
}
