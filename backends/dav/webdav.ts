// The small WebDAV client the CardDAV and CalDAV backends share: requests with Basic credentials
// and a timeout, request bodies built with the DOM (@xmldom/xmldom, never by string), and
// multistatus answers (RFC 4918 §13) read into plain records. HTTP statuses become BackendError
// kinds here, once. Log messages start with the caller's label ("CardDAV", "CalDAV").
import { createHash } from 'node:crypto';
import { DOMImplementation, DOMParser, XMLSerializer, type Element } from '@xmldom/xmldom';
import { BackendError } from '../../src/backend/errors.js';

export const DAV = 'DAV:';
export const CARDDAV = 'urn:ietf:params:xml:ns:carddav';
export const CALDAV = 'urn:ietf:params:xml:ns:caldav';
/** easd's own dead properties on collections (the EAS parent of a collection). */
export const EASD = 'urn:x-easd:';

const prefixes: Record<string, string> = { [DAV]: 'd', [CARDDAV]: 'card', [CALDAV]: 'cal', [EASD]: 'easd' };

/** An element to build: namespace, local name, attributes (unqualified), text or children. */
export interface XmlSpec {
  ns: string;
  name: string;
  attrs?: Record<string, string>;
  text?: string;
  children?: XmlSpec[];
}

export const el = (ns: string, name: string, ...children: XmlSpec[]): XmlSpec => ({ ns, name, children });
export const textEl = (ns: string, name: string, text: string): XmlSpec => ({ ns, name, text });

/** Serialises `root` through a DOM document, so names, namespaces and text are escaped by the DOM. */
export function buildXml(root: XmlSpec): string {
  const qname = (s: XmlSpec): string => `${prefixes[s.ns] ?? 'x'}:${s.name}`;
  const doc = new DOMImplementation().createDocument(root.ns, qname(root), null);
  const fill = (node: ReturnType<typeof doc.createElementNS>, spec: XmlSpec): void => {
    for (const [k, v] of Object.entries(spec.attrs ?? {})) node.setAttribute(k, v);
    if (spec.text !== undefined) node.appendChild(doc.createTextNode(spec.text));
    for (const c of spec.children ?? []) {
      const child = doc.createElementNS(c.ns, qname(c));
      fill(child, c);
      node.appendChild(child);
    }
  };
  if (doc.documentElement === null) throw new Error('no document element');
  fill(doc.documentElement, root);
  return `<?xml version="1.0" encoding="utf-8"?>\n${new XMLSerializer().serializeToString(doc)}`;
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A stable id ≤ 64 characters from a URL path segment: the segment itself when safe, else a hash. */
export function idFor(segment: string): string {
  return isPlainId(segment)
    ? segment
    : `h~${createHash('sha256').update(segment).digest('hex').slice(0, 40)}`;
}

/** An id that is its own segment (not a hash), so its URL can be rebuilt without a listing. */
export function isPlainId(id: string): boolean {
  return SAFE_ID.test(id) && !id.startsWith('h~');
}

/** The last path segment of a URL, still percent-encoded, without a trailing slash. */
export function lastSegment(url: string): string {
  const path = new URL(url).pathname.replace(/\/+$/, '');
  return path.slice(path.lastIndexOf('/') + 1);
}

/** One `response` of a multistatus: its href, the response-level status, and the properties found (200). */
export interface DavResponse {
  href: string;
  /** RFC 4918 §14.24: a status for the whole response (e.g. 404 in sync-collection, RFC 6578 §3.5.2). */
  status?: number;
  /** Properties from 2xx propstats, by `namespace|localName`. */
  props: Map<string, Element>;
}

export interface Multistatus {
  responses: DavResponse[];
  /** RFC 6578 §6.2: the new sync-token of a sync-collection report. */
  syncToken?: string;
}

const key = (ns: string, name: string): string => `${ns}|${name}`;

function children(e: Element, ns: string, name: string): Element[] {
  const out: Element[] = [];
  for (let n = e.firstChild; n !== null; n = n.nextSibling)
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name)
      out.push(n as Element);
  return out;
}

export function textOf(e: Element | undefined): string {
  return e?.textContent?.trim() ?? '';
}

function statusCode(e: Element | undefined): number | undefined {
  const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(textOf(e));
  return m === null ? undefined : Number(m[1]);
}

