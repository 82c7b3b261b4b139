// The message part of an email (MS-ASAIRS 2.2.2.10 BodyPart, 14.1+): what this message says that
// the conversation did not say before — the body without the quoted earlier messages — as HTML,
// the only Type a BodyPartPreference should ask for (MS-ASAIRS 2.2.2.41.3).
//
// Mail carries no marker of "new part" (Exchange computes it from the conversation it stores),
// so the quoted history is found where the usual clients put it: the first quote container or
// reply header in HTML, the first attribution line or `>`-quoted block in plain text. A message
// with none of them is all new part.
import { byteLength, previewOf, truncateUtf8 } from '../backend/body.js';
import type { BodyPart, BodyPreference } from '../backend/model.js';

/**
 * Where a quoted history starts in HTML: Apple Mail/Thunderbird `<blockquote type="cite">`,
 * Gmail `gmail_quote`, Thunderbird `moz-cite-prefix`, Outlook `divRplyFwdMsg`/`appendonsend` and
 * the `-----Original Message-----` separator.
 */
const htmlQuoteStart = new RegExp(
  [
    String.raw`<blockquote[^>]*\btype\s*=\s*["']?cite`,
    String.raw`<div[^>]*\bclass\s*=\s*["'][^"']*\b(?:gmail_quote|moz-cite-prefix|yahoo_quoted)\b`,
    String.raw`<div[^>]*\bid\s*=\s*["']?(?:divRplyFwdMsg|appendonsend|mail-editor-reference-message-container)\b`,
    String.raw`-{3,}\s*Original Message\s*-{3,}`,
  ].join('|'),
  'i',
);

/** The HTML before the quoted history; the whole document when it has none. */
export function newPartOfHtml(html: string): string {
  const m = htmlQuoteStart.exec(html);
  return m === null ? html : html.slice(0, m.index);
}

/** An attribution line ("On Mon, 1 Jan 2024, Bob wrote:") or the Outlook separator. */
const textQuoteStart = /^(?:On\b.{0,300}\bwrote:\s*$|-{3,}\s*Original Message\s*-{3,}\s*$|>)/im;

/** The plain text before the quoted history; the whole text when it has none. */
export function newPartOfText(text: string): string {
  const m = textQuoteStart.exec(text);
  return m === null ? text : text.slice(0, m.index).replace(/\s+$/, '\n');
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The BodyPart for a message's texts under the client's first BodyPartPreference (one per Type,
 * MS-ASAIRS 2.2.2.11; only HTML is given). Truncation and AllOrNone as for Body; a part larger
 * than an AllOrNone TruncationSize is Status 176 without Data (MS-ASAIRS 2.2.2.37).
 */
export function bodyPartOf(
  texts: { text?: string; html?: string },
  preferences: readonly BodyPreference[],
  htmlToPlain: (html: string) => string,
): BodyPart | undefined {
  const pref = preferences[0];
  if (pref === undefined) return undefined;
  const html =
    texts.html !== undefined
      ? newPartOfHtml(texts.html)
      : `<html><body><pre>${escapeHtml(newPartOfText(texts.text ?? ''))}</pre></body></html>`;
  const size = byteLength(html);
  const limit = pref.TruncationSize;
  const over = limit !== undefined && size > limit;
  const part: BodyPart = {
    Status: over && pref.AllOrNone === true ? 176 : 1,
    Type: 2,
    EstimatedDataSize: size,
  };
  if (over) part.Truncated = true;
  if (part.Status === 1) part.Data = over ? truncateUtf8(html, limit) : html;
  if (pref.Preview !== undefined && pref.Preview > 0) {
    const plain = texts.html !== undefined ? htmlToPlain(html) : newPartOfText(texts.text ?? '');
    part.Preview = previewOf(plain, pref.Preview);
  }
  return part;
}
