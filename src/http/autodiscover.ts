// Autodiscover (MS-ASCMD 2.2.1.1): a phone posts the user's address and asks for the
// mobilesync response schema; the answer names the URL of the EAS endpoint. Outlook desktop
// asks for its own schema, which easd does not serve: it gets the generic error response with
// ErrorCode 601 (no provider for that schema) so it falls back to manual setup at once.
import { DOMImplementation, DOMParser, XMLSerializer, type Document, type Element } from '@xmldom/xmldom';

export const mobileSyncRequestSchema =
  'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006';
export const mobileSyncResponseSchema =
  'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
const responseSchema = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';

export interface AutodiscoverRequest {
  emailAddress?: string;
  acceptableResponseSchema?: string;
}

export class AutodiscoverParseError extends Error {}

/**
 * Parses the request document. A DOCTYPE is refused outright: the request schema has none, and
 * refusing it is what keeps entity expansion ("billion laughs") and external entities out.
 */
export function parseAutodiscoverRequest(xml: string): AutodiscoverRequest {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new AutodiscoverParseError('DTDs are not allowed');
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new AutodiscoverParseError(message);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (err) {
    throw err instanceof AutodiscoverParseError ? err : new AutodiscoverParseError(String(err));
  }
  const root = doc.documentElement;
  if (root === null || root.localName !== 'Autodiscover') {
    throw new AutodiscoverParseError('Root element must be Autodiscover');
  }
  const text = (name: string): string | undefined => {
    const node = root.getElementsByTagNameNS('*', name)[0];
    const value = node?.textContent?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  return { emailAddress: text('EMailAddress'), acceptableResponseSchema: text('AcceptableResponseSchema') };
}

export interface AutodiscoverAnswer {
  emailAddress: string;
  displayName?: string;
  /** Absolute URL of the EAS endpoint, e.g. https://mail.example.com/Microsoft-Server-ActiveSync */
  url: string;
}

function newDocument(): { doc: Document; root: Element } {
  const doc = new DOMImplementation().createDocument(responseSchema, 'Autodiscover', null);
  return { doc, root: doc.documentElement as Element };
}

function serialize(doc: Document): string {
  return '<?xml version="1.0" encoding="utf-8"?>\n' + new XMLSerializer().serializeToString(doc);
}

function child(doc: Document, parent: Element, ns: string, name: string, text?: string): Element {
  const e = doc.createElementNS(ns, name);
  if (text !== undefined) e.appendChild(doc.createTextNode(text));
  parent.appendChild(e);
  return e;
}

/** The mobilesync response: MS-ASCMD 2.2.2.1.2 and AutodiscoverMobileSync.xsd. */
export function buildMobileSyncResponse(answer: AutodiscoverAnswer): string {
  const { doc, root } = newDocument();
  const ns = mobileSyncResponseSchema;
  const response = child(doc, root, ns, 'Response');
  child(doc, response, ns, 'Culture', 'en:us');
  const user = child(doc, response, ns, 'User');
  if (answer.displayName !== undefined) child(doc, user, ns, 'DisplayName', answer.displayName);
  child(doc, user, ns, 'EMailAddress', answer.emailAddress);
  const settings = child(doc, child(doc, response, ns, 'Action'), ns, 'Settings');
  const server = child(doc, settings, ns, 'Server');
  child(doc, server, ns, 'Type', 'MobileSync');
  child(doc, server, ns, 'Url', answer.url);
  child(doc, server, ns, 'Name', answer.url);
  return serialize(doc);
}

/** The generic error response (AutodiscoverResponse.xsd); 600 invalid request, 601 no provider. */
export function buildErrorResponse(errorCode: 600 | 601, message: string): string {
  const { doc, root } = newDocument();
  const response = child(doc, root, responseSchema, 'Response');
  const error = child(doc, response, responseSchema, 'Error');
  error.setAttribute('Time', new Date().toISOString().slice(11, 19));
  error.setAttribute('Id', String(Math.floor(Math.random() * 2 ** 31)));
  child(doc, error, responseSchema, 'ErrorCode', String(errorCode));
  child(doc, error, responseSchema, 'Message', message);
  return serialize(doc);
}
