// contactToVcard with `asVersion`: a stored 4.0 card rewritten as 3.0 (what the CardDAV backend
// does when a phone sets a picture on a 4.0 card on a server that cuts 4.0 data: URIs). Every
// mapped line is written in 3.0's form; lines easd does not map stay as they were.
import { describe, expect, it } from 'vitest';
import { contactToVcard, readVcard } from '../../src/convert/vcard.js';

const four = [
  'BEGIN:VCARD',
  'VERSION:4.0',
  'UID:urn:uuid:0b3f6c1e-1c1a-4a57-9a53-7d7a1c4a2f10',
  'FN:Grace Hopper',
  'N:Hopper;Grace;;;',
  'BDAY:19061209',
  'ANNIVERSARY:--0708',
  'RELATED;VALUE=text;TYPE=spouse:Vincent',
  'TEL;VALUE=uri;TYPE=cell:tel:+1-555-0100',
  'EMAIL;TYPE=work;PREF=1:grace@example.org',
  'PHOTO:data:image/png;base64,iVBORw0KGgo=',
  'X-OTHER-CLIENT:kept',
  'END:VCARD',
  '',
].join('\r\n');

describe('contactToVcard asVersion', () => {
  it('writes a 4.0 base as 3.0: mapped lines anew, unmapped kept, the phone item read back the same', () => {
    const item = readVcard(four).item;
    const picture = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]).toString('base64');
    const text = contactToVcard({ ...item, Picture: picture }, { base: four, asVersion: '3.0' });
    const lines = text.replace(/\r\n[ \t]/g, '').split('\r\n');
    expect(lines[1]).toBe('VERSION:3.0');
    expect(lines).toEqual(
      expect.arrayContaining([
        'UID:urn:uuid:0b3f6c1e-1c1a-4a57-9a53-7d7a1c4a2f10',
        'BDAY:1906-12-09',
        `PHOTO;ENCODING=b;TYPE=JPEG:${picture}`,
        'X-OTHER-CLIENT:kept',
      ]),
    );
    expect(text).not.toContain('data:image');
    // 3.0 has neither RELATED nor ANNIVERSARY: Apple's labelled lines (RFC 2426 has no such properties)
    expect(text).not.toMatch(/^(RELATED|ANNIVERSARY)[;:]/m);
    expect(text).toMatch(/^item\d+\.X-ABRELATEDNAMES:Vincent$/m);
    const back = readVcard(text);
    expect(back.version).toBe('3.0');
    expect(back.item).toEqual({ ...item, Picture: picture });
  });

  it('without asVersion the base keeps its version', () => {
    const item = readVcard(four).item;
    expect(contactToVcard({ ...item, JobTitle: 'Admiral' }, { base: four })).toMatch(
      /^BEGIN:VCARD\r\nVERSION:4\.0\r\n/,
    );
  });

  it("keeps another client's types and preference, in 3.0's spelling", () => {
    const base = [
      'BEGIN:VCARD',
      'VERSION:4.0',
      'UID:urn:uuid:5d1c',
      'FN:Grace Hopper',
      'N:Hopper;Grace;;;',
      'TEL;VALUE=uri;TYPE=cell:tel:+1-555-0100',
      'EMAIL;TYPE=work;PREF=1:grace@example.org',
      'item1.EMAIL;TYPE=home:g@home.example',
      'END:VCARD',
      '',
    ].join('\r\n');
    const item = readVcard(base).item;
    const text = contactToVcard({ ...item, Picture: 'AAAA' }, { base, asVersion: '3.0' });
    expect(text.split('\r\n')).toEqual(
      expect.arrayContaining([
        'TEL;TYPE=CELL:+1-555-0100',
        'EMAIL;TYPE=WORK,PREF:grace@example.org',
        'item1.EMAIL;TYPE=HOME:g@home.example',
      ]),
    );
    expect(readVcard(text).item).toEqual({ ...item, Picture: 'AAAA' });
  });
});
