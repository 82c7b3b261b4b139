// The admin commands on the state store: `easd devices list|show|wipe|account-wipe|remove|resync`,
// `easd trace on|off|list` and `easd policy show`. Each returns printable text through `out`; src/cli.ts parses nothing but
// the first word and hands the rest here. They work on a running server's store: every change goes
// through the device lock that the server takes too.
import type { Policy } from '../provision/policy.js';
import { policyHash, provisionDocFields } from '../provision/policy.js';
import {
  DeviceNotFoundError,
  type DeviceRecord,
  cancelWipe,
  getDevice,
  listDevices,
  markForResync,
  policyKeyIsCurrent,
  removeDevice,
  requestWipe,
} from '../state/devices.js';
import type { DeviceScope, StateStore } from '../state/store.js';
import { HierarchyStateStore, SyncStateStore } from '../state/sync-state.js';
import { heldText, type HeldRecord } from './held.js';
import { checkTracePattern, switchTrace, tracePatterns } from './trace.js';

export interface AdminDeps {
  store: StateStore;
  policy: Policy;
  out: (s: string) => void;
  /** Where errors and usage go; `out` when absent. */
  err?: (s: string) => void;
}

export const adminUsage = `Usage:
  easd devices list [--user <user>]
  easd devices show <user> <device-id>
  easd devices wipe <user> <device-id> [--cancel]
  easd devices account-wipe <user> <device-id>     (protocol 16.1 devices only)
  easd devices remove <user> <device-id>
  easd devices resync <user> <device-id> [<collection-id>]
  easd trace on|off <user>[/<device-id>]   (or *; "trace off --all")
  easd trace list
  easd policy show`;

class UsageError extends Error {}

/**
 * Runs one admin command. `argv` is everything after "easd": ["devices", "list"], ["policy",
 * "show"], … Returns the exit code: 0 done, 1 failed (unknown device, refused), 2 usage error.
 */
export async function devicesCli(argv: string[], deps: AdminDeps): Promise<number> {
  const err = deps.err ?? deps.out;
  try {
    const [group, command, ...rest] = argv;
    if (group === 'policy' && command === 'show' && rest.length === 0) {
      deps.out(formatPolicy(deps.policy));
      return 0;
    }
    if ((group === 'devices' || group === 'trace') && (command === 'help' || command === '--help')) {
      deps.out(adminUsage);
      return 0;
    }
    if (group === 'trace' && command !== undefined) return await trace(command, rest, deps);
    if (group !== 'devices' || command === undefined) throw new UsageError();
    return await devices(command, rest, deps, err);
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message === '' ? adminUsage : `${e.message}\n\n${adminUsage}`);
      return 2;
    }
    if (e instanceof DeviceNotFoundError) {
      err(`No device ${e.deviceId} of user ${e.user}.`);
      return 1;
    }
    throw e;
  }
}

