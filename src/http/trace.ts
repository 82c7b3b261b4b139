// Per-device debug trace: the decoded request and response of selected devices, as XML, with
// secrets removed and large contents shortened so a trace can be shared when reporting a bug.
import { toXml } from '../../wbxml/index.js';
import type { WbxmlElement } from '../../wbxml/tree.js';

/** Elements whose value is a secret wherever they appear (ItemOperations, Search, Settings). */
const secretNames = new Set(['Password', 'RecoveryPassword']);
const maxTextInTrace = 2048;

export function redactForTrace(doc: WbxmlElement): WbxmlElement {
  const copy: WbxmlElement = { ns: doc.ns, name: doc.name, children: doc.children.map(redactForTrace) };
  const v = doc.value;
  if (v === undefined) return copy;
  if (secretNames.has(doc.name)) copy.value = '[redacted]';
  else if (typeof v === 'string')
    copy.value = v.length > maxTextInTrace ? `${v.slice(0, maxTextInTrace)}…[${v.length} chars]` : v;
  else copy.value = `[${v.length} bytes]`;
  return copy;
}

/** Matches "user/deviceId" patterns from EASD_TRACE_DEVICES; "*" stands for any device. */
export function traceMatcher(patterns: string[]): (user: string, deviceId: string) => boolean {
  const rules = patterns.map((p) => {
    const slash = p.indexOf('/');
    return slash < 0
      ? { user: p.toLowerCase(), device: '*' }
      : { user: p.slice(0, slash).toLowerCase(), device: p.slice(slash + 1) };
  });
  return (user, deviceId) =>
    rules.some(
      (r) => (r.user === '*' || r.user === user.toLowerCase()) && (r.device === '*' || r.device === deviceId),
    );
}

export function renderTrace(doc: WbxmlElement): string {
  return toXml(redactForTrace(doc));
}
