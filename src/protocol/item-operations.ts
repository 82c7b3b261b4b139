// ItemOperations (MS-ASCMD 2.2.1.10): the typed request and response, and the two ways the
// response travels (2.2.1.10.1): inline WBXML, where Data is OPAQUE inside the document (streamed
// when it comes from the store), or the multipart form, where the WBXML is the first part and each
// Data becomes a binary part the document points to with Part.
import { encode, encodeStream } from '../../wbxml/index.js';
import { el, type OpaqueSource, type WbxmlElement } from '../../wbxml/tree.js';
import { parseSyncOptions, type BodyPreference } from './sync.js';
import { child, expectRoot, has, ProtocolError, requireText, text } from './read.js';

const ns = 'ItemOperations';
const AS = 'AirSync';
const ASB = 'AirSyncBase';

/** MS-ASCMD 2.2.3.177.8 Status (ItemOperations); 156 as MS-ASCON 2.2.2.10 describes it. */
export const ItemOperationsStatus = {
  Success: 1,
  ProtocolError: 2,
  ServerError: 3,
  ObjectNotFound: 6,
  ByteRangeInvalid: 8,
  StoreUnsupported: 9,
  AttachmentIdInvalid: 15,
  ActionNotSupported: 156,
} as const;

/** MS-ASCMD 2.2.1.10.1: the two content types of an ItemOperations answer. */
export const wbxmlContentType = 'application/vnd.ms-sync.wbxml';
export const multipartContentType = 'application/vnd.ms-sync.multipart';

/** MS-ASCMD 2.2.3.143.2 Range: "m-n", zero-indexed, both ends included, m ≤ n. */
export interface ByteRange {
  start: number;
  end: number;
}

/** MS-ASCMD 2.2.3.125.3 Options (ItemOperations Fetch): what easd reads of it. */
export interface FetchOptions {
  BodyPreference: BodyPreference[];
  /** MS-ASAIRS 2.2.2.11 (14.1+): the message part wanted too; absent when not asked. */
  BodyPartPreference?: BodyPreference[];
  MIMESupport?: number;
  Range?: ByteRange;
}

/** MS-ASCMD 2.2.3.67.1 Fetch: one of ServerId, FileReference, LongId or LinkId names the target. */
export interface FetchRequest {
  Store: string;
  CollectionId?: string;
  ServerId?: string;
  FileReference?: string;
  LongId?: string;
  LinkId?: string;
  options: FetchOptions;
}

export type ItemOperation =
  | ({ kind: 'Fetch' } & FetchRequest)
  /** A Fetch the server cannot read: Status 2 for it alone ("Item or Global" scope). */
  | { kind: 'InvalidFetch'; reason: string }
  | { kind: 'EmptyFolderContents'; CollectionId: string; DeleteSubFolders: boolean }
  /** MS-ASCMD 2.2.3.117.1: moves a conversation (MS-ASCON). */
  | { kind: 'Move'; ConversationId: string | Uint8Array; DstFldId: string; MoveAlways: boolean };

export interface ItemOperationsRequest {
  operations: ItemOperation[];
}

export interface FetchResponse {
  kind: 'Fetch';
  Status: number;
  CollectionId?: string;
  ServerId?: string;
  LongId?: string;
  Class?: string;
  LinkId?: string;
  FileReference?: string;
  /** Children of Properties: an item's ApplicationData elements, or attachmentProperties(). */
  Properties?: WbxmlElement[];
}

export type OperationResponse =
  | FetchResponse
  | { kind: 'EmptyFolderContents'; Status: number; CollectionId: string }
  | { kind: 'Move'; Status: number; ConversationId: string | Uint8Array };

export interface ItemOperationsResponse {
  Status: number;
  responses: OperationResponse[];
}

