// Search (MS-ASCMD 2.2.1.16): the "Mailbox" store through the backend's search.mailbox, the "GAL"
// store through search.directory. Nothing is cached between requests, so RebuildResults changes
// nothing: every Search runs afresh.
//
// LongId: easd gives a result the item's ServerId ("<CollectionId>:<item id>", as Sync does).
// MS-ASCMD 2.2.3.98.3 leaves the LongId's form to the server; using the ServerId means
// ItemOperations Fetch (and SmartReply/SmartForward's LongId) resolve it exactly as a ServerId,
// with no lookup table to keep, and it stays valid as long as the item stays in its folder.
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { Account, DirectoryEntry, ItemRecord, SearchHit } from '../backend/contract.js';
import type { BodyPreference } from '../backend/model.js';
import { statusFor } from '../backend/status.js';
import { encodeItem } from '../protocol/items/index.js';
import { ProtocolError } from '../protocol/read.js';
import {
  buildSearchResponse,
  galProperties,
  parseSearchRequest,
  pictureAnswers,
  SearchStatus,
  type MailboxConditions,
  type MailboxResult,
  type SearchOptions,
  type SearchRange,
  type StoreResponse,
} from '../protocol/search.js';
import { serverIdOf } from '../sync/collection.js';
import { loadDeviceFolders, type DeviceFolders } from '../sync/device-folders.js';
import { backendCall, type EngineContext, type EngineDeps } from './deps.js';
import { versionAtLeast, type CommandHandler } from './types.js';

/** GAL matches counted for Search's Total; a directory is asked for no more than this (or the range). */
const galTotalLimit = 1000;

export function createSearchHandler(deps: EngineDeps): CommandHandler<Account> {
  return async (ctx) => {
    const answer = (store: StoreResponse): { body: WbxmlElement } => ({
      body: buildSearchResponse({ Status: SearchStatus.Success, store }),
    });
    let request;
    try {
      request = parseSearchRequest(ctx.body);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      // MS-ASCMD 2.2.3.177.13: a request that breaks the protocol is Store Status 2.
      return answer({ Status: SearchStatus.InvalidRequest });
    }
    const store = request.store;
    switch (store.Name) {
      case 'Mailbox': {
        if (!store.query.ok) return answer({ Status: SearchStatus.TooComplex, mailbox: true });
        return answer(await searchMailbox(deps, ctx, store.query.conditions, store.options));
      }
      case 'GAL':
        return answer(await searchDirectory(deps, ctx, store.Query, store.options));
      case 'Other':
        // "Document Library" (MS-ASDOC) is a store easd does not serve: the backend-wide
        // "unsupported" Status; any other name is not a store at all (Status 2).
        return answer({
          Status:
            store.StoreName.trim().toLowerCase() === 'document library'
              ? statusFor('Search', 'unsupported')
              : SearchStatus.InvalidRequest,
        });
    }
  };
}

/** Mail found by a mailbox query, as a device can address it: ServerIds in its collections. */
export interface MailboxFound {
  items: Array<{ collectionId: string; record: ItemRecord }>;
  total: number;
}

/**
 * Runs a mailbox query for Search and Find: resolves the CollectionIds through the device's
 * hierarchy, asks the backend for hits up to the end of the range, and reads the items of the
 * range. A status number when it cannot (statuses from `command`'s table).
 */
export async function findMail(
  deps: EngineDeps,
  ctx: EngineContext,
  command: 'Search' | 'Find',
  q: MailboxConditions & { DeepTraversal: boolean; range: SearchRange; read: ReadPrefs },
): Promise<MailboxFound | { status: number }> {
  const search = deps.backend.search;
  if (search === undefined) return { status: statusFor(command, 'unsupported') };
  // The backend's mailbox search covers mail only.
  if (q.Class !== undefined && q.Class !== 'Email') return { status: statusFor(command, 'unsupported') };
  const device = await loadDeviceFolders(deps.state.device(ctx.account.user, ctx.line.deviceId));
  const folderIds: string[] = [];
  for (const id of q.CollectionIds) {
    const resolved = device.resolve(id, ctx.protocolVersion);
    // MS-ASCMD 2.2.3.177.13 / .2: a collection the device's hierarchy lacks asks for a FolderSync.
    if (resolved === undefined) return { status: statusFor(command, 'not-found', 'folder') };
    if (resolved.cls !== 'Email') return { status: statusFor(command, 'unsupported') };
    folderIds.push(resolved.folderId);
  }
  const found = await backendCall(
    command,
    () =>
      search.mailbox(
        ctx.account,
        {
          ...(q.FreeText !== undefined && { FreeText: q.FreeText }),
          ...(folderIds.length > 0 && { folderIds, DeepTraversal: q.DeepTraversal }),
          ...(q.receivedAfter !== undefined && { receivedAfter: q.receivedAfter }),
          ...(q.receivedBefore !== undefined && { receivedBefore: q.receivedBefore }),
          ...(q.ConversationId !== undefined && { ConversationId: q.ConversationId }),
          limit: q.range.end + 1,
        },
        ctx.signal,
      ),
    'folder',
  );
  if (!found.ok) return { status: found.status };
  const hits = found.value.hits.slice(q.range.start, q.range.end + 1);
  const items = await readHits(deps, ctx, command, device, hits, q.read);
  if ('status' in items) return items;
  // Hits in folders the device was never told of cannot be addressed by it: left out, and out of
  // the total, so Range and Total agree with what the device sees.
  return { items, total: Math.max(items.length, found.value.total - (hits.length - items.length)) };
}

