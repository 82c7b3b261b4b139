// One collection of a Sync request (MS-ASCMD 2.2.1.21): apply the client's commands, then send
// the server's changes in windows. The state kept per collection is the map of what the device
// holds (item id → version); the generic differ derives everything to send from it.
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { Account, Backend, ItemStamp, ReadOptions } from '../backend/contract.js';
import type { InvitationPlanner } from '../calendar/invitations.js';
import { BackendError, isBackendError } from '../backend/errors.js';
import { draftForSending } from '../convert/mime-compose.js';
import { httpErrorFor, statusFor } from '../backend/status.js';
import type {
  BodyPreference as ModelBodyPreference,
  CalendarItem,
  ItemClass,
  TypedItem,
} from '../backend/model.js';
import type { ProtocolVersion } from '../commands/types.js';
import { absentProperties, encodeItem, parseItem } from '../protocol/items/index.js';
import { ProtocolError } from '../protocol/read.js';
import type {
  ClientCommand,
  CommandResponse,
  ServerCommand,
  SyncCollectionRequest,
  SyncOptions,
} from '../protocol/sync.js';
import { applyChanges, diffStamps, type Change } from './differ.js';

/** What is stored per collection and sync key. */
export interface CollectionState {
  class: ItemClass;
  /** Backend item id → the version the device holds. */
  known: Map<string, string>;
  filterType?: number;
  /** ClientId → item id of the Adds applied with this key (a replay must not add them again). */
  clientIds?: Map<string, string>;
  /** Supported element sent with SyncKey 0 (ghosted properties, MS-ASCMD 2.2.3.179). */
  supported?: WbxmlElement;
  /**
   * Item id in the device's ServerId → the item's backend id now, for items whose backend id
   * changed under a device write (an IMAP draft edit APPENDs a new message: a new UID). The device
   * keeps its ServerId, as MS-ASCMD 2.2.3.156.1 expects of a Change.
   */
  aliases?: Map<string, string>;
}

/** MS-ASCMD 2.2.3.177.17 Sync status values. */
export const SyncStatus = {
  Success: 1,
  InvalidSyncKey: 3,
  ProtocolError: 4,
  ServerError: 5,
  ConversionError: 6,
  Conflict: 7,
  ObjectNotFound: 8,
  FolderHierarchyChanged: 12,
  IncompleteRequest: 13,
  InvalidWaitOrHeartbeat: 14,
  Retry: 16,
} as const;

/** MS-ASCMD 2.2.3.199: WindowSize defaults to 100, at most 512. */
export const defaultWindowSize = 100;
export const maxWindowSize = 512;

export interface CollectionContext {
  backend: Backend;
  account: Account;
  protocolVersion: ProtocolVersion;
  collectionId: string;
  folderId: string;
  /** Backend id of the Deleted Items folder, for DeletesAsMoves; undefined when there is none. */
  trashFolderId?: () => Promise<string | undefined>;
  /** Invitations for the user's meetings (src/calendar/invitations.ts), around Calendar writes. */
  invitations?: InvitationPlanner | undefined;
  signal: AbortSignal;
}

export function optionsFor(req: SyncCollectionRequest, cls: ItemClass): SyncOptions | undefined {
  return req.options.find((o) => o.Class === undefined || o.Class === cls) ?? req.options[0];
}

function readOptions(o: SyncOptions | undefined): ReadOptions {
  const known = (list: SyncOptions['BodyPreference'] | undefined): ModelBodyPreference[] =>
    (list ?? [])
      .filter((p) => p.Type >= 1 && p.Type <= 4)
      .map((p) => ({ ...p, Type: p.Type as ModelBodyPreference['Type'] }));
  const mime = o?.MIMESupport;
  const parts = known(o?.BodyPartPreference);
  return {
    bodyPreferences: known(o?.BodyPreference),
    ...((mime === 0 || mime === 1 || mime === 2) && { MIMESupport: mime }),
    ...(parts.length > 0 && { bodyPartPreferences: parts }),
  };
}

/** MS-ASCMD 2.2.3.70.1 FilterType → the oldest date to sync (0 = everything; 8 incomplete tasks). */
export function filterSince(
  filterType: number | undefined,
  cls: ItemClass,
  now = Date.now(),
): Date | undefined {
  if (
    filterType === undefined ||
    filterType === 0 ||
    cls === 'Contacts' ||
    cls === 'Notes' ||
    cls === 'Tasks'
  )
    return undefined;
  const days = [0, 1, 3, 7, 14, 30, 90, 180][filterType];
  return days === undefined || days === 0 ? undefined : new Date(now - days * 86_400_000);
}

/** An item's ServerId: `<collection>:<item id>` (MS-ASCMD 2.2.3.156.1 leaves the form to the server). */
export const serverIdOf = (collectionId: string, itemId: string): string => `${collectionId}:${itemId}`;

