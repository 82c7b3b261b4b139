import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { el } from '../../wbxml/index.js';
import {
  buildEasSchemaSet,
  EAS_SCHEMA_COMMANDS,
  EAS_SCHEMA_DIR,
  easResponseViolations,
  easResponseXml,
  easSchemaDuplicatesDropped,
  expectValidEasResponse,
  validateEasResponse,
} from './schema.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'schema');
const fixture = (name: string): Promise<string> => readFile(path.join(FIXTURES, name), 'utf8');

// One line per command: the invalid fixture's fault, as xmllint words it. Each <Command>.valid.xml
// is a minimal valid response; each <Command>.invalid.xml says in a comment what is wrong with it.
// prettier-ignore
const cases: [command: string, violation: string][] = [
  ['Autodiscover', 'Missing child element(s). Expected is ( {http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006}EMailAddress )'],
  ['FolderSync', "Element '{FolderHierarchy}Update': This element is not expected. Expected is ( {FolderHierarchy}Add )"],
  ['FolderCreate', "Element '{FolderHierarchy}SyncKey': This element is not expected."],
  ['FolderUpdate', "Element '{FolderHierarchy}SyncKey': This element is not expected. Expected is ( {FolderHierarchy}Status )"],
  ['FolderDelete', "Element '{FolderHierarchy}ServerId': This element is not expected."],
  ['GetItemEstimate', "Element '{GetItemEstimate}Estimate': This element is not expected. Expected is ( {GetItemEstimate}CollectionId )"],
  ['ItemOperations', "Element '{AirSync}CollectionId': This element is not expected. Expected is ( {ItemOperations}Status )"],
  ['MeetingResponse', "Element '{MeetingResponse}CalendarId': This element is not expected. Expected is ( {MeetingResponse}Status )"],
  ['MoveItems', "Element '{Move}DstMsgId': This element is not expected. Expected is ( {Move}Status )"],
  ['Ping', "Element '{Ping}Collection': This element is not expected."],
  ['Provision', "Element '{Settings}DeviceInformation': This element is not expected."],
  ['ResolveRecipients', "Element '{ResolveRecipients}Recipient': Missing child element(s). Expected is ( {ResolveRecipients}EmailAddress )"],
  ['Search', "Element '{Search}Range': This element is not expected. Expected is ( {Search}Status )"],
  ['SendMail', "Element '{ComposeMail}ClientId': This element is not expected."],
  ['SmartForward', "Element '{ComposeMail}Status': This element is not expected."],
  ['SmartReply', "Element '{ComposeMail}Source': This element is not expected."],
  ['Settings', "Element '{Settings}SMTPAddress': This element is not expected."],
  ['Sync', "Element '{AirSync}ApplicationData': This element is not expected. Expected is ( {AirSync}ServerId )"],
  ['ValidateCert', "Element '{ValidateCert}Certificate': This element is not expected. Expected is ( {ValidateCert}Status )"],
  ['Find', "Element '{Find}Result': Missing child element(s). Expected is one of ( {AirSync}CollectionId, {Find}Properties )"],
  ['GetHierarchy', "Element '{FolderHierarchy}Folder': Missing child element(s). Expected is ( {FolderHierarchy}ParentId )"],
];

describe('every EAS response schema', () => {
  test('each response schema in the schema folder has a case here', async () => {
    const responseSchemas = (await readdir(EAS_SCHEMA_DIR)).filter((f) => f.endsWith('Response.xsd'));
    const covered = new Set(cases.map(([c]) => c));
    expect(new Set(EAS_SCHEMA_COMMANDS)).toEqual(covered);
    // <X>Response.xsd is command X's (AutodiscoverResponse.xsd, with AutodiscoverMobileSync.xsd, Autodiscover's).
    expect(responseSchemas.length).toBeGreaterThanOrEqual(21);
    for (const file of responseSchemas) expect(covered, file).toContain(file.replace(/Response\.xsd$/, ''));
  });

  test.each(cases)(
    '%s: the minimal response validates, the broken one is rejected',
    async (command, violation) => {
      const valid = await fixture(`${command}.valid.xml`);
      await expect(validateEasResponse(valid, command)).resolves.toBeUndefined();

      const invalid = await fixture(`${command}.invalid.xml`);
      const error = await validateEasResponse(invalid, command).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      const message = (error as Error).message;
      expect(message).toContain(`${command} response does not validate`);
      expect(message).toContain(violation); // xmllint's own words
      expect(message).toMatch(/response\.xml:\d+: element \w+: Schemas validity error/);
      expect(message).toContain('--- response.xml ---');
      expect(message).toContain(invalid.split('\n')[1]!); // and the XML itself (the comment saying what is wrong)
    },
  );
});