export function parseMultistatus(text: string): Multistatus {
  let doc;
  try {
    doc = new DOMParser({ onError: () => undefined }).parseFromString(text, 'text/xml');
  } catch (cause) {
    throw new BackendError('unavailable', 'the DAV server sent a malformed multistatus', { cause });
  }
  const root = doc.documentElement;
  if (root === null || root.namespaceURI !== DAV || root.localName !== 'multistatus')
    throw new BackendError('unavailable', 'the DAV server did not answer with a multistatus');
  const responses: DavResponse[] = [];
  for (const r of children(root, DAV, 'response')) {
    const href = textOf(children(r, DAV, 'href')[0]);
    const props = new Map<string, Element>();
    for (const ps of children(r, DAV, 'propstat')) {
      const st = statusCode(children(ps, DAV, 'status')[0]);
      if (st === undefined || st < 200 || st > 299) continue;
      for (const prop of children(ps, DAV, 'prop'))
        for (let n = prop.firstChild; n !== null; n = n.nextSibling)
          if (n.nodeType === 1)
            props.set(key((n as Element).namespaceURI ?? '', (n as Element).localName ?? ''), n as Element);
    }
    const status = statusCode(children(r, DAV, 'status')[0]);
    responses.push({ href, props, ...(status !== undefined && { status }) });
  }
  const token = children(root, DAV, 'sync-token')[0];
  return { responses, ...(token !== undefined && { syncToken: textOf(token) }) };
}

export function prop(r: DavResponse, ns: string, name: string): Element | undefined {
  return r.props.get(key(ns, name));
}

/** Child elements of a property (e.g. the resourcetype's), as namespace|name keys. */
export function childKeys(e: Element | undefined): Set<string> {
  const out = new Set<string>();
  if (e === undefined) return out;
  for (let n = e.firstChild; n !== null; n = n.nextSibling)
    if (n.nodeType === 1) out.add(key((n as Element).namespaceURI ?? '', (n as Element).localName ?? ''));
  return out;
}

/** The first `href` inside a property (current-user-principal, addressbook-home-set). */
export function hrefIn(e: Element | undefined): string | undefined {
  if (e === undefined) return undefined;
  const h = e.getElementsByTagNameNS(DAV, 'href')[0];
  return h === undefined ? undefined : textOf(h);
}

export interface DavRequest {
  method: string;
  url: string;
  /** `Basic …`; kept by the backend, never logged. */
  authorization: string;
  headers?: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  timeoutMs: number;
  /** Starts log messages: "CardDAV", "CalDAV". */
  label: string;
}

export interface DavAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** Where the answer came from after redirects. */
  url: string;
}

/** One request. Network failures and timeouts are BackendError('unavailable'); statuses are the caller's. */
export async function davFetch(req: DavRequest): Promise<DavAnswer> {
  const signal = AbortSignal.any([req.signal, AbortSignal.timeout(req.timeoutMs)]);
  const headers: Record<string, string> = { Authorization: req.authorization, ...req.headers };
  if (req.body !== undefined && headers['Content-Type'] === undefined)
    headers['Content-Type'] = 'application/xml; charset=utf-8';
  const what = `${req.method} ${new URL(req.url).pathname}`;
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers,
      ...(req.body !== undefined && { body: req.body }),
      signal,
      redirect: 'follow',
    });
    return { status: res.status, headers: res.headers, text: await res.text(), url: res.url || req.url };
  } catch (cause) {
    if (req.signal.aborted) throw cause;
    throw new BackendError('unavailable', `${req.label} ${what}: no answer`, { cause });
  }
}

/** The BackendError for an unexpected status (RFC 4918 §9, RFC 7232 §4.2 for 412); `what` names the request. */
export function statusError(answer: DavAnswer, what: string): BackendError {
  const s = answer.status;
  const message = `${what}: HTTP ${s}`;
  if (s === 401) return new BackendError('auth', message);
  if (s === 403) return new BackendError('denied', message);
  if (s === 404 || s === 410) return new BackendError('not-found', message);
  if (s === 409 || s === 412) return new BackendError('conflict', message);
  if (s === 413) return new BackendError('too-large', message);
  if (s === 507) return new BackendError('denied', message);
  const retry = Number(answer.headers.get('retry-after'));
  if (s >= 500 || s === 429)
    return new BackendError(
      'unavailable',
      message,
      Number.isFinite(retry) && retry > 0 ? { retryAfter: retry } : undefined,
    );
  return new BackendError('unsupported', message);
}

/** RFC 6578 §3.2: the server refuses a sync-token it does not know (DAV:valid-sync-token). */
export function isInvalidSyncToken(answer: DavAnswer): boolean {
  return (
    (answer.status === 403 || answer.status === 409 || answer.status === 400) &&
    /valid-sync-token/.test(answer.text)
  );
}
