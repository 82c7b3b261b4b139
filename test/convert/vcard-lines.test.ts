// The vCard content-line layer: folding, groups, parameters, escapes, quoted-printable and
// CHARSET, 2.1 shorthands, limits and malformed input — one case per line.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeText,
  fold,
  parseVcard,
  parseVcards,
  serializeVcard,
  structured,
  textList,
  typesOf,
  unescapeText,
  VcardSyntaxError,
  vcardLimits,
  type VcardProperty,
} from '../../src/convert/vcard-lines.js';

const card = (...body: string[]): string =>
  ['BEGIN:VCARD', 'VERSION:3.0', ...body, 'END:VCARD', ''].join('\r\n');
const one = (line: string): VcardProperty => parseVcard(card('FN:x', line)).props[1]!;

describe('reading content lines (RFC 6350 §3.3, RFC 2426 §4)', () => {
  it.each([
    ['a plain line', 'NOTE:hello', { name: 'NOTE', params: [], value: 'hello' }],
    ['a group, kept as written', 'item1.EMAIL:a@x', { group: 'item1', name: 'EMAIL', value: 'a@x' }],
    [
      'lower-case names upper-cased',
      'note;type=work:x',
      { name: 'NOTE', params: [{ name: 'TYPE', values: ['work'] }] },
    ],
    [
      'repeated TYPE merged',
      'TEL;TYPE=home;TYPE=voice:1',
      { params: [{ name: 'TYPE', values: ['home', 'voice'] }] },
    ],
    [
      'a quoted value with ; and :',
      'ADR;LABEL="a;b:c":;;x',
      { params: [{ name: 'LABEL', values: ['a;b:c'] }], value: ';;x' },
    ],
    [
      'RFC 6868 carets',
      'ADR;LABEL="1^n2 ^^ ^\'q^\'":x',
      { params: [{ name: 'LABEL', values: ['1\n2 ^ "q"'] }] },
    ],
    ['a colon in the value', 'URL:http://x:80/a', { value: 'http://x:80/a' }],
    [
      '2.1 bare parameters as TYPE',
      'TEL;WORK;VOICE:1',
      { params: [{ name: 'TYPE', values: ['WORK', 'VOICE'] }] },
    ],
    ['an empty value', 'NOTE:', { value: '' }],
  ])('%s', (_, line, expected) => {
    expect(one(line)).toMatchObject(expected);
  });

  it('unfolds CRLF, LF and CR line ends followed by a space or a tab', () => {
    expect(
      parseVcard('BEGIN:VCARD\r\nVERSION:4.0\r\nNOTE:ab\r\n c\n\td\r e\r\nEND:VCARD').props[0]?.value,
    ).toBe('abcde');
  });

  it('unfolds a line folded inside a multi-byte character sequence of the text (not of bytes)', () => {
    const long = `NOTE:${'é'.repeat(50)}😀${'ü'.repeat(30)}`;
    const folded = fold(long);
    for (const l of folded.split('\r\n')) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(75);
    expect(parseVcard(card(folded)).props[0]?.value).toBe(long.slice(5));
  });

  it('decodes quoted-printable with soft line breaks and CHARSET (2.1, 3.0)', () => {
    const text = [
      'BEGIN:VCARD',
      'VERSION:2.1',
      'NOTE;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:Gr=FC=DFe=0D=0Azweite =',
      'Zeile',
      'FN;CHARSET=UTF-8;QUOTED-PRINTABLE:J=C3=BCrgen',
      'N;ENCODING=QUOTED-PRINTABLE;CHARSET=x-unknown:=41',
      'END:VCARD',
    ].join('\r\n');
    const [note, fn, n] = parseVcard(text).props;
    expect(note).toMatchObject({ value: 'Grüße\\nzweite Zeile', params: [] });
    expect(fn?.value).toBe('Jürgen');
    expect(n?.value).toBe('A');
  });

  it('takes 2.1 BASE64 with folded lines and the blank line after it', () => {
    const text = [
      'BEGIN:VCARD',
      'VERSION:2.1',
      'PHOTO;JPEG;ENCODING=BASE64:',
      '  /9j/AA',
      '  BBCC',
      '',
      'FN:x',
      'END:VCARD',
    ].join('\r\n');
    const [photo, fn] = parseVcard(text).props;
    expect(photo).toMatchObject({
      value: '/9j/AABBCC',
      params: [
        { name: 'TYPE', values: ['JPEG'] },
        { name: 'ENCODING', values: ['b'] },
      ],
    });
    expect(fn?.value).toBe('x');
  });

  it('reads several cards, a byte order mark, and defaults a missing VERSION to 3.0', () => {
    const cards = parseVcards(`\uFEFF${card('FN:a')}BEGIN:VCARD\r\nFN:b\r\nEND:VCARD\r\n`);
    expect(cards.map((c) => [c.version, c.props[0]?.value])).toEqual([
      ['3.0', 'a'],
      ['3.0', 'b'],
    ]);
  });

  it('reads TYPE lists case-insensitively', () => {
    expect([...typesOf(one('TEL;TYPE="HOME,Voice";type=pref:1'))]).toEqual(['home', 'voice', 'pref']);
  });
});