/** The item id inside a ServerId of the collection; undefined when it is not one of its. */
export function itemIdOf(collectionId: string, serverId: string): string | undefined {
  const prefix = `${collectionId}:`;
  return serverId.startsWith(prefix) && serverId.length > prefix.length
    ? serverId.slice(prefix.length)
    : undefined;
}

/** The backend id of an item the device names by `serverId` in the collection, following a changed id. */
export function itemIdFor(
  state: Pick<CollectionState, 'aliases'> | undefined,
  collectionId: string,
  serverId: string,
): string | undefined {
  const id = itemIdOf(collectionId, serverId);
  return id === undefined ? undefined : (state?.aliases?.get(id) ?? id);
}

/** The ServerId the device knows a backend item by. */
export function serverIdFor(
  state: Pick<CollectionState, 'aliases'>,
  collectionId: string,
  itemId: string,
): string {
  if (state.aliases !== undefined)
    for (const [deviceId, backendId] of state.aliases)
      if (backendId === itemId) return serverIdOf(collectionId, deviceId);
  return serverIdOf(collectionId, itemId);
}

/** Records that the item the device calls `deviceId` has the backend id `itemId` now. */
function setAlias(state: CollectionState, deviceId: string, itemId: string): void {
  state.aliases ??= new Map();
  if (deviceId === itemId) state.aliases.delete(deviceId);
  else state.aliases.set(deviceId, itemId);
  if (state.aliases.size === 0) delete state.aliases;
}

/** Forgets the alias of a backend item that went away. */
function dropAlias(state: CollectionState, itemId: string): void {
  if (state.aliases === undefined) return;
  for (const [deviceId, backendId] of state.aliases) if (backendId === itemId) state.aliases.delete(deviceId);
  if (state.aliases.size === 0) delete state.aliases;
}

/** Runs a backend call; a failure becomes the Sync Status of that one operation. */
async function attempt<T>(
  fn: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; status: number }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof ProtocolError) return { ok: false, status: SyncStatus.ConversionError };
    if (!isBackendError(err)) throw err;
    const http = httpErrorFor(err);
    if (http !== undefined) throw http;
    return { ok: false, status: statusFor('Sync', err.kind) };
  }
}

/**
 * MS-ASEMAIL 2.2.2.69 Send (16.0+): the draft the phone just added or changed leaves through the
 * account's mail transport, as SendMail would send it, and goes from the folder. A Sync has no
 * SaveInSentItems; as Exchange does with a draft it sends, the message is filed in Sent Items.
 */
async function sendDraft(cx: CollectionContext, id: string): Promise<void> {
  const mail = cx.backend.mail;
  if (mail === undefined) throw new BackendError('unsupported', 'this store cannot send mail');
  const [record] = await cx.backend.getItems(
    cx.account,
    cx.folderId,
    [id],
    { bodyPreferences: [{ Type: 4 }], MIMESupport: 2 },
    cx.signal,
  );
  if (record === undefined) throw new BackendError('not-found', 'the draft is gone');
  const body = record.class === 'Email' ? record.item.Body : undefined;
  if (body?.Type !== 4 || body.Data === undefined || body.Truncated === true)
    throw new BackendError('unsupported', 'the store gives no MIME for the draft');
  const raw = typeof body.Data === 'string' ? new TextEncoder().encode(body.Data) : body.Data;
  try {
    await mail.send(cx.account, draftForSending(raw, cx.account.email), { saveInSent: true }, cx.signal);
  } catch (err) {
    // every recipient refused: the item cannot go as written (Status 6), not "object not found"
    if (isBackendError(err) && err.kind === 'not-found')
      throw new BackendError('denied', 'the draft has no recipient the server takes', { cause: err });
    throw err;
  }
  // Sent. A draft left behind is no reason to fail: the phone would send the message again.
  await cx.backend.deleteItem(cx.account, cx.folderId, id, {}, cx.signal).catch(() => undefined);
}

/**
 * Sends the stored draft; a failure is the Status of the Add or Change that asked for it, never
 * an HTTP error for the whole request (even a passing one such as an SMTP outage): the draft is
 * stored by then and the new sync key must record it, or the phone's repeat would miss it.
 */
async function sendStatus(cx: CollectionContext, id: string): Promise<number> {
  try {
    await sendDraft(cx, id);
    return SyncStatus.Success;
  } catch (err) {
    if (!isBackendError(err)) throw err;
    return statusFor('Sync', err.kind);
  }
}

