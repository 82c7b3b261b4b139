// Search (MS-ASCMD 2.2.1.16): the typed request and response. One Store per request (Search
// request schema, MS-ASCMD 6.44): "Mailbox" with a Query tree, or "GAL" with a text Query.
// "Document Library" (MS-ASDOC) is recognised but not served. The Query tree is reduced here to
// what a backend can run (one conjunction); what cannot be reduced is marked too complex.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import {
  child,
  children,
  expectRoot,
  has,
  integer,
  ProtocolError,
  requireText,
  text,
  valueText,
} from './read.js';
import { parseDate } from './items/index.js';
import { parseSyncOptions, type BodyPreference } from './sync.js';

const ns = 'Search';

/** MS-ASCMD 2.2.3.177.13: the Search element takes 1 or 3; the Store element the whole table. */
export const SearchStatus = {
  Success: 1,
  /** Store: the request broke the protocol (XML validation, a bad Range …). */
  InvalidRequest: 2,
  ServerError: 3,
  AccessDenied: 5,
  NotFound: 6,
  /** Store: the query cannot be run (here: one the backend's conjunction cannot express). */
  TooComplex: 8,
  TimedOut: 10,
  /** Store: a CollectionId the device's hierarchy does not have. */
  FolderSyncRequired: 11,
  CredentialsRequired: 14,
} as const;

/** MS-ASCMD 2.2.2 common code 173 NoPicture, as gal:Picture Status (2.2.3.177.13). */
export const NoPicture = 173;

/**
 * The Status of a Picture (gal:Picture in Search and Find, ResolveRecipients Picture): MS-ASCMD
 * 2.2.3.177.12 / .13 with the common codes of 2.2.2.
 */
export const PictureStatus = {
  Success: 1,
  /** The person has no photo. */
  NoPicture,
  /** The photo is larger than the request's MaxSize. */
  PictureTooLarge: 174,
  /** MaxPictures photos have been returned already in this response. */
  PictureLimitReached: 175,
} as const;

export interface PictureAnswer {
  Status: number;
  /** The photo's bytes, when Status is 1. */
  Data?: Uint8Array;
}

/** MS-ASCMD 2.2.3.105 MaxSize: at most 100 KB per photo, whatever the client asks. */
export const maxPictureBytes = 102_400;

/**
 * Answers the Picture option entry after entry through one query (a Search, or one To of a
 * ResolveRecipients, MS-ASCMD 2.2.3.104.2): a photo larger than MaxSize bytes (2.2.3.105) is 174;
 * once MaxPictures photos are given (2.2.3.104), a further photo is 175; no photo is 173.
 */
export function pictureAnswers(request: PictureRequest): (photo: Uint8Array | undefined) => PictureAnswer {
  let given = 0;
  const maxSize = Math.min(request.MaxSize ?? maxPictureBytes, maxPictureBytes);
  return (photo) => {
    if (photo === undefined || photo.length === 0) return { Status: PictureStatus.NoPicture };
    if (photo.length > maxSize) return { Status: PictureStatus.PictureTooLarge };
    if (request.MaxPictures !== undefined && given >= request.MaxPictures)
      return { Status: PictureStatus.PictureLimitReached };
    given++;
    return { Status: PictureStatus.Success, Data: photo };
  };
}

/** MS-ASCMD 2.2.3.143.3 Range (Search): "0-99" when absent; at most 100 results per request. */
export const defaultRange = { start: 0, end: 99 } as const;
export const maxRangeSize = 100;
/** MS-ASCMD 2.2.3.30.5 CollectionId: at most 64 characters. */
const maxCollectionIdLength = 64;
/** A Query of more than this many conditions is answered "too complex" before any work. */
const maxConditions = 32;

export interface SearchRange {
  start: number;
  end: number;
}

/** The one conjunction a MailboxQuery expresses; CollectionIds are alternatives (folder union). */
export interface MailboxConditions {
  FreeText?: string;
  CollectionIds: string[];
  Class?: string;
  ConversationId?: Uint8Array;
  /** email:DateReceived GreaterThan / LessThan (MS-ASCMD 2.2.3.78, 2.2.3.94). */
  receivedAfter?: Date;
  receivedBefore?: Date;
}

export interface SearchOptions {
  Range: SearchRange;
  DeepTraversal: boolean;
  RebuildResults: boolean;
  BodyPreference: BodyPreference[];
  /** MS-ASAIRS 2.2.2.11 (14.1+): the message part wanted too; absent when not asked. */
  BodyPartPreference?: BodyPreference[];
  MIMESupport?: number;
  /** 14.1+ (MS-ASCMD 2.2.3.135.3): the client asks for contact pictures (GAL store). */
  Picture?: PictureRequest;
}

export type SearchStoreRequest =
  | {
      Name: 'Mailbox';
      query: { ok: true; conditions: MailboxConditions } | { ok: false; reason: string };
      options: SearchOptions;
    }
  | { Name: 'GAL'; Query: string; options: SearchOptions }
  | { Name: 'Other'; StoreName: string };

