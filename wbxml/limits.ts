// Every limit the codec enforces, in one place (STYLE.md habit 6). Each has a malformed-input test
// in test/wbxml/limits.test.ts. The spec sets none of these: MS-ASWBXML leaves resource limits to
// the implementation, so the defaults are sized for the largest documents a phone or easd sends.

export interface WbxmlLimits {
  /** Largest whole document the decoder accepts, in bytes (header included). */
  maxTotalSize: number;
  /** Deepest element nesting; EAS documents stay below 20. */
  maxDepth: number;
  /** Most elements in one document (a 512-item Sync window is ~20 000). */
  maxElements: number;
  /** Longest STR_I/STR_T string, in UTF-8 bytes (an HTML body sent inline). */
  maxStringLength: number;
  /** Longest OPAQUE value, in bytes (an attachment or MIME message). */
  maxOpaqueLength: number;
  /** Largest string table, in bytes (EAS sends none; WBXML 1.3 §5.7 allows one). */
  maxStringTableLength: number;
}

export const defaultLimits: Readonly<WbxmlLimits> = Object.freeze({
  maxTotalSize: 64 * 1024 * 1024,
  maxDepth: 64,
  maxElements: 1_000_000,
  maxStringLength: 16 * 1024 * 1024,
  maxOpaqueLength: 64 * 1024 * 1024,
  maxStringTableLength: 64 * 1024,
});

/** Defaults overridden by `overrides`; rejects values that are not non-negative integers. */
export function resolveLimits(overrides?: Partial<WbxmlLimits>): Readonly<WbxmlLimits> {
  if (overrides === undefined) return defaultLimits;
  const limits: WbxmlLimits = { ...defaultLimits };
  for (const key of Object.keys(defaultLimits) as (keyof WbxmlLimits)[]) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`wbxml limit ${key} must be a non-negative integer, got ${value}`);
    }
    limits[key] = value;
  }
  return limits;
}