/** Applies the client's Add/Change/Delete/Fetch to the store; returns what goes in Responses. */
export async function applyClientCommands(
  cx: CollectionContext,
  req: SyncCollectionRequest,
  state: CollectionState,
  commands: readonly ClientCommand[],
  alreadyAdded: ReadonlyMap<string, ItemStamp> | undefined,
  journal?: (clientId: string, stamp: ItemStamp) => Promise<void>,
): Promise<CommandResponse[]> {
  const responses: CommandResponse[] = [];
  const cls = state.class;
  const options = optionsFor(req, cls);
  const itemCtx = { protocolVersion: cx.protocolVersion };
  state.clientIds = new Map();
  // MS-ASCMD 2.2.3.34: Conflict 1 (server wins) is the default.
  const serverWins = (options?.Conflict ?? 1) !== 0;

  for (const c of commands) {
    if (c.kind === 'Add') {
      const prior = alreadyAdded?.get(c.ClientId);
      if (prior !== undefined) {
        // Added by an earlier try of this request: answer it again, and keep it out of the
        // server's Adds (the phone has it under its ClientId).
        state.known.set(prior.id, prior.version);
        state.clientIds.set(c.ClientId, prior.id);
        responses.push({
          kind: 'Add',
          ClientId: c.ClientId,
          ServerId: serverIdOf(cx.collectionId, prior.id),
          Status: SyncStatus.Success,
        });
        continue;
      }
      const r = await attempt(async () => {
        const parsed = parseItem(cls, c.ApplicationData, itemCtx);
        const invite =
          cls === 'Calendar' ? cx.invitations?.(undefined, parsed.item as CalendarItem) : undefined;
        const stamp = await cx.backend.createItem(
          cx.account,
          cx.folderId,
          { class: cls, item: invite?.item ?? parsed.item } as TypedItem,
          cx.signal,
        );
        await invite?.send();
        return { stamp, send: parsed.send };
      });
      if (!r.ok) {
        responses.push({ kind: 'Add', ClientId: c.ClientId, Status: r.status });
        continue;
      }
      const { stamp } = r.value;
      // A sent draft is gone from the store but held here, so the phone is told to delete it.
      state.known.set(stamp.id, stamp.version);
      state.clientIds.set(c.ClientId, stamp.id);
      // Recorded at once, not only with the new sync key at the end of the request: if the
      // process dies before that, the phone's repeated Add finds the item instead of adding it
      // again — and, journaled before the send, does not send it twice.
      await journal?.(c.ClientId, stamp);
      // Not sent: the draft stays in Drafts under its ServerId with the send's Status, so the phone
      // can show it and send it again (a Change with <Send/>) and nothing is lost on either side.
      responses.push({
        kind: 'Add',
        ClientId: c.ClientId,
        ServerId: serverIdOf(cx.collectionId, stamp.id),
        Status: r.value.send ? await sendStatus(cx, stamp.id) : SyncStatus.Success,
      });
    } else if (c.kind === 'Change') {
      const deviceId = itemIdOf(cx.collectionId, c.ServerId);
      const id = itemIdFor(state, cx.collectionId, c.ServerId);
      if (id === undefined || deviceId === undefined) {
        responses.push({ kind: 'Change', ServerId: c.ServerId, Status: SyncStatus.ObjectNotFound });
        continue;
      }
      const r = await attempt(async () => {
        const parsed = parseItem(cls, c.ApplicationData, itemCtx);
        let item: object = parsed.item;
        let invite;
        if (cls !== 'Email') {
          // A Change replaces the item, except what the client ghosts (MS-ASCMD 2.2.3.179).
          const [current] = await cx.backend.getItems(
            cx.account,
            cx.folderId,
            [id],
            { bodyPreferences: [] },
            cx.signal,
          );
          if (current !== undefined) {
            const merged: Record<string, unknown> = { ...(current.item as object), ...parsed.item };
            for (const p of absentProperties(cls, parsed, { ...itemCtx, supported: state.supported }))
              delete merged[p];
            for (const p of parsed.cleared) delete merged[p];
            item = merged;
            if (current.class === 'Calendar') invite = cx.invitations?.(current.item, merged as CalendarItem);
          }
        }
        const known = state.known.get(id);
        const stamp = await cx.backend.updateItem(
          cx.account,
          cx.folderId,
          id,
          { class: cls, item: invite?.item ?? item } as TypedItem,
          serverWins && known !== undefined ? { ifVersion: known } : {},
          cx.signal,
        );
        // Recorded before anything else can fail, so the phone's repeated Change finds the item.
        if (stamp.id !== id) {
          // the store replaced the item (an IMAP draft edit): the device keeps its ServerId
          state.known.delete(id);
          setAlias(state, deviceId, stamp.id);
        }
        state.known.set(stamp.id, stamp.version);
        await invite?.send();
        return { stamp, send: parsed.send };
      });
      // not sent: the draft stays as changed; the phone's repeated Change sends it
      const status = !r.ok
        ? r.status
        : r.value.send
          ? await sendStatus(cx, r.value.stamp.id)
          : SyncStatus.Success;
      if (status !== SyncStatus.Success)
        responses.push({ kind: 'Change', ServerId: c.ServerId, Status: status });
    } else if (c.kind === 'Delete') {
      const id = itemIdFor(state, cx.collectionId, c.ServerId);
      if (id === undefined) {
        responses.push({ kind: 'Delete', ServerId: c.ServerId, Status: SyncStatus.ObjectNotFound });
        continue;
      }
      const r = await attempt(async () => {
        const trash = req.DeletesAsMoves && cls === 'Email' ? await cx.trashFolderId?.() : undefined;
        // a meeting's guests are told it is off: read it before it goes
        const [gone] =
          cls === 'Calendar' && cx.invitations !== undefined
            ? await cx.backend.getItems(cx.account, cx.folderId, [id], { bodyPreferences: [] }, cx.signal)
            : [];
        const invite = gone?.class === 'Calendar' ? cx.invitations?.(gone.item, undefined) : undefined;
        if (trash !== undefined && trash !== cx.folderId)
          await cx.backend.moveItem(cx.account, cx.folderId, id, trash, cx.signal);
        else await cx.backend.deleteItem(cx.account, cx.folderId, id, {}, cx.signal);
        await invite?.send();
      });
      state.known.delete(id);
      dropAlias(state, id);
      // MS-ASCMD 2.2.3.154: only failed deletions get a response; a vanished item is gone anyway.
      if (!r.ok && r.status !== SyncStatus.ObjectNotFound)
        responses.push({ kind: 'Delete', ServerId: c.ServerId, Status: r.status });
    } else {
      const id = itemIdFor(state, cx.collectionId, c.ServerId);
      const r = await attempt(() =>
        id === undefined
          ? Promise.resolve([])
          : cx.backend.getItems(cx.account, cx.folderId, [id], readOptions(options), cx.signal),
      );
      const record = r.ok ? r.value[0] : undefined;
      if (record === undefined) {
        responses.push({
          kind: 'Fetch',
          ServerId: c.ServerId,
          Status: r.ok ? SyncStatus.ObjectNotFound : r.status,
        });
        continue;
      }
      responses.push({
        kind: 'Fetch',
        ServerId: c.ServerId,
        Status: SyncStatus.Success,
        ApplicationData: encodeItem(record, itemCtx),
      });
    }
  }
  return responses;
}

