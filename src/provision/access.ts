// Device access rules: which devices may sync, by DeviceType (MS-ASHTTP 2.2.1.1.1.1.2 query
// parameter) or User-Agent header, matched as case-insensitive globs ("*" any run, "?" one
// character). A block rule always wins; when allow rules exist, a device must match one of them or
// it gets `unmatched` (blocked unless the policy says quarantined). A pure function: the gate
// evaluates it per request and stores the result on the device record.
import type { DeviceAccess } from '../state/devices.js';

export interface DeviceAccessRule {
  DeviceType?: string;
  UserAgent?: string;
}

export interface DeviceAccessRules {
  allow?: DeviceAccessRule[];
  block?: DeviceAccessRule[];
  /** What a device that matches no allow rule gets, when allow rules exist. Default: blocked. */
  unmatched?: 'blocked' | 'quarantined';
}

export interface DeviceAccessDecision {
  access: DeviceAccess;
  /** Which rule decided, for logs and `easd devices show`: "block[0]", "allow[2]", "unmatched", "default". */
  rule: string;
}

export function evaluateDeviceAccess(
  rules: DeviceAccessRules,
  device: { deviceType: string; userAgent?: string },
): DeviceAccessDecision {
  const block = rules.block ?? [];
  for (let i = 0; i < block.length; i++) {
    if (ruleMatches(block[i] as DeviceAccessRule, device)) return { access: 'blocked', rule: `block[${i}]` };
  }
  const allow = rules.allow ?? [];
  if (allow.length === 0) return { access: 'allowed', rule: 'default' };
  for (let i = 0; i < allow.length; i++) {
    if (ruleMatches(allow[i] as DeviceAccessRule, device)) return { access: 'allowed', rule: `allow[${i}]` };
  }
  return { access: rules.unmatched ?? 'blocked', rule: 'unmatched' };
}

/** Every field a rule names must match; a rule naming the User-Agent never matches a request without one. */
function ruleMatches(rule: DeviceAccessRule, device: { deviceType: string; userAgent?: string }): boolean {
  if (rule.DeviceType !== undefined && !globMatches(rule.DeviceType, device.deviceType)) return false;
  if (
    rule.UserAgent !== undefined &&
    (device.userAgent === undefined || !globMatches(rule.UserAgent, device.userAgent))
  ) {
    return false;
  }
  return true;
}

/** Case-insensitive glob over the whole string: "*" any run of characters, "?" exactly one. */
export function globMatches(pattern: string, value: string): boolean {
  const p = [...pattern.toLowerCase()];
  const v = [...value.toLowerCase()];
  // Iterative matcher with one backtrack point per "*": linear in practice, no regex to escape.
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === v[vi]))) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

const ruleKeys = ['DeviceType', 'UserAgent'] as const;
const accessKeys = ['allow', 'block', 'unmatched'] as const;

/** Validates the "deviceAccess" part of the policy file, adding every problem to `problems`. */
export function parseDeviceAccessRules(json: unknown, problems: string[]): DeviceAccessRules {
  if (json === undefined) return {};
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    problems.push('deviceAccess must be an object with "allow", "block" and/or "unmatched"');
    return {};
  }
  const obj = json as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(accessKeys as readonly string[]).includes(key)) {
      problems.push(`deviceAccess: unknown key "${key}" (known: ${accessKeys.join(', ')})`);
    }
  }
  const rules: DeviceAccessRules = {};
  for (const list of ['allow', 'block'] as const) {
    const value = obj[list];
    if (value === undefined) continue;
    if (!Array.isArray(value)) {
      problems.push(`deviceAccess.${list} must be a list of rules like {"DeviceType": "iPhone"}`);
      continue;
    }
    rules[list] = value.flatMap((rule: unknown, i) =>
      parseRule(rule, `deviceAccess.${list}[${i}]`, problems),
    );
  }
  const unmatched = obj['unmatched'];
  if (unmatched !== undefined) {
    if (unmatched === 'blocked' || unmatched === 'quarantined') rules.unmatched = unmatched;
    else
      problems.push(
        `deviceAccess.unmatched must be "blocked" or "quarantined", not ${JSON.stringify(unmatched)}`,
      );
  }
  return rules;
}

function parseRule(rule: unknown, where: string, problems: string[]): DeviceAccessRule[] {
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
    problems.push(`${where} must be an object with DeviceType and/or UserAgent`);
    return [];
  }
  const obj = rule as Record<string, unknown>;
  let ok = true;
  for (const key of Object.keys(obj)) {
    if (!(ruleKeys as readonly string[]).includes(key)) {
      problems.push(`${where}: unknown key "${key}" (known: ${ruleKeys.join(', ')})`);
      ok = false;
    }
  }
  const parsed: DeviceAccessRule = {};
  for (const key of ruleKeys) {
    const v = obj[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') {
      problems.push(`${where}.${key} must be a non-empty pattern string`);
      ok = false;
    } else parsed[key] = v;
  }
  if (ok && parsed.DeviceType === undefined && parsed.UserAgent === undefined) {
    problems.push(`${where} must name DeviceType and/or UserAgent`);
    ok = false;
  }
  return ok ? [parsed] : [];
}
