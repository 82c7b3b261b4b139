// Element tree ↔ XML text, for logs, the CLI and hand-written test fixtures. Namespaces are the
// code page names with a colon ("AirSync:"), as libwbxml and device traces write them; fromXml
// also accepts them without the colon, as the MS-AS* examples write them.
//
// XML cannot say everything WBXML can, so two attributes in the namespace urn:easd:wbxml carry
// the rest: wbxml:base64="opaque" marks OPAQUE bytes written as base64, and wbxml:base64="string"
// marks a string written as the base64 of its UTF-8 because XML 1.0 could not hold it verbatim
// (control characters, CR, or the empty string, which XML cannot tell from no content).

import { DOMImplementation, DOMParser, XMLSerializer } from '@xmldom/xmldom';
import type { Element as XmlElement, Node as XmlNode } from '@xmldom/xmldom';
import { WbxmlError } from './errors.js';
import { codePageByNamespace } from './pages/index.js';
import type { WbxmlElement } from './tree.js';

export const WBXML_XML_NAMESPACE = 'urn:easd:wbxml';
const XMLNS = 'http://www.w3.org/2000/xmlns/';
const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;

/** Characters XML 1.0 text can carry as themselves and read back unchanged (CR is normalised). */
const XML_SAFE = /^[\t\n\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string, offset: number): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  let binary: string;
  try {
    binary = atob(clean);
  } catch {
    throw new WbxmlError('bad-xml', offset, 'wbxml:base64 content is not valid base64');
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Renders a tree as indented XML (two spaces a level), the XML declaration first. */
export function toXml(root: WbxmlElement): string {
  const doc = new DOMImplementation().createDocument(`${root.ns}:`, root.name, null);
  const top = doc.documentElement!;
  let usesWbxmlNs = false;

  const fill = (target: XmlElement, source: WbxmlElement, depth: number): void => {
    const value = source.value;
    if (source.children.length > 0) {
      const indent = '\n' + '  '.repeat(depth + 1);
      for (const child of source.children) {
        target.appendChild(doc.createTextNode(indent));
        const el = doc.createElementNS(`${child.ns}:`, child.name);
        if (child.ns !== source.ns) el.setAttributeNS(XMLNS, 'xmlns', `${child.ns}:`);
        fill(el, child, depth + 1);
        target.appendChild(el);
      }
      target.appendChild(doc.createTextNode('\n' + '  '.repeat(depth)));
    } else if (typeof value === 'string') {
      if (value !== '' && XML_SAFE.test(value)) {
        target.appendChild(doc.createTextNode(value));
      } else {
        usesWbxmlNs = true;
        target.setAttributeNS(WBXML_XML_NAMESPACE, 'wbxml:base64', 'string');
        target.appendChild(doc.createTextNode(toBase64(new TextEncoder().encode(value))));
      }
    } else if (value instanceof Uint8Array) {
      usesWbxmlNs = true;
      target.setAttributeNS(WBXML_XML_NAMESPACE, 'wbxml:base64', 'opaque');
      target.appendChild(doc.createTextNode(toBase64(value)));
    } else if (value !== undefined) {
      usesWbxmlNs = true;
      target.setAttributeNS(WBXML_XML_NAMESPACE, 'wbxml:base64', 'opaque');
      target.appendChild(doc.createComment(` streamed opaque content, ${value.length} bytes `));
    }
  };
  fill(top, root, 0);
  if (usesWbxmlNs) top.setAttributeNS(XMLNS, 'xmlns:wbxml', WBXML_XML_NAMESPACE);
  return `<?xml version="1.0" encoding="utf-8"?>\n${new XMLSerializer().serializeToString(doc)}\n`;
}

/** Character offset of a line/column pair reported by the XML parser. */
function offsetOf(xml: string, line: number | undefined, column: number | undefined): number {
  if (line === undefined) return 0;
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = xml.indexOf('\n', offset);
    if (nl < 0) break;
    offset = nl + 1;
  }
  return offset + Math.max(0, (column ?? 1) - 1);
}

/** Parses XML written by toXml, libwbxml or by hand into a tree; every failure is a WbxmlError. */
export function fromXml(xml: string): WbxmlElement {
  let doc;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        throw new Error(`${level}: ${message}`);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (e) {
    const locator = (e as { locator?: { lineNumber?: number; columnNumber?: number } }).locator;
    const message = e instanceof Error ? e.message : String(e);
    throw new WbxmlError('bad-xml', offsetOf(xml, locator?.lineNumber, locator?.columnNumber), message);
  }
  const rootEl = doc.documentElement;
  if (rootEl === null) throw new WbxmlError('bad-xml', 0, 'document has no root element');

  const convert = (el: XmlElement, depth: number): WbxmlElement => {
    const offset = offsetOf(xml, el.lineNumber, el.columnNumber);
    if (depth > 1000) throw new WbxmlError('bad-xml', offset, 'elements nested too deep');
    const uri = el.namespaceURI ?? '';
    const ns = uri.endsWith(':') ? uri.slice(0, -1) : uri;
    const page = codePageByNamespace(ns);
    if (page === undefined) {
      throw new WbxmlError(
        'unknown-tag',
        offset,
        `<${el.localName}> is in no code page namespace (${uri || 'none'})`,
      );
    }
    if (!page.tokens.has(el.localName!)) {
      throw new WbxmlError('unknown-tag', offset, `${ns} has no tag ${el.localName}`);
    }
    let base64: string | null = null;
    for (let i = 0; i < el.attributes.length; i++) {
      const attr = el.attributes.item(i)!;
      if (attr.namespaceURI === XMLNS) continue;
      if (attr.namespaceURI === WBXML_XML_NAMESPACE && attr.localName === 'base64') {
        if (attr.value !== 'opaque' && attr.value !== 'string') {
          throw new WbxmlError('bad-xml', offset, `wbxml:base64 must be "opaque" or "string"`);
        }
        base64 = attr.value;
        continue;
      }
      throw new WbxmlError(
        'bad-xml',
        offset,
        `<${el.localName}> has attribute ${attr.name}; EAS elements have none`,
      );
    }
    const element: WbxmlElement = { ns, name: el.localName!, children: [] };
    let text = '';
    let hasText = false;
    for (let node: XmlNode | null = el.firstChild; node !== null; node = node.nextSibling) {
      if (node.nodeType === ELEMENT_NODE) {
        element.children.push(convert(node as XmlElement, depth + 1));
      } else if (node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE) {
        text += node.nodeValue ?? '';
        hasText = true;
      }
    }
    if (element.children.length > 0) {
      if (text.trim() !== '' || base64 !== null) {
        throw new WbxmlError('bad-xml', offset, `<${el.localName}> mixes text and child elements`);
      }
    } else if (base64 === 'opaque') {
      element.value = fromBase64(text, offset);
    } else if (base64 === 'string') {
      try {
        element.value = new TextDecoder('utf-8', { fatal: true }).decode(fromBase64(text, offset));
      } catch (e) {
        if (e instanceof WbxmlError) throw e;
        throw new WbxmlError('bad-xml', offset, 'wbxml:base64="string" content is not UTF-8');
      }
    } else if (hasText) {
      element.value = text;
    }
    return element;
  };
  return convert(rootEl, 1);
}
