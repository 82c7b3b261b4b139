// The CardDAV backend's view of the shared WebDAV client (backends/dav/webdav.ts): the same
// helpers, with status errors labelled "CardDAV".
import * as dav from '../dav/webdav.js';
import type { BackendError } from '../../src/backend/errors.js';

export {
  buildXml,
  CARDDAV,
  childKeys,
  DAV,
  EASD,
  el,
  hrefIn,
  isInvalidSyncToken,
  parseMultistatus,
  prop,
  textEl,
  textOf,
  type DavAnswer,
  type DavResponse,
  type Multistatus,
  type XmlSpec,
} from '../dav/webdav.js';

export function statusError(answer: dav.DavAnswer, what: string): BackendError {
  return dav.statusError(answer, `CardDAV ${what}`);
}
