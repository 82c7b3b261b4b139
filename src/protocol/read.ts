// Small readers over the element tree for the parse side of each command. A request that breaks
// the command's structure raises ProtocolError; each command maps it to its own "protocol
// error" Status (MS-ASCMD 2.2.2: usually 2 or 4).
import type { WbxmlElement } from '../../wbxml/tree.js';

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export function children(parent: WbxmlElement | undefined, name: string, ns?: string): WbxmlElement[] {
  if (parent === undefined) return [];
  return parent.children.filter((c) => c.name === name && (ns === undefined || c.ns === ns));
}

export function child(parent: WbxmlElement | undefined, name: string, ns?: string): WbxmlElement | undefined {
  return parent?.children.find((c) => c.name === name && (ns === undefined || c.ns === ns));
}

export function has(parent: WbxmlElement | undefined, name: string, ns?: string): boolean {
  return child(parent, name, ns) !== undefined;
}

/** Text of a child element; opaque content is read as UTF-8. Absent element → undefined. */
export function text(parent: WbxmlElement | undefined, name: string, ns?: string): string | undefined {
  const e = child(parent, name, ns);
  if (e === undefined) return undefined;
  return valueText(e);
}

export function valueText(e: WbxmlElement): string {
  const v = e.value;
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  throw new ProtocolError(`${e.name} carries streamed content`);
}

export function requireText(parent: WbxmlElement | undefined, name: string, ns?: string): string {
  const v = text(parent, name, ns);
  if (v === undefined) throw new ProtocolError(`Missing ${name}`);
  return v;
}

/** An unsigned integer child (MS-ASDTYPE 2.6); anything else is a protocol error. */
export function integer(parent: WbxmlElement | undefined, name: string, ns?: string): number | undefined {
  const v = text(parent, name, ns);
  if (v === undefined) return undefined;
  if (!/^\d{1,10}$/.test(v.trim()))
    throw new ProtocolError(`${name} must be an unsigned integer, not "${v}"`);
  return Number(v.trim());
}

export function expectRoot(root: WbxmlElement | undefined, ns: string, name: string): WbxmlElement {
  if (root === undefined) throw new ProtocolError(`Missing ${name} request body`);
  if (root.ns !== ns || root.name !== name)
    throw new ProtocolError(`Expected ${ns}:${name}, got ${root.ns}:${root.name}`);
  return root;
}
