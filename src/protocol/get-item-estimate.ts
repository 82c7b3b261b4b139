// GetItemEstimate (MS-ASCMD 2.2.1.9): the typed request and response. Two request shapes exist
// (GetItemEstimate request schema, MS-ASCMD 6.20): 12.x puts Class, CollectionId,
// airsync:FilterType and airsync:SyncKey in the Collection itself; 14.0+ sends airsync:SyncKey,
// CollectionId, airsync:ConversationMode and up to two airsync:Options (Class, FilterType,
// MaxItems). Both are read the same way, whatever the version, into one shape.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import { child, children, expectRoot, integer, ProtocolError, requireText, text } from './read.js';

const ns = 'GetItemEstimate';

/** MS-ASCMD 2.2.3.177.7 */
export const GetItemEstimateStatus = {
  Success: 1,
  /** A collection was invalid or unknown; also what a malformed request gets. */
  InvalidCollection: 2,
  /** The client has not done a Sync with SyncKey 0 for this collection yet. */
  SyncStateNotPrimed: 3,
  InvalidSyncKey: 4,
} as const;

/** MS-ASCMD 2.2.3.31.1 Collections (GetItemEstimate): one to 300 Collection elements. */
export const maxEstimateCollections = 300;
/** MS-ASCMD 2.2.3.30.2 CollectionId: at most 64 characters (GetItemEstimateResponse.xsd). */
const maxCollectionIdLength = 64;

export interface EstimateOptions {
  Class?: string;
  FilterType?: number;
  MaxItems?: number;
}

export interface EstimateCollectionRequest {
  SyncKey: string;
  CollectionId: string;
  ConversationMode?: boolean;
  /** 14.0+: the Options elements; 12.x: one built from the Collection's Class and FilterType. */
  options: EstimateOptions[];
}

export interface GetItemEstimateRequest {
  collections: EstimateCollectionRequest[];
}

function parseOptions(e: WbxmlElement): EstimateOptions {
  const o: EstimateOptions = {};
  const cls = text(e, 'Class', 'AirSync');
  if (cls !== undefined) o.Class = cls;
  const filter = integer(e, 'FilterType', 'AirSync');
  if (filter !== undefined) o.FilterType = filter;
  const max = integer(e, 'MaxItems', 'AirSync');
  if (max !== undefined) o.MaxItems = max;
  return o;
}

function parseCollection(c: WbxmlElement): EstimateCollectionRequest {
  const CollectionId = requireText(c, 'CollectionId', ns);
  if (CollectionId === '' || CollectionId.length > maxCollectionIdLength)
    throw new ProtocolError('CollectionId must be 1–64 characters');
  const request: EstimateCollectionRequest = {
    SyncKey: requireText(c, 'SyncKey', 'AirSync'),
    CollectionId,
    options: children(c, 'Options', 'AirSync').map(parseOptions),
  };
  const mode = text(c, 'ConversationMode', 'AirSync');
  // MS-ASCMD 2.2.3.36.1: an empty element means true.
  if (mode !== undefined) request.ConversationMode = mode.trim() !== '0';
  // The 12.x shape: FilterType (required there) and an optional Class beside the CollectionId.
  const filter = integer(c, 'FilterType', 'AirSync');
  const cls = text(c, 'Class', ns);
  if (filter !== undefined || cls !== undefined) {
    if (request.options.length > 0) throw new ProtocolError('Collection mixes the 12.x and 14.0 forms');
    request.options.push({
      ...(cls !== undefined && { Class: cls }),
      ...(filter !== undefined && { FilterType: filter }),
    });
  }
  if (request.options.length > 2) throw new ProtocolError('More than two Options in a Collection');
  return request;
}

export function parseGetItemEstimateRequest(body: WbxmlElement | undefined): GetItemEstimateRequest {
  const root = expectRoot(body, ns, 'GetItemEstimate');
  const list = children(child(root, 'Collections', ns), 'Collection', ns);
  if (list.length === 0 || list.length > maxEstimateCollections)
    throw new ProtocolError(`Collections must hold 1–${maxEstimateCollections} Collection elements`);
  return { collections: list.map(parseCollection) };
}

export interface EstimateResponse {
  Status: number;
  CollectionId: string;
  /** Only with Status 1. */
  Estimate?: number;
}

export interface GetItemEstimateResponse {
  /** Only when the whole request failed (MS-ASCMD 2.2.3.177.7). */
  Status?: number;
  responses: EstimateResponse[];
}

/** Element order follows GetItemEstimateResponse.xsd: Status?, then Response (Status, Collection)*. */
export function buildGetItemEstimateResponse(r: GetItemEstimateResponse): WbxmlElement {
  return el(
    ns,
    'GetItemEstimate',
    r.Status !== undefined && el(ns, 'Status', r.Status),
    r.responses.map((x) =>
      el(
        ns,
        'Response',
        el(ns, 'Status', x.Status),
        el(
          ns,
          'Collection',
          el(ns, 'CollectionId', x.CollectionId),
          x.Estimate !== undefined && el(ns, 'Estimate', x.Estimate),
        ),
      ),
    ),
  );
}
