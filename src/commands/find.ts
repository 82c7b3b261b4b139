// Find (MS-ASCMD 2.2.1.2, 16.1): the mailbox criterion through the backend's search.mailbox (the
// same path as Search: src/commands/search.ts findMail), the GAL criterion through
// search.directory. Results carry the short property set of FindResponse.xsd, not whole items.
import type { WbxmlElement } from '../../wbxml/tree.js';
import type { Account } from '../backend/contract.js';
import type { EmailItem } from '../backend/model.js';
import { statusFor } from '../backend/status.js';
import {
  buildFindResponse,
  findProperty,
  FindStatus,
  parseFindRequest,
  type FindGalCriterion,
  type FindMailboxCriterion,
  type FindResponse,
} from '../protocol/find.js';
import { encodeItem } from '../protocol/items/index.js';
import { ProtocolError } from '../protocol/read.js';
import { galProperties, pictureAnswers } from '../protocol/search.js';
import { serverIdOf } from '../sync/collection.js';
import { backendCall, type EngineContext, type EngineDeps } from './deps.js';
import { findMail } from './search.js';
import type { CommandHandler } from './types.js';

/** MS-ASCMD 2.2.3.137 Preview (Find): up to 255 characters of the body as plain text. */
const previewLength = 255;
/** The email: and email2: members of FindResponse.xsd FindProperties. */
const findEmailProperties = [
  'Subject',
  'DateReceived',
  'DisplayTo',
  'Importance',
  'Read',
  'IsDraft',
  'From',
] as const;

export function createFindHandler(deps: EngineDeps): CommandHandler<Account> {
  return async (ctx) => {
    let request;
    try {
      request = parseFindRequest(ctx.body);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return { body: buildFindResponse({ Status: FindStatus.InvalidRequest }) };
    }
    const c = request.criterion;
    const response =
      c.kind === 'Mailbox' ? await findInMailbox(deps, ctx, c) : await findInDirectory(deps, ctx, c);
    return { body: buildFindResponse({ Status: FindStatus.Success, response }) };
  };
}

type Answer = NonNullable<FindResponse['response']>;

async function findInMailbox(deps: EngineDeps, ctx: EngineContext, c: FindMailboxCriterion): Promise<Answer> {
  const found = await findMail(deps, ctx, 'Find', {
    FreeText: c.FreeText,
    CollectionIds: c.CollectionId === undefined ? [] : [c.CollectionId],
    ...(c.Class !== undefined && { Class: c.Class }),
    DeepTraversal: c.DeepTraversal,
    range: c.Range,
    // The plain-text body, cut, is all the Preview needs.
    read: { bodyPreferences: [{ Type: 1, TruncationSize: previewLength * 4 }] },
  });
  if ('status' in found) return { Store: 'Mailbox', Status: found.status, results: [] };
  const results = found.items.map(({ collectionId, record }) => ({
    Class: record.class,
    ServerId: serverIdOf(collectionId, record.id),
    CollectionId: collectionId,
    Properties: record.class === 'Email' ? emailProperties(record.item, ctx) : [],
  }));
  return {
    Store: 'Mailbox',
    Status: FindStatus.Success,
    results,
    ...(results.length > 0 && { Range: { start: c.Range.start, end: c.Range.start + results.length - 1 } }),
    Total: found.total,
  };
}

/** FindResponse.xsd FindProperties: the email: and email2: ones through the Email codec, then Find's own. */
function emailProperties(item: EmailItem, ctx: EngineContext): WbxmlElement[] {
  const shown: EmailItem = {};
  for (const k of findEmailProperties) if (item[k] !== undefined) Object.assign(shown, { [k]: item[k] });
  const props = encodeItem({ class: 'Email', item: shown }, { protocolVersion: ctx.protocolVersion });
  if (item.Cc !== undefined && item.Cc !== '') props.push(findProperty('DisplayCc', item.Cc));
  if (item.Bcc !== undefined && item.Bcc !== '') props.push(findProperty('DisplayBcc', item.Bcc));
  const preview = previewOf(item);
  if (preview !== '') props.push(findProperty('Preview', preview));
  props.push(findProperty('HasAttachments', (item.Attachments?.length ?? 0) > 0 ? '1' : '0'));
  return props;
}

function previewOf(item: EmailItem): string {
  const body = item.Body;
  if (body === undefined) return '';
  if (body.Preview !== undefined) return body.Preview;
  if (body.Type !== 1 || body.Data === undefined) return '';
  const data = typeof body.Data === 'string' ? body.Data : Buffer.from(body.Data).toString('utf8');
  return [...data.replace(/\s+/g, ' ').trim()].slice(0, previewLength).join('');
}

async function findInDirectory(deps: EngineDeps, ctx: EngineContext, c: FindGalCriterion): Promise<Answer> {
  const directory = deps.backend.search?.directory?.bind(deps.backend.search);
  if (directory === undefined) return { Store: 'GAL', Status: statusFor('Find', 'unsupported'), results: [] };
  // One entry past the range shows whether more exist; Total is then a lower bound.
  const got = await backendCall('Find', () =>
    directory(ctx.account, c.FreeText, c.Range.end + 2, ctx.signal),
  );
  if (!got.ok) return { Store: 'GAL', Status: got.status, results: [] };
  const entries = got.value.slice(c.Range.start, c.Range.end + 1);
  // Each entry's photo under MaxSize/MaxPictures (MS-ASCMD 2.2.3.104.1, 2.2.3.105.1): 1, 173, 174 or 175.
  const picture = c.Picture !== undefined ? pictureAnswers(c.Picture) : undefined;
  return {
    Store: 'GAL',
    Status: FindStatus.Success,
    results: entries.map((e) => ({ Properties: galProperties(e, picture?.(e.Picture)) })),
    ...(entries.length > 0 && { Range: { start: c.Range.start, end: c.Range.start + entries.length - 1 } }),
    Total: got.value.length,
  };
}