/** The next window of server changes; applies what it sends to `state.known`. */
export async function collectServerChanges(
  cx: CollectionContext,
  req: SyncCollectionRequest,
  state: CollectionState,
  windowSize: number,
): Promise<{ commands: ServerCommand[]; moreAvailable: boolean } | { status: number }> {
  const options = optionsFor(req, state.class);
  const since = filterSince(state.filterType, state.class);
  const listed = await attempt(() =>
    cx.backend.listStamps(cx.account, cx.folderId, since === undefined ? {} : { since }, cx.signal),
  );
  if (!listed.ok) return { status: listed.status };
  const changes = diffStamps(state.known, listed.value);
  const window = changes.slice(0, windowSize);
  const wanted = window.filter((c) => c.kind !== 'delete').map((c) => c.id);
  const read =
    wanted.length === 0
      ? { ok: true as const, value: [] }
      : await attempt(() =>
          cx.backend.getItems(cx.account, cx.folderId, wanted, readOptions(options), cx.signal),
        );
  if (!read.ok) return { status: read.status };
  const byId = new Map(read.value.map((r) => [r.id, r]));

  const commands: ServerCommand[] = [];
  const sent: Change[] = [];
  const itemCtx = { protocolVersion: cx.protocolVersion };
  for (const c of window) {
    const serverId = serverIdFor(state, cx.collectionId, c.id);
    if (c.kind === 'delete') {
      commands.push({ kind: 'Delete', ServerId: serverId });
      sent.push(c);
      dropAlias(state, c.id);
      continue;
    }
    const record = byId.get(c.id);
    // Gone between listing and reading: the next round sees it as a delete (or never sent it).
    if (record === undefined) continue;
    commands.push({
      kind: c.kind === 'add' ? 'Add' : 'Change',
      ServerId: serverId,
      ApplicationData: encodeItem(record, itemCtx),
    });
    sent.push({ ...c, version: record.version });
  }
  applyChanges(state.known, sent);
  return { commands, moreAvailable: changes.length > window.length };
}

/** How many changes are waiting (GetItemEstimate, and Ping's "is there anything?"). */
export async function estimateChanges(cx: CollectionContext, state: CollectionState): Promise<number> {
  const since = filterSince(state.filterType, state.class);
  const stamps = await cx.backend.listStamps(
    cx.account,
    cx.folderId,
    since === undefined ? {} : { since },
    cx.signal,
  );
  return diffStamps(state.known, stamps).length;
}
