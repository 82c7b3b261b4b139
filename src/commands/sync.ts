// Sync (MS-ASCMD 2.2.1.21): orchestrates the collections of a request — resolving each against
// the device's folder hierarchy, serialising work per collection, replaying lost answers — and
// remembers the request so an empty or Partial Sync can reuse it (MS-ASCMD 2.2.1.21.1.1).
import { el, type WbxmlElement } from '../../wbxml/tree.js';
import type { Account } from '../backend/contract.js';
import { invitationPlanner } from '../calendar/invitations.js';
import { ProtocolError } from '../protocol/read.js';
import {
  buildSyncCollection,
  buildSyncResponse,
  parseSyncRequest,
  type SyncCollectionRequest,
  type SyncRequest,
} from '../protocol/sync.js';
import type { DeviceScope } from '../state/store.js';
import { nextSyncKey, SyncStateStore } from '../state/sync-state.js';
import {
  applyClientCommands,
  collectServerChanges,
  defaultWindowSize,
  maxWindowSize,
  optionsFor,
  SyncStatus,
  type CollectionContext,
  type CollectionState,
} from '../sync/collection.js';
import { waitForChange } from '../push/wait.js';
import { loadDeviceFolders } from '../sync/device-folders.js';
import type { EngineDeps } from './deps.js';
import type { CommandHandler, CommandResult } from './types.js';

/** The request as remembered for empty and Partial Syncs: everything but keys and commands. */
interface CachedRequest {
  collections: Array<Omit<SyncCollectionRequest, 'SyncKey' | 'commands'>>;
  Wait?: number;
  HeartbeatInterval?: number;
  WindowSize?: number;
}

/** MS-ASCMD 2.2.3.194 Wait (minutes) and 2.2.3.79.1 HeartbeatInterval (seconds) bounds. */
const waitBounds = { min: 1, max: 59 };
const heartbeatBounds = { min: 60, max: 3540 };

type CollectionOutcome = { element: WbxmlElement; changed: boolean };

export function createSyncHandler(deps: EngineDeps): CommandHandler<Account> {
  return async (ctx): Promise<CommandResult> => {
    let request: SyncRequest;
    try {
      request = parseSyncRequest(ctx.body);
    } catch (err) {
      if (err instanceof ProtocolError)
        return { body: buildSyncResponse({ Status: SyncStatus.ProtocolError }) };
      throw err;
    }
    if (request.Wait !== undefined && (request.Wait < waitBounds.min || request.Wait > waitBounds.max)) {
      return {
        body: buildSyncResponse({
          Status: SyncStatus.InvalidWaitOrHeartbeat,
          Limit: request.Wait < waitBounds.min ? waitBounds.min : waitBounds.max,
        }),
      };
    }
    const hb = request.HeartbeatInterval;
    if (hb !== undefined && (hb < heartbeatBounds.min || hb > heartbeatBounds.max)) {
      return {
        body: buildSyncResponse({
          Status: SyncStatus.InvalidWaitOrHeartbeat,
          Limit: hb < heartbeatBounds.min ? heartbeatBounds.min : heartbeatBounds.max,
        }),
      };
    }

    const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
    const collections = await withCache(scope, request);
    if (collections === undefined)
      return { body: buildSyncResponse({ Status: SyncStatus.IncompleteRequest }) };

    const device = await loadDeviceFolders(scope);
    const trashFolderId = async (): Promise<string | undefined> => device.trashFolderId();

    const watchedFolders: string[] = [];
    const run = async (signal: AbortSignal): Promise<CollectionOutcome[]> => {
      const outcomes: CollectionOutcome[] = [];
      for (const req of collections) {
        const windowSize =
          Math.min(req.WindowSize ?? request.WindowSize ?? defaultWindowSize, maxWindowSize) ||
          defaultWindowSize;
        const resolved = device.resolve(req.CollectionId, ctx.protocolVersion);
        if (resolved === undefined) {
          // Unknown to this device's hierarchy: it must FolderSync (MS-ASCMD 2.2.3.177.17, 12).
          outcomes.push(statusOnly(req, SyncStatus.FolderHierarchyChanged));
          continue;
        }
        const { folderId, cls } = resolved;
        if (!watchedFolders.includes(folderId)) watchedFolders.push(folderId);
        const cx: CollectionContext = {
          backend: deps.backend,
          account: ctx.account,
          protocolVersion: ctx.protocolVersion,
          collectionId: req.CollectionId,
          folderId,
          trashFolderId,
          invitations: invitationPlanner({
            backend: deps.backend,
            account: ctx.account,
            protocolVersion: ctx.protocolVersion,
            signal,
            log: ctx.log,
          }),
          signal,
        };
        outcomes.push(
          await scope.lock(req.CollectionId, () => syncCollection(scope, cx, req, cls, windowSize), {
            signal,
          }),
        );
        // The device changed something: wake the user's other devices at once (any node).
        if (req.commands.length > 0) {
          deps.push?.hub
            .notify(ctx.account.user, { folderIds: [folderId] })
            .catch((err: unknown) => ctx.log.warn({ err }, 'push notify failed'));
        }
      }
      return outcomes;
    };

    let changed = (await run(ctx.signal)).filter((o) => o.changed);
    // Sync with Wait (minutes) or HeartbeatInterval (seconds): held until something changes
    // (MS-ASCMD 2.2.3.194, 2.2.3.79.1), like a Ping.
    const waitSeconds = request.Wait !== undefined ? request.Wait * 60 : request.HeartbeatInterval;
    if (changed.length === 0 && waitSeconds !== undefined && deps.push !== undefined) {
      const outcome = await waitForChange({
        hub: deps.push.hub,
        account: ctx.account,
        deviceId: ctx.line.deviceId,
        folderIds: watchedFolders,
        timeoutMs: waitSeconds * 1000,
        signal: ctx.signal,
        onError: (err) => ctx.log.warn({ err }, 'sync wait check failed'),
        check: async (_hint, signal) => {
          const found = (await run(signal)).filter((o) => o.changed);
          return found.length > 0 ? found : undefined;
        },
      });
      if (outcome.kind === 'changed') changed = outcome.value;
    }

    // MS-ASCMD 2.2.1.21: when nothing changed anywhere, an empty response; the client keeps its keys.
    if (changed.length === 0) return {};
    return {
      body: el(
        'AirSync',
        'Sync',
        el(
          'AirSync',
          'Collections',
          changed.map((o) => o.element),
        ),
      ),
    };
  };
}

