// Sync (MS-ASCMD 2.2.1.21): the typed request and response. ApplicationData stays an element
// tree here; the item codecs (per class) turn it into the model and back.
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import { child, children, expectRoot, has, integer, ProtocolError, requireText, text } from './read.js';

const ns = 'AirSync';

export interface BodyPreference {
  Type: number;
  TruncationSize?: number;
  AllOrNone?: boolean;
  Preview?: number;
}

/** One Options element (MS-ASCMD 2.2.3.125.5); 14.0+ may send one per Class (SMS + Email). */
export interface SyncOptions {
  Class?: string;
  FilterType?: number;
  BodyPreference: BodyPreference[];
  BodyPartPreference: BodyPreference[];
  MIMESupport?: number;
  MIMETruncation?: number;
  /** 0 client wins, 1 server wins (the default: MS-ASCMD 2.2.3.34). */
  Conflict?: number;
  MaxItems?: number;
  RightsManagementSupport?: boolean;
}

export type ClientCommand =
  | { kind: 'Add'; ClientId: string; Class?: string; ApplicationData: WbxmlElement }
  | { kind: 'Change'; ServerId: string; Class?: string; ApplicationData: WbxmlElement }
  | { kind: 'Delete'; ServerId: string; Class?: string }
  | { kind: 'Fetch'; ServerId: string };

export interface SyncCollectionRequest {
  SyncKey: string;
  CollectionId: string;
  /** MS-ASCMD 2.2.3.43: absent means true. */
  DeletesAsMoves: boolean;
  /** MS-ASCMD 2.2.3.79: absent means true, except with SyncKey 0 where it means false. */
  GetChanges: boolean;
  WindowSize?: number;
  ConversationMode?: boolean;
  options: SyncOptions[];
  /** Ghosted properties the client keeps (Contacts/Calendar, MS-ASCMD 2.2.3.172). */
  Supported?: WbxmlElement;
  commands: ClientCommand[];
}

export interface SyncRequest {
  /** Absent when the client relies on the cached collections (Partial or empty Sync). */
  collections?: SyncCollectionRequest[];
  /** Minutes (MS-ASCMD 2.2.3.194) */
  Wait?: number;
  /** Seconds (MS-ASCMD 2.2.3.79.1) */
  HeartbeatInterval?: number;
  WindowSize?: number;
  Partial: boolean;
}

const flag = (v: string | undefined): boolean | undefined => (v === undefined ? undefined : v !== '0');

function parseBodyPreference(e: WbxmlElement): BodyPreference {
  const type = integer(e, 'Type', 'AirSyncBase');
  if (type === undefined) throw new ProtocolError('BodyPreference without Type');
  const pref: BodyPreference = { Type: type };
  const t = integer(e, 'TruncationSize', 'AirSyncBase');
  if (t !== undefined) pref.TruncationSize = t;
  const all = flag(text(e, 'AllOrNone', 'AirSyncBase'));
  if (all !== undefined) pref.AllOrNone = all;
  const preview = integer(e, 'Preview', 'AirSyncBase');
  if (preview !== undefined) pref.Preview = preview;
  return pref;
}

export function parseSyncOptions(e: WbxmlElement): SyncOptions {
  const o: SyncOptions = {
    Class: text(e, 'Class', ns),
    FilterType: integer(e, 'FilterType', ns),
    BodyPreference: children(e, 'BodyPreference', 'AirSyncBase').map(parseBodyPreference),
    BodyPartPreference: children(e, 'BodyPartPreference', 'AirSyncBase').map(parseBodyPreference),
    MIMESupport: integer(e, 'MIMESupport', ns),
    MIMETruncation: integer(e, 'MIMETruncation', ns),
    Conflict: integer(e, 'Conflict', ns),
    MaxItems: integer(e, 'MaxItems', ns),
  };
  const rm = flag(text(e, 'RightsManagementSupport', 'RightsManagement'));
  if (rm !== undefined) o.RightsManagementSupport = rm;
  return o;
}

function parseCommands(e: WbxmlElement | undefined): ClientCommand[] {
  if (e === undefined) return [];
  return e.children.map((c): ClientCommand => {
    const data = (): WbxmlElement => child(c, 'ApplicationData', ns) ?? el(ns, 'ApplicationData');
    switch (c.name) {
      case 'Add':
        return {
          kind: 'Add',
          ClientId: requireText(c, 'ClientId', ns),
          Class: text(c, 'Class', ns),
          ApplicationData: data(),
        };
      case 'Change':
        return {
          kind: 'Change',
          ServerId: requireText(c, 'ServerId', ns),
          Class: text(c, 'Class', ns),
          ApplicationData: data(),
        };
      case 'Delete':
        return { kind: 'Delete', ServerId: requireText(c, 'ServerId', ns), Class: text(c, 'Class', ns) };
      case 'Fetch':
        return { kind: 'Fetch', ServerId: requireText(c, 'ServerId', ns) };
      default:
        throw new ProtocolError(`Unknown Sync command ${c.name}`);
    }
  });
}

