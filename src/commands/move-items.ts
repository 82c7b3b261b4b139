// MoveItems (MS-ASCMD 2.2.1.12): moves items between collections of one class. The device moves
// the item locally as soon as it reads Status 3, so both collections' sync states take the move
// in place (same keys): the next Sync neither deletes the item from the source again nor adds it
// to the destination a second time.
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { Account } from '../backend/contract.js';
import type { ItemClass } from '../backend/model.js';
import { EasHttpError } from '../errors.js';
import {
  buildMoveItemsResponse,
  MoveItemsStatus,
  parseMoveItemsRequest,
  type MoveRequest,
  type MoveResponse,
} from '../protocol/move-items.js';
import { ProtocolError } from '../protocol/read.js';
import { LockTimeoutError, type DeviceScope } from '../state/store.js';
import { SyncStateStore } from '../state/sync-state.js';
import { itemIdFor, itemIdOf, type CollectionState } from '../sync/collection.js';
import { loadDeviceFolders } from '../sync/device-folders.js';
import { backendCall, type EngineContext, type EngineDeps } from './deps.js';
import { versionAtLeast, type CommandHandler, type ProtocolVersion } from './types.js';

/** A collection of the device's hierarchy, with what the engine needs to work on it. */
export interface Collection {
  collectionId: string;
  folderId: string;
  class: ItemClass;
}

/**
 * Looks collections up as the device knows them (its last FolderSync), as Sync does: a folder the
 * device was never told of, or whose class this protocol version lacks, is unknown.
 */
export async function collectionResolver(
  scope: DeviceScope,
  protocolVersion: ProtocolVersion,
): Promise<(collectionId: string) => Collection | undefined> {
  const device = await loadDeviceFolders(scope);
  return (collectionId) => {
    const r = device.resolve(collectionId, protocolVersion);
    return r === undefined ? undefined : { collectionId, folderId: r.folderId, class: r.cls };
  };
}

/** The item id inside a ServerId of the collection ("<collection>:<item>", as Sync gives them). */
export const itemIdIn = itemIdOf;

/** How long a move waits for a collection a Sync is working on before answering Status 7. */
export const defaultMoveLockWaitMs = 10_000;

/** MS-ASCMD 2.2.2 common status 103 InvalidXML (14.0+): the request breaks the command's schema. */
const InvalidXML = 103;

export function createMoveItemsHandler(
  deps: EngineDeps,
  opts: { lockWaitMs?: number } = {},
): CommandHandler<Account> {
  const lockWaitMs = opts.lockWaitMs ?? defaultMoveLockWaitMs;
  return async (ctx) => {
    let moves: MoveRequest[];
    try {
      moves = parseMoveItemsRequest(ctx.body).moves;
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      // MS-ASCMD 2.2.3.177.10 has no value for an unreadable request: 14.0+ clients get the common
      // code in the optional top-level Status, 12.x ones (which know no common codes) HTTP 400.
      if (versionAtLeast(ctx.protocolVersion, '14.0'))
        return { body: buildMoveItemsResponse({ Status: InvalidXML, responses: [] }) };
      throw new EasHttpError('bad-request', err.message);
    }
    const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
    const resolve = await collectionResolver(scope, ctx.protocolVersion);
    const responses: MoveResponse[] = [];
    for (const move of moves) responses.push(await moveOne(deps, ctx, scope, resolve, move, lockWaitMs));
    return { body: buildMoveItemsResponse({ responses }) };
  };
}

async function moveOne(
  deps: EngineDeps,
  ctx: EngineContext,
  scope: DeviceScope,
  resolve: (collectionId: string) => Collection | undefined,
  move: MoveRequest,
  lockWaitMs: number,
): Promise<MoveResponse> {
  const answer = (Status: number, DstMsgId?: string): MoveResponse =>
    DstMsgId === undefined
      ? { SrcMsgId: move.SrcMsgId, Status }
      : { SrcMsgId: move.SrcMsgId, Status, DstMsgId };
  // MS-ASCMD 2.2.3.177.10: 1 unknown source folder or an item not in it, 2 unknown destination,
  // 4 source and destination are the same.
  const src = resolve(move.SrcFldId);
  const itemId = src === undefined ? undefined : itemIdIn(src.collectionId, move.SrcMsgId);
  if (src === undefined || itemId === undefined) return answer(MoveItemsStatus.InvalidSource);
  const dst = resolve(move.DstFldId);
  // A folder of another class cannot take the item: it is no valid destination for it.
  if (dst === undefined || dst.class !== src.class) return answer(MoveItemsStatus.InvalidDestination);
  if (dst.collectionId === src.collectionId) return answer(MoveItemsStatus.SameSourceAndDestination);

  // Both collections' locks, always in the same order, so two crossed moves cannot deadlock.
  const [first, second] =
    src.collectionId < dst.collectionId
      ? [src.collectionId, dst.collectionId]
      : [dst.collectionId, src.collectionId];
  const lockOpts = { signal: ctx.signal, waitMs: lockWaitMs };
  const locked = async (): Promise<MoveResponse> => {
    const states = new SyncStateStore<CollectionState, WbxmlElement>(scope);
    // the item may have a new backend id since the device got its ServerId (a draft edit)
    const current = itemIdFor(
      (await states.current(src.collectionId))?.state,
      src.collectionId,
      move.SrcMsgId,
    );
    const backendId = current ?? itemId;
    const r = await backendCall('MoveItems', () =>
      deps.backend.moveItem(ctx.account, src.folderId, backendId, dst.folderId, ctx.signal),
    );
    if (!r.ok) return answer(r.status);
    await states.update(src.collectionId, (s) => {
      s.known.delete(backendId);
      s.aliases?.delete(itemId);
      return s;
    });
    await states.update(dst.collectionId, (s) => {
      s.known.set(r.value.id, r.value.version);
      return s;
    });
    // The user's other devices (any node) learn of it at once, as after a Sync that changed something.
    deps.push?.hub
      .notify(ctx.account.user, { folderIds: [src.folderId, dst.folderId] })
      .catch((err: unknown) => ctx.log.warn({ err }, 'push notify failed'));
    return answer(MoveItemsStatus.Success, `${dst.collectionId}:${r.value.id}`);
  };
  try {
    return await scope.lock(first, () => scope.lock(second, locked, lockOpts), lockOpts);
  } catch (err) {
    // MS-ASCMD 2.2.3.177.10: 7 — the source or destination is locked; the client retries.
    if (err instanceof LockTimeoutError) return answer(MoveItemsStatus.Locked);
    throw err;
  }
}
