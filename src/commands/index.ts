// The command handlers easd serves, built once from the engine's dependencies. A command is in
// OPTIONS' MS-ASProtocolCommands exactly when it has a handler here.
import type { Account } from '../backend/contract.js';
import type { AccountInfo, CommandGate } from '../server.js';
import type { EngineDeps } from './deps.js';
import {
  createFolderCreateHandler,
  createFolderDeleteHandler,
  createFolderUpdateHandler,
} from './folder-admin.js';
import { createFindHandler } from './find.js';
import { createFolderSyncHandler } from './folder-sync.js';
import { createGate } from './gate.js';
import { createPingHandler } from './ping.js';
import { createGetItemEstimateHandler } from './get-item-estimate.js';
import { createItemOperationsHandler } from './item-operations.js';
import { createMeetingResponseHandler } from './meeting-response.js';
import { createMoveItemsHandler } from './move-items.js';
import { createProvisionHandler } from './provision.js';
import { createResolveRecipientsHandler } from './resolve-recipients.js';
import { createSearchHandler } from './search.js';
import { createSendMailHandler, createSmartForwardHandler, createSmartReplyHandler } from './send-mail.js';
import { createSettingsHandler } from './settings.js';
import { createSyncHandler } from './sync.js';
import type { CommandHandler, CommandName } from './types.js';

export function createHandlers(deps: EngineDeps): Partial<Record<CommandName, CommandHandler<Account>>> {
  const handlers: Partial<Record<CommandName, CommandHandler<Account>>> = {
    Provision: createProvisionHandler(deps) as CommandHandler<Account>,
    FolderSync: createFolderSyncHandler(deps),
    Sync: createSyncHandler(deps),
    Settings: createSettingsHandler(deps),
    GetItemEstimate: createGetItemEstimateHandler(deps),
    MoveItems: createMoveItemsHandler(deps),
    ItemOperations: createItemOperationsHandler(deps),
    MeetingResponse: createMeetingResponseHandler(deps),
  };
  if (deps.push !== undefined) handlers.Ping = createPingHandler({ ...deps, push: deps.push });
  if (deps.backend.mail !== undefined) {
    handlers.SendMail = createSendMailHandler(deps);
    handlers.SmartReply = createSmartReplyHandler(deps);
    handlers.SmartForward = createSmartForwardHandler(deps);
  }
  if (deps.backend.search !== undefined) {
    handlers.Search = createSearchHandler(deps);
    handlers.Find = createFindHandler(deps);
  }
  // a directory to resolve names in, or free/busy for the user's own address
  if (deps.backend.search?.directory !== undefined || deps.backend.freeBusy !== undefined)
    handlers.ResolveRecipients = createResolveRecipientsHandler(deps);
  if (deps.backend.folders !== undefined) {
    handlers.FolderCreate = createFolderCreateHandler(deps);
    handlers.FolderUpdate = createFolderUpdateHandler(deps);
    handlers.FolderDelete = createFolderDeleteHandler(deps);
  }
  return handlers;
}

export function createEngineGate(deps: EngineDeps): CommandGate<Account & AccountInfo> {
  return createGate(deps);
}
