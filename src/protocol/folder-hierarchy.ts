// FolderSync, FolderCreate, FolderUpdate, FolderDelete (MS-ASCMD 2.2.1.3–2.2.1.6): typed
// requests and responses on the FolderHierarchy code page.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import { expectRoot, integer, ProtocolError, requireText } from './read.js';

const ns = 'FolderHierarchy';

export interface FolderEntry {
  ServerId: string;
  /** "0" for a top-level folder (MS-ASCMD 2.2.3.134.3). */
  ParentId: string;
  DisplayName: string;
  /** MS-ASCMD 2.2.3.186.3 folder type. */
  Type: number;
}

export interface FolderSyncRequest {
  SyncKey: string;
}

export interface FolderSyncResponse {
  Status: number;
  SyncKey?: string;
  changes?: { add: FolderEntry[]; update: FolderEntry[]; delete: string[] };
}

export function parseFolderSyncRequest(body: WbxmlElement | undefined): FolderSyncRequest {
  const root = expectRoot(body, ns, 'FolderSync');
  return { SyncKey: requireText(root, 'SyncKey', ns) };
}

const entry = (name: 'Add' | 'Update', f: FolderEntry): WbxmlElement =>
  el(
    ns,
    name,
    el(ns, 'ServerId', f.ServerId),
    el(ns, 'ParentId', f.ParentId),
    el(ns, 'DisplayName', f.DisplayName),
    el(ns, 'Type', f.Type),
  );

/** Element order follows FolderSyncResponse.xsd: Count, Update*, Delete*, Add*. */
export function buildFolderSyncResponse(r: FolderSyncResponse): WbxmlElement {
  const c = r.changes;
  return el(
    ns,
    'FolderSync',
    el(ns, 'Status', r.Status),
    r.SyncKey !== undefined && el(ns, 'SyncKey', r.SyncKey),
    c !== undefined &&
      el(
        ns,
        'Changes',
        el(ns, 'Count', c.add.length + c.update.length + c.delete.length),
        c.update.map((f) => entry('Update', f)),
        c.delete.map((id) => el(ns, 'Delete', el(ns, 'ServerId', id))),
        c.add.map((f) => entry('Add', f)),
      ),
  );
}

export interface FolderCreateRequest {
  SyncKey: string;
  ParentId: string;
  DisplayName: string;
  Type: number;
}

export function parseFolderCreateRequest(body: WbxmlElement | undefined): FolderCreateRequest {
  const root = expectRoot(body, ns, 'FolderCreate');
  const type = integer(root, 'Type', ns);
  if (type === undefined) throw new ProtocolError('Missing Type');
  return {
    SyncKey: requireText(root, 'SyncKey', ns),
    ParentId: requireText(root, 'ParentId', ns),
    DisplayName: requireText(root, 'DisplayName', ns),
    Type: type,
  };
}

export function buildFolderCreateResponse(r: {
  Status: number;
  SyncKey?: string;
  ServerId?: string;
}): WbxmlElement {
  return el(
    ns,
    'FolderCreate',
    el(ns, 'Status', r.Status),
    r.SyncKey !== undefined && el(ns, 'SyncKey', r.SyncKey),
    r.ServerId !== undefined && el(ns, 'ServerId', r.ServerId),
  );
}

export interface FolderUpdateRequest {
  SyncKey: string;
  ServerId: string;
  ParentId: string;
  DisplayName: string;
}

export function parseFolderUpdateRequest(body: WbxmlElement | undefined): FolderUpdateRequest {
  const root = expectRoot(body, ns, 'FolderUpdate');
  return {
    SyncKey: requireText(root, 'SyncKey', ns),
    ServerId: requireText(root, 'ServerId', ns),
    ParentId: requireText(root, 'ParentId', ns),
    DisplayName: requireText(root, 'DisplayName', ns),
  };
}

export function buildFolderUpdateResponse(r: { Status: number; SyncKey?: string }): WbxmlElement {
  return el(
    ns,
    'FolderUpdate',
    el(ns, 'Status', r.Status),
    r.SyncKey !== undefined && el(ns, 'SyncKey', r.SyncKey),
  );
}

export interface FolderDeleteRequest {
  SyncKey: string;
  ServerId: string;
}

export function parseFolderDeleteRequest(body: WbxmlElement | undefined): FolderDeleteRequest {
  const root = expectRoot(body, ns, 'FolderDelete');
  return { SyncKey: requireText(root, 'SyncKey', ns), ServerId: requireText(root, 'ServerId', ns) };
}

export function buildFolderDeleteResponse(r: { Status: number; SyncKey?: string }): WbxmlElement {
  return el(
    ns,
    'FolderDelete',
    el(ns, 'Status', r.Status),
    r.SyncKey !== undefined && el(ns, 'SyncKey', r.SyncKey),
  );
}
