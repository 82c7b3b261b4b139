// Ping (MS-ASCMD 2.2.1.13): the typed request and response.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import { child, children, expectRoot, integer, ProtocolError, requireText, text } from './read.js';

const ns = 'Ping';

export interface PingFolder {
  Id: string;
  /** Email, Calendar, Contacts, Tasks, Notes, SMS (MS-ASCMD 2.2.3.27.4). */
  Class: string;
}

export interface PingRequest {
  HeartbeatInterval?: number;
  Folders?: PingFolder[];
}

export interface PingResponse {
  Status: number;
  Folders?: string[];
  MaxFolders?: number;
  HeartbeatInterval?: number;
}

/** An empty body is legal (MS-ASCMD 2.2.1.13): the last request's parameters apply. */
export function parsePingRequest(body: WbxmlElement | undefined): PingRequest {
  if (body === undefined) return {};
  const root = expectRoot(body, ns, 'Ping');
  const request: PingRequest = {};
  const hb = integer(root, 'HeartbeatInterval', ns);
  if (hb !== undefined) request.HeartbeatInterval = hb;
  const folders = child(root, 'Folders', ns);
  if (folders !== undefined) {
    request.Folders = children(folders, 'Folder', ns).map((f) => ({
      Id: requireText(f, 'Id', ns),
      Class: text(f, 'Class', ns) ?? '',
    }));
    if (request.Folders.length === 0) throw new ProtocolError('Folders without Folder');
  }
  return request;
}

export function buildPingResponse(r: PingResponse): WbxmlElement {
  return el(
    ns,
    'Ping',
    el(ns, 'Status', r.Status),
    r.Folders !== undefined &&
      r.Folders.length > 0 &&
      el(
        ns,
        'Folders',
        r.Folders.map((id) => el(ns, 'Folder', id)),
      ),
    r.MaxFolders !== undefined && el(ns, 'MaxFolders', r.MaxFolders),
    r.HeartbeatInterval !== undefined && el(ns, 'HeartbeatInterval', r.HeartbeatInterval),
  );
}