function parseRange(v: string): ByteRange {
  const m = /^(\d{1,9})-(\d{1,9})$/.exec(v.trim());
  if (m === null) throw new ProtocolError(`Range must be "m-n", not "${v}"`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

function parseFetchOptions(e: WbxmlElement | undefined): FetchOptions {
  if (e === undefined) return { BodyPreference: [] };
  // The airsync:MIMESupport and airsyncbase:BodyPreference children read as in Sync's Options.
  const sync = parseSyncOptions(e);
  const options: FetchOptions = { BodyPreference: sync.BodyPreference };
  if (sync.BodyPartPreference.length > 0) options.BodyPartPreference = sync.BodyPartPreference;
  if (sync.MIMESupport !== undefined) options.MIMESupport = sync.MIMESupport;
  const range = text(e, 'Range', ns);
  if (range !== undefined) options.Range = parseRange(range);
  return options;
}

function parseFetch(e: WbxmlElement): ItemOperation {
  const fetch: ItemOperation = {
    kind: 'Fetch',
    Store: requireText(e, 'Store', ns),
    options: parseFetchOptions(child(e, 'Options', ns)),
  };
  const ids = [
    ['CollectionId', text(e, 'CollectionId', AS)],
    ['ServerId', text(e, 'ServerId', AS)],
    ['FileReference', text(e, 'FileReference', ASB)],
    ['LongId', text(e, 'LongId', 'Search')],
    ['LinkId', text(e, 'LinkId', 'DocumentLibrary')],
  ] as const;
  for (const [name, value] of ids) if (value !== undefined) fetch[name] = value;
  if (
    fetch.ServerId === undefined &&
    fetch.FileReference === undefined &&
    fetch.LongId === undefined &&
    fetch.LinkId === undefined
  ) {
    throw new ProtocolError('Fetch names no ServerId, FileReference, LongId or LinkId');
  }
  return fetch;
}

function parseMove(e: WbxmlElement): ItemOperation {
  const conversation = child(e, 'ConversationId', ns)?.value;
  if (
    conversation === undefined ||
    !(typeof conversation === 'string' || conversation instanceof Uint8Array)
  ) {
    throw new ProtocolError('Move without ConversationId');
  }
  return {
    kind: 'Move',
    ConversationId: conversation,
    DstFldId: requireText(e, 'DstFldId', ns),
    MoveAlways: has(child(e, 'Options', ns), 'MoveAlways', ns),
  };
}

/**
 * A malformed Fetch is one failed operation; anything else that breaks the structure (an unknown
 * operation, an EmptyFolderContents or Move without its required children, whose responses could
 * not echo them) is a ProtocolError for the whole request.
 */
export function parseItemOperationsRequest(body: WbxmlElement | undefined): ItemOperationsRequest {
  const root = expectRoot(body, ns, 'ItemOperations');
  const operations = root.children.map((c): ItemOperation => {
    if (c.ns !== ns) throw new ProtocolError(`Unknown ItemOperations operation ${c.ns}:${c.name}`);
    switch (c.name) {
      case 'Fetch':
        try {
          return parseFetch(c);
        } catch (err) {
          if (err instanceof ProtocolError) return { kind: 'InvalidFetch', reason: err.message };
          throw err;
        }
      case 'EmptyFolderContents':
        return {
          kind: 'EmptyFolderContents',
          CollectionId: requireText(c, 'CollectionId', AS),
          DeleteSubFolders: has(child(c, 'Options', ns), 'DeleteSubFolders', ns),
        };
      case 'Move':
        return parseMove(c);
      default:
        throw new ProtocolError(`Unknown ItemOperations operation ${c.name}`);
    }
  });
  if (operations.length === 0) throw new ProtocolError('ItemOperations without an operation');
  return { operations };
}

/** The Properties of an attachment fetched by FileReference (MS-ASCMD 2.2.3.139.2). */
export function attachmentProperties(a: {
  ContentType: string;
  Range?: ByteRange;
  Total: number;
  Data: Uint8Array | OpaqueSource;
}): WbxmlElement[] {
  // el() takes no OpaqueSource, so Data is written out as the element it is.
  const data: WbxmlElement = { ns, name: 'Data', children: [], value: a.Data };
  return [
    el(ASB, 'ContentType', a.ContentType),
    a.Range !== undefined && el(ns, 'Range', `${a.Range.start}-${a.Range.end}`),
    el(ns, 'Total', a.Total),
    data,
  ].filter((e): e is WbxmlElement => e !== false);
}

function buildOperation(r: OperationResponse): WbxmlElement {
  switch (r.kind) {
    case 'Move':
      return el(ns, 'Move', el(ns, 'Status', r.Status), el(ns, 'ConversationId', r.ConversationId));
    case 'EmptyFolderContents':
      return el(
        ns,
        'EmptyFolderContents',
        el(ns, 'Status', r.Status),
        el(AS, 'CollectionId', r.CollectionId),
      );
    case 'Fetch':
      // The order of ItemOperationsResponse.xsd's sequence.
      return el(
        ns,
        'Fetch',
        el(ns, 'Status', r.Status),
        r.CollectionId !== undefined && el(AS, 'CollectionId', r.CollectionId),
        r.ServerId !== undefined && el(AS, 'ServerId', r.ServerId),
        r.LongId !== undefined && el('Search', 'LongId', r.LongId),
        r.Class !== undefined && el(AS, 'Class', r.Class),
        r.LinkId !== undefined && el('DocumentLibrary', 'LinkId', r.LinkId),
        r.FileReference !== undefined && el(ASB, 'FileReference', r.FileReference),
        r.Properties !== undefined && el(ns, 'Properties', r.Properties),
      );
  }
}

const responseOrder: readonly OperationResponse['kind'][] = ['Move', 'EmptyFolderContents', 'Fetch'];

/**
 * The response document. MS-ASCMD 2.2.1.10 runs operations in the order given; the response
 * schema (a sequence of Move*, EmptyFolderContents*, Fetch*) groups them by kind, each kind in
 * request order, and the client matches them by their ids.
 */
export function buildItemOperationsResponse(r: ItemOperationsResponse): WbxmlElement {
  const ops = responseOrder.flatMap((kind) => r.responses.filter((o) => o.kind === kind).map(buildOperation));
  return el(ns, 'ItemOperations', el(ns, 'Status', r.Status), ops.length > 0 && el(ns, 'Response', ops));
}

/** The content of one binary part. */
export type PartData = Uint8Array | OpaqueSource;

const utf8 = new TextEncoder();

/**
 * MS-ASCMD 2.2.3.130 Part: moves every Data of the Fetch results into binary parts, numbered from
 * 1 (part 0 is the WBXML). An attachment's itemoperations:Data becomes a Part in its place in
 * Properties; an item's airsyncbase:Body Data becomes a Part at the end of the Body, where
 * MS-ASAIRS 2.2.2.9 puts it. The tree given is not changed.
 */
export function splitParts(root: WbxmlElement): { root: WbxmlElement; parts: PartData[] } {
  const parts: PartData[] = [];
  const take = (data: WbxmlElement): WbxmlElement => {
    const v = data.value;
    parts.push(v === undefined ? new Uint8Array(0) : typeof v === 'string' ? utf8.encode(v) : v);
    return el(ns, 'Part', parts.length);
  };
  const walk = (e: WbxmlElement, inProperties: boolean): WbxmlElement => {
    if (inProperties && e.ns === ns && e.name === 'Data') return take(e);
    if (inProperties && e.ns === ASB && e.name === 'Body') {
      const data = e.children.find((c) => c.ns === ASB && c.name === 'Data');
      return data === undefined
        ? e
        : { ...e, children: [...e.children.filter((c) => c !== data), take(data)] };
    }
    if (e.children.length === 0) return e;
    const inside = inProperties || (e.ns === ns && e.name === 'Properties');
    return { ...e, children: e.children.map((c) => walk(c, inside)) };
  };
  return { root: walk(root, false), parts };
}

/** MS-ASCMD 2.2.1.10.1.1: PartsCount, PartsMetaData (offset, length), Parts — 32-bit little-endian. */
export function multipartResponse(wbxml: Uint8Array, parts: readonly PartData[]): AsyncIterable<Uint8Array> {
  const all: PartData[] = [wbxml, ...parts];
  const header = new Uint8Array(4 + 8 * all.length);
  const view = new DataView(header.buffer);
  view.setInt32(0, all.length, true);
  let offset = header.length;
  all.forEach((p, i) => {
    view.setInt32(4 + 8 * i, offset, true);
    view.setInt32(8 + 8 * i, p.length, true);
    offset += p.length;
  });
  if (offset > 0x7fffffff) throw new RangeError(`a multipart response cannot exceed 2 GiB (${offset} bytes)`);
  return (async function* () {
    yield header;
    for (const p of all) {
      if (p instanceof Uint8Array) {
        if (p.length > 0) yield p;
        continue;
      }
      // The offsets are sent already: a part must be exactly as long as announced.
      let sent = 0;
      for await (const chunk of p.chunks()) {
        sent += chunk.length;
        if (sent > p.length) break;
        yield chunk;
      }
      if (sent !== p.length) throw new Error(`a part yielded ${sent} bytes instead of ${p.length}`);
    }
  })();
}

function hasOpaqueSource(e: WbxmlElement): boolean {
  const v = e.value;
  if (v !== undefined && typeof v !== 'string' && !(v instanceof Uint8Array)) return true;
  return e.children.some(hasOpaqueSource);
}

/**
 * What the handler answers: the multipart form when the client accepts it (MS-ASHTTP 2.2.1.1.2.5
 * MS-ASAcceptMultiPart), else the WBXML document — as a tree, or as a stream when it carries
 * data that comes from the store.
 */
export function itemOperationsBody(
  r: ItemOperationsResponse,
  multipart: boolean,
): WbxmlElement | { contentType: string; data: AsyncIterable<Uint8Array> } {
  const root = buildItemOperationsResponse(r);
  if (multipart) {
    const split = splitParts(root);
    return { contentType: multipartContentType, data: multipartResponse(encode(split.root), split.parts) };
  }
  return hasOpaqueSource(root) ? { contentType: wbxmlContentType, data: encodeStream(root) } : root;
}
