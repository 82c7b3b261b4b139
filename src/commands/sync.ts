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
import type { Logger } from 'pino';
import type { PushHub } from '../push/hub.js';
import { waitForChange } from '../push/wait.js';
import { AddJournal, addsOf } from '../sync/add-journal.js';
import { loadDeviceFolders, type DeviceFolders } from '../sync/device-folders.js';
import type { EngineDeps } from './deps.js';
import type { CommandHandler, CommandResult, ProtocolVersion } from './types.js';

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
    const looks: CollectionLook[] = collections.map((req) => ({
      req,
      windowSize:
        Math.min(req.WindowSize ?? request.WindowSize ?? defaultWindowSize, maxWindowSize) ||
        defaultWindowSize,
      resolved: device.resolve(req.CollectionId, ctx.protocolVersion),
    }));
    const target: SyncTarget = {
      deps,
      account: ctx.account,
      deviceId: ctx.line.deviceId,
      protocolVersion: ctx.protocolVersion,
      trashFolderId: async () => device.trashFolderId(),
    };
    const changed = (await syncCollections(target, looks, ctx.signal, ctx.log)).filter((o) => o.changed);

    // Sync with Wait (minutes) or HeartbeatInterval (seconds): held until something changes
    // (MS-ASCMD 2.2.3.194, 2.2.3.79.1), like a Ping.
    const waitSeconds = request.Wait !== undefined ? request.Wait * 60 : request.HeartbeatInterval;
    if (changed.length === 0 && waitSeconds !== undefined && deps.push !== undefined) {
      // Returned, not awaited: this frame (the request, its body and decoded tree, the device's
      // hierarchy) ends here rather than living as long as the Sync is held.
      return holdSync(deps.push.hub, target, looks, waitSeconds, ctx.signal, ctx.log);
    }
    return syncResponse(changed);
  };
}

/** One collection of the request, resolved against the device's hierarchy. */
interface CollectionLook {
  req: SyncCollectionRequest;
  windowSize: number;
  /** Undefined when the collection is not in the device's hierarchy. */
  resolved: ReturnType<DeviceFolders['resolve']>;
}

/** Who and what a Sync works for; what a held Sync keeps besides its collections. */
interface SyncTarget {
  deps: EngineDeps;
  account: Account;
  deviceId: string;
  protocolVersion: ProtocolVersion;
  trashFolderId: () => Promise<string | undefined>;
}

async function syncCollections(
  t: SyncTarget,
  looks: readonly CollectionLook[],
  signal: AbortSignal,
  log: Logger,
): Promise<CollectionOutcome[]> {
  const scope = t.deps.state.device(t.account.user, t.deviceId);
  const outcomes: CollectionOutcome[] = [];
  for (const { req, windowSize, resolved } of looks) {
    if (resolved === undefined) {
      // Unknown to this device's hierarchy: it must FolderSync (MS-ASCMD 2.2.3.177.17, 12).
      outcomes.push(statusOnly(req, SyncStatus.FolderHierarchyChanged));
      continue;
    }
    const { folderId, cls } = resolved;
    const cx: CollectionContext = {
      backend: t.deps.backend,
      account: t.account,
      protocolVersion: t.protocolVersion,
      collectionId: req.CollectionId,
      folderId,
      trashFolderId: t.trashFolderId,
      invitations: invitationPlanner({
        backend: t.deps.backend,
        account: t.account,
        protocolVersion: t.protocolVersion,
        signal,
        log,
      }),
      signal,
    };
    outcomes.push(
      await scope.lock(req.CollectionId, () => syncCollection(scope, cx, req, cls, windowSize), { signal }),
    );
    // The device changed something: wake the user's other devices at once (any node).
    if (req.commands.length > 0) {
      t.deps.push?.hub
        .notify(t.account.user, { folderIds: [folderId] })
        .catch((err: unknown) => log.warn({ err }, 'push notify failed'));
    }
  }
  return outcomes;
}

/**
 * Holds a Sync that found nothing. It keeps what a look needs (thousands wait at once): each
 * collection's request without its commands (a Sync that had commands answered at once) and
 * Supported (only read with SyncKey 0, which answers at once too), the resolved folder, and the
 * device's trash folder read again when needed instead of its whole hierarchy.
 */
async function holdSync(
  hub: PushHub,
  first: SyncTarget,
  firstLooks: readonly CollectionLook[],
  waitSeconds: number,
  signal: AbortSignal,
  log: Logger,
): Promise<CommandResult> {
  const { deps, account, deviceId, protocolVersion } = first;
  const target: SyncTarget = {
    deps,
    account,
    deviceId,
    protocolVersion,
    trashFolderId: async () =>
      (await loadDeviceFolders(deps.state.device(account.user, deviceId))).trashFolderId(),
  };
  const looks: CollectionLook[] = firstLooks.map(({ req, windowSize, resolved }) => {
    const { commands: _c, Supported: _s, ...rest } = req;
    return { req: { ...rest, commands: [] }, windowSize, resolved };
  });
  const folderIds: string[] = [];
  for (const l of looks)
    if (l.resolved !== undefined && !folderIds.includes(l.resolved.folderId))
      folderIds.push(l.resolved.folderId);
  const outcome = await waitForChange({
    hub,
    account,
    deviceId,
    folderIds,
    timeoutMs: waitSeconds * 1000,
    signal,
    onError: (err) => log.warn({ err }, 'sync wait check failed'),
    check: async (_hint, lookSignal) => {
      const found = (await syncCollections(target, looks, lookSignal, log)).filter((o) => o.changed);
      return found.length > 0 ? found : undefined;
    },
  });
  return syncResponse(outcome.kind === 'changed' ? outcome.value : []);
}

function syncResponse(changed: CollectionOutcome[]): CommandResult {
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

  const journal = new AddJournal(scope, req.CollectionId, req.SyncKey);
  const hasAdds = req.commands.some((c) => c.kind === 'Add');
  const alreadyAdded = loaded.replay
    ? addsOf(loaded.next?.state)
    : hasAdds
      ? await journal.read()
      : undefined;
  const responses = await applyClientCommands(cx, req, state, req.commands, alreadyAdded, (id, stamp) =>
    journal.add(id, stamp),
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
  await journal.clear();
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
