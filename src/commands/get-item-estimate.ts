// GetItemEstimate (MS-ASCMD 2.2.1.9): how many changes a Sync of each collection would bring,
// counted from the collection's sync state with the generic differ. Read-only: MS-ASCMD 2.2.3.181.3,
// the server does not update the SyncKey on GetItemEstimate, so no state is written.
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { Account } from '../backend/contract.js';
import {
  buildGetItemEstimateResponse,
  GetItemEstimateStatus,
  parseGetItemEstimateRequest,
  type EstimateCollectionRequest,
  type EstimateResponse,
  type GetItemEstimateRequest,
} from '../protocol/get-item-estimate.js';
import { ProtocolError } from '../protocol/read.js';
import type { DeviceScope } from '../state/store.js';
import { SyncStateStore } from '../state/sync-state.js';
import { estimateChanges, type CollectionContext, type CollectionState } from '../sync/collection.js';
import { loadDeviceFolders } from '../sync/device-folders.js';
import { backendCall, type EngineDeps } from './deps.js';
import type { CommandHandler } from './types.js';

export function createGetItemEstimateHandler(deps: EngineDeps): CommandHandler<Account> {
  return async (ctx) => {
    let request: GetItemEstimateRequest;
    try {
      request = parseGetItemEstimateRequest(ctx.body);
    } catch (err) {
      if (err instanceof ProtocolError)
        return {
          body: buildGetItemEstimateResponse({
            Status: GetItemEstimateStatus.InvalidCollection,
            responses: [],
          }),
        };
      throw err;
    }
    const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
    const device = await loadDeviceFolders(scope);

    const responses: EstimateResponse[] = [];
    for (const req of request.collections) {
      const status = (Status: number): EstimateResponse => ({ Status, CollectionId: req.CollectionId });
      // Resolved as Sync does: through the hierarchy this device was last given.
      const resolved = device.resolve(req.CollectionId, ctx.protocolVersion);
      if (resolved === undefined) {
        responses.push(status(GetItemEstimateStatus.InvalidCollection));
        continue;
      }
      const { folderId, cls } = resolved;
      const options = req.options.find((o) => o.Class === undefined || o.Class === cls) ?? req.options[0];
      // MS-ASCMD 2.2.3.103.1: MaxItems only for the recipient information cache ("RI"), which
      // easd does not keep; anywhere else it is Status 2.
      if (options?.MaxItems !== undefined) {
        responses.push(status(GetItemEstimateStatus.InvalidCollection));
        continue;
      }
      // MS-ASCON 3.2.5.2: a conversation-based filter on a folder not of the Email class is 4.
      if (req.ConversationMode === true && cls !== 'Email') {
        responses.push(status(GetItemEstimateStatus.InvalidSyncKey));
        continue;
      }
      const cx: CollectionContext = {
        backend: deps.backend,
        account: ctx.account,
        protocolVersion: ctx.protocolVersion,
        collectionId: req.CollectionId,
        folderId,
        signal: ctx.signal,
      };
      responses.push(
        await scope.lock(req.CollectionId, () => estimateOne(scope, cx, req, cls, options?.FilterType), {
          signal: ctx.signal,
        }),
      );
    }
    return { body: buildGetItemEstimateResponse({ responses }) };
  };
}

async function estimateOne(
  scope: DeviceScope,
  cx: CollectionContext,
  req: EstimateCollectionRequest,
  cls: CollectionState['class'],
  filterType: number | undefined,
): Promise<EstimateResponse> {
  const status = (Status: number): EstimateResponse => ({ Status, CollectionId: req.CollectionId });
  const states = new SyncStateStore<CollectionState, WbxmlElement>(scope);
  // MS-ASCMD 2.2.3.177.7: 3 when the client never did the Sync with SyncKey 0 for the collection;
  // 4 when the key is not one the server holds (2.2.3.181.3), "0" included once state exists.
  if ((await states.current(req.CollectionId)) === undefined)
    return status(GetItemEstimateStatus.SyncStateNotPrimed);
  const loaded = await states.load(req.CollectionId, req.SyncKey);
  if (loaded === null) return status(GetItemEstimateStatus.InvalidSyncKey);
  // The previous key (a client that lost a Sync answer) counts from the state it still holds.
  const state: CollectionState = loaded.state;
  if (state.class !== cls) return status(GetItemEstimateStatus.InvalidCollection);
  // The request's FilterType applies to this count only; the stored state keeps its own.
  const view: CollectionState = filterType === undefined ? state : { ...state, filterType };
  const counted = await backendCall('GetItemEstimate', () => estimateChanges(cx, view), 'folder');
  if (!counted.ok) return status(counted.status);
  return { Status: GetItemEstimateStatus.Success, CollectionId: req.CollectionId, Estimate: counted.value };
}
