// MoveItems (MS-ASCMD 2.2.1.12): the typed request and response. Each Move names an item by its
// ServerId (SrcMsgId) in a source collection (SrcFldId) and the collection to move it to
// (DstFldId); each gets one Response with its Status and, on success, the item's new ServerId.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import { children, expectRoot, ProtocolError, requireText } from './read.js';

const ns = 'Move';

/** MS-ASCMD 2.2.3.177.10 Status (MoveItems). */
export const MoveItemsStatus = {
  InvalidSource: 1,
  InvalidDestination: 2,
  Success: 3,
  SameSourceAndDestination: 4,
  Failure: 5,
  Locked: 7,
} as const;

/** MS-ASCMD 2.2.3.117.2 Move. */
export interface MoveRequest {
  SrcMsgId: string;
  SrcFldId: string;
  DstFldId: string;
}

export interface MoveItemsRequest {
  moves: MoveRequest[];
}

/** MS-ASCMD 2.2.3.153.5 Response (MoveItems). */
export interface MoveResponse {
  SrcMsgId: string;
  Status: number;
  DstMsgId?: string;
}

export interface MoveItemsResponse {
  /** Top-level Status, only for a request that could not be read at all (14.0+ common codes). */
  Status?: number;
  responses: MoveResponse[];
}

/** MS-ASCMD 2.2.3.175 SrcMsgId, and likewise the folder ids: 1–64 characters. */
const maxIdLength = 64;

function id(parent: WbxmlElement, name: string): string {
  const v = requireText(parent, name, ns);
  if (v.length === 0 || v.length > maxIdLength)
    throw new ProtocolError(`${name} must be 1–${maxIdLength} characters`);
  return v;
}

export function parseMoveItemsRequest(body: WbxmlElement | undefined): MoveItemsRequest {
  const root = expectRoot(body, ns, 'MoveItems');
  const moves = children(root, 'Move', ns).map((m) => ({
    SrcMsgId: id(m, 'SrcMsgId'),
    SrcFldId: id(m, 'SrcFldId'),
    DstFldId: id(m, 'DstFldId'),
  }));
  if (moves.length === 0) throw new ProtocolError('MoveItems without Move');
  return { moves };
}

export function buildMoveItemsResponse(r: MoveItemsResponse): WbxmlElement {
  return el(
    ns,
    'MoveItems',
    r.Status !== undefined && el(ns, 'Status', r.Status),
    r.responses.map((m) =>
      el(
        ns,
        'Response',
        el(ns, 'SrcMsgId', m.SrcMsgId),
        el(ns, 'Status', m.Status),
        m.DstMsgId !== undefined && el(ns, 'DstMsgId', m.DstMsgId),
      ),
    ),
  );
}
