// The shape of one MS-ASWBXML code page (2.1.2.1): a namespace name and its tag tokens.

/** A code page: its number, its namespace name and the two-way tag ↔ token table. */
export interface CodePage {
  readonly number: number;
  /** Namespace name as in MS-ASWBXML ("AirSync", "Email2", …); XML renders it as `AirSync:`. */
  readonly namespace: string;
  /** Tag name → token (0x05–0x3F). */
  readonly tokens: ReadonlyMap<string, number>;
  /** Token → tag name, 64 slots; undefined where the spec defines no tag. */
  readonly names: readonly (string | undefined)[];
}

/** Builds a code page from its spec table, checking tokens are in the tag range and unique. */
export function defineCodePage(
  number: number,
  namespace: string,
  table: Readonly<Record<string, number>>,
): CodePage {
  const tokens = new Map<string, number>();
  const names: (string | undefined)[] = new Array<string | undefined>(64).fill(undefined);
  for (const [name, token] of Object.entries(table)) {
    // WBXML 1.3 §5.8.2: tokens 0x00–0x04 are global; bits 6 and 7 flag content and attributes.
    if (!Number.isInteger(token) || token < 0x05 || token > 0x3f) {
      throw new Error(`code page ${namespace}: token ${token} of ${name} is outside 0x05–0x3F`);
    }
    if (names[token] !== undefined) {
      throw new Error(`code page ${namespace}: token ${token} used twice`);
    }
    names[token] = name;
    tokens.set(name, token);
  }
  return { number, namespace, tokens, names };
}
