// A device's view of its folders: the hierarchy it was last given (FolderSync state) and the
// ServerId ↔ backend id map. Every command that names a collection (Sync, Ping,
// GetItemEstimate, MoveItems, ItemOperations) resolves it here, so they agree on what exists.
import type { ItemClass } from '../backend/model.js';
import { FolderType } from '../backend/folder-types.js';
import type { ProtocolVersion } from '../commands/types.js';
import { classSupported } from '../protocol/items/index.js';
import type { DeviceScope } from '../state/store.js';
import {
  FolderIdMap,
  HierarchyStateStore,
  type FolderSnapshot,
  type HierarchyState,
} from '../state/sync-state.js';
import { classOfType } from './hierarchy.js';

export interface ResolvedCollection {
  collectionId: string;
  folderId: string;
  cls: ItemClass;
  Type: number;
}

export interface DeviceFolders {
  /** The folders as the device was last told (empty before its first FolderSync). */
  folders: readonly FolderSnapshot[];
  ids: FolderIdMap;
  /**
   * The collection behind a ServerId, or undefined when this device's hierarchy does not have it
   * (or its class does not exist in the protocol version): the device must FolderSync.
   */
  resolve(collectionId: string, protocolVersion: ProtocolVersion): ResolvedCollection | undefined;
  /** Backend id of the Deleted Items folder (DeletesAsMoves), if the device knows one. */
  trashFolderId(): string | undefined;
}

export async function loadDeviceFolders(scope: DeviceScope): Promise<DeviceFolders> {
  const hierarchy = await new HierarchyStateStore<HierarchyState>(scope).current();
  const ids = await FolderIdMap.load(scope);
  const folders = hierarchy?.state.folders ?? [];
  return {
    folders,
    ids,
    resolve(collectionId, protocolVersion) {
      const folder = folders.find((f) => f.ServerId === collectionId);
      if (folder === undefined) return undefined;
      const folderId = ids.backendId(folder.ServerId);
      const cls = classOfType(folder.Type);
      if (folderId === undefined || cls === undefined || !classSupported(cls, protocolVersion))
        return undefined;
      return { collectionId, folderId, cls, Type: folder.Type };
    },
    trashFolderId() {
      const trash = folders.find((f) => f.Type === FolderType.DeletedItems);
      return trash === undefined ? undefined : ids.backendId(trash.ServerId);
    },
  };
}