export interface ReadPrefs {
  bodyPreferences: BodyPreference[];
  MIMESupport?: 0 | 1 | 2;
  bodyPartPreferences?: BodyPreference[];
}

/** Sync-style Options (BodyPreference, BodyPartPreference, MIMESupport) as a backend read's options. */
export function readPrefs(
  o: Pick<SearchOptions, 'BodyPreference' | 'BodyPartPreference' | 'MIMESupport'>,
): ReadPrefs {
  const known = (list: SearchOptions['BodyPreference']): BodyPreference[] =>
    list.filter((p): p is BodyPreference => [1, 2, 3, 4].includes(p.Type));
  const mime = o.MIMESupport;
  const parts = known(o.BodyPartPreference ?? []);
  return {
    bodyPreferences: known(o.BodyPreference),
    ...((mime === 0 || mime === 1 || mime === 2) && { MIMESupport: mime }),
    ...(parts.length > 0 && { bodyPartPreferences: parts }),
  };
}

async function readHits(
  deps: EngineDeps,
  ctx: EngineContext,
  command: 'Search' | 'Find',
  device: DeviceFolders,
  hits: SearchHit[],
  read: ReadPrefs,
): Promise<MailboxFound['items'] | { status: number }> {
  // One getItems per folder, then back into the backend's order (newest first).
  const byFolder = new Map<string, string[]>();
  for (const h of hits) byFolder.set(h.folderId, [...(byFolder.get(h.folderId) ?? []), h.id]);
  const records = new Map<string, ItemRecord>();
  for (const [folderId, ids] of byFolder) {
    const collectionId = device.ids.serverId(folderId);
    if (collectionId === undefined || device.resolve(collectionId, ctx.protocolVersion) === undefined)
      continue;
    const got = await backendCall(command, () =>
      deps.backend.getItems(ctx.account, folderId, ids, read, ctx.signal),
    );
    if (!got.ok) return { status: got.status };
    for (const r of got.value) records.set(`${folderId}\n${r.id}`, r);
  }
  const items: MailboxFound['items'] = [];
  for (const h of hits) {
    const record = records.get(`${h.folderId}\n${h.id}`);
    const collectionId = device.ids.serverId(h.folderId);
    // An item gone between the search and the read is simply not a result.
    if (record !== undefined && collectionId !== undefined) items.push({ collectionId, record });
  }
  return items;
}

async function searchMailbox(
  deps: EngineDeps,
  ctx: EngineContext,
  conditions: MailboxConditions,
  options: SearchOptions,
): Promise<StoreResponse> {
  const found = await findMail(deps, ctx, 'Search', {
    ...conditions,
    DeepTraversal: options.DeepTraversal,
    range: options.Range,
    read: readPrefs(options),
  });
  if ('status' in found) return { Status: found.status, mailbox: true };
  const results: MailboxResult[] = found.items.map(({ collectionId, record }) => ({
    Class: record.class,
    LongId: serverIdOf(collectionId, record.id),
    CollectionId: collectionId,
    Properties: encodeItem(record, { protocolVersion: ctx.protocolVersion }),
  }));
  return {
    Status: SearchStatus.Success,
    mailbox: true,
    results,
    ...(results.length > 0 && {
      Range: { start: options.Range.start, end: options.Range.start + results.length - 1 },
    }),
    Total: found.total,
  };
}

async function searchDirectory(
  deps: EngineDeps,
  ctx: EngineContext,
  query: string,
  options: SearchOptions,
): Promise<StoreResponse> {
  const directory = deps.backend.search?.directory?.bind(deps.backend.search);
  if (directory === undefined) return { Status: statusFor('Search', 'unsupported') };
  // Enough entries for the range and a Total: exact up to galTotalLimit matches, a lower bound past it.
  const got = await backendCall('Search', () =>
    directory(ctx.account, query, Math.max(options.Range.end + 2, galTotalLimit), ctx.signal),
  );
  if (!got.ok) return { Status: got.status };
  const entries: DirectoryEntry[] = got.value.slice(options.Range.start, options.Range.end + 1);
  // MS-ASCMD 2.2.3.135.3: pictures from 14.1, each entry answered in turn (173/174/175 or the photo).
  const picture =
    options.Picture !== undefined && versionAtLeast(ctx.protocolVersion, '14.1')
      ? pictureAnswers(options.Picture)
      : undefined;
  return {
    Status: SearchStatus.Success,
    galResults: entries.map((e) => galProperties(e, picture?.(e.Picture))),
    ...(entries.length > 0 && {
      Range: { start: options.Range.start, end: options.Range.start + entries.length - 1 },
    }),
    Total: got.value.length,
  };
}
