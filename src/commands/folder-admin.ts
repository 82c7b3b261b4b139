// FolderCreate, FolderUpdate, FolderDelete (MS-ASCMD 2.2.1.3, 2.2.1.6, 2.2.1.4). Each needs the
// current FolderSync key, changes the store through the backend's folder capability, and moves
// the hierarchy state on with a new key, so the next FolderSync does not echo the client's own
// change back to it.
import type { Account } from '../backend/contract.js';
import { classForCreateType, folderTypeFor } from '../backend/folder-types.js';
import {
  buildFolderCreateResponse,
  buildFolderDeleteResponse,
  buildFolderUpdateResponse,
  parseFolderCreateRequest,
  parseFolderDeleteRequest,
  parseFolderUpdateRequest,
} from '../protocol/folder-hierarchy.js';
import { ProtocolError } from '../protocol/read.js';
import type { DeviceScope } from '../state/store.js';
import {
  FolderIdMap,
  HierarchyStateStore,
  nextSyncKey,
  type FolderSnapshot,
  type HierarchyState,
} from '../state/sync-state.js';
import { backendCall, type EngineDeps } from './deps.js';
import type { CommandHandler, CommandResult } from './types.js';

/** Status values shared by the three commands (MS-ASCMD 2.2.3.177.3, .4, .6). */
const Status = {
  Success: 1,
  SpecialFolder: 3,
  NotFound: 4,
  ParentNotFound: 5,
  ServerError: 6,
  InvalidSyncKey: 9,
  BadRequest: 10,
} as const;

type Build = (r: {
  Status: number;
  SyncKey?: string;
  ServerId?: string;
}) => ReturnType<typeof buildFolderCreateResponse>;

interface Step {
  scope: DeviceScope;
  ids: FolderIdMap;
  folders: FolderSnapshot[];
}

/** The shared frame: parse, lock, check the key, run `change`, commit the new hierarchy state. */
function folderCommand<R extends { SyncKey: string }>(
  deps: EngineDeps,
  parse: (body: Parameters<typeof parseFolderCreateRequest>[0]) => R,
  build: Build,
  change: (
    req: R,
    step: Step,
    ctx: Parameters<CommandHandler<Account>>[0],
  ) => Promise<{ status: number; folders?: FolderSnapshot[]; ServerId?: string }>,
): CommandHandler<Account> {
  return async (ctx): Promise<CommandResult> => {
    if (deps.backend.folders === undefined) return { body: build({ Status: Status.ServerError }) };
    let req: R;
    try {
      req = parse(ctx.body);
    } catch (err) {
      if (err instanceof ProtocolError) return { body: build({ Status: Status.BadRequest }) };
      throw err;
    }
    const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
    const states = new HierarchyStateStore<HierarchyState>(scope);
    return scope.lock(
      'hierarchy',
      async () => {
        const current = await states.current();
        // MS-ASCMD 2.2.3.166.3: only the current key; a client behind must FolderSync first.
        if (current === undefined || current.key !== req.SyncKey)
          return { body: build({ Status: Status.InvalidSyncKey }) };
        const ids = await FolderIdMap.load(scope);
        const result = await change(req, { scope, ids, folders: current.state.folders }, ctx);
        await ids.save();
        if (result.status !== Status.Success || result.folders === undefined)
          return { body: build({ Status: result.status }) };
        const newKey = nextSyncKey(current.key);
        await states.commit(newKey, { folders: result.folders }, { fromKey: current.key });
        return { body: build({ Status: Status.Success, SyncKey: newKey, ServerId: result.ServerId }) };
      },
      { signal: ctx.signal },
    );
  };
}

/** A parent ServerId ("0" = top level) → backend folder id; undefined when unknown. */
function parentOf(step: Step, parentServerId: string): string | null | undefined {
  if (parentServerId === '0') return null;
  if (!step.folders.some((f) => f.ServerId === parentServerId)) return undefined;
  return step.ids.backendId(parentServerId);
}

export function createFolderCreateHandler(deps: EngineDeps): CommandHandler<Account> {
  return folderCommand(deps, parseFolderCreateRequest, buildFolderCreateResponse, async (req, step, ctx) => {
    const cls = classForCreateType(req.Type);
    if (cls === undefined) return { status: Status.BadRequest };
    const parent = parentOf(step, req.ParentId);
    if (parent === undefined) return { status: Status.ParentNotFound };
    const created = await backendCall(
      'FolderCreate',
      () => deps.backend.folders!.createFolder(ctx.account, parent, req.DisplayName, cls, ctx.signal),
      'folder',
    );
    if (!created.ok) return { status: created.status };
    const f = created.value;
    const ServerId = step.ids.assign(f.id);
    const entry: FolderSnapshot = {
      ServerId,
      ParentId: req.ParentId,
      DisplayName: f.displayName,
      Type: folderTypeFor(f.class, f.role),
    };
    return { status: Status.Success, folders: [...step.folders, entry], ServerId };
  });
}

export function createFolderUpdateHandler(deps: EngineDeps): CommandHandler<Account> {
  return folderCommand(deps, parseFolderUpdateRequest, buildFolderUpdateResponse, async (req, step, ctx) => {
    const target = step.folders.find((f) => f.ServerId === req.ServerId);
    const backendId = step.ids.backendId(req.ServerId);
    if (target === undefined || backendId === undefined) return { status: Status.NotFound };
    const parent = parentOf(step, req.ParentId);
    if (parent === undefined) return { status: Status.ParentNotFound };
    const updated = await backendCall(
      'FolderUpdate',
      () =>
        deps.backend.folders!.updateFolder(
          ctx.account,
          backendId,
          { displayName: req.DisplayName, parentId: parent },
          ctx.signal,
        ),
      'folder',
    );
    if (!updated.ok) return { status: updated.status };
    const folders = step.folders.map((f) =>
      f.ServerId === req.ServerId
        ? { ...f, DisplayName: updated.value.displayName, ParentId: req.ParentId }
        : f,
    );
    return { status: Status.Success, folders };
  });
}

export function createFolderDeleteHandler(deps: EngineDeps): CommandHandler<Account> {
  return folderCommand(deps, parseFolderDeleteRequest, buildFolderDeleteResponse, async (req, step, ctx) => {
    const backendId = step.ids.backendId(req.ServerId);
    if (backendId === undefined || !step.folders.some((f) => f.ServerId === req.ServerId))
      return { status: Status.NotFound };
    const deleted = await backendCall(
      'FolderDelete',
      () => deps.backend.folders!.deleteFolder(ctx.account, backendId, ctx.signal),
      'folder',
    );
    if (!deleted.ok) return { status: deleted.status };
    // The folder's subfolders go with it (MS-ASCMD 2.2.1.4).
    const gone = new Set([req.ServerId]);
    for (let grew = true; grew;) {
      grew = false;
      for (const f of step.folders) {
        if (!gone.has(f.ServerId) && gone.has(f.ParentId)) {
          gone.add(f.ServerId);
          grew = true;
        }
      }
    }
    for (const id of gone) await step.scope.collection(id).delete();
    return { status: Status.Success, folders: step.folders.filter((f) => !gone.has(f.ServerId)) };
  });
}
