// FolderSync (MS-ASCMD 2.2.1.5): the folder hierarchy and its changes since the client's key.
// SyncKey 0 starts over; the previous key replays the answer the client lost; any other key is
// Status 9 and the client starts over.
import type { WbxmlElement } from '../../wbxml/tree.js';
import { buildFolderSyncResponse, parseFolderSyncRequest } from '../protocol/folder-hierarchy.js';
import { ProtocolError } from '../protocol/read.js';
import { FolderIdMap, HierarchyStateStore, nextSyncKey, type HierarchyState } from '../state/sync-state.js';
import { currentFolders, diffFolders, diffIsEmpty } from '../sync/hierarchy.js';
import { backendCall, type EngineDeps } from './deps.js';
import type { CommandHandler } from './types.js';
import type { Account } from '../backend/contract.js';

/** MS-ASCMD 2.2.3.177.5 */
export const FolderSyncStatus = { Success: 1, ServerError: 6, InvalidSyncKey: 9, BadRequest: 10 } as const;

export function createFolderSyncHandler(deps: EngineDeps): CommandHandler<Account> {
  return async (ctx) => {
    let syncKey: string;
    try {
      syncKey = parseFolderSyncRequest(ctx.body).SyncKey;
    } catch (err) {
      if (err instanceof ProtocolError)
        return { body: buildFolderSyncResponse({ Status: FolderSyncStatus.BadRequest }) };
      throw err;
    }
    const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
    const states = new HierarchyStateStore<HierarchyState, WbxmlElement>(scope);

    return scope.lock(
      'hierarchy',
      async () => {
        let known: HierarchyState = { folders: [] };
        if (syncKey !== '0') {
          const loaded = await states.load(syncKey);
          if (loaded === null)
            return { body: buildFolderSyncResponse({ Status: FolderSyncStatus.InvalidSyncKey }) };
          // The client lost our answer: give it the same one again.
          if (loaded.replay && loaded.response !== undefined) return { body: loaded.response };
          known = loaded.state;
        }
        const ids = await FolderIdMap.load(scope);
        const listed = await backendCall(
          'FolderSync',
          () => currentFolders(deps.backend, ctx.account, ids, ctx.protocolVersion, ctx.signal),
          'folder',
        );
        if (!listed.ok) return { body: buildFolderSyncResponse({ Status: listed.status }) };
        await ids.save();
        const diff = diffFolders(known.folders, listed.value);
        if (syncKey !== '0' && diffIsEmpty(diff)) {
          // Nothing new: the key stays, no state is written (phones ask often).
          return {
            body: buildFolderSyncResponse({
              Status: 1,
              SyncKey: syncKey,
              changes: { add: [], update: [], delete: [] },
            }),
          };
        }
        const newKey = nextSyncKey(syncKey === '0' ? undefined : syncKey);
        const response = buildFolderSyncResponse({
          Status: FolderSyncStatus.Success,
          SyncKey: newKey,
          changes: diff,
        });
        await states.commit(newKey, { folders: listed.value }, { fromKey: syncKey, response });
        return { body: response };
      },
      { signal: ctx.signal },
    );
  };
}
