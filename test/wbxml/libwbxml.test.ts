// Cross-check with libwbxml (Debian libwbxml2-utils), an independent WBXML implementation: for
// every code page libwbxml knows (0–24; it has no Find page 25), a document using every token of
// the page encodes to the same bytes in both codecs, and each decodes the other's bytes to the
// same tree. Where libwbxml names a token differently from MS-ASWBXML the spec wins; the
// differences are listed below and the test proves the list complete and exact.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DOMParser } from '@xmldom/xmldom';
import type { Element as XmlElement, Node as XmlNode } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { codePageByNamespace, codePages, decode, el, encode, type WbxmlElement } from '../../wbxml/index.js';

const XML2WBXML = '/usr/bin/xml2wbxml';
const WBXML2XML = '/usr/bin/wbxml2xml';

/** libwbxml prefixes the recurrence children of Email and Calendar with "Recurrence_". */
const RECURRENCE = Object.fromEntries(
  ['Type', 'Until', 'Occurrences', 'Interval', 'DayOfWeek', 'DayOfMonth', 'WeekOfMonth', 'MonthOfYear'].map(
    (n) => [n, `Recurrence_${n}`],
  ),
);

/** libwbxml 0.11.8 names that differ from the MS-ASWBXML 16.1 tables (spec name → libwbxml name). */
const LIBWBXML_NAMES: Record<string, Record<string, string>> = {
  Contacts: {
    AssistantPhoneNumber: 'AssistantTelephoneNumber',
    BusinessAddressCity: 'BusinessCity',
    BusinessAddressCountry: 'BusinessCountry',
    BusinessAddressPostalCode: 'BusinessPostalCode',
    BusinessAddressState: 'BusinessState',
    BusinessAddressStreet: 'BusinessStreet',
    HomeAddressCity: 'HomeCity',
    HomeAddressCountry: 'HomeCountry',
    HomeAddressPostalCode: 'HomePostalCode',
    HomeAddressState: 'HomeState',
    HomeAddressStreet: 'HomeStreet',
    OtherAddressCity: 'OtherCity',
    OtherAddressCountry: 'OtherCountry',
    OtherAddressPostalCode: 'OtherPostalCode',
    OtherAddressState: 'OtherState',
    OtherAddressStreet: 'OtherStreet',
  },
  Email: {
    ReplyTo: 'Reply-To',
    DtStamp: 'DTStamp',
    ...RECURRENCE,
    Status: 'FlagStatus',
  },
  Calendar: {
    Timezone: 'TimeZone',
    Email: 'Attendee_Email',
    Name: 'Attendee_Name',
    DtStamp: 'DTStamp',
    Deleted: 'Exception_Deleted',
    ExceptionStartTime: 'Exception_StartTime',
    OrganizerEmail: 'Organizer_Email',
    OrganizerName: 'Organizer_Name',
    ...RECURRENCE,
    AttendeeStatus: 'Attendee_Status',
    AttendeeType: 'Attendee_Type',
  },
  Tasks: {
    UtcDueDate: 'UTCDueDate',
    Type: 'Recurrence_Type',
    Start: 'Recurrence_Start',
    Until: 'Recurrence_Until',
    Occurrences: 'Recurrence_Occurrences',
    Interval: 'Recurrence_Interval',
    DayOfMonth: 'Recurrence_DayOfMonth',
    DayOfWeek: 'Recurrence_DayOfWeek',
    WeekOfMonth: 'Recurrence_WeekOfMonth',
    MonthOfYear: 'Recurrence_MonthOfYear',
    Regenerate: 'Recurrence_Regenerate',
    DeadOccur: 'Recurrence_DeadOccur',
    UtcStartDate: 'UTCStartDate',
  },
  // libwbxml lists two names for 0x10, the 2.5-era DeviceEncryptionEnabled first, and decodes to it.
  Provision: { RequireStorageCardEncryption: 'DeviceEncryptionEnabled' },
  Settings: { SMTPAddress: 'SmtpAddress', RightsManagementInformation: 'ihsManagementInformation' },
  ComposeMail: { Mime: 'MIME' },
  RightsManagement: {
    Owner: 'RMOwner',
    RemoveRightsManagementProtection: 'RemoveRightsManagementDistribution',
  },
};