describe('namespace schemas and response schemas sharing a namespace are both in force', () => {
  // Each of these is only caught if the namespace schema (FolderHierarchy.xsd, AirSync.xsd,
  // Email.xsd, …) is loaded alongside the response schema that shares or uses its namespace.
  test('FolderHierarchy.xsd: SyncKey must not be empty', async () => {
    const xml = '<FolderSync xmlns="FolderHierarchy:"><Status>1</Status><SyncKey></SyncKey></FolderSync>';
    expect(await easResponseViolations(xml, 'FolderSync')).toEqual([
      expect.stringContaining("Element '{FolderHierarchy}SyncKey': [facet 'minLength']"),
    ]);
  });

  test('AirSync.xsd: SyncKey is at most 64 characters', async () => {
    const tree = el(
      'AirSync',
      'Sync',
      el('AirSync', 'Collections', el('AirSync', 'Collection', el('AirSync', 'SyncKey', 'k'.repeat(65)))),
    );
    expect(await easResponseViolations(tree, 'Sync')).toEqual([
      expect.stringContaining("Element '{AirSync}SyncKey': [facet 'maxLength']"),
    ]);
  });

  test('Email.xsd: Read is a boolean', async () => {
    const xml = (await fixture('Sync.valid.xml')).replace(
      '<Read xmlns="Email:">0</Read>',
      '<Read xmlns="Email:">unread</Read>',
    );
    expect(await easResponseViolations(xml, 'Sync')).toEqual([
      expect.stringContaining(
        "Element '{Email}Read': 'unread' is not a valid value of the atomic type 'xs:boolean'",
      ),
    ]);
  });

  test('SettingsResponse.xsd is loaded for Provision, which refers to its DeviceInformation', async () => {
    const xml = (await fixture('Provision.valid.xml')).replace(
      '<Status>1</Status>\n  </DeviceInformation>',
      '<Bogus/>\n  </DeviceInformation>',
    );
    expect(await easResponseViolations(xml, 'Provision')).toEqual([
      expect.stringContaining("Element '{Settings}Bogus': This element is not expected."),
    ]);
  });

  test('a global declared by both a namespace schema and a response schema is kept once, the response’s', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'easd-schema-dup-test-'));
    try {
      const built = await buildEasSchemaSet(path.join(FIXTURES, 'duplicates'), 'Ping', dir);
      expect(built.dropped).toEqual(["Ping.xsd: element Status (kept PingResponse.xsd's)"]);
      const check = async (xml: string): Promise<string> => {
        await writeFile(path.join(dir, 'doc.xml'), xml);
        return new Promise((resolve) => {
          execFile(
            'xmllint',
            ['--noout', '--nowarning', '--schema', built.wrapper, path.join(dir, 'doc.xml')],
            (_e, out, err) => resolve(`${out}${err}`),
          );
        });
      };
      expect(
        await check('<Ping xmlns="Ping"><Status>3</Status><HeartbeatInterval>60</HeartbeatInterval></Ping>'),
      ).toMatch(/doc\.xml validates/);
      // PingResponse.xsd's Status (an integer 1–9) is the one in force, not Ping.xsd's string.
      expect(await check('<Ping xmlns="Ping"><Status>abc</Status></Ping>')).toContain(
        "Element '{Ping}Status': 'abc' is not a valid value",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the real schemas declare nothing twice within a command’s schema set', async () => {
    for (const command of EAS_SCHEMA_COMMANDS)
      expect(await easSchemaDuplicatesDropped(command), command).toEqual([]);
  });
});

