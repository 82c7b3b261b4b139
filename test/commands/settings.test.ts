// Settings on the memory backend, WBXML in and out: DeviceInformation onto the device record,
// UserInformation per protocol version, Oof Get/Set with body types, DevicePassword,
// RightsManagementInformation, and malformed requests. Every response is schema-checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WbxmlElement } from '../../wbxml/index.js';
import type { Backend } from '../../src/backend/contract.js';
import { createSettingsHandler } from '../../src/commands/settings.js';
import { getDevice } from '../../src/state/devices.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;
/** An engine whose backend offers neither oof nor userInformation. */
let bare: TestEngine;

/** The backend without some optional capabilities (methods stay bound to the real one). */
function without(backend: Backend, drop: ReadonlyArray<keyof Backend>): Backend {
  return new Proxy(backend, {
    get(target, prop) {
      if ((drop as readonly PropertyKey[]).includes(prop)) return undefined;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const settings = (inner: string): string => `<Settings xmlns="Settings:">${inner}</Settings>`;
const oofGet = (bodyType = 'Text'): string =>
  settings(`<Oof><Get><BodyType>${bodyType}</BodyType></Get></Oof>`);
const oofSet = (inner: string): string => settings(`<Oof><Set>${inner}</Set></Oof>`);
const message = (audience: string, reply: string, bodyType = 'Text', enabled = '1'): string =>
  `<OofMessage><AppliesTo${audience}/><Enabled>${enabled}</Enabled><ReplyMessage>${reply}</ReplyMessage><BodyType>${bodyType}</BodyType></OofMessage>`;

async function send(c: EasTestClient, body: string): Promise<WbxmlElement> {
  const res = await c.command('Settings', body);
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, 'Settings');
  return res.doc!;
}

/** The Status of a part (Oof, UserInformation …), or of Settings itself. */
function statusOf(doc: WbxmlElement, part?: string): string | undefined {
  const holder = part === undefined ? doc : doc.children.find((c) => c.name === part);
  const status = holder?.children.find((c) => c.name === 'Status');
  return typeof status?.value === 'string' ? status.value : undefined;
}

beforeAll(async () => {
  engine = await startTestEngine({ extraHandlers: (deps) => ({ Settings: createSettingsHandler(deps) }) });
  bare = await startTestEngine({
    extraHandlers: (deps) => ({
      Settings: createSettingsHandler({
        ...deps,
        backend: without(deps.backend, ['oof', 'userInformation']),
      }),
    }),
  });
});
afterAll(async () => {
  await engine?.close();
  await bare?.close();
});

describe('Settings DeviceInformation', () => {
  it.each(['12.1', '14.0', '14.1', '16.1'])('%s: Set is stored on the device record → 1', async (version) => {
    const c = await engine.client('alice', { version });
    const doc = await send(
      c,
      settings(
        `<DeviceInformation><Set><Model>iPhone15,2</Model><IMEI>3520990017</IMEI><FriendlyName>Work phone</FriendlyName><OS>iOS 17.4</OS><OSLanguage>en</OSLanguage><PhoneNumber>+15550100</PhoneNumber><UserAgent>Apple-iPhone15C2/2104.43</UserAgent><EnableOutboundSMS>0</EnableOutboundSMS><MobileOperator>Carrier</MobileOperator></Set></DeviceInformation>`,
      ),
    );
    expect(statusOf(doc)).toBe('1');
    expect(statusOf(doc, 'DeviceInformation')).toBe('1');
    const record = await getDevice(engine.state.device('alice', c.opts.deviceId));
    expect(record).toMatchObject({
      model: 'iPhone15,2',
      imei: '3520990017',
      friendlyName: 'Work phone',
      os: 'iOS 17.4',
      osLanguage: 'en',
      phoneNumber: '+15550100',
      userAgent: 'Apple-iPhone15C2/2104.43',
      enableOutboundSMS: false,
      mobileOperator: 'Carrier',
    });
  });
});

describe('Settings UserInformation', () => {
  it.each(['12.1', '14.0'])('%s: Get lists EmailAddresses/SMTPAddress under Get → 1', async (version) => {
    const c = await engine.client('alice', { version });
    const doc = await send(c, settings('<UserInformation><Get/></UserInformation>'));
    expect(statusOf(doc, 'UserInformation')).toBe('1');
    const account = await engine.account();
    expect(findAll(doc, 'SMTPAddress').map((e) => e.value)).toEqual([account.email]);
    expect(findAll(doc, 'Accounts')).toHaveLength(0);
    expect(findAll(doc, 'PrimarySmtpAddress')).toHaveLength(0);
  });

  it.each(['14.1', '16.1'])('%s: Get lists Accounts/Account with PrimarySmtpAddress → 1', async (version) => {
    const c = await engine.client('alice', { version });
    const doc = await send(c, settings('<UserInformation><Get/></UserInformation>'));
    expect(statusOf(doc, 'UserInformation')).toBe('1');
    const account = await engine.account();
    const accounts = findAll(doc, 'Account');
    expect(accounts).toHaveLength(1);
    expect(findText(accounts[0], 'UserDisplayName')).toBe('alice');
    expect(findText(accounts[0], 'PrimarySmtpAddress')).toBe(account.email);
    expect(findAll(accounts[0], 'SMTPAddress').map((e) => e.value)).toEqual([account.email]);
    expect(findAll(accounts[0], 'AccountId')).toHaveLength(0);
  });

  it('16.1: without backend.userInformation, the account email and name → 1', async () => {
    const c = await bare.client('bob', { version: '16.1' });
    const doc = await send(c, settings('<UserInformation><Get/></UserInformation>'));
    expect(statusOf(doc, 'UserInformation')).toBe('1');
    const account = await bare.account('bob');
    expect(findText(doc, 'PrimarySmtpAddress')).toBe(account.email);
    expect(findText(doc, 'UserDisplayName')).toBe('bob');
  });
});

describe('Settings Oof', () => {
  it('16.1: Set global OOF with two audiences, then Get Text returns it → 1, 1', async () => {
    const c = await engine.client('alice', { version: '16.1' });
    const set = await send(
      c,
      oofSet(
        `<OofState>1</OofState>${message('Internal', 'Back Monday')}${message('ExternalKnown', 'Away &amp; back Monday')}`,
      ),
    );
    expect(statusOf(set, 'Oof')).toBe('1');
    const get = await send(c, oofGet());
    expect(statusOf(get, 'Oof')).toBe('1');
    expect(findText(get, 'OofState')).toBe('1');
    const messages = findAll(get, 'OofMessage');
    expect(
      messages.map((m) => [m.children[0]?.name, findText(m, 'ReplyMessage'), findText(m, 'BodyType')]),
    ).toEqual([
      ['AppliesToInternal', 'Back Monday', 'Text'],
      ['AppliesToExternalKnown', 'Away & back Monday', 'Text'],
    ]);
  });

  it('14.0: Get in HTML converts a Text reply; a later Set of one audience keeps the others → 1', async () => {
    const c = await engine.client('alice', { version: '14.0' });
    expect(statusOf(await send(c, oofSet(message('Internal', 'Line one\nLine &lt;two&gt;'))), 'Oof')).toBe(
      '1',
    );
    const html = await send(c, oofGet('HTML'));
    const internal = findAll(html, 'OofMessage').find((m) => m.children[0]?.name === 'AppliesToInternal');
    expect(findText(internal, 'ReplyMessage')).toBe('<html><body>Line one<br>Line &lt;two&gt;</body></html>');
    expect(findText(internal, 'BodyType')).toBe('HTML');
    // ExternalKnown from the previous case is still there.
    expect(findAll(html, 'AppliesToExternalKnown')).toHaveLength(1);
  });

  it('14.1: an HTML reply read as Text loses its tags → 1', async () => {
    const c = await engine.client('alice', { version: '14.1' });
    const reply = '&lt;p&gt;Out &amp;amp; about&lt;/p&gt;&lt;p&gt;Call &lt;b&gt;Bob&lt;/b&gt;&lt;/p&gt;';
    expect(statusOf(await send(c, oofSet(message('ExternalUnknown', reply, 'HTML'))), 'Oof')).toBe('1');
    const text = await send(c, oofGet('TEXT'));
    const unknown = findAll(text, 'OofMessage').find(
      (m) => m.children[0]?.name === 'AppliesToExternalUnknown',
    );
    expect(findText(unknown, 'ReplyMessage')).toBe('Out & about\nCall Bob');
    expect(findText(unknown, 'BodyType')).toBe('Text');
  });

  it('12.1: time-based OOF keeps StartTime and EndTime → 1', async () => {
    const c = await engine.client('alice', { version: '12.1' });
    const set = await send(
      c,
      oofSet(
        '<OofState>2</OofState><StartTime>2030-07-01T00:00:00.000Z</StartTime><EndTime>2030-07-15T00:00:00.000Z</EndTime>',
      ),
    );
    expect(statusOf(set, 'Oof')).toBe('1');
    const get = await send(c, oofGet());
    expect([findText(get, 'OofState'), findText(get, 'StartTime'), findText(get, 'EndTime')]).toEqual([
      '2',
      '2030-07-01T00:00:00.000Z',
      '2030-07-15T00:00:00.000Z',
    ]);
  });

  it.each([
    [
      'time-based without EndTime',
      oofSet('<OofState>2</OofState><StartTime>2031-01-01T00:00:00.000Z</StartTime>'),
    ],
    [
      'EndTime before StartTime',
      oofSet(
        '<OofState>2</OofState><StartTime>2031-02-01T00:00:00.000Z</StartTime><EndTime>2031-01-01T00:00:00.000Z</EndTime>',
      ),
    ],
    ['an unknown OofState', oofSet('<OofState>3</OofState>')],
    [
      'a date that is not one',
      oofSet('<OofState>2</OofState><StartTime>soon</StartTime><EndTime>later</EndTime>'),
    ],
    ['an unknown BodyType in Get', oofGet('RTF')],
    ['an OofMessage without audience', oofSet('<OofMessage><Enabled>1</Enabled></OofMessage>')],
  ])('16.1: %s → Oof 5', async (_name, body) => {
    const c = await engine.client('bob', { version: '16.1' });
    const doc = await send(c, body);
    expect(statusOf(doc)).toBe('1');
    expect(statusOf(doc, 'Oof')).toBe('5');
  });

  it('16.1: a rejected Set leaves the stored settings alone → 1', async () => {
    const c = await engine.client('alice', { version: '16.1' });
    const before = findText(await send(c, oofGet()), 'OofState');
    await send(c, oofSet('<OofState>2</OofState><StartTime>2031-01-01T00:00:00.000Z</StartTime>'));
    expect(findText(await send(c, oofGet()), 'OofState')).toBe(before);
  });

  it.each(['14.0', '16.1'])('%s: a backend without the oof capability → Oof 2', async (version) => {
    const c = await bare.client('alice', { version });
    expect(statusOf(await send(c, oofGet()), 'Oof')).toBe('2');
    expect(statusOf(await send(c, oofSet('<OofState>0</OofState>')), 'Oof')).toBe('2');
  });
});

describe('Settings DevicePassword and RightsManagementInformation', () => {
  it.each(['12.1', '16.1'])('%s: DevicePassword Set is acknowledged, not stored → 1', async (version) => {
    const c = await engine.client('alice', { version });
    const doc = await send(
      c,
      settings('<DevicePassword><Set><Password>recover-me</Password></Set></DevicePassword>'),
    );
    expect(statusOf(doc, 'DevicePassword')).toBe('1');
    const record = await getDevice(engine.state.device('alice', c.opts.deviceId));
    expect(JSON.stringify(record)).not.toContain('recover-me');
  });

  it.each(['14.1', '16.1'])('%s: RightsManagementInformation Get → 1 with no templates', async (version) => {
    const c = await engine.client('alice', { version });
    const doc = await send(c, settings('<RightsManagementInformation><Get/></RightsManagementInformation>'));
    expect(statusOf(doc, 'RightsManagementInformation')).toBe('1');
    const templates = findAll(doc, 'RightsManagementTemplates');
    expect(templates).toHaveLength(1);
    expect(templates[0]?.children).toHaveLength(0);
  });

  it('14.0: RightsManagementInformation does not exist yet → Settings 2', async () => {
    const c = await engine.client('alice', { version: '14.0' });
    const doc = await send(c, settings('<RightsManagementInformation><Get/></RightsManagementInformation>'));
    expect(statusOf(doc)).toBe('2');
  });
});

describe('Settings requests as a whole', () => {
  it('16.1: every part in one request, answered in schema order → 1 each', async () => {
    const c = await engine.client('alice', { version: '16.1' });
    const doc = await send(
      c,
      settings(
        '<UserInformation><Get/></UserInformation><DevicePassword><Set><Password>x</Password></Set></DevicePassword>' +
          '<DeviceInformation><Set><Model>Pixel</Model></Set></DeviceInformation><Oof><Get><BodyType>Text</BodyType></Get></Oof>' +
          '<RightsManagementInformation><Get/></RightsManagementInformation>',
      ),
    );
    expect(doc.children.map((e) => e.name)).toEqual([
      'Status',
      'Oof',
      'DeviceInformation',
      'DevicePassword',
      'UserInformation',
      'RightsManagementInformation',
    ]);
    for (const part of doc.children.slice(1)) expect(statusOf(doc, part.name), part.name).toBe('1');
  });

  it.each([
    ['an empty Settings', settings('')],
    ['Oof with neither Get nor Set', settings('<Oof/>')],
    [
      'Oof with both Get and Set',
      settings('<Oof><Get><BodyType>Text</BodyType></Get><Set><OofState>0</OofState></Set></Oof>'),
    ],
    ['Oof Get without BodyType', settings('<Oof><Get/></Oof>')],
    ['UserInformation without Get', settings('<UserInformation/>')],
    ['DeviceInformation without Set', settings('<DeviceInformation><Model>x</Model></DeviceInformation>')],
    ['DevicePassword without Set', settings('<DevicePassword/>')],
  ])('14.1: %s → Settings 2', async (_name, body) => {
    const c = await engine.client('alice', { version: '14.1' });
    const doc = await send(c, body);
    expect(doc.children.map((e) => e.name)).toEqual(['Status']);
    expect(statusOf(doc)).toBe('2');
  });
});
