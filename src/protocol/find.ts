// Find (MS-ASCMD 2.2.1.2, protocol 16.1): the typed request and response. A Find holds a
// SearchId and one ExecuteSearch with either a MailBoxSearchCriterion (Query of FreeText,
// airsync:Class, airsync:CollectionId; Options Range, DeepTraversal) or a GAL search criterion
// (Query FreeText; Options Range, Picture).
//
// The GAL criterion's tag: MS-ASWBXML's code page 25 spells token 0x19 "GalSearchCriterion" while
// the element's own section in MS-ASCMD spells it "GALSearchCriterion". A WBXML request carries
// only the token, which the codec names as the code page does; both spellings are read here.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import { child, expectRoot, has, ProtocolError, requireText, text } from './read.js';
import { parsePicture, parseRange, type PictureRequest, type SearchRange } from './search.js';

const ns = 'Find';

/** MS-ASCMD 2.2.3.177.2 */
export const FindStatus = {
  Success: 1,
  /** The request was invalid (a protocol error). */
  InvalidRequest: 2,
  /** The folder hierarchy is out of date: the client must FolderSync. */
  FolderSyncRequired: 3,
} as const;

/** MS-ASCMD 2.2.3.143.1 Range (Find): "0-99" when absent. */
const defaultRange: SearchRange = { start: 0, end: 99 };
/** MS-ASCMD 2.2.3.156 SearchId: a GUID the client makes up; bounded like any id here. */
const maxSearchIdLength = 128;

export interface FindMailboxCriterion {
  kind: 'Mailbox';
  FreeText: string;
  Class?: string;
  CollectionId?: string;
  DeepTraversal: boolean;
  Range: SearchRange;
}

export interface FindGalCriterion {
  kind: 'GAL';
  FreeText: string;
  Range: SearchRange;
  Picture?: PictureRequest;
}

export interface FindRequest {
  SearchId: string;
  criterion: FindMailboxCriterion | FindGalCriterion;
}

function range(options: WbxmlElement | undefined): SearchRange {
  const r = text(options, 'Range', ns);
  return r === undefined ? { ...defaultRange } : parseRange(r);
}

export function parseFindRequest(body: WbxmlElement | undefined): FindRequest {
  const root = expectRoot(body, ns, 'Find');
  const SearchId = requireText(root, 'SearchId', ns);
  if (SearchId === '' || SearchId.length > maxSearchIdLength)
    throw new ProtocolError('SearchId must be 1–128 characters');
  const exec = child(root, 'ExecuteSearch', ns);
  if (exec === undefined) throw new ProtocolError('Find without ExecuteSearch');
  const mailbox = child(exec, 'MailBoxSearchCriterion', ns);
  const galCriterion = exec.children.find(
    (c) => c.ns === ns && c.name.toLowerCase() === 'galsearchcriterion',
  );
  if ((mailbox === undefined) === (galCriterion === undefined))
    throw new ProtocolError('ExecuteSearch must hold one search criterion');
  if (mailbox !== undefined) {
    const query = child(mailbox, 'Query', ns);
    if (query === undefined) throw new ProtocolError('MailBoxSearchCriterion without Query');
    const options = child(mailbox, 'Options', ns);
    const c: FindMailboxCriterion = {
      kind: 'Mailbox',
      FreeText: requireText(query, 'FreeText', ns),
      DeepTraversal: has(options, 'DeepTraversal', ns),
      Range: range(options),
    };
    const cls = text(query, 'Class', 'AirSync');
    if (cls !== undefined) c.Class = cls;
    const id = text(query, 'CollectionId', 'AirSync');
    if (id !== undefined) {
      if (id === '' || id.length > 64) throw new ProtocolError('CollectionId must be 1–64 characters');
      c.CollectionId = id;
    }
    return { SearchId, criterion: c };
  }
  const query = child(galCriterion, 'Query', ns);
  if (query === undefined) throw new ProtocolError('GAL criterion without Query');
  const options = child(galCriterion, 'Options', ns);
  const c: FindGalCriterion = {
    kind: 'GAL',
    FreeText: requireText(query, 'FreeText', ns),
    Range: range(options),
  };
  const picture = parsePicture(child(options, 'Picture', ns), ns);
  if (picture !== undefined) c.Picture = picture;
  return { SearchId, criterion: c };
}

export interface FindResult {
  Class?: string;
  ServerId?: string;
  CollectionId?: string;
  /** email:/email2:/gal: elements, and Find's own DisplayCc, DisplayBcc, Preview, HasAttachments. */
  Properties: WbxmlElement[];
}

export interface FindResponse {
  Status: number;
  response?: {
    /** itemoperations:Store: "Mailbox" or "GAL". */
    Store: string;
    Status: number;
    results: FindResult[];
    Range?: SearchRange;
    Total?: number;
  };
}

/** Find's own properties (FindResponse.xsd FindProperties), in the Find namespace. */
export function findProperty(
  name: 'DisplayCc' | 'DisplayBcc' | 'Preview' | 'HasAttachments',
  v: string,
): WbxmlElement {
  return el(ns, name, v);
}

/** Element order follows FindResponse.xsd: Status, Response (Store?, Status, Result*, Range?, Total?). */
export function buildFindResponse(r: FindResponse): WbxmlElement {
  const x = r.response;
  return el(
    ns,
    'Find',
    el(ns, 'Status', r.Status),
    x !== undefined &&
      el(
        ns,
        'Response',
        el('ItemOperations', 'Store', x.Store),
        el(ns, 'Status', x.Status),
        x.results.map((res) =>
          el(
            ns,
            'Result',
            res.Class !== undefined && el('AirSync', 'Class', res.Class),
            res.ServerId !== undefined && el('AirSync', 'ServerId', res.ServerId),
            res.CollectionId !== undefined && el('AirSync', 'CollectionId', res.CollectionId),
            el(ns, 'Properties', res.Properties),
          ),
        ),
        x.Range !== undefined && el(ns, 'Range', `${x.Range.start}-${x.Range.end}`),
        x.Total !== undefined && el(ns, 'Total', x.Total),
      ),
  );
}