async function devices(
  command: string,
  args: string[],
  deps: AdminDeps,
  err: (s: string) => void,
): Promise<number> {
  const { store, out } = deps;
  if (command === 'list') {
    let user: string | undefined;
    if (args.length === 2 && args[0] === '--user') user = args[1];
    else if (args.length !== 0) throw new UsageError('devices list takes only --user <user>');
    const records = await listDevices(store, user);
    const activity = new Map<DeviceRecord, DeviceActivity>();
    for (const r of records) activity.set(r, await readActivity(store.device(r.user, r.deviceId)));
    out(formatDeviceTable(records, policyHash(deps.policy), activity));
    return 0;
  }

  const flags = args.filter((a) => a.startsWith('--'));
  const [user, deviceId, ...extra] = args.filter((a) => !a.startsWith('--'));
  if (user === undefined || deviceId === undefined)
    throw new UsageError(`devices ${command} needs <user> <device-id>`);
  const allowedFlags = command === 'wipe' ? ['--cancel'] : [];
  const badFlag = flags.find((f) => !allowedFlags.includes(f));
  if (badFlag !== undefined) throw new UsageError(`unknown option ${badFlag} for devices ${command}`);
  const maxExtra = command === 'resync' ? 1 : 0;
  if (extra.length > maxExtra) throw new UsageError(`too many arguments for devices ${command}`);
  const scope = store.device(user, deviceId);

  switch (command) {
    case 'show': {
      const record = await getDevice(scope);
      if (record === undefined) throw new DeviceNotFoundError(user, deviceId);
      const hierarchy = await new HierarchyStateStore<unknown>(scope).current();
      const activity = await readActivity(scope);
      out(
        formatDevice(
          record,
          policyHash(deps.policy),
          hierarchy === undefined ? undefined : { key: hierarchy.key, at: hierarchy.at },
          activity.collections,
          activity.held,
        ),
      );
      return 0;
    }
    case 'wipe': {
      if (flags.includes('--cancel')) {
        const r = await cancelWipe(scope);
        out(
          r.wipe.state === 'acknowledged'
            ? `The device already acknowledged its wipe; nothing to cancel.`
            : `Wipe of ${deviceId} (${user}) cancelled.`,
        );
        return 0;
      }
      await requestWipe(scope, { accountOnly: false });
      out(`Remote wipe of ${deviceId} (${user}) requested: the device erases itself at its next connection.`);
      return 0;
    }
    case 'account-wipe': {
      const record = await getDevice(scope);
      if (record === undefined) throw new DeviceNotFoundError(user, deviceId);
      // MS-ASPROV 2.2.2.1: AccountOnlyRemoteWipe exists only in protocol 16.1.
      if (Number(record.protocolVersion) < 16.1) {
        err(
          `${deviceId} speaks EAS ${record.protocolVersion}; an account-only wipe needs 16.1. ` +
            `Use "easd devices wipe" (erases the whole device) or "easd devices remove".`,
        );
        return 1;
      }
      await requestWipe(scope, { accountOnly: true });
      out(
        `Account-only wipe of ${deviceId} (${user}) requested: the device removes this account's data at its next connection.`,
      );
      return 0;
    }
    case 'remove': {
      if (!(await removeDevice(store, user, deviceId))) throw new DeviceNotFoundError(user, deviceId);
      out(
        `Device ${deviceId} (${user}) and all its state removed; if it connects again it starts as a new device.`,
      );
      return 0;
    }
    case 'resync': {
      if ((await getDevice(scope)) === undefined) throw new DeviceNotFoundError(user, deviceId);
      const collection = extra[0];
      const reset = await markForResync(scope, collection);
      out(
        collection === undefined
          ? `Folder hierarchy and ${reset.length} collection(s) of ${deviceId} (${user}) reset: the device resyncs everything.`
          : `Collection ${collection} of ${deviceId} (${user}) reset: the device resyncs it.`,
      );
      return 0;
    }
    default:
      throw new UsageError(`unknown command "devices ${command}"`);
  }
}

async function trace(command: string, args: string[], deps: AdminDeps): Promise<number> {
  const { store, out } = deps;
  if (command === 'list' && args.length === 0) {
    const patterns = await tracePatterns(store);
    out(
      patterns.length === 0
        ? 'No trace switched on (EASD_TRACE_DEVICES of each node still applies).'
        : `Traced: ${patterns.join(', ')}`,
    );
    return 0;
  }
  const [pattern, ...extra] = args;
  if ((command !== 'on' && command !== 'off') || pattern === undefined || extra.length > 0)
    throw new UsageError(command === 'list' ? 'trace list takes no arguments' : '');
  if (command === 'off' && pattern === '--all') {
    await switchTrace(store, { off: '--all' });
    out('Every trace switched off (EASD_TRACE_DEVICES of each node still applies).');
    return 0;
  }
  const bad = checkTracePattern(pattern);
  if (bad !== undefined) throw new UsageError(bad);
  const now = await switchTrace(store, command === 'on' ? { on: pattern } : { off: pattern });
  out(
    `${command === 'on' ? 'Tracing' : 'No longer tracing'} ${pattern}; every node picks this up within a few seconds. ` +
      `Traced now: ${now.length === 0 ? 'nothing' : now.join(', ')}.`,
  );
  return 0;
}