/** 16.1 tokens libwbxml does not know at all (besides the whole Find page). */
const LIBWBXML_MISSING: Record<string, string[]> = {
  Provision: ['AccountOnlyRemoteWipe'],
  MeetingResponse: ['ProposedStartTime', 'ProposedEndTime'],
};

/** Elements whose XML text libwbxml reads and writes as base64 of OPAQUE bytes (byte arrays). */
const LIBWBXML_OPAQUE = new Set([
  'Email2:ConversationId',
  'Email2:ConversationIndex',
  'ComposeMail:Mime',
  'ResolveRecipients:Data',
  'Search:ConversationId',
  'GAL:Data',
  'AirSyncBase:Content',
  'ItemOperations:ConversationId',
]);

const DOCTYPE = '<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">';

function run(tool: string, args: string[], input: Uint8Array | string): Buffer {
  if (!existsSync(tool)) {
    throw new Error(`${tool} is missing: install Debian's libwbxml2-utils (apt-get install libwbxml2-utils)`);
  }
  return execFileSync(tool, args, { input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

const libName = (ns: string, name: string): string => LIBWBXML_NAMES[ns]?.[name] ?? name;

/** libwbxml calls code page 16 "Gal:" where MS-ASWBXML says GAL; under "GAL:" it cannot place a tag. */
const libNamespace = (ns: string): string => (ns === 'GAL' ? 'Gal' : ns);

/** The tree as libwbxml's xml2wbxml expects it: its names, default-namespace switches, base64 opaque. */
function libwbxmlXml(root: WbxmlElement): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const render = (e: WbxmlElement, parentNs: string): string => {
    const name = libName(e.ns, e.name);
    const xmlns = e.ns === parentNs ? '' : ` xmlns="${libNamespace(e.ns)}:"`;
    if (e.children.length > 0)
      return `<${name}${xmlns}>${e.children.map((c) => render(c, e.ns)).join('')}</${name}>`;
    if (e.value === undefined) return `<${name}${xmlns}/>`;
    const text =
      e.value instanceof Uint8Array ? Buffer.from(e.value).toString('base64') : esc(e.value as string);
    return `<${name}${xmlns}>${text}</${name}>`;
  };
  return `<?xml version="1.0"?>\n${DOCTYPE}\n${render(root, '')}`;
}

/** wbxml2xml output read back into a tree with spec names. */
function fromLibwbxmlXml(xml: string): WbxmlElement {
  const reverse = (ns: string, name: string): string =>
    Object.entries(LIBWBXML_NAMES[ns] ?? {}).find(([, lib]) => lib === name)?.[0] ?? name;
  const convert = (node: XmlElement): WbxmlElement => {
    const libNs = node.namespaceURI!.replace(/:$/, '');
    const ns = libNs === 'Gal' ? 'GAL' : libNs;
    const element: WbxmlElement = { ns, name: reverse(ns, node.localName!), children: [] };
    let text: string | undefined;
    for (let c: XmlNode | null = node.firstChild; c !== null; c = c.nextSibling) {
      if (c.nodeType === 1) element.children.push(convert(c as XmlElement));
      else if (c.nodeType === 3) text = (text ?? '') + c.nodeValue;
    }
    if (element.children.length === 0 && text !== undefined) {
      element.value = LIBWBXML_OPAQUE.has(`${ns}:${element.name}`)
        ? new Uint8Array(Buffer.from(text, 'base64'))
        : text;
    }
    return element;
  };
  return convert(new DOMParser().parseFromString(xml, 'text/xml').documentElement!);
}

/** A document with every token of one page: leaves with text, empty tags, and containers whose
 * children switch to page 0 and back, so SWITCH_PAGE is tested across END. */
function everyToken(ns: string): WbxmlElement {
  const page = codePageByNamespace(ns)!;
  const names = [...page.tokens.keys()].filter((n) => !(LIBWBXML_MISSING[ns] ?? []).includes(n));
  const children = names.map((name, i): WbxmlElement => {
    if (LIBWBXML_OPAQUE.has(`${ns}:${name}`)) return el(ns, name, Uint8Array.from([i, 0, 0xff, 0x80, 0x7f]));
    switch (i % 5) {
      case 0:
        return el(ns, name);
      case 1:
        return el(ns, name, el('AirSync', 'Status', String(i)), el(ns, names[(i + 1) % names.length]!, 'x'));
      case 2:
        return el(ns, name, `Grüße ${name} €`);
      case 3:
        return el(ns, name, `a&b<c>"d'${i}`);
      default:
        return el(ns, name, String(i));
    }
  });
  return el('AirSync', 'Sync', el('AirSync', 'Collections', children), el('AirSync', 'Status', '1'));
}

const pages = codePages.filter((p) => p.number <= 24 && p.tokens.size > 0).map((p) => p.namespace);

describe('libwbxml cross-check (independent implementation)', () => {
  it('finds the libwbxml2-utils tools', () => {
    for (const tool of [XML2WBXML, WBXML2XML]) {
      expect(existsSync(tool), `${tool}: install Debian's libwbxml2-utils`).toBe(true);
    }
  });

  it('covers code pages 0–24 except the tag-less AirNotify page', () => {
    expect(pages).toHaveLength(24);
  });

  for (const ns of pages) {
    it(`${ns}: every token encodes to libwbxml's bytes and each decodes the other's`, () => {
      const tree = everyToken(ns);
      const ours = encode(tree);
      const theirs = run(XML2WBXML, ['-a', '-n', '-v', '1.3', '-o', '-', '-'], libwbxmlXml(tree));
      expect(Buffer.from(ours).toString('hex')).toBe(theirs.toString('hex'));
      expect(decode(new Uint8Array(theirs))).toStrictEqual(tree);
      const theirXml = run(WBXML2XML, ['-l', 'ACTIVESYNC', '-m', '0', '-o', '-', '-'], ours).toString('utf8');
      expect(fromLibwbxmlXml(theirXml)).toStrictEqual(tree);
    });
  }

  it('the documented name differences are exactly where libwbxml decodes another name', () => {
    // One document per page, each token a leaf: libwbxml prints its own name for every token.
    for (const ns of pages) {
      const page = codePageByNamespace(ns)!;
      const names = [...page.tokens.keys()].filter((n) => !(LIBWBXML_MISSING[ns] ?? []).includes(n));
      const ours = encode(
        el(
          'AirSync',
          'Sync',
          names.map((n) => el(ns, n, '1')),
        ),
      );
      const xml = run(WBXML2XML, ['-l', 'ACTIVESYNC', '-m', '0', '-o', '-', '-'], ours).toString('utf8');
      const doc = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
      const printed: string[] = [];
      for (let c: XmlNode | null = doc.firstChild; c !== null; c = c.nextSibling) {
        if (c.nodeType !== 1) continue;
        printed.push((c as XmlElement).localName!);
        expect((c as XmlElement).namespaceURI).toBe(`${libNamespace(ns)}:`);
      }
      const differing = Object.fromEntries(names.map((n, i) => [n, printed[i]]).filter(([n, p]) => n !== p));
      expect(differing, ns).toEqual(LIBWBXML_NAMES[ns] ?? {});
    }
  });

  it('libwbxml cannot encode the documented missing tokens', () => {
    for (const [ns, names] of Object.entries(LIBWBXML_MISSING)) {
      for (const name of names) {
        const doc = libwbxmlXml(el('AirSync', 'Sync', el(ns, name, '1')));
        expect(() => run(XML2WBXML, ['-a', '-n', '-v', '1.3', '-o', '-', '-'], doc)).toThrow();
        expect(decode(encode(el('AirSync', 'Sync', el(ns, name, '1')))).children[0]!.name).toBe(name);
      }
    }
  });
});