function statusOnly(req: SyncCollectionRequest, status: number): CollectionOutcome {
  return {
    changed: true,
    element: buildSyncCollection({
      SyncKey: req.SyncKey,
      CollectionId: req.CollectionId,
      Status: status,
      responses: [],
      commands: [],
      MoreAvailable: false,
    }),
  };
}

async function syncCollection(
  scope: DeviceScope,
  cx: CollectionContext,
  req: SyncCollectionRequest,
  cls: CollectionState['class'],
  windowSize: number,
): Promise<CollectionOutcome> {
  const states = new SyncStateStore<CollectionState, WbxmlElement>(scope);
  const filterType = optionsFor(req, cls)?.FilterType;

  if (req.SyncKey === '0') {
    // MS-ASCMD 2.2.1.21: the first Sync only sets up state; items come with the next request.
    const newKey = nextSyncKey();
    const state: CollectionState = { class: cls, known: new Map(), filterType };
    if (req.Supported !== undefined) state.supported = req.Supported;
    const element = buildSyncCollection({
      SyncKey: newKey,
      CollectionId: req.CollectionId,
      Status: SyncStatus.Success,
      responses: [],
      commands: [],
      MoreAvailable: false,
    });
    await states.commit(req.CollectionId, newKey, state, { fromKey: '0', response: element });
    return { element, changed: true };
  }

  const loaded = await states.load(req.CollectionId, req.SyncKey);
  if (loaded === null) {
    // MS-ASCMD 2.2.3.177.17: 3 — the client must start over with SyncKey 0.
    return statusOnly({ ...req, SyncKey: '0' }, SyncStatus.InvalidSyncKey);
  }
  if (loaded.replay && loaded.response !== undefined) return { element: loaded.response, changed: true };

  const state: CollectionState = loaded.state;
  if (state.class !== cls) return statusOnly(req, SyncStatus.FolderHierarchyChanged);
  if (filterType !== undefined) state.filterType = filterType;

  const responses = await applyClientCommands(
    cx,
    req,
    state,
    req.commands,
    loaded.replay ? loaded.next?.state.clientIds : undefined,
  );
  let commands: Awaited<ReturnType<typeof collectServerChanges>> = { commands: [], moreAvailable: false };
  if (req.GetChanges) commands = await collectServerChanges(cx, req, state, windowSize);
  if ('status' in commands) return statusOnly(req, commands.status);

  if (
    responses.length === 0 &&
    commands.commands.length === 0 &&
    req.commands.length === 0 &&
    !loaded.replay
  ) {
    return {
      element: buildSyncCollection({
        SyncKey: req.SyncKey,
        CollectionId: req.CollectionId,
        Status: SyncStatus.Success,
        responses: [],
        commands: [],
        MoreAvailable: false,
      }),
      changed: false,
    };
  }
  const newKey = nextSyncKey(req.SyncKey);
  const element = buildSyncCollection({
    SyncKey: newKey,
    CollectionId: req.CollectionId,
    Status: SyncStatus.Success,
    responses,
    commands: commands.commands,
    MoreAvailable: commands.moreAvailable,
  });
  await states.commit(req.CollectionId, newKey, state, { fromKey: req.SyncKey, response: element });
  return { element, changed: true };
}

/**
 * The collections to work on: the request's own, or — for an empty or Partial request — the
 * remembered ones with their current keys. Undefined when there is nothing to reuse.
 */
async function withCache(
  scope: DeviceScope,
  request: SyncRequest,
): Promise<SyncCollectionRequest[] | undefined> {
  const slot = scope.data('sync-request');
  const cached = await slot.get<CachedRequest>();
  const remember = async (collections: SyncCollectionRequest[]): Promise<void> => {
    const next: CachedRequest = {
      collections: collections.map(({ SyncKey: _k, commands: _c, ...rest }) => rest),
    };
    if (request.Wait !== undefined) next.Wait = request.Wait;
    if (request.HeartbeatInterval !== undefined) next.HeartbeatInterval = request.HeartbeatInterval;
    if (request.WindowSize !== undefined) next.WindowSize = request.WindowSize;
    await slot.set(next);
  };
  if (request.collections !== undefined && !request.Partial) {
    await remember(request.collections);
    return request.collections;
  }
  if (cached === undefined) return undefined;
  const states = new SyncStateStore<CollectionState, WbxmlElement>(scope);
  const given = new Map((request.collections ?? []).map((c) => [c.CollectionId, c]));
  const merged: SyncCollectionRequest[] = [];
  for (const c of cached.collections) {
    const own = given.get(c.CollectionId);
    if (own !== undefined) {
      merged.push(own);
      given.delete(c.CollectionId);
      continue;
    }
    const current = await states.current(c.CollectionId);
    if (current !== undefined) merged.push({ ...c, SyncKey: current.key, commands: [] });
  }
  merged.push(...given.values());
  if (request.WindowSize === undefined && cached.WindowSize !== undefined)
    request.WindowSize = cached.WindowSize;
  await remember(merged);
  return merged;
}
