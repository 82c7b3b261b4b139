// SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17, 2.2.1.20, 2.2.1.19): the message a
// phone composed goes out through the backend's mail transport. SmartReply/SmartForward first
// fetch the original — the Source a Sync handed out — and, unless the client sent ReplaceMime,
// add it to the message (src/convert/mime-compose.ts). A sent message answers an empty 200
// (MS-ASCMD 2.2.3.177.14/.16: no XML body on success); a failure answers the command's root with
// a Status from 14.0, and an HTTP status in 12.x, which has no Status element for these commands
// (same sections: Status is supported from 14.0 only).
import type { Account, AttachmentSource } from '../backend/contract.js';
import { BackendError } from '../backend/errors.js';
import type { EmailItem } from '../backend/model.js';
import { FolderType } from '../backend/folder-types.js';
import {
  addMissingHeaders,
  composeSmart,
  ensureDateAndMessageId,
  envelopeOf,
  splitMessage,
  withThreading,
} from '../convert/mime-compose.js';
import { emailToMime } from '../convert/mime-from-email.js';
import { parseMime, type ParsedMime } from '../convert/mime-to-email.js';
import { EasHttpError } from '../errors.js';
import {
  buildComposeMailResponse,
  ComposeMailStatus,
  InvalidMimeError,
  parseComposeMailRequest,
  type ComposeCommand,
  type ComposeMailRequest,
  type ComposeSource,
} from '../protocol/compose-mail.js';
import { ProtocolError } from '../protocol/read.js';
import type { DeviceScope } from '../state/store.js';
import {
  FolderIdMap,
  HierarchyStateStore,
  SyncStateStore,
  type HierarchyState,
} from '../state/sync-state.js';
import { itemIdFor, serverIdOf, type CollectionState } from '../sync/collection.js';
import { classOfType } from '../sync/hierarchy.js';
import { backendCall, type EngineContext, type EngineDeps } from './deps.js';
import { versionAtLeast, type CommandHandler, type CommandResult } from './types.js';

export function createSendMailHandler(deps: EngineDeps): CommandHandler<Account> {
  return composeHandler(deps, 'SendMail');
}

export function createSmartReplyHandler(deps: EngineDeps): CommandHandler<Account> {
  return composeHandler(deps, 'SmartReply');
}

export function createSmartForwardHandler(deps: EngineDeps): CommandHandler<Account> {
  return composeHandler(deps, 'SmartForward');
}

/** ClientIds remembered per device to spot a resend (MS-ASCMD 2.2.3.28.1). */
const rememberedClientIds = 200;

interface SentClientIds {
  ids: string[];
}

/** Email2 LastVerbExecuted (MS-ASEMAIL 2.2.2.44): 1 reply to sender, 2 reply to all, 3 forward. */
type Verb = 1 | 2 | 3;

