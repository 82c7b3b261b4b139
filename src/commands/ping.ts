// Ping (MS-ASCMD 2.2.1.13): Direct Push. The request is held until one of its folders changes
// (Status 2 with those folders), the heartbeat runs out (Status 1), the folder list changes
// (Status 7), or the device sends a newer request (Status 1, so the phone simply goes on).
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { Account } from '../backend/contract.js';
import { buildPingResponse, parsePingRequest, type PingFolder } from '../protocol/ping.js';
import { ProtocolError } from '../protocol/read.js';
import { waitForChange } from '../push/wait.js';
import { SyncStateStore } from '../state/sync-state.js';
import { loadDeviceFolders } from '../sync/device-folders.js';
import { estimateChanges, type CollectionState } from '../sync/collection.js';
import { currentFolders, diffFolders, diffIsEmpty } from '../sync/hierarchy.js';
import type { Logger } from 'pino';
import type { EngineDeps } from './deps.js';
import type { CommandContext, CommandHandler, CommandResult, ProtocolVersion } from './types.js';

/** MS-ASCMD 2.2.3.177.11 */
export const PingStatus = {
  NoChanges: 1,
  Changes: 2,
  MissingParameters: 3,
  SyntaxError: 4,
  HeartbeatOutOfBounds: 5,
  TooManyFolders: 6,
  FolderSyncRequired: 7,
  ServerError: 8,
} as const;

/** What a body-less Ping reuses (MS-ASCMD 2.2.1.13: "the server uses the last values"). */
interface PingCache {
  HeartbeatInterval: number;
  Folders: PingFolder[];
}

const respond = (r: Parameters<typeof buildPingResponse>[0]): CommandResult => ({
  body: buildPingResponse(r),
});

/**
 * What a held Ping keeps while it waits (up to an hour, thousands at once): the watched folders'
 * ids and what a look needs. Not the request (its body, decoded tree and context), the device's
 * hierarchy or its state objects: each look loads those again from the state store.
 */
interface HeldPing {
  account: Account;
  deviceId: string;
  protocolVersion: ProtocolVersion;
  watched: Array<{ id: string; backendId: string }>;
  interval: number;
  signal: AbortSignal;
  log: Logger;
}

export function createPingHandler(deps: PingDeps): CommandHandler<Account> {
  return async (ctx) => {
    const held = await preparePing(deps, ctx);
    if (!('watched' in held)) return held;
    // Returned, not awaited: this frame (and the request context it holds) ends here rather than
    // living as long as the Ping is held.
    return holdPing(deps, held);
  };
}

type PingDeps = EngineDeps & { push: NonNullable<EngineDeps['push']> };

/** Checks the request and resolves its folders: an answer now, or what to hold. */
async function preparePing(deps: PingDeps, ctx: CommandContext<Account>): Promise<CommandResult | HeldPing> {
  const { settings } = deps.push;
  let request;
  try {
    request = parsePingRequest(ctx.body);
  } catch (err) {
    if (err instanceof ProtocolError) return respond({ Status: PingStatus.SyntaxError });
    throw err;
  }
  const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
  const cacheSlot = scope.data('ping');
  const cached = await cacheSlot.get<PingCache>();
  const interval = request.HeartbeatInterval ?? cached?.HeartbeatInterval;
  const folders = request.Folders ?? cached?.Folders;
  if (interval === undefined || folders === undefined)
    return respond({ Status: PingStatus.MissingParameters });
  if (interval < settings.heartbeatMin || interval > settings.heartbeatMax) {
    return respond({
      Status: PingStatus.HeartbeatOutOfBounds,
      HeartbeatInterval: interval < settings.heartbeatMin ? settings.heartbeatMin : settings.heartbeatMax,
    });
  }
  if (folders.length > settings.maxFolders)
    return respond({ Status: PingStatus.TooManyFolders, MaxFolders: settings.maxFolders });
  if (
    cached === undefined ||
    cached.HeartbeatInterval !== interval ||
    JSON.stringify(cached.Folders) !== JSON.stringify(folders)
  ) {
    await cacheSlot.set({ HeartbeatInterval: interval, Folders: folders } satisfies PingCache);
  }

  const device = await loadDeviceFolders(scope);
  const watched: HeldPing['watched'] = [];
  for (const f of folders) {
    const resolved = device.resolve(f.Id, ctx.protocolVersion);
    if (resolved === undefined) return respond({ Status: PingStatus.FolderSyncRequired });
    watched.push({ id: f.Id, backendId: resolved.folderId });
  }
  return {
    account: ctx.account,
    deviceId: ctx.line.deviceId,
    protocolVersion: ctx.protocolVersion,
    watched,
    interval,
    signal: ctx.signal,
    log: ctx.log,
  };
}

async function holdPing(deps: PingDeps, held: HeldPing): Promise<CommandResult> {
  const { account, deviceId, protocolVersion, watched } = held;
  const { hub } = deps.push;
  /**
   * The watched folders that have something for the device (or no sync state yet). A folder the
   * hub knows to be quiet at the device's sync key (an earlier look found nothing and the store's
   * watch has reported nothing since) is not read from the store: a phone Pinging with a long
   * heartbeat costs the store nothing per Ping, and on IMAP no login once the pool has closed.
   */
  const changedFolders = async (
    only: ReadonlySet<string> | undefined,
    signal: AbortSignal,
  ): Promise<string[]> => {
    const states = new SyncStateStore<CollectionState, WbxmlElement>(
      deps.state.device(account.user, deviceId),
    );
    const changed: string[] = [];
    for (const w of watched) {
      if (only !== undefined && !only.has(w.backendId)) continue;
      // before the store is read: a hint from here on may be news this look does not see
      const mark = hub.mark();
      const current = await states.current(w.id);
      if (current === undefined) {
        changed.push(w.id);
        continue;
      }
      // the hub vouches only for folders the store's watch sees every change of (not blind ones)
      if (hub.isQuiet(account.user, deviceId, w.id, current.key)) continue;
      const cx = {
        backend: deps.backend,
        account,
        protocolVersion,
        collectionId: w.id,
        folderId: w.backendId,
        signal,
      };
      if ((await estimateChanges(cx, current.state)) > 0) changed.push(w.id);
      else hub.noteQuiet(account.user, deviceId, w.id, current.key, w.backendId, mark);
    }
    return changed;
  };

  const outcome = await waitForChange<{ Status: number; Folders?: string[] }>({
    hub,
    account,
    deviceId,
    folderIds: watched.map((w) => w.backendId),
    timeoutMs: held.interval * 1000,
    signal: held.signal,
    onError: (err) => held.log.warn({ err }, 'ping check failed'),
    check: async (hint, signal) => {
      if (hint?.hierarchy === true) {
        // The hierarchy the device holds, read now: unless the device itself ran FolderSync
        // meanwhile, it is the one it had when the Ping arrived.
        const device = await loadDeviceFolders(deps.state.device(account.user, deviceId));
        const now = await currentFolders(deps.backend, account, device.ids, protocolVersion, signal);
        if (!diffIsEmpty(diffFolders(device.folders, now))) return { Status: PingStatus.FolderSyncRequired };
      }
      const only = hint?.folderIds === undefined ? undefined : new Set(hint.folderIds);
      const changed = await changedFolders(only, signal);
      return changed.length > 0 ? { Status: PingStatus.Changes, Folders: changed } : undefined;
    },
  });
  if (outcome.kind === 'changed') return respond(outcome.value);
  return respond({ Status: PingStatus.NoChanges });
}