describe('values (RFC 6350 §3.4)', () => {
  it.each([
    ['a\\, b', 'a, b'],
    ['a\\;b', 'a;b'],
    ['a\\nb\\Nc', 'a\nb\nc'],
    ['a\\\\n', 'a\\n'],
    ['http\\://x', 'http://x'],
  ])('unescapes %s', (raw, text) => {
    expect(unescapeText(raw)).toBe(text);
  });

  it('escapes backslash, comma, semicolon and newlines, and drops control characters', () => {
    expect(escapeText('a\\b,c;d\r\ne\rf\ng\u0000\u0007h')).toBe('a\\\\b\\,c\\;d\\ne\\nf\\ngh');
  });

  it('splits structured values at unescaped semicolons only', () => {
    expect(structured('a\\;b;c,d;;e\\,f')).toEqual(['a;b', 'c,d', '', 'e,f']);
    expect(textList('a,b\\,c,,d')).toEqual(['a', 'b,c', 'd']);
  });

  it('escape then unescape is the identity on clean text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const clean = s.replace(/\r\n|\r/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
        expect(unescapeText(escapeText(s))).toBe(clean);
      }),
    );
  });
});

describe('writing', () => {
  it('quotes parameter values with : ; , and caret-encodes newlines and quotes', () => {
    const text = serializeVcard({
      version: '4.0',
      props: [{ name: 'ADR', params: [{ name: 'LABEL', values: ['a:b\n"c"'] }], value: ';;x' }],
    });
    expect(text).toBe('BEGIN:VCARD\r\nVERSION:4.0\r\nADR;LABEL="a:b^n^\'c^\'":;;x\r\nEND:VCARD\r\n');
    expect(parseVcard(text).props[0]?.params[0]?.values).toEqual(['a:b\n"c"']);
  });

  it('writes an unchanged line of a 3.0/4.0 card as it was read', () => {
    const c = parseVcard(card('item1.tel;type=CELL;Type="x,y":1'));
    expect(serializeVcard(c)).toContain('item1.tel;type=CELL;Type="x,y":1');
  });

  it('reads back whatever it writes (arbitrary properties)', () => {
    const name = fc.stringMatching(/^(X-[A-Z0-9]{1,8}|NOTE|TEL|EMAIL)$/);
    const paramValue = fc.string({ unit: 'grapheme', maxLength: 12 });
    const prop = fc.record({
      group: fc.option(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { nil: undefined }),
      name,
      params: fc.uniqueArray(
        fc.record({
          name: fc.stringMatching(/^X-[A-Z]{1,6}$/),
          values: fc.array(paramValue, { minLength: 1, maxLength: 3 }),
        }),
        { selector: (p) => p.name, maxLength: 3 },
      ),
      value: fc.string({ unit: 'grapheme', maxLength: 200 }).map(escapeText),
    });
    fc.assert(
      fc.property(
        fc.constantFrom('3.0' as const, '4.0' as const),
        fc.array(prop, { maxLength: 6 }),
        (version, props) => {
          const clean = props.map((p) => ({
            ...(p.group !== undefined && { group: p.group }),
            name: p.name,
            params: p.params.map((q) => ({
              name: q.name,
              values: q.values.map((v) => v.replace(/\r\n|\r/g, '\n')),
            })),
            value: p.value,
          }));
          const back = parseVcard(serializeVcard({ version, props: clean }));
          expect(back).toEqual({ version, props: clean });
        },
      ),
    );
  });
});

describe('malformed input', () => {
  it.each([
    ['no colon', card('NOTE hello')],
    ['a broken property name', card('NO TE:x')],
    ['a broken group', card('a b.NOTE:x')],
    ['an unterminated quote', card('ADR;LABEL="abc:x')],
    ['content before BEGIN', 'FN:x\r\nBEGIN:VCARD\r\nEND:VCARD\r\n'],
    ['a missing END', 'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\n'],
    ['a nested card', card('BEGIN:VCARD', 'FN:x', 'END:VCARD')],
    ['no card at all', ''],
  ])('refuses %s with VcardSyntaxError', (_, text) => {
    expect(() => parseVcard(text)).toThrow(VcardSyntaxError);
  });

  it('refuses more lines, parameters or text than the limits', () => {
    const many = Array.from({ length: vcardLimits.maxLines + 1 }, (_, i) => `X-N${i}:x`);
    expect(() => parseVcard(card(...many))).toThrow(/too many content lines/);
    const params = Array.from({ length: vcardLimits.maxParams + 1 }, (_, i) => `;X-P${i}=1`).join('');
    expect(() => parseVcard(card(`NOTE${params}:x`))).toThrow(/too many parameters/);
    expect(() => parseVcard('x'.repeat(vcardLimits.maxTextLength + 1))).toThrow(/too long/);
  });

  it('never throws anything but VcardSyntaxError on arbitrary text', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'BEGIN:VCARD',
        'END:VCARD',
        'VERSION:2.1',
        'VERSION:4.0',
        ';',
        ':',
        '"',
        '=',
        '\r\n',
        ' ',
        'QUOTED-PRINTABLE',
        'item1.',
      ),
      fc.string({ maxLength: 10 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (parts) => {
        try {
          parseVcards(parts.join(''));
        } catch (e) {
          expect(e).toBeInstanceOf(VcardSyntaxError);
        }
      }),
    );
  });
});