function composeHandler(deps: EngineDeps, command: ComposeCommand): CommandHandler<Account> {
  return async (ctx): Promise<CommandResult> => {
    const legacy = !versionAtLeast(ctx.protocolVersion, '14.0');
    // 12.x: MS-ASHTTP 2.2.2.1.1 — 400 for a request that cannot be understood, 500 for one the
    // server could not carry out (a failed submission, an original that is gone).
    const fail = (status: number, reason: string): CommandResult => {
      ctx.log.info({ command, status, reason }, 'message not sent');
      if (!legacy) return { body: buildComposeMailResponse(command, status) };
      if (status === ComposeMailStatus.InvalidXML || status === ComposeMailStatus.InvalidMIME)
        throw new EasHttpError('bad-request', `${command}: ${reason}`);
      throw new EasHttpError('internal', `${command} failed (${reason})`);
    };

    const mail = deps.backend.mail;
    if (mail === undefined) return fail(ComposeMailStatus.MailSubmissionFailed, 'no mail transport');

    let req: ComposeMailRequest;
    try {
      req = parseComposeMailRequest(command, ctx.body, ctx.rawBody, ctx.line);
      if (!splitMessage(req.Mime).fields.some((f) => f.name !== ''))
        throw new InvalidMimeError('the message has no header');
    } catch (err) {
      if (err instanceof InvalidMimeError) return fail(ComposeMailStatus.InvalidMIME, err.message);
      if (err instanceof ProtocolError) return fail(ComposeMailStatus.InvalidXML, err.message);
      throw err;
    }
    // MS-ASCMD 2.2.3.3.1: only AccountIds the server gave out are valid; easd gives out none
    // beyond the account itself.
    if (req.AccountId !== undefined && !ownsAccountId(ctx.account, req.AccountId))
      return fail(ComposeMailStatus.AccountIdInvalid, 'unknown AccountId');

    const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
    return scope.lock(
      'compose',
      async () => {
        const sent = scope.data('compose-client-ids');
        const known = (await sent.get<SentClientIds>())?.ids ?? [];
        if (req.ClientId !== undefined && known.includes(req.ClientId))
          return fail(ComposeMailStatus.MessagePreviouslySent, 'ClientId already sent');

        let mime = req.Mime;
        let original: Original | undefined;
        let verb: Verb | undefined;
        if (req.Source !== undefined) {
          const found = await findOriginal(deps, ctx, scope, command, req.Source);
          if ('status' in found) return fail(found.status, 'original not available');
          original = found;
          const kind = command === 'SmartReply' ? 'reply' : 'forward';
          mime = req.ReplaceMime
            ? withThreading(mime, kind, original.parsed)
            : await composeSmart(kind, mime, original.parsed);
        }
        // RFC 5322 3.6: From is required; a phone that leaves it out sends as the account
        mime = ensureDateAndMessageId(
          addMissingHeaders(mime, [['From', ctx.account.email]]),
          domainOf(ctx.account.email),
        );
        const envelope = envelopeOf(await parseMime(mime));
        if (envelope.recipients.length === 0)
          return fail(ComposeMailStatus.MessageHasNoRecipient, 'no recipients');
        if (original !== undefined)
          verb =
            command === 'SmartForward' ? 3 : replyVerb(original.parsed, envelope.recipients, ctx.account);

        // Submission failures use SendMail's table for all three commands: "not found" there is
        // an unresolved recipient (116), not the original item (150).
        const result = await backendCall('SendMail', () =>
          mail.send(ctx.account, mime, { saveInSent: req.SaveInSentItems }, ctx.signal),
        );
        if (!result.ok) return fail(result.status, 'submission failed');

        if (req.ClientId !== undefined)
          await sent.set({
            ids: [...known, req.ClientId].slice(-rememberedClientIds),
          } satisfies SentClientIds);
        if (original !== undefined && verb !== undefined) await markOriginal(deps, ctx, original, verb);
        return {};
      },
      { signal: ctx.signal },
    );
  };
}

function ownsAccountId(account: Account, id: string): boolean {
  const v = id.trim().toLowerCase();
  return v === account.email.toLowerCase() || v === account.user.toLowerCase();
}

function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1) || 'easd.invalid';
}

interface Original {
  folderId: string;
  itemId: string;
  parsed: ParsedMime;
}

/**
 * The backend folder and item a Source names. ItemId is the ServerId Sync gave out,
 * `${CollectionId}:${itemId}`; FolderId is the CollectionId. MS-ASCMD 2.2.3.93: FolderId may be
 * left out for a message in the Inbox, so without it the ItemId's own prefix, then the Inbox, is
 * tried. A LongId (2.2.3.98.4, from Search) is read the same way: Search must hand out the
 * ServerId as the LongId for this to find the message.
 */
async function resolveSource(
  scope: DeviceScope,
  source: ComposeSource,
): Promise<{ folderId: string; itemId: string } | undefined> {
  const serverId = source.ItemId ?? source.LongId;
  if (serverId === undefined) return undefined;
  const hierarchy = await new HierarchyStateStore<HierarchyState>(scope).current();
  if (hierarchy === undefined) return undefined;
  const folders = hierarchy.state.folders;
  const colon = serverId.indexOf(':');
  const prefix = colon > 0 ? serverId.slice(0, colon) : undefined;
  const candidates = [
    source.FolderId,
    prefix,
    folders.find((f) => f.Type === FolderType.Inbox)?.ServerId,
  ].filter((c): c is string => c !== undefined);
  const collectionId = candidates.find((c) => folders.some((f) => f.ServerId === c));
  const folder = folders.find((f) => f.ServerId === collectionId);
  if (folder === undefined || classOfType(folder.Type) !== 'Email') return undefined;
  const folderId = (await FolderIdMap.load(scope)).backendId(folder.ServerId);
  if (folderId === undefined) return undefined;
  const named = serverId.startsWith(`${folder.ServerId}:`)
    ? serverId.slice(folder.ServerId.length + 1)
    : serverId;
  if (named === '') return undefined;
  // the item may have a new backend id since the device got its ServerId (a draft edit)
  const synced = await new SyncStateStore<CollectionState, unknown>(scope).current(folder.ServerId);
  const itemId = itemIdFor(synced?.state, folder.ServerId, serverIdOf(folder.ServerId, named)) ?? named;
  return { folderId, itemId };
}

