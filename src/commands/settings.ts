// Settings (MS-ASCMD 2.2.1.18): out-of-office settings through the backend's oof capability,
// device information onto the device record, the user's addresses, and the parts easd does not
// keep (device recovery password, rights management templates). A request that cannot be read is
// Status 2 as a whole; otherwise the Settings Status is 1 and each part carries its own.
import type { Account, OofMessage, OofSettings } from '../backend/contract.js';
import { statusFor } from '../backend/status.js';
import { ProtocolError } from '../protocol/read.js';
import {
  buildSettingsResponse,
  parseSettingsRequest,
  SettingsStatus,
  type OofBodyType,
  type OofSet,
  type SettingsRequest,
  type SettingsResponse,
  type UserInformationGet,
} from '../protocol/settings.js';
import { setDeviceInformation } from '../state/devices.js';
import { backendCall, type EngineContext, type EngineDeps } from './deps.js';
import { versionAtLeast, type CommandHandler } from './types.js';

export function createSettingsHandler(deps: EngineDeps): CommandHandler<Account> {
  return async (ctx) => {
    let request: SettingsRequest;
    try {
      request = parseSettingsRequest(ctx.body);
      // MS-ASCMD 2.2.3.156: RightsManagementInformation exists from protocol 14.1.
      if (request.RightsManagementInformation !== undefined && !versionAtLeast(ctx.protocolVersion, '14.1'))
        throw new ProtocolError('RightsManagementInformation before 14.1');
    } catch (err) {
      if (err instanceof ProtocolError)
        return { body: buildSettingsResponse({ Status: SettingsStatus.ProtocolError }, ctx.protocolVersion) };
      throw err;
    }

    const response: SettingsResponse = { Status: SettingsStatus.Success };
    if (request.Oof !== undefined) response.Oof = await oof(deps, ctx, request.Oof);
    if (request.DeviceInformation !== undefined) {
      const scope = deps.state.device(ctx.account.user, ctx.line.deviceId);
      await setDeviceInformation(scope, request.DeviceInformation, ctx.signal);
      response.DeviceInformation = { Status: SettingsStatus.Success };
    }
    if (request.DevicePassword !== undefined) {
      // MS-ASCMD 2.2.3.46: the recovery password is for the server to hand back if the user
      // forgets the device PIN. easd offers no such recovery (nor an admin view to read it from),
      // so it does not keep a secret it would never use; the Set is acknowledged as done.
      response.DevicePassword = { Status: SettingsStatus.Success };
    }
    if (request.UserInformation !== undefined) response.UserInformation = await userInformation(deps, ctx);
    if (request.RightsManagementInformation !== undefined) {
      // easd has no rights management server: the Get succeeds with no templates available
      // (MS-ASRM 2.2.2.17: RightsManagementTemplate is optional), which clients show as "none".
      response.RightsManagementInformation = { Status: SettingsStatus.Success };
    }
    return { body: buildSettingsResponse(response, ctx.protocolVersion) };
  };
}

async function userInformation(
  deps: EngineDeps,
  ctx: EngineContext,
): Promise<NonNullable<SettingsResponse['UserInformation']>> {
  const { backend } = deps;
  const account = ctx.account;
  if (backend.userInformation === undefined) {
    const Get: UserInformationGet = { PrimarySmtpAddress: account.email, SMTPAddress: [account.email] };
    if (account.displayName !== undefined) Get.UserDisplayName = account.displayName;
    return { Status: SettingsStatus.Success, Get };
  }
  const r = await backendCall('Settings', () => backend.userInformation!(account, ctx.signal));
  if (!r.ok) return { Status: r.status };
  const Get: UserInformationGet = {
    PrimarySmtpAddress: r.value.PrimarySmtpAddress,
    // The primary address is one of the user's addresses too (MS-ASCMD 2.2.3.138).
    SMTPAddress: r.value.SMTPAddress.includes(r.value.PrimarySmtpAddress)
      ? r.value.SMTPAddress
      : [r.value.PrimarySmtpAddress, ...r.value.SMTPAddress],
  };
  const name = r.value.UserDisplayName ?? account.displayName;
  if (name !== undefined) Get.UserDisplayName = name;
  return { Status: SettingsStatus.Success, Get };
}

async function oof(
  deps: EngineDeps,
  ctx: EngineContext,
  request: NonNullable<SettingsRequest['Oof']>,
): Promise<NonNullable<SettingsResponse['Oof']>> {
  const store = deps.backend.oof;
  // No oof capability: the same Status a backend's 'unsupported' gets (src/backend/status.ts).
  if (store === undefined) return { Status: statusFor('Settings', 'unsupported') };
  if (request.kind === 'Invalid') return { Status: SettingsStatus.InvalidArguments };

  const current = await backendCall('Settings', () => store.get(ctx.account, ctx.signal));
  if (!current.ok) return { Status: current.status };
  if (request.kind === 'Get') {
    return { Status: SettingsStatus.Success, Get: inBodyType(current.value, request.BodyType) };
  }
  const next = merge(current.value, request.set);
  if (next === undefined) return { Status: SettingsStatus.InvalidArguments };
  const saved = await backendCall('Settings', () => store.set(ctx.account, next, ctx.signal));
  return { Status: saved.ok ? SettingsStatus.Success : saved.status };
}

/**
 * The settings after a Set: what the client sent replaces, what it left out stays (a message per
 * audience). Undefined when the result is not a valid setting: MS-ASCMD 2.2.3.176.2 / 2.2.3.61.2,
 * a time-based OOF (OofState 2) needs StartTime before EndTime.
 */
function merge(current: OofSettings, set: OofSet): OofSettings | undefined {
  const next: OofSettings = { ...current, OofMessage: [...current.OofMessage] };
  if (set.OofState !== undefined) next.OofState = set.OofState;
  if (set.StartTime !== undefined) next.StartTime = set.StartTime;
  if (set.EndTime !== undefined) next.EndTime = set.EndTime;
  for (const m of set.OofMessage) {
    const message: OofMessage =
      m.ReplyMessage !== undefined && m.BodyType === undefined ? { ...m, BodyType: 'Text' } : m;
    const i = next.OofMessage.findIndex((x) => x.AppliesTo === m.AppliesTo);
    if (i < 0) next.OofMessage.push(message);
    else next.OofMessage[i] = message;
  }
  if (next.OofState === 2) {
    const { StartTime, EndTime } = next;
    if (StartTime === undefined || EndTime === undefined || EndTime <= StartTime) return undefined;
  }
  return next;
}

/** The reply messages in the body type the client asked for (MS-ASCMD 2.2.3.16.1). */
function inBodyType(settings: OofSettings, bodyType: OofBodyType): OofSettings {
  return {
    ...settings,
    OofMessage: settings.OofMessage.map((m) => {
      if (m.ReplyMessage === undefined) return m;
      const from = m.BodyType ?? 'Text';
      if (from === bodyType) return { ...m, BodyType: bodyType };
      const ReplyMessage = bodyType === 'HTML' ? textToHtml(m.ReplyMessage) : htmlToText(m.ReplyMessage);
      return { ...m, ReplyMessage, BodyType: bodyType };
    }),
  };
}

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function textToHtml(text: string): string {
  const escaped = text.replace(/[&<>"]/g, (c) => htmlEscapes[c] ?? c);
  return `<html><body>${escaped.replace(/\r?\n/g, '<br>')}</body></html>`;
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** A plain rendering of an HTML reply: line breaks kept, tags dropped, common entities decoded. */
function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h[1-6])\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name.startsWith('#')) {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
        return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return entities[name.toLowerCase()] ?? whole;
    })
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