export interface SearchRequest {
  store: SearchStoreRequest;
}

/** "m-n" with m ≤ n, n − m < 100 (MS-ASCMD 2.2.3.143.3). */
export function parseRange(v: string): SearchRange {
  const m = /^(\d{1,3})-(\d{1,3})$/.exec(v.trim());
  if (m === null) throw new ProtocolError(`Range must be "m-n", not "${v}"`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (start > end || end - start + 1 > maxRangeSize)
    throw new ProtocolError(`Range ${v} is not 1–100 results`);
  return { start, end };
}

function parseOptions(e: WbxmlElement | undefined): SearchOptions {
  const options: SearchOptions = {
    Range: { ...defaultRange },
    // MS-ASCMD 2.2.3.45 DeepTraversal, 2.2.3.146 RebuildResults: empty elements, present = true.
    DeepTraversal: has(e, 'DeepTraversal', ns),
    RebuildResults: has(e, 'RebuildResults', ns),
    BodyPreference: [],
  };
  if (e === undefined) return options;
  const range = text(e, 'Range', ns);
  if (range !== undefined) options.Range = parseRange(range);
  // airsync:MIMESupport and airsyncbase:BodyPreference read as in Sync's Options.
  const sync = parseSyncOptions(e);
  options.BodyPreference = sync.BodyPreference;
  if (sync.BodyPartPreference.length > 0) options.BodyPartPreference = sync.BodyPartPreference;
  if (sync.MIMESupport !== undefined) options.MIMESupport = sync.MIMESupport;
  const picture = parsePicture(child(e, 'Picture', ns), ns);
  if (picture !== undefined) options.Picture = picture;
  return options;
}

export interface PictureRequest {
  MaxSize?: number;
  MaxPictures?: number;
}

/** A Picture option (Search 2.2.3.135.3, Find 2.2.3.135.1): MaxSize and MaxPictures, both optional. */
export function parsePicture(picture: WbxmlElement | undefined, pageNs: string): PictureRequest | undefined {
  if (picture === undefined) return undefined;
  const p: PictureRequest = {};
  const size = integer(picture, 'MaxSize', pageNs);
  if (size !== undefined) p.MaxSize = size;
  const count = integer(picture, 'MaxPictures', pageNs);
  if (count !== undefined) p.MaxPictures = count;
  return p;
}

class TooComplex extends Error {}

/** A GreaterThan/LessThan: email:DateReceived (empty) and Value (MS-ASCMD 2.2.3.78 / 2.2.3.94). */
function dateBound(e: WbxmlElement): Date {
  if (!has(e, 'DateReceived', 'Email'))
    throw new TooComplex(`${e.name} on a property other than email:DateReceived`);
  const v = text(e, 'Value', ns);
  if (v === undefined) throw new ProtocolError(`${e.name} without Value`);
  return parseDate(v, `${e.name} Value`);
}

/**
 * Folds the Query tree (MS-ASCMD 2.2.3.139.2) into one conjunction. And nests freely; an Or is
 * accepted only where it means "any of these folders" (CollectionIds) or has a single branch,
 * since a backend MailboxQuery has no disjunction. EqualTo is for the document library.
 */
function fold(e: WbxmlElement, into: MailboxConditions, count: { n: number }, inOr = false): void {
  if (++count.n > maxConditions) throw new TooComplex('too many conditions');
  const one = <K extends keyof MailboxConditions>(k: K, v: MailboxConditions[K]): void => {
    if (into[k] !== undefined) throw new TooComplex(`${k} twice`);
    into[k] = v;
  };
  switch (`${e.ns}:${e.name}`) {
    case 'Search:And':
      if (inOr) throw new TooComplex('And inside Or');
      for (const c of e.children) fold(c, into, count);
      return;
    case 'Search:Or': {
      const branches = e.children;
      if (branches.length > 1 && !branches.every((c) => c.ns === 'AirSync' && c.name === 'CollectionId'))
        throw new TooComplex('Or of conditions other than CollectionId');
      for (const c of branches) fold(c, into, count, branches.length > 1);
      return;
    }
    case 'Search:FreeText':
      one('FreeText', valueText(e));
      return;
    case 'AirSync:CollectionId': {
      const id = valueText(e);
      if (id === '' || id.length > maxCollectionIdLength)
        throw new ProtocolError('CollectionId must be 1–64 characters');
      into.CollectionIds.push(id);
      return;
    }
    case 'AirSync:Class':
      one('Class', valueText(e));
      return;
    case 'Search:ConversationId': {
      const v = e.value;
      one('ConversationId', v instanceof Uint8Array ? v : Buffer.from(valueText(e), 'base64'));
      return;
    }
    case 'Search:GreaterThan':
      one('receivedAfter', dateBound(e));
      return;
    case 'Search:LessThan':
      one('receivedBefore', dateBound(e));
      return;
    case 'Search:EqualTo':
      throw new TooComplex('EqualTo is a document library condition');
    default:
      throw new ProtocolError(`${e.ns}:${e.name} in a Query`);
  }
}

function parseMailboxQuery(
  q: WbxmlElement,
): { ok: true; conditions: MailboxConditions } | { ok: false; reason: string } {
  const conditions: MailboxConditions = { CollectionIds: [] };
  try {
    for (const c of q.children) fold(c, conditions, { n: 0 });
  } catch (err) {
    if (err instanceof TooComplex) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, conditions };
}

export function parseSearchRequest(body: WbxmlElement | undefined): SearchRequest {
  const root = expectRoot(body, ns, 'Search');
  const stores = children(root, 'Store', ns);
  // Search request schema: exactly one Store.
  const store = stores[0];
  if (store === undefined || stores.length > 1) throw new ProtocolError('Search must hold one Store');
  const name = requireText(store, 'Name', ns);
  const query = child(store, 'Query', ns);
  if (query === undefined) throw new ProtocolError('Store without Query');
  const options = parseOptions(child(store, 'Options', ns));
  // MS-ASCMD 2.2.3.110.2 Name (Search): "Mailbox", "GAL" or "Document Library"; compared as the
  // clients spell them, case-insensitively.
  switch (name.trim().toLowerCase()) {
    case 'mailbox':
      return { store: { Name: 'Mailbox', query: parseMailboxQuery(query), options } };
    case 'gal':
      // MS-ASCMD 2.2.3.139.2: for the GAL the Query is the text to look for.
      if (query.children.length > 0) throw new ProtocolError('GAL Query must be text');
      return { store: { Name: 'GAL', Query: valueText(query), options } };
    default:
      return { store: { Name: 'Other', StoreName: name } };
  }
}

export interface MailboxResult {
  Class: string;
  LongId: string;
  CollectionId: string;
  Properties: WbxmlElement[];
}

export interface StoreResponse {
  Status: number;
  /** Mailbox results (airsync:Class, LongId, airsync:CollectionId, Properties). */
  results?: MailboxResult[];
  /** GAL results: the gal: properties of each entry. */
  galResults?: WbxmlElement[][];
  Range?: SearchRange;
  Total?: number;
  /** The store searched was the mailbox: no match is an empty Result (MS-ASCMD 2.2.3.155.3). */
  mailbox?: boolean;
}

export interface SearchResponse {
  Status: number;
  store?: StoreResponse;
}

/** Element order follows SearchResponse.xsd: Status, Response/Store (Status, Result*, Range?, Total?). */
export function buildSearchResponse(r: SearchResponse): WbxmlElement {
  const s = r.store;
  let results: WbxmlElement[] = [];
  if (s !== undefined) {
    results = [
      ...(s.results ?? []).map((x) =>
        el(
          ns,
          'Result',
          el('AirSync', 'Class', x.Class),
          el(ns, 'LongId', x.LongId),
          el('AirSync', 'CollectionId', x.CollectionId),
          el(ns, 'Properties', x.Properties),
        ),
      ),
      ...(s.galResults ?? []).map((props) => el(ns, 'Result', el(ns, 'Properties', props))),
    ];
    if (results.length === 0 && s.mailbox === true && s.Status === SearchStatus.Success)
      results.push(el(ns, 'Result'));
  }
  return el(
    ns,
    'Search',
    el(ns, 'Status', r.Status),
    s !== undefined &&
      el(
        ns,
        'Response',
        el(
          ns,
          'Store',
          el(ns, 'Status', s.Status),
          results,
          s.Range !== undefined && el(ns, 'Range', `${s.Range.start}-${s.Range.end}`),
          s.Total !== undefined && el(ns, 'Total', s.Total),
        ),
      ),
  );
}

/** The gal: properties of a directory entry (MS-ASCMD 2.2.3.* GAL elements), in a stable order. */
export function galProperties(
  entry: Partial<Record<(typeof galNames)[number], string>>,
  picture?: PictureAnswer,
): WbxmlElement[] {
  const props = galNames.flatMap((n) => {
    const v = entry[n];
    return v === undefined || v === '' ? [] : [el('GAL', n, v)];
  });
  // GAL.xsd: Picture holds Status, then Data (the photo, base64 as Exchange sends it).
  if (picture !== undefined)
    props.push(
      el(
        'GAL',
        'Picture',
        el('GAL', 'Status', picture.Status),
        picture.Data !== undefined && el('GAL', 'Data', Buffer.from(picture.Data).toString('base64')),
      ),
    );
  return props;
}

export const galNames = [
  'DisplayName',
  'Phone',
  'Office',
  'Title',
  'Company',
  'Alias',
  'FirstName',
  'LastName',
  'HomePhone',
  'MobilePhone',
  'EmailAddress',
] as const;