/**
 * The original as a whole message: its MIME when the backend gives it (MIMESupport 2, Type 4),
 * else rebuilt from its properties with its attachments fetched through attachments.getAttachment.
 */
async function findOriginal(
  deps: EngineDeps,
  ctx: EngineContext,
  scope: DeviceScope,
  command: ComposeCommand,
  source: ComposeSource,
): Promise<Original | { status: number }> {
  const target = await resolveSource(scope, source);
  if (target === undefined) return { status: ComposeMailStatus.ItemNotFound };
  const { folderId, itemId } = target;
  const read = async (type: 2 | 4): Promise<EmailItem | undefined> => {
    const [rec] = await deps.backend.getItems(
      ctx.account,
      folderId,
      [itemId],
      { bodyPreferences: [{ Type: type }], MIMESupport: 2 },
      ctx.signal,
    );
    return rec?.class === 'Email' ? rec.item : undefined;
  };
  const fetched = await backendCall(
    command,
    async () => {
      const item = await read(4);
      if (item === undefined) return undefined;
      const body = item.Body;
      if (body?.Type === 4 && body.Data !== undefined && body.Truncated !== true)
        return typeof body.Data === 'string' ? new TextEncoder().encode(body.Data) : body.Data;
      return rebuildOriginal(deps.backend.attachments, ctx, (await read(2)) ?? item);
    },
    'item',
  );
  if (!fetched.ok) return { status: fetched.status };
  if (fetched.value === undefined) return { status: ComposeMailStatus.ItemNotFound };
  return { folderId, itemId, parsed: await parseMime(fetched.value) };
}

async function rebuildOriginal(
  source: AttachmentSource | undefined,
  ctx: EngineContext,
  item: EmailItem,
): Promise<Uint8Array> {
  const keptAttachments = [];
  for (const a of item.Attachments ?? []) {
    // a forward without the original's attachments would lose them silently
    if (source === undefined) throw new BackendError('unsupported', 'the store cannot read attachments');
    const content = await source.getAttachment(ctx.account, a.FileReference, ctx.signal);
    const chunks: Uint8Array[] = [];
    for await (const c of content.chunks(ctx.signal)) chunks.push(c);
    keptAttachments.push({
      filename: a.DisplayName ?? null,
      contentType: content.contentType,
      content: new Uint8Array(Buffer.concat(chunks)),
      ...(a.ContentId !== undefined && { contentId: a.ContentId }),
      ...(a.IsInline === true && { inline: true }),
    });
  }
  const rebuilt = await emailToMime({ ...item, Attachments: undefined }, { keptAttachments });
  return item.MessageId === undefined
    ? rebuilt
    : addMissingHeaders(rebuilt, [['Message-ID', item.MessageId]]);
}

/** Reply to all when the reply goes to anyone besides the original's author (or Reply-To) and us. */
function replyVerb(original: ParsedMime, recipients: readonly string[], account: Account): Verb {
  const o = original.email;
  const author = [...(o.replyTo ?? []), ...(o.from === undefined ? [] : [o.from])]
    .flatMap((a) => a.group ?? [a])
    .map((m) => m.address.toLowerCase());
  const others = recipients
    .map((r) => r.toLowerCase())
    .filter((r) => !author.includes(r) && r !== account.email.toLowerCase());
  return others.length > 0 ? 2 : 1;
}

/**
 * MS-ASEMAIL 2.2.2.44 LastVerbExecuted / 2.2.2.45 LastVerbExecutionTime on the original. Best
 * effort: the message has gone, so a store that cannot record it must not turn the send into a
 * failure the client would retry.
 */
async function markOriginal(
  deps: EngineDeps,
  ctx: EngineContext,
  original: Original,
  verb: Verb,
): Promise<void> {
  try {
    await deps.backend.updateItem(
      ctx.account,
      original.folderId,
      original.itemId,
      { class: 'Email', item: { LastVerbExecuted: verb, LastVerbExecutionTime: new Date() } },
      {},
      ctx.signal,
    );
  } catch (err) {
    ctx.log.warn({ err, command: ctx.command }, 'could not mark the original as replied/forwarded');
  }
}
