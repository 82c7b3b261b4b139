// toXml / fromXml: namespaces as "AirSync:", the wbxml:base64 marker for what XML cannot hold, and
// XML errors as WbxmlError.
import { describe, expect, it } from 'vitest';
import { el, fromXml, toXml, WbxmlError } from '../../wbxml/index.js';

function xmlFailure(xml: string): { code: string; offset: number } {
  try {
    fromXml(xml);
  } catch (e) {
    expect(e).toBeInstanceOf(WbxmlError);
    return { code: (e as WbxmlError).code, offset: (e as WbxmlError).offset };
  }
  throw new Error('parsed without error');
}

describe('toXml', () => {
  it('indents, declares each namespace change and escapes text', () => {
    const tree = el('AirSync', 'Sync', el('AirSync', 'Collections', el('Email', 'Subject', 'a & <b>')));
    expect(toXml(tree)).toBe(
      '<?xml version="1.0" encoding="utf-8"?>\n<Sync xmlns="AirSync:">\n  <Collections>\n' +
        '    <Subject xmlns="Email:">a &amp; &lt;b&gt;</Subject>\n  </Collections>\n</Sync>\n',
    );
  });

  it('marks opaque bytes and unsafe strings as base64', () => {
    const xml = toXml(
      el('AirSync', 'Sync', [
        el('Email2', 'ConversationId', Uint8Array.from([1, 2, 3])),
        el('AirSync', 'SyncKey', ''),
        el('AirSyncBase', 'Data', 'line\r\nnext\u0001'),
      ]),
    );
    expect(xml).toContain('xmlns:wbxml="urn:easd:wbxml"');
    expect(xml).toContain('<ConversationId xmlns="Email2:" wbxml:base64="opaque">AQID</ConversationId>');
    expect(xml).toContain('<SyncKey wbxml:base64="string"></SyncKey>');
    expect(xml).toContain('wbxml:base64="string">bGluZQ0KbmV4dAE=</Data>');
  });
});

describe('fromXml', () => {
  it('reads the MS-AS* example form: namespaces without colon, prefixes, comments, CDATA', () => {
    const tree = fromXml(
      '<?xml version="1.0" encoding="utf-8"?>\n<!-- trace --><Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase">' +
        '<Collections>\n  <Collection><SyncKey>0</SyncKey><airsyncbase:Data><![CDATA[<x>]]></airsyncbase:Data></Collection>\n</Collections></Sync>',
    );
    expect(tree).toEqual(
      el(
        'AirSync',
        'Sync',
        el(
          'AirSync',
          'Collections',
          el('AirSync', 'Collection', el('AirSync', 'SyncKey', '0'), el('AirSyncBase', 'Data', '<x>')),
        ),
      ),
    );
  });

  it('reads libwbxml output, DOCTYPE included, and keeps leaf whitespace', () => {
    const tree = fromXml(
      '<?xml version="1.0"?>\n<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">\n' +
        '<Ping xmlns="Ping:">\n<Status> 1 </Status>\n<Folders/>\n</Ping>',
    );
    expect(tree).toEqual(el('Ping', 'Ping', el('Ping', 'Status', ' 1 '), el('Ping', 'Folders')));
  });

  it.each([
    ['malformed XML', '<Sync xmlns="AirSync:"><Status></Sync>', 'bad-xml'],
    ['no namespace', '<Sync/>', 'unknown-tag'],
    ['a namespace that is no code page', '<Sync xmlns="urn:x"/>', 'unknown-tag'],
    ['a name not on the page', '<Sync xmlns="AirSync:"><Truncation>1</Truncation></Sync>', 'unknown-tag'],
    ['an attribute', '<Sync xmlns="AirSync:" id="1"/>', 'bad-xml'],
    ['text beside child elements', '<Sync xmlns="AirSync:">x<Status>1</Status></Sync>', 'bad-xml'],
    [
      'a wrong wbxml:base64 value',
      '<SyncKey xmlns="AirSync:" xmlns:wbxml="urn:easd:wbxml" wbxml:base64="hex">00</SyncKey>',
      'bad-xml',
    ],
    [
      'invalid base64',
      '<SyncKey xmlns="AirSync:" xmlns:wbxml="urn:easd:wbxml" wbxml:base64="opaque">!!</SyncKey>',
      'bad-xml',
    ],
    [
      'base64 string that is not UTF-8',
      '<SyncKey xmlns="AirSync:" xmlns:wbxml="urn:easd:wbxml" wbxml:base64="string">/w==</SyncKey>',
      'bad-xml',
    ],
  ])('refuses %s', (_name, xml, code) => {
    expect(xmlFailure(xml).code).toBe(code);
  });

  it('reports the offset of the offending element', () => {
    const xml = '<Sync xmlns="AirSync:">\n  <Bogus/>\n</Sync>';
    expect(xmlFailure(xml)).toEqual({ code: 'unknown-tag', offset: xml.indexOf('<Bogus') });
  });
});
