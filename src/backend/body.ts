// Shapes a body the way the client asked (MS-ASAIRS 2.2.2.12 BodyPreference): picks the type,
// truncates, adds a preview, honours AllOrNone and MIMESupport. Backends call it when reading so
// none of them has to get these rules right on its own.
import type { Body, BodyPreference, BodyType } from './model.js';

/** A body a backend can give in one or more types. */
export interface BodySource {
  /** The type the item is stored in (airsyncbase:NativeBodyType). */
  native: BodyType;
  /** The whole body in `type` (text for 1–3, message bytes for 4), or undefined if unavailable. */
  get(type: BodyType): string | Uint8Array | undefined;
  /** An S/MIME message: MIMESupport 1 allows MIME for it (MS-ASCMD 2.2.3.110). */
  smime?: boolean;
}

const encoder = new TextEncoder();

export function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? encoder.encode(data).byteLength : data.byteLength;
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, max: number): string {
  const bytes = encoder.encode(text);
  if (bytes.byteLength <= max) return text;
  let end = Math.max(0, max);
  // back up over continuation bytes (10xxxxxx) so the cut lands on a character boundary
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/** Plain text for a Preview: whitespace collapsed, at most `length` characters (MS-ASAIRS 2.2.2.35.1). */
export function previewOf(text: string, length: number): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.slice(0, Math.min(255, Math.max(0, length))).join('');
}

function cut(
  data: string | Uint8Array,
  max: number | undefined,
): { data: string | Uint8Array; truncated: boolean } {
  if (max === undefined || byteLength(data) <= max) return { data, truncated: false };
  return {
    data: typeof data === 'string' ? truncateUtf8(data, max) : data.subarray(0, max),
    truncated: true,
  };
}

/**
 * The Body to send for `source` under `preferences`. With several preferences the native type
 * wins when it was asked for (MS-ASAIRS 2.2.2.3.2); a preference with AllOrNone whose body is
 * larger than its TruncationSize is passed over for the next one that gives the most text. If
 * every candidate is passed over, the Body says Truncated with no Data. No preferences: the
 * whole native body (plain text instead of MIME unless MIMESupport allows it).
 */
export function applyBodyPreferences(
  source: BodySource,
  preferences: readonly BodyPreference[],
  MIMESupport: 0 | 1 | 2 = 0,
): Body | undefined {
  const mimeAllowed = MIMESupport === 2 || (MIMESupport === 1 && source.smime === true);
  const prefs = preferences.filter((p) => p.Type !== 4 || mimeAllowed);

  if (prefs.length === 0) {
    let type: BodyType = source.native === 4 && !mimeAllowed ? 1 : source.native;
    let data = source.get(type);
    if (data === undefined && type !== 1) {
      type = 1;
      data = source.get(1);
    }
    if (data === undefined) return undefined;
    return { Type: type, EstimatedDataSize: byteLength(data), Data: data };
  }

  type Candidate = { pref: BodyPreference; data: string | Uint8Array; size: number; allowed: boolean };
  const candidates: Candidate[] = [];
  for (const pref of prefs) {
    const data = source.get(pref.Type);
    if (data === undefined) continue;
    const size = byteLength(data);
    const tooBig = pref.AllOrNone === true && pref.TruncationSize !== undefined && size > pref.TruncationSize;
    candidates.push({ pref, data, size, allowed: !tooBig });
  }

  const allowed = candidates.filter((c) => c.allowed);
  const delivered = (c: Candidate): number => Math.min(c.size, c.pref.TruncationSize ?? Infinity);
  let chosen = allowed.find((c) => c.pref.Type === source.native);
  if (chosen === undefined) {
    for (const c of allowed) if (chosen === undefined || delivered(c) > delivered(chosen)) chosen = c;
  }

  const withPreview = (body: Body, pref: BodyPreference): Body => {
    if (pref.Preview === undefined || pref.Preview <= 0) return body;
    const plain = source.get(1);
    return typeof plain === 'string' ? { ...body, Preview: previewOf(plain, pref.Preview) } : body;
  };

  if (chosen === undefined) {
    const first = candidates[0];
    if (first !== undefined) {
      // every candidate was AllOrNone and too large: say so without data
      return withPreview(
        { Type: first.pref.Type, EstimatedDataSize: first.size, Truncated: true },
        first.pref,
      );
    }
    // none of the asked-for types exists: plain text, cut to the first preference's size
    const plain = source.get(1);
    const firstPref = prefs[0];
    if (plain === undefined || firstPref === undefined) return undefined;
    const { data, truncated } = cut(plain, firstPref.TruncationSize);
    return withPreview(
      { Type: 1, EstimatedDataSize: byteLength(plain), Data: data, ...(truncated && { Truncated: true }) },
      firstPref,
    );
  }

  const { data, truncated } = cut(chosen.data, chosen.pref.TruncationSize);
  return withPreview(
    {
      Type: chosen.pref.Type,
      EstimatedDataSize: chosen.size,
      Data: data,
      ...(truncated && { Truncated: true }),
    },
    chosen.pref,
  );
}
