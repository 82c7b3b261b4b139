// ItemOperations (MS-ASCMD 2.2.1.10): Fetch of a mailbox item or of an attachment, and
// EmptyFolderContents. Attachments are not read into memory: their bytes go from the store to
// the client as the response is written, inline (OPAQUE) or as parts of the multipart form.
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { Account, ReadOptions } from '../backend/contract.js';
import {
  attachmentProperties,
  itemOperationsBody,
  ItemOperationsStatus as Status,
  parseItemOperationsRequest,
  type FetchOptions,
  type FetchRequest,
  type FetchResponse,
  type ItemOperation,
  type OperationResponse,
} from '../protocol/item-operations.js';
import { encodeItem } from '../protocol/items/index.js';
import { ProtocolError } from '../protocol/read.js';
import type { DeviceScope } from '../state/store.js';
import { SyncStateStore } from '../state/sync-state.js';
import { itemIdFor, type CollectionState } from '../sync/collection.js';
import { backendCall, type EngineContext, type EngineDeps } from './deps.js';
import { collectionResolver, type Collection } from './move-items.js';
import { readPrefs } from './search.js';
import { versionAtLeast, type CommandHandler } from './types.js';

interface Run {
  deps: EngineDeps;
  ctx: EngineContext;
  scope: DeviceScope;
  resolve: (collectionId: string) => Collection | undefined;
}

export function createItemOperationsHandler(deps: EngineDeps): CommandHandler<Account> {
  return async (ctx) => {
    // MS-ASCMD 2.2.1.10.1: the multipart form when the client asked for it (header or base64 option).
    const multipart = ctx.line.acceptMultiPart;
    let operations: ItemOperation[];
    try {
      operations = parseItemOperationsRequest(ctx.body).operations;
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return { body: itemOperationsBody({ Status: Status.ProtocolError, responses: [] }, multipart) };
    }
    const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
    const run: Run = { deps, ctx, scope, resolve: await collectionResolver(scope, ctx.protocolVersion) };
    const responses: OperationResponse[] = [];
    // MS-ASCMD 2.2.1.10: operations are executed in the order given.
    for (const op of operations) responses.push(await execute(run, op));
    return { body: itemOperationsBody({ Status: Status.Success, responses }, multipart) };
  };
}

async function execute(run: Run, op: ItemOperation): Promise<OperationResponse> {
  switch (op.kind) {
    case 'Fetch':
      return fetchOne(run, op);
    case 'InvalidFetch':
      return { kind: 'Fetch', Status: Status.ProtocolError };
    case 'EmptyFolderContents':
      return emptyFolderContents(run, op.CollectionId, op.DeleteSubFolders);
    case 'Move':
      // The conversation Move (MS-ASCON) is 14.0+ (MS-ASCMD 2.2.3.117.1); easd does not
      // move conversations: 156, "Action not supported" (MS-ASCON 2.2.2.10, MS-ASCMD 2.2.3.177.8).
      return {
        kind: 'Move',
        ConversationId: op.ConversationId,
        Status: versionAtLeast(run.ctx.protocolVersion, '14.0')
          ? Status.ActionNotSupported
          : Status.ProtocolError,
      };
  }
}

async function fetchOne(run: Run, op: FetchRequest): Promise<FetchResponse> {
  const echo: FetchResponse = { kind: 'Fetch', Status: Status.Success };
  for (const name of ['CollectionId', 'ServerId', 'LongId', 'LinkId', 'FileReference'] as const) {
    const v = op[name];
    if (v !== undefined) echo[name] = v;
  }
  const fail = (s: number): FetchResponse => ({ ...echo, Status: s });
  // MS-ASCMD 2.2.3.178.2: "Mailbox" is the store served; "Document Library" (MS-ASDOC) is not: 9.
  if (op.Store.toLowerCase() !== 'mailbox' || op.LinkId !== undefined) return fail(Status.StoreUnsupported);
  if (op.FileReference !== undefined) return fetchAttachment(run, op.FileReference, op.options, echo);
  // A search:LongId names a Search result, and easd's LongIds are ServerIds (src/commands/search.ts).
  if (op.LongId !== undefined) return fetchItem(run, { ...op, ServerId: op.LongId }, echo);
  return fetchItem(run, op, echo);
}

// BodyPreference, BodyPartPreference and MIMESupport read as for Search (and Sync).
const readOptions = (o: FetchOptions): ReadOptions => readPrefs(o);

