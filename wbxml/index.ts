// The WBXML codec of easd: MS-ASWBXML (EAS 16.1) on WAP Binary XML 1.3. A standalone library:
// it imports nothing from src/ or backends/.

export { decode } from './decoder.js';
export { encode, encodeStream, type EncodeStreamOptions } from './encoder.js';
export { WbxmlError, type WbxmlErrorCode } from './errors.js';
export { defaultLimits, resolveLimits, type WbxmlLimits } from './limits.js';
export { codePages, codePageByNamespace, type CodePage } from './pages/index.js';
export { el, type OpaqueSource, type WbxmlElement } from './tree.js';
export { fromXml, toXml, WBXML_XML_NAMESPACE } from './xml.js';
