// What command handlers are built with. Handlers get it once, at server build time; every
// request's data comes in its CommandContext.
import type { Account, Backend } from '../backend/contract.js';
import { isBackendError } from '../backend/errors.js';
import { httpErrorFor, statusFor, type StatusCommand, type StatusTarget } from '../backend/status.js';
import type { PolicyProvider } from '../provision/provider.js';
import type { PushHub } from '../push/hub.js';
import type { StateStore } from '../state/store.js';
import type { CommandContext } from './types.js';

export interface PushSettings {
  /** MS-ASCMD 2.2.3.79.2: Ping HeartbeatInterval bounds are the server's choice (seconds). */
  heartbeatMin: number;
  heartbeatMax: number;
  /** MS-ASCMD 2.2.3.101: the most folders one Ping may watch. */
  maxFolders: number;
}

export const defaultPushSettings: PushSettings = { heartbeatMin: 60, heartbeatMax: 3540, maxFolders: 300 };

export interface EngineDeps {
  backend: Backend;
  state: StateStore;
  policy: PolicyProvider;
  /** Direct Push: without it, Ping is not served and Sync never waits. */
  push?: { hub: PushHub; settings: PushSettings };
}

export type EngineContext = CommandContext<Account>;

/**
 * Runs a backend call; a BackendError becomes the command's Status (returned to `onStatus`), or an
 * HTTP error when it ends the whole request (auth → 401, unavailable → 503 with Retry-After).
 */
export async function backendCall<T>(
  command: StatusCommand,
  fn: () => Promise<T>,
  target: StatusTarget = 'item',
): Promise<{ ok: true; value: T } | { ok: false; status: number }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (!isBackendError(err)) throw err;
    const http = httpErrorFor(err);
    if (http !== undefined) throw http;
    return { ok: false, status: statusFor(command, err.kind, target) };
  }
}