export function parseSyncRequest(body: WbxmlElement | undefined): SyncRequest {
  // An empty body is legal (MS-ASCMD 2.2.1.21.1.1): repeat the last request.
  if (body === undefined) return { Partial: false };
  const root = expectRoot(body, ns, 'Sync');
  const request: SyncRequest = {
    Wait: integer(root, 'Wait', ns),
    HeartbeatInterval: integer(root, 'HeartbeatInterval', ns),
    WindowSize: integer(root, 'WindowSize', ns),
    Partial: has(root, 'Partial', ns),
  };
  if (request.Wait !== undefined && request.HeartbeatInterval !== undefined) {
    // MS-ASCMD 2.2.3.194: Wait and HeartbeatInterval cannot both be present.
    throw new ProtocolError('Wait and HeartbeatInterval together');
  }
  const collections = child(root, 'Collections', ns);
  if (collections !== undefined) {
    request.collections = children(collections, 'Collection', ns).map((c) => {
      const syncKey = requireText(c, 'SyncKey', ns);
      const getChanges =
        flag(text(c, 'GetChanges', ns)) ?? (has(c, 'GetChanges', ns) ? true : syncKey !== '0');
      return {
        SyncKey: syncKey,
        CollectionId: requireText(c, 'CollectionId', ns),
        DeletesAsMoves: flag(text(c, 'DeletesAsMoves', ns)) ?? true,
        GetChanges: getChanges,
        WindowSize: integer(c, 'WindowSize', ns),
        ConversationMode: flag(text(c, 'ConversationMode', ns)),
        options: children(c, 'Options', ns).map(parseSyncOptions),
        Supported: child(c, 'Supported', ns),
        commands: parseCommands(child(c, 'Commands', ns)),
      };
    });
  }
  return request;
}

export type ServerCommand =
  | { kind: 'Add'; ServerId: string; ApplicationData: WbxmlElement[]; Class?: string }
  | { kind: 'Change'; ServerId: string; ApplicationData: WbxmlElement[]; Class?: string }
  | { kind: 'Delete'; ServerId: string; Class?: string }
  | { kind: 'SoftDelete'; ServerId: string };

export type CommandResponse =
  | { kind: 'Add'; ClientId: string; ServerId?: string; Status: number; Class?: string }
  | { kind: 'Change'; ServerId: string; Status: number; Class?: string }
  | { kind: 'Delete'; ServerId: string; Status: number }
  | { kind: 'Fetch'; ServerId: string; Status: number; ApplicationData?: WbxmlElement[] };

export interface SyncCollectionResponse {
  SyncKey: string;
  CollectionId: string;
  Status: number;
  responses: CommandResponse[];
  commands: ServerCommand[];
  MoreAvailable: boolean;
}

export interface SyncResponse {
  /** Top-level Status: only for failures that concern the whole request (MS-ASCMD 2.2.3.177.17). */
  Status?: number;
  /** With Status 14: the heartbeat bound the client must use. */
  Limit?: number;
  collections?: SyncCollectionResponse[];
}

function buildServerCommand(c: ServerCommand): WbxmlElement {
  switch (c.kind) {
    case 'Add':
    case 'Change':
      return el(
        ns,
        c.kind,
        c.Class !== undefined && el(ns, 'Class', c.Class),
        el(ns, 'ServerId', c.ServerId),
        el(ns, 'ApplicationData', c.ApplicationData),
      );
    case 'Delete':
      return el(
        ns,
        'Delete',
        c.Class !== undefined && el(ns, 'Class', c.Class),
        el(ns, 'ServerId', c.ServerId),
      );
    case 'SoftDelete':
      return el(ns, 'SoftDelete', el(ns, 'ServerId', c.ServerId));
  }
}

function buildCommandResponse(r: CommandResponse): WbxmlElement {
  switch (r.kind) {
    case 'Add':
      return el(
        ns,
        'Add',
        r.Class !== undefined && el(ns, 'Class', r.Class),
        el(ns, 'ClientId', r.ClientId),
        r.ServerId !== undefined && el(ns, 'ServerId', r.ServerId),
        el(ns, 'Status', r.Status),
      );
    case 'Change':
      return el(
        ns,
        'Change',
        r.Class !== undefined && el(ns, 'Class', r.Class),
        el(ns, 'ServerId', r.ServerId),
        el(ns, 'Status', r.Status),
      );
    case 'Delete':
      return el(ns, 'Delete', el(ns, 'ServerId', r.ServerId), el(ns, 'Status', r.Status));
    case 'Fetch':
      return el(
        ns,
        'Fetch',
        el(ns, 'ServerId', r.ServerId),
        el(ns, 'Status', r.Status),
        r.ApplicationData !== undefined && el(ns, 'ApplicationData', r.ApplicationData),
      );
  }
}

export function buildSyncCollection(c: SyncCollectionResponse): WbxmlElement {
  return el(
    ns,
    'Collection',
    el(ns, 'SyncKey', c.SyncKey),
    el(ns, 'CollectionId', c.CollectionId),
    el(ns, 'Status', c.Status),
    c.responses.length > 0 && el(ns, 'Responses', c.responses.map(buildCommandResponse)),
    c.commands.length > 0 && el(ns, 'Commands', c.commands.map(buildServerCommand)),
    c.MoreAvailable && el(ns, 'MoreAvailable'),
  );
}

export function buildSyncResponse(r: SyncResponse): WbxmlElement {
  return el(
    ns,
    'Sync',
    r.Status !== undefined && el(ns, 'Status', r.Status),
    r.Limit !== undefined && el(ns, 'Limit', r.Limit),
    r.collections !== undefined && el(ns, 'Collections', r.collections.map(buildSyncCollection)),
  );
}
