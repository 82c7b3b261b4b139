// The message part of an email (src/convert/mime-body-part.ts, MS-ASAIRS 2.2.2.10): quoted
// history as the usual clients write it is left out; sizes, truncation, AllOrNone and Preview.
import { describe, expect, it } from 'vitest';
import { bodyPartOf, newPartOfHtml, newPartOfText } from '../../src/convert/mime-body-part.js';
import { htmlToPlain } from '../../src/convert/mime-to-email.js';

describe('newPartOfHtml', () => {
  it.each([
    ['Apple Mail / Thunderbird', '<p>new</p><blockquote type="cite">old</blockquote>'],
    ['Gmail', '<div dir="ltr">new</div><div class="gmail_quote"><div>On … wrote:</div>old</div>'],
    [
      'Thunderbird prefix',
      '<p>new</p><div class="moz-cite-prefix">On … wrote:</div><blockquote>old</blockquote>',
    ],
    ['Outlook', '<p>new</p><div id="appendonsend"></div><hr><div id="divRplyFwdMsg">From: …</div>old'],
    ['Outlook separator', '<p>new</p><p>-----Original Message-----<br>From: …</p>old'],
  ])('%s: the part before the quote', (_client, html) => {
    const part = newPartOfHtml(html);
    expect(part).toContain('new');
    expect(part).not.toContain('old');
  });

  it('a message with no quote is all new part', () => {
    const html = '<p>hello</p><blockquote>a quotation the author wrote, not a reply</blockquote>';
    expect(newPartOfHtml(html)).toBe(html);
  });
});

describe('newPartOfText', () => {
  it('stops at the attribution line or the first quoted line', () => {
    expect(newPartOfText('yes\r\n\r\nOn Mon, 7 Dec 2026, Bob wrote:\r\n> old\r\n')).toBe('yes\n');
    expect(newPartOfText('yes\n> old\n')).toBe('yes\n');
    expect(newPartOfText('no quote at all\n')).toBe('no quote at all\n');
  });
});

describe('bodyPartOf', () => {
  const texts = { html: '<p>Grüße – new</p><blockquote type="cite">old</blockquote>' };
  const whole = bodyPartOf(texts, [{ Type: 2 }], htmlToPlain)!;

  it('gives the new part as HTML, Status 1, its size in UTF-8 bytes', () => {
    expect(whole).toEqual({
      Status: 1,
      Type: 2,
      EstimatedDataSize: Buffer.byteLength('<p>Grüße – new</p>'),
      Data: '<p>Grüße – new</p>',
    });
  });

  it('cuts at TruncationSize without splitting a character; AllOrNone gives Status 176 and no data', () => {
    const cut = bodyPartOf(texts, [{ Type: 2, TruncationSize: 7 }], htmlToPlain)!;
    expect(cut).toEqual({
      Status: 1,
      Type: 2,
      EstimatedDataSize: whole.EstimatedDataSize,
      Truncated: true,
      Data: '<p>Grü',
    });
    expect(bodyPartOf(texts, [{ Type: 2, TruncationSize: 7, AllOrNone: true }], htmlToPlain)).toEqual({
      Status: 176,
      Type: 2,
      EstimatedDataSize: whole.EstimatedDataSize,
      Truncated: true,
    });
  });

  it('plain text becomes escaped HTML; Preview is plain text of the new part only', () => {
    const part = bodyPartOf({ text: 'a <b> & c\n> old\n' }, [{ Type: 2, Preview: 5 }], htmlToPlain)!;
    expect(part.Data).toBe('<html><body><pre>a &lt;b&gt; &amp; c\n</pre></body></html>');
    expect(part.Preview).toBe('a <b>');
  });

  it('no preference, no BodyPart', () => {
    expect(bodyPartOf(texts, [], htmlToPlain)).toBeUndefined();
  });
});