describe('validateEasResponse', () => {
  test('takes the decoded element tree, rendered by toXml, OPAQUE and empty values included', async () => {
    const tree = el(
      'AirSync',
      'Sync',
      el(
        'AirSync',
        'Collections',
        el(
          'AirSync',
          'Collection',
          el('AirSync', 'SyncKey', '7'),
          el('AirSync', 'CollectionId', 'inbox'),
          el('AirSync', 'Status', 1),
          el(
            'AirSync',
            'Commands',
            el(
              'AirSync',
              'Change',
              el('AirSync', 'ServerId', 'inbox:1'),
              el(
                'AirSync',
                'ApplicationData',
                el('Email', 'Subject', ''),
                el(
                  'AirSyncBase',
                  'Body',
                  el('AirSyncBase', 'Type', 4),
                  el('AirSyncBase', 'Data', new Uint8Array([77, 73, 77, 69])),
                ),
              ),
            ),
          ),
          el('AirSync', 'MoreAvailable'),
        ),
      ),
    );
    await expectValidEasResponse(tree, 'Sync');
    const xml = easResponseXml(tree);
    expect(xml).toContain('<Body xmlns="AirSyncBase">');
    expect(xml).not.toContain('wbxml');
  });

  test('reports a tree with elements out of order', async () => {
    const tree = el(
      'FolderHierarchy',
      'FolderCreate',
      el('FolderHierarchy', 'ServerId', 'x'),
      el('FolderHierarchy', 'Status', 1),
    );
    await expect(validateEasResponse(tree, 'FolderCreate')).rejects.toThrow(
      /response\.xml:3: element ServerId: .*'\{FolderHierarchy\}ServerId': This element is not expected\. Expected is \( \{FolderHierarchy\}Status \)[\s\S]*3 \|\s+<ServerId>x<\/ServerId>/,
    );
  });

  test("rejects another command's response, and a bare global element, by their root", async () => {
    await expect(validateEasResponse(await fixture('FolderCreate.valid.xml'), 'FolderSync')).rejects.toThrow(
      'root element is {FolderHierarchy}FolderCreate; a FolderSync response must be {FolderHierarchy}FolderSync',
    );
    await expect(validateEasResponse('<Status xmlns="AirSync:">1</Status>', 'Sync')).rejects.toThrow(
      'root element is {AirSync}Status',
    );
  });

  test('rejects XML that is not well-formed', async () => {
    await expect(validateEasResponse('<Ping xmlns="Ping:"><Status>1</Ping>', 'Ping')).rejects.toThrow(
      'not well-formed XML',
    );
  });

  test('accepts command names in any case and refuses unknown ones', async () => {
    await validateEasResponse('<Ping xmlns="Ping:"><Status>1</Status></Ping>', 'ping');
    await expect(validateEasResponse('<Ping xmlns="Ping:"/>', 'Frobnicate')).rejects.toThrow(
      'No EAS response schema for command "Frobnicate"',
    );
  });

  test('drops a DOCTYPE and a BOM, maps "X:" namespaces to "X", prefixed ones too', () => {
    const xml = easResponseXml(
      '\uFEFF<?xml version="1.0"?>\n<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">\n' +
        '<p:Ping xmlns:p="Ping:"><p:Status>1</p:Status></p:Ping>',
    );
    expect(xml).toBe('<?xml version="1.0"?>\n<p:Ping xmlns:p="Ping"><p:Status>1</p:Status></p:Ping>');
  });

  test('validates documents given together in one xmllint run, each with its own verdict', async () => {
    const good = await fixture('Sync.valid.xml');
    const bad = await fixture('Sync.invalid.xml');
    const results = await Promise.all(
      [good, bad, good, bad].map((xml) => easResponseViolations(xml, 'Sync')),
    );
    expect(results.map((v) => v.length === 0)).toEqual([true, false, true, false]);
  });

  test('is quick enough to run on every response a test builds', async () => {
    const xml = await fixture('Sync.valid.xml');
    await validateEasResponse(xml, 'Sync'); // schema set built or found in the cache
    const n = 10;
    let t0 = performance.now();
    for (let i = 0; i < n; i++) await validateEasResponse(xml, 'Sync');
    const sequential = (performance.now() - t0) / n;
    t0 = performance.now();
    await Promise.all(Array.from({ length: 5 * n }, () => validateEasResponse(xml, 'Sync')));
    const batched = (performance.now() - t0) / (5 * n);
    console.info(
      `EAS schema validation (Sync): ${sequential.toFixed(1)} ms each awaited, ${batched.toFixed(1)} ms each batched`,
    );
    expect(sequential).toBeLessThan(1000);
  });
});
