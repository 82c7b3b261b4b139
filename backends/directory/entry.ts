// A directory entry from a vCard of the organisation's address book: the gal: fields of MS-ASCMD
// (DisplayName, Phone, Office, Title, Company, Alias, FirstName, LastName, HomePhone,
// MobilePhone, EmailAddress), the photo and the S/MIME certificates (KEY). Pure: text in, entry out.
import type { DirectoryEntry } from '../../src/backend/contract.js';
import { readVcard } from '../../src/convert/vcard.js';
import { paramValues, parseVcard, typesOf, type VcardProperty } from '../../src/convert/vcard-lines.js';

/**
 * The entry a card describes, or undefined for a card that is not a person or resource one can
 * address or call: a group (RFC 6350 §6.1.4 KIND:group, Apple's X-ADDRESSBOOKSERVER-KIND), or a
 * card with neither a name nor an address. Throws VcardSyntaxError on broken text.
 */
export function entryFromVcard(text: string): DirectoryEntry | undefined {
  const card = parseVcard(text);
  const kind = card.props.find((p) => p.name === 'KIND' || p.name === 'X-ADDRESSBOOKSERVER-KIND');
  if (kind !== undefined && kind.value.trim().toLowerCase() === 'group') return undefined;
  const c = readVcard(text).item;
  const EmailAddress = c.Email1Address ?? '';
  const composed = [c.FirstName, c.LastName].filter((v) => v !== undefined && v !== '').join(' ');
  const DisplayName = (c.FileAs ?? '').trim() || composed || EmailAddress;
  if (DisplayName === '') return undefined;
  const e: DirectoryEntry = { DisplayName, EmailAddress };
  const set = (k: keyof DirectoryEntry & string, v: string | undefined): void => {
    if (v !== undefined && v.trim() !== '') Object.assign(e, { [k]: v.trim() });
  };
  set('FirstName', c.FirstName);
  set('LastName', c.LastName);
  set('Title', c.JobTitle);
  set('Company', c.CompanyName);
  set('Office', c.OfficeLocation);
  // Exchange's alias is the mailbox nickname; a card's NICKNAME is the nearest thing it has.
  set('Alias', c.NickName);
  set('Phone', c.BusinessPhoneNumber);
  set('HomePhone', c.HomePhoneNumber);
  set('MobilePhone', c.MobilePhoneNumber);
  const picture = c.Picture ?? card.props.flatMap((p) => (p.name === 'PHOTO' ? dataUri(p.value) : []))[0];
  if (picture !== undefined && picture !== '') {
    const bytes = Buffer.from(picture, 'base64');
    if (bytes.length > 0) e.Picture = new Uint8Array(bytes);
  }
  const certificates = card.props.flatMap((p) => (p.name === 'KEY' ? keyBytes(p) : []));
  if (certificates.length > 0) e.Certificates = certificates;
  return e;
}

/**
 * The bytes of a KEY that may be an X.509 certificate: 4.0 `data:application/pkix-cert;base64,…`
 * (RFC 6350 §6.8.1), 3.0 `ENCODING=b` (RFC 2426 §3.7.2) or PEM text. A key by URI, or one
 * typed as PGP, is not an S/MIME certificate and is left out; the engine checks the rest.
 */
function keyBytes(p: VcardProperty): Uint8Array[] {
  const v = p.value.trim();
  const types = typesOf(p);
  if (types.has('pgp') || /pgp/i.test(paramValues(p, 'MEDIATYPE')[0] ?? '')) return [];
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(v.replace(/\\n/g, '\n'));
  if (pem?.[1] !== undefined) return [new Uint8Array(Buffer.from(pem[1].replace(/\s+/g, ''), 'base64'))];
  const enc = paramValues(p, 'ENCODING')[0]?.toLowerCase();
  if (enc === 'b' || enc === 'base64') return [new Uint8Array(Buffer.from(v.replace(/\s+/g, ''), 'base64'))];
  const data = /^data:([^,;]*)(?:;[^,;]*)*;base64,(.*)$/is.exec(v.replace(/\\([,;:])/g, '$1'));
  if (data === null || /pgp/i.test(data[1] ?? '')) return [];
  return [new Uint8Array(Buffer.from((data[2] ?? '').replace(/\s+/g, ''), 'base64'))];
}

/**
 * The base64 of a `data:` URI written with its `;` and `,` escaped as text (`data:image/jpeg\;
 * base64\,…`), as vobject-based servers store 4.0 cards; the converter reads only the plain form.
 */
function dataUri(value: string): string[] {
  const m = /^data:[^,;]*(?:;[^,;]*)*;base64,(.*)$/is.exec(value.trim().replace(/\\([,;:])/g, '$1'));
  return m?.[1] === undefined ? [] : [m[1].replace(/\s+/g, '')];
}
