// The one error type of the codec. Callers switch on `code`, which is stable; `offset` is the byte
// offset in the WBXML input where decoding failed (or the output offset / XML character offset for
// encoding and XML errors).

export type WbxmlErrorCode =
  // decoding: structure
  | 'truncated'
  | 'bad-version'
  | 'bad-charset'
  | 'bad-integer'
  | 'bad-utf8'
  | 'bad-string-reference'
  | 'unknown-page'
  | 'unknown-token'
  | 'unsupported-token'
  | 'attributes'
  | 'unbalanced-end'
  | 'trailing-bytes'
  | 'no-root'
  | 'content-outside-element'
  | 'mixed-content'
  // decoding: limits (wbxml/limits.ts)
  | 'limit-size'
  | 'limit-depth'
  | 'limit-elements'
  | 'limit-string'
  | 'limit-opaque'
  | 'limit-string-table'
  // encoding
  | 'unknown-tag'
  | 'invalid-tree'
  | 'nul-in-string'
  | 'opaque-source'
  | 'opaque-length'
  // XML rendering / parsing
  | 'bad-xml';

export class WbxmlError extends Error {
  override readonly name = 'WbxmlError';

  constructor(
    readonly code: WbxmlErrorCode,
    readonly offset: number,
    message: string,
  ) {
    super(`${message} (${code} at offset ${offset})`);
  }
}
