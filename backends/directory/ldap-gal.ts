// The global address list from an LDAP directory (RFC 4511) with the inetOrgPerson schema
// (RFC 2798): each lookup is one search, bound as a service account (or anonymously), for people
// whose name, address or uid starts with the text — the same prefix rules as the CardDAV GAL
// (match.ts): the whole text as a prefix of a name or the address, or every word a prefix of
// some name. Filters are built as filter objects (ldapts escapes their values, RFC 4515), never
// as strings. LDAP servers answer such searches from their indexes, so nothing is cached here.
import {
  AndFilter,
  Client,
  EqualityFilter,
  OrFilter,
  SubstringFilter,
  type Entry,
  type Filter,
} from 'ldapts';
import type { DirectoryEntry } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import { byDisplayName, indexEntry, lookup } from './match.js';

export interface LdapGalOptions {
  /** ldap://host:389 or ldaps://host:636. */
  url: string;
  /** Where people live, e.g. ou=people,dc=example,dc=org. */
  baseDN: string;
  /** Bind DN and password of a service account; anonymous when absent. */
  bind?: { dn: string; password: string };
  /** Per LDAP operation (default 10 s). */
  timeoutMs?: number;
}

/** inetOrgPerson attributes → gal: fields (RFC 2798, RFC 4519). */
const textAttributes = {
  DisplayName: ['displayName', 'cn'],
  EmailAddress: ['mail'],
  FirstName: ['givenName'],
  LastName: ['sn'],
  Alias: ['uid'],
  Title: ['title'],
  Company: ['o'],
  Office: ['physicalDeliveryOfficeName', 'roomNumber'],
  Phone: ['telephoneNumber'],
  HomePhone: ['homePhone'],
  MobilePhone: ['mobile'],
} as const;
const photoAttributes = ['jpegPhoto', 'thumbnailPhoto'];
/** RFC 4523 userCertificate (transferred with ;binary), RFC 2798 userSMIMECertificate. */
const certificateAttributes = ['userCertificate;binary', 'userCertificate', 'userSMIMECertificate'];
/** Attributes a query's text is compared with. */
const searched = ['cn', 'displayName', 'givenName', 'sn', 'mail', 'uid'];

export class LdapGal {
  constructor(private readonly opts: LdapGalOptions) {}

  /** Searcher.directory: people `text` finds, in display-name order, at most `limit`. */
  async directory(
    _account: unknown,
    text: string,
    limit: number,
    signal: AbortSignal,
  ): Promise<DirectoryEntry[]> {
    const words = text
      .trim()
      .split(/[\s,;]+/)
      .filter((w) => w !== '');
    if (words.length === 0 || limit <= 0) return [];
    signal.throwIfAborted();
    const client = new Client({
      url: this.opts.url,
      timeout: this.opts.timeoutMs ?? 10_000,
      connectTimeout: this.opts.timeoutMs ?? 10_000,
    });
    const stop = (): void => void client.unbind().catch(() => undefined);
    signal.addEventListener('abort', stop, { once: true });
    try {
      if (this.opts.bind !== undefined) await client.bind(this.opts.bind.dn, this.opts.bind.password);
      const { searchEntries } = await client.search(this.opts.baseDN, {
        scope: 'sub',
        filter: queryFilter(text.trim(), words),
        attributes: [...Object.values(textAttributes).flat(), ...photoAttributes, ...certificateAttributes],
        explicitBufferAttributes: [...photoAttributes, ...certificateAttributes],
        // A few more than asked, so the display-name order is taken over a fuller set.
        sizeLimit: Math.min(limit * 2, 2000),
      });
      const entries = searchEntries.flatMap((e) => {
        const entry = entryFromLdap(e);
        return entry === undefined ? [] : [indexEntry(entry)];
      });
      entries.sort(byDisplayName);
      // The server matched by its own rules (case, not accents); match.ts has the last word.
      return lookup(entries, text, limit);
    } catch (err) {
      signal.throwIfAborted();
      throw ldapError(err);
    } finally {
      signal.removeEventListener('abort', stop);
      await client.unbind().catch(() => undefined);
    }
  }
}

/** (|(cn=text*)(mail=text*)…) or, per word, (&(|(cn=w1*)(sn=w1*)…)(|(cn=w2*)…)), people only. */
export function queryFilter(text: string, words: string[]): Filter {
  const anyOf = (v: string): Filter =>
    new OrFilter({ filters: searched.map((attribute) => new SubstringFilter({ attribute, initial: v })) });
  const byWords = words.length > 1 ? [new AndFilter({ filters: words.map(anyOf) })] : [];
  return new AndFilter({
    filters: [
      new EqualityFilter({ attribute: 'objectClass', value: 'inetOrgPerson' }),
      new OrFilter({ filters: [anyOf(text), ...byWords] }),
    ],
  });
}

/** One LDAP entry as a directory entry; undefined without a name or an address. */
export function entryFromLdap(e: Entry): DirectoryEntry | undefined {
  const first = (names: readonly string[]): string | undefined => {
    for (const n of names) {
      const v = e[n];
      const s = Array.isArray(v) ? v[0] : v;
      if (typeof s === 'string' && s.trim() !== '') return s.trim();
    }
    return undefined;
  };
  const composed = [first(['givenName']), first(['sn'])].filter((v) => v !== undefined).join(' ');
  const EmailAddress = first(textAttributes.EmailAddress) ?? '';
  const DisplayName = first(textAttributes.DisplayName) ?? (composed || EmailAddress);
  if (DisplayName === '') return undefined;
  const out: DirectoryEntry = { DisplayName, EmailAddress };
  for (const [field, names] of Object.entries(textAttributes)) {
    if (field === 'DisplayName' || field === 'EmailAddress') continue;
    const v = first(names);
    if (v !== undefined) Object.assign(out, { [field]: v });
  }
  const buffers = (names: readonly string[]): Uint8Array[] =>
    names.flatMap((n) => {
      const v = e[n];
      return (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap((b) =>
        Buffer.isBuffer(b) && b.length > 0 ? [new Uint8Array(b)] : [],
      );
    });
  const photo = buffers(photoAttributes)[0];
  if (photo !== undefined) out.Picture = photo;
  const certificates = buffers(certificateAttributes);
  if (certificates.length > 0) out.Certificates = certificates;
  return out;
}

/** LDAP result codes as backend error kinds (RFC 4511 §4.1.9). */
function ldapError(err: unknown): BackendError {
  const code = (err as { code?: number }).code;
  const message = `LDAP: ${(err as Error).message}`;
  // 48 inappropriateAuthentication, 49 invalidCredentials, 50 insufficientAccessRights: the
  // service account, not the phone's login, so 'denied' (never 'auth').
  if (code === 48 || code === 49 || code === 50) return new BackendError('denied', message);
  // 32 noSuchObject: the configured base DN is wrong.
  if (code === 32) return new BackendError('denied', message);
  return new BackendError('unavailable', message, { cause: err });
}