interface CollectionLine {
  id: string;
  key: string;
  at: Date;
}

interface DeviceActivity {
  collections: CollectionLine[];
  /** The newest collection sync state: when the device last synced something. */
  lastSync?: Date;
  held?: HeldRecord;
}

async function readActivity(scope: DeviceScope): Promise<DeviceActivity> {
  const states = new SyncStateStore<unknown>(scope);
  const collections: CollectionLine[] = [];
  let lastSync: Date | undefined;
  for (const id of await scope.collectionIds()) {
    const current = await states.current(id);
    if (current === undefined) continue;
    collections.push({ id, key: current.key, at: current.at });
    if (lastSync === undefined || current.at > lastSync) lastSync = current.at;
  }
  const held = await scope.data('held').get<HeldRecord>();
  return {
    collections,
    ...(lastSync === undefined ? {} : { lastSync }),
    ...(held === undefined ? {} : { held }),
  };
}

function when(d: Date | undefined): string {
  return d === undefined ? '-' : `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

function heldLine(h: HeldRecord | undefined, now: number): string | undefined {
  if (h === undefined) return undefined;
  const held = heldText(h, now);
  if (held !== '-') return `${held} on ${h.node}`;
  return h.ended === undefined
    ? `none (a ${h.command} from ${when(h.since)} on ${h.node} was never let go: stale)`
    : `none (last: ${h.command} ${when(h.since)} – ${when(h.ended)} on ${h.node})`;
}

function policyText(r: DeviceRecord, hash: string): string {
  if (r.policy.status !== 'provisioned') return r.policy.status;
  return policyKeyIsCurrent(r, r.policy.key, hash) ? 'provisioned' : 'outdated';
}

function wipeText(r: DeviceRecord): string {
  if (r.wipe.state === 'none') return '-';
  return r.wipe.accountOnly ? `${r.wipe.state} (account)` : r.wipe.state;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/** The `devices list` table: one line per device. */
export function formatDeviceTable(
  records: DeviceRecord[],
  currentPolicyHash: string,
  activity: Map<DeviceRecord, DeviceActivity> = new Map(),
  now = Date.now(),
): string {
  if (records.length === 0) return 'No devices.';
  const header = [
    'USER',
    'DEVICE ID',
    'TYPE',
    'MODEL',
    'LAST SEEN',
    'LAST SYNC',
    'HELD',
    'PROTOCOL',
    'POLICY',
    'WIPE',
  ];
  const rows = records.map((r) => [
    r.user,
    r.deviceId,
    r.deviceType,
    r.model ?? '-',
    when(r.lastSeen),
    when(activity.get(r)?.lastSync),
    heldText(activity.get(r)?.held, now),
    r.protocolVersion,
    r.access === 'allowed'
      ? policyText(r, currentPolicyHash)
      : `${policyText(r, currentPolicyHash)}, ${r.access}`,
    wipeText(r),
  ]);
  return table([header, ...rows]);
}

/** The `devices show` text: every field of the record and the sync state it holds. */
export function formatDevice(
  r: DeviceRecord,
  currentPolicyHash: string,
  hierarchy: { key: string; at: Date } | undefined,
  collections: CollectionLine[],
  held?: HeldRecord,
  now = Date.now(),
): string {
  const lines: [string, string | undefined][] = [
    ['User', r.user],
    ['Device ID', r.deviceId],
    ['Device type', r.deviceType],
    ['User agent', r.userAgent || undefined],
    ['Protocol', r.protocolVersion],
    ['Model', r.model],
    ['Friendly name', r.friendlyName],
    ['OS', r.os],
    ['OS language', r.osLanguage],
    ['IMEI', r.imei],
    ['Phone number', r.phoneNumber],
    ['Mobile operator', r.mobileOperator],
    [
      'Outbound SMS',
      r.enableOutboundSMS === undefined ? undefined : r.enableOutboundSMS ? 'enabled' : 'disabled',
    ],
    ['First seen', when(r.firstSeen)],
    ['Last seen', when(r.lastSeen)],
    ['Last command', r.lastCommand],
    ['Held request', heldLine(held, now)],
    ['Access', r.access],
    ['Policy', policyText(r, currentPolicyHash)],
    ['Policy key', r.policy.key === undefined ? undefined : String(r.policy.key)],
    [
      'Policy acknowledged',
      r.policy.ackAt === undefined
        ? undefined
        : `${when(r.policy.ackAt)} (status ${r.policy.ackStatus ?? '?'})`,
    ],
    ['Wipe', r.wipe.state === 'none' ? 'none' : `${wipeText(r)}, requested ${when(r.wipe.requestedAt)}`],
    ['Wipe sent', r.wipe.sentAt === undefined ? undefined : when(r.wipe.sentAt)],
    [
      'Wipe acknowledged',
      r.wipe.ackAt === undefined ? undefined : `${when(r.wipe.ackAt)} (status ${r.wipe.ackStatus ?? '?'})`,
    ],
    [
      'Folder hierarchy',
      hierarchy === undefined ? 'not synced' : `key ${hierarchy.key}, ${when(hierarchy.at)}`,
    ],
  ];
  const text = table(
    lines.filter((l): l is [string, string] => l[1] !== undefined).map(([k, v]) => [`${k}:`, v]),
  );
  if (collections.length === 0) return `${text}\nCollections: none`;
  return `${text}\nCollections:\n${table(collections.map((c) => [`  ${c.id}`, `key ${c.key}`, when(c.at)]))}`;
}

/** The `policy show` text: the effective EASProvisionDoc in the order sent, and the access rules. */
export function formatPolicy(policy: Policy): string {
  const explicit = new Set<string>(policy.explicit);
  const doc = policy.EASProvisionDoc;
  const rows = provisionDocFields.map((f) => {
    const v = doc[f.name];
    const shown =
      v === null ? '(no limit)' : Array.isArray(v) ? (v.length === 0 ? '(empty)' : v.join(', ')) : String(v);
    return [
      `  ${f.name}`,
      shown,
      explicit.has(f.name) ? 'set' : 'default',
      f.since === '12.0' ? '' : `from ${f.since}`,
    ];
  });
  const access = policy.deviceAccess;
  const ruleText = (r: { DeviceType?: string; UserAgent?: string }): string =>
    [
      r.DeviceType === undefined ? '' : `DeviceType=${r.DeviceType}`,
      r.UserAgent === undefined ? '' : `UserAgent=${r.UserAgent}`,
    ]
      .filter((s) => s !== '')
      .join(' ');
  const accessLines = [
    ...(access.block ?? []).map((r, i) => `  block[${i}]  ${ruleText(r)}`),
    ...(access.allow ?? []).map((r, i) => `  allow[${i}]  ${ruleText(r)}`),
    (access.allow ?? []).length === 0
      ? '  every device not blocked is allowed'
      : `  devices matching no allow rule: ${access.unmatched ?? 'blocked'}`,
  ];
  return [
    `Policy: ${policy.source ?? 'built-in default (EASD_POLICY not set)'}`,
    `Hash: ${policyHash(policy)}`,
    'EASProvisionDoc (MS-ASPROV 2.2.2.28), in the order sent:',
    table(rows).replace(/ +$/gm, ''),
    'Device access:',
    ...accessLines,
  ].join('\n');
}