async function fetchItem(run: Run, op: FetchRequest, echo: FetchResponse): Promise<FetchResponse> {
  const { deps, ctx } = run;
  const serverId = op.ServerId ?? '';
  // ServerIds carry their collection ("<collection>:<item>"), so a missing CollectionId is found.
  const collection = run.resolve(op.CollectionId ?? serverId.slice(0, Math.max(0, serverId.indexOf(':'))));
  if (collection === undefined) return { ...echo, Status: Status.ObjectNotFound };
  // the item may have a new backend id since the device got its ServerId (a draft edit)
  const synced = await new SyncStateStore<CollectionState, WbxmlElement>(run.scope).current(
    collection.collectionId,
  );
  const itemId = itemIdFor(synced?.state, collection.collectionId, serverId);
  if (itemId === undefined) return { ...echo, Status: Status.ObjectNotFound };
  const read = await backendCall('ItemOperations', () =>
    deps.backend.getItems(ctx.account, collection.folderId, [itemId], readOptions(op.options), ctx.signal),
  );
  if (!read.ok) return { ...echo, Status: read.status };
  const record = read.value[0];
  if (record === undefined) return { ...echo, Status: Status.ObjectNotFound };
  return {
    ...echo,
    Class: record.class,
    Properties: encodeItem(record, { protocolVersion: ctx.protocolVersion }),
  };
}

async function fetchAttachment(
  run: Run,
  ref: string,
  options: FetchOptions,
  echo: FetchResponse,
): Promise<FetchResponse> {
  const { deps, ctx } = run;
  const source = deps.backend.attachments;
  if (source === undefined) return { ...echo, Status: Status.AttachmentIdInvalid };
  const got = await backendCall(
    'ItemOperations',
    () => source.getAttachment(ctx.account, ref, ctx.signal),
    'attachment',
  );
  if (!got.ok) return { ...echo, Status: got.status };
  const content = got.value;
  const total = content.length;
  let start = 0;
  let end = total - 1;
  const asked = options.Range;
  if (asked !== undefined) {
    // MS-ASCMD 2.2.3.143.2: a best effort; a range that ends past the data is cut to the last byte,
    // one that starts past it (or backwards) is 8, "The byte-range is invalid or too large".
    if (asked.start > asked.end || asked.start >= total) return { ...echo, Status: Status.ByteRangeInvalid };
    start = asked.start;
    end = Math.min(asked.end, total - 1);
  }
  const length = end - start + 1;
  const props: Parameters<typeof attachmentProperties>[0] = {
    ContentType: content.contentType,
    Total: total,
    Data: { length, chunks: () => byteRange(content.chunks(ctx.signal), start, length) },
  };
  if (asked !== undefined) props.Range = { start, end };
  return { ...echo, Properties: attachmentProperties(props) };
}

/** `length` bytes from `start` of a chunked source, reading no further than needed. */
async function* byteRange(
  source: AsyncIterable<Uint8Array>,
  start: number,
  length: number,
): AsyncGenerator<Uint8Array> {
  let at = 0;
  let left = length;
  for await (const chunk of source) {
    if (left <= 0) break;
    const from = Math.max(0, start - at);
    at += chunk.length;
    if (from >= chunk.length) continue;
    const piece = chunk.subarray(from, from + left);
    left -= piece.length;
    yield piece;
  }
  if (left > 0) throw new Error(`the attachment ended ${left} bytes before its announced length`);
}

async function emptyFolderContents(
  run: Run,
  collectionId: string,
  DeleteSubFolders: boolean,
): Promise<OperationResponse> {
  const { deps, ctx, scope } = run;
  const answer = (s: number): OperationResponse => ({
    kind: 'EmptyFolderContents',
    Status: s,
    CollectionId: collectionId,
  });
  const backend = deps.backend;
  const empty = backend.emptyFolder?.bind(backend);
  if (empty === undefined) return answer(Status.ActionNotSupported);
  const collection = run.resolve(collectionId);
  if (collection === undefined) return answer(Status.ObjectNotFound);
  return scope.lock(
    collectionId,
    async () => {
      const r = await backendCall(
        'ItemOperations',
        () => empty(ctx.account, collection.folderId, { DeleteSubFolders }, ctx.signal),
        'folder',
      );
      if (!r.ok) return answer(r.status);
      // Whether or not the device emptied its copy, starting the collection over (the next Sync
      // is Status 3, then SyncKey 0) leaves it with exactly what the folder holds: no ghost items,
      // and no window after window of Deletes for a large Deleted Items folder.
      await new SyncStateStore<CollectionState, WbxmlElement>(scope).reset(collectionId);
      deps.push?.hub
        .notify(ctx.account.user, { folderIds: [collection.folderId], hierarchy: DeleteSubFolders })
        .catch((err: unknown) => ctx.log.warn({ err }, 'push notify failed'));
      return answer(Status.Success);
    },
    { signal: ctx.signal },
  );
}
