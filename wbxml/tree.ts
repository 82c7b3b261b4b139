// The element tree every layer of easd speaks: the WBXML decoder produces it, the encoder and
// the XML renderer consume it. EAS documents never mix text and child elements (MS-ASWBXML), so an
// element carries either children or one value.

/** One EAS element. `ns` is the code page name of MS-ASWBXML 2.1.2.1 ("AirSync", "Email2", …). */
export interface WbxmlElement {
  ns: string;
  name: string;
  children: WbxmlElement[];
  /**
   * STR_I/STR_T text, or OPAQUE bytes; absent for an empty element or one with children.
   * An OpaqueSource is opaque content produced while encoding (a large attachment streamed from
   * the store): only the streaming encoder accepts it, since OPAQUE needs its length up front.
   */
  value?: string | Uint8Array | OpaqueSource;
}

/** Opaque content of a known length, read only when the streaming encoder reaches it. */
export interface OpaqueSource {
  length: number;
  chunks: () => AsyncIterable<Uint8Array>;
}

type Content = WbxmlElement | string | Uint8Array | number | null | undefined | false | Content[];

/**
 * Builds an element: `el('AirSync', 'SyncKey', '1')`, `el('AirSync', 'Sync', [child, …])`.
 * Numbers become their decimal text; null/undefined/false children are dropped so optional
 * elements can be written inline.
 */
export function el(ns: string, name: string, ...content: Content[]): WbxmlElement {
  const element: WbxmlElement = { ns, name, children: [] };
  const add = (c: Content): void => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) {
      for (const x of c) add(x);
    } else if (typeof c === 'string' || c instanceof Uint8Array) {
      element.value = c;
    } else if (typeof c === 'number') {
      element.value = String(c);
    } else {
      element.children.push(c);
    }
  };
  for (const c of content) add(c);
  return element;
}
