// The HTTP layer end to end in-process: OPTIONS, both query forms, auth variants, versions,
// bodies, gzip, limits, Autodiscover. Handlers here are test doubles: the commands have their
// own tests.
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, el, encode } from '../../wbxml/index.js';
import type { CommandContext } from '../../src/commands/types.js';
import { encodeBase64Query } from '../../src/http/query.js';
import { buildServer, type AccountInfo } from '../../src/server.js';

const basic = (user: string, password: string, encoding: BufferEncoding = 'utf8'): string =>
  'Basic ' + Buffer.from(`${user}:${password}`, encoding).toString('base64');

const users = new Map([
  ['alice', 'secret'],
  ['jürgen', 'pässword'],
  ['CORP\\bob', 'hunter2'],
  ['carol@example.com', 'pw'],
]);

let seen: CommandContext<AccountInfo>[] = [];
let app: FastifyInstance;

beforeAll(async () => {
  app = await buildServer<AccountInfo>({
    logger: false,
    limits: { maxBodyBytes: 64 * 1024, maxAuthFailures: 3, maxAuthFailuresPerAddress: 1000 },
    authenticate: async (user, password) =>
      users.get(user) === password
        ? { user, email: `${user.replace(/.*\\/, '')}@example.com`, displayName: 'Test User' }
        : null,
    handlers: {
      FolderSync: async (ctx) => {
        seen.push(ctx);
        return {
          body: el(
            'FolderHierarchy',
            'FolderSync',
            el('FolderHierarchy', 'Status', '1'),
            el('FolderHierarchy', 'SyncKey', 'x'.repeat(2000)),
          ),
        };
      },
      Ping: async (ctx) => {
        seen.push(ctx);
        return { body: el('Ping', 'Ping', el('Ping', 'Status', '1')) };
      },
      SendMail: async (ctx) => {
        seen.push(ctx);
        return {};
      },
    },
  });
});
afterAll(async () => app.close());

const folderSyncBody = Buffer.from(
  encode(el('FolderHierarchy', 'FolderSync', el('FolderHierarchy', 'SyncKey', '0'))),
);
const plainUrl = (cmd: string, extra = ''): string =>
  `/Microsoft-Server-ActiveSync?Cmd=${cmd}&User=alice&DeviceId=DEV1&DeviceType=iPhone${extra}`;
const post = (url: string, headers: Record<string, string>, payload: Buffer = folderSyncBody) =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/vnd.ms-sync.wbxml', ...headers },
    payload,
  });

describe('OPTIONS', () => {
  it('lists versions and served commands (MS-ASHTTP 2.2.3)', async () => {
    const res = await app.inject({ method: 'OPTIONS', url: '/Microsoft-Server-ActiveSync' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['ms-asprotocolversions']).toBe('12.0,12.1,14.0,14.1,16.0,16.1');
    expect(String(res.headers['ms-asprotocolcommands']).split(',').sort()).toEqual([
      'FolderSync',
      'Ping',
      'SendMail',
    ]);
    expect(res.headers['ms-server-activesync']).toBeDefined();
    expect(res.headers['allow']).toBe('OPTIONS,POST');
    expect(res.headers['public']).toBe('OPTIONS,POST');
  });

  it.each(['/microsoft-server-activesync', '/MICROSOFT-SERVER-ACTIVESYNC', '/Microsoft-Server-ActiveSync/'])(
    'matches %s case-insensitively',
    async (url) => {
      const res = await app.inject({ method: 'OPTIONS', url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['ms-asprotocolversions']).toContain('16.1');
    },
  );
});

describe('POST: query forms and dispatch', () => {
  it('dispatches a plain query with a WBXML body to its handler', async () => {
    seen = [];
    const res = await post(plainUrl('FolderSync'), {
      authorization: basic('alice', 'secret'),
      'ms-asprotocolversion': '14.1',
      'x-ms-policykey': '3942919513',
      'user-agent': 'Apple-iPhone9C1/1402.100',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.ms-sync.wbxml');
    const doc = decode(res.rawPayload);
    expect(doc.name).toBe('FolderSync');
    const ctx = seen[0];
    expect(ctx?.protocolVersion).toBe('14.1');
    expect(ctx?.policyKey).toBe(3942919513);
    expect(ctx?.line.deviceId).toBe('DEV1');
    expect(ctx?.userAgent).toBe('Apple-iPhone9C1/1402.100');
    expect(ctx?.body?.children[0]).toMatchObject({ name: 'SyncKey', value: '0' });
  });

  it('dispatches a base64 query, taking version and policy key from its bytes', async () => {
    seen = [];
    const q = encodeBase64Query({
      protocolVersion: '16.1',
      commandCode: 9,
      deviceId: 'B64DEV',
      deviceType: 'Android',
      policyKey: 77,
    });
    const res = await post(`/Microsoft-Server-ActiveSync?${q}`, { authorization: basic('alice', 'secret') });
    expect(res.statusCode).toBe(200);
    expect(seen[0]).toMatchObject({
      protocolVersion: '16.1',
      policyKey: 77,
      line: { form: 'base64', deviceId: 'B64DEV' },
    });
  });

  it('takes an empty Ping body (reuse of the cached request)', async () => {
    seen = [];
    const res = await post(
      plainUrl('Ping'),
      { authorization: basic('alice', 'secret'), 'ms-asprotocolversion': '14.0' },
      Buffer.alloc(0),
    );
    expect(res.statusCode).toBe(200);
    expect(seen[0]?.body).toBeUndefined();
  });

  it('passes a 12.x SendMail MIME body through untouched, with SaveInSent', async () => {
    seen = [];
    const mime = Buffer.from(
      'From: alice@example.com\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nhello\r\n',
    );
    const res = await app.inject({
      method: 'POST',
      url: plainUrl('SendMail', '&SaveInSent=T'),
      headers: {
        authorization: basic('alice', 'secret'),
        'ms-asprotocolversion': '12.1',
        'content-type': 'message/rfc822',
      },
      payload: mime,
    });
    expect(res.statusCode).toBe(200);
    expect(Buffer.from(seen[0]?.rawBody ?? []).equals(mime)).toBe(true);
    expect(seen[0]?.body).toBeUndefined();
    expect(seen[0]?.line.saveInSent).toBe(true);
  });

  it('reads MS-ASAcceptMultiPart on the plain form', async () => {
    seen = [];
    await post(plainUrl('FolderSync'), {
      authorization: basic('alice', 'secret'),
      'ms-asprotocolversion': '14.0',
      'ms-asacceptmultipart': 'T',
    });
    expect(seen[0]?.line.acceptMultiPart).toBe(true);
  });

  it.each([
    ['unknown command', plainUrl('Frobnicate'), { 'ms-asprotocolversion': '14.0' }, 400],
    ['known but not served', plainUrl('Settings'), { 'ms-asprotocolversion': '14.0' }, 501],
    ['missing version header', plainUrl('FolderSync'), {}, 400],
    ['unsupported version', plainUrl('FolderSync'), { 'ms-asprotocolversion': '2.5' }, 400],
    ['Find before 16.1', plainUrl('Find'), { 'ms-asprotocolversion': '16.0' }, 400],
    ['GetAttachment after 12.1', plainUrl('GetAttachment'), { 'ms-asprotocolversion': '14.0' }, 400],
    ['no query at all', '/Microsoft-Server-ActiveSync', { 'ms-asprotocolversion': '14.0' }, 400],
  ])('answers %s with the HTTP status it calls for', async (_name, url, headers, status) => {
    const res = await post(url, { authorization: basic('alice', 'secret'), ...headers });
    expect(res.statusCode).toBe(status);
    expect(res.body).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace on the wire
  });

  it('names the supported versions when refusing one', async () => {
    const res = await post(plainUrl('FolderSync'), {
      authorization: basic('alice', 'secret'),
      'ms-asprotocolversion': '2.5',
    });
    expect(res.headers['ms-asprotocolversions']).toBe('12.0,12.1,14.0,14.1,16.0,16.1');
  });
});

describe('malformed bodies', () => {
  const auth = { authorization: basic('alice', 'secret'), 'ms-asprotocolversion': '14.0' };
  it.each([
    ['truncated WBXML', Buffer.from([0x03, 0x01, 0x6a, 0x00, 0x00, 0x07, 0x56])],
    ['garbage', Buffer.from('this is not wbxml at all')],
    ['unbalanced END', Buffer.from([0x03, 0x01, 0x6a, 0x00, 0x00, 0x07, 0x16, 0x01, 0x01])],
    [
      'the wrong command document',
      Buffer.from(encode(el('Ping', 'Ping', el('Ping', 'HeartbeatInterval', '60')))),
    ],
  ])('answers %s with 400, never 500', async (_name, body) => {
    const res = await post(plainUrl('FolderSync'), auth, body);
    expect(res.statusCode).toBe(400);
  });

  it('refuses a missing body where one is required', async () => {
    const res = await post(plainUrl('FolderSync'), auth, Buffer.alloc(0));
    expect(res.statusCode).toBe(400);
  });

  it('refuses a body over the limit with 413', async () => {
    const res = await post(plainUrl('FolderSync'), auth, Buffer.alloc(70 * 1024, 1));
    expect(res.statusCode).toBe(413);
  });

  it('refuses an over-long query string', async () => {
    const res = await post(plainUrl('FolderSync', `&ItemId=${'a'.repeat(5000)}`), auth);
    expect(res.statusCode).toBe(400);
  });
});

describe('authentication', () => {
  const version = { 'ms-asprotocolversion': '14.0' };
  it.each([
    ['UTF-8 credentials', basic('jürgen', 'pässword', 'utf8')],
    ['ISO-8859-1 credentials', basic('jürgen', 'pässword', 'latin1')],
    ['DOMAIN\\user', basic('CORP\\bob', 'hunter2')],
    ['user@domain', basic('carol@example.com', 'pw')],
    ['lower-case scheme', basic('alice', 'secret').replace('Basic', 'basic')],
  ])('accepts %s', async (_name, authorization) => {
    const res = await post(plainUrl('FolderSync'), { authorization, ...version });
    expect(res.statusCode).toBe(200);
  });

  it.each([
    ['no Authorization header', undefined],
    ['wrong password', basic('alice', 'nope')],
    ['unknown user', basic('mallory', 'secret')],
    ['another scheme', 'Bearer abc'],
    ['no colon', 'Basic ' + Buffer.from('alice').toString('base64')],
  ])('answers %s with 401 and a Basic challenge', async (_name, authorization) => {
    const headers: Record<string, string> = { ...version };
    if (authorization !== undefined) headers['authorization'] = authorization;
    const res = await post(plainUrl('FolderSync'), headers);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm="/);
  });

  it('throttles a user after repeated failures, even with the right password, then tells when to retry', async () => {
    const url = '/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=carol&DeviceId=D&DeviceType=t';
    for (let i = 0; i < 3; i++) {
      const res = await post(url, { authorization: basic('carol@example.com', 'wrong'), ...version });
      expect(res.statusCode).toBe(401);
    }
    const res = await post(url, { authorization: basic('carol@example.com', 'pw'), ...version });
    expect(res.statusCode).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    // Other users from the same address are not locked out by carol's failures.
    const other = await post(plainUrl('FolderSync'), { authorization: basic('alice', 'secret'), ...version });
    expect(other.statusCode).toBe(200);
  });

  it('shares one backend login among concurrent requests with the same credentials', async () => {
    const calls: string[] = [];
    const slow = await buildServer<AccountInfo>({
      logger: false,
      authenticate: async (user, password) => {
        calls.push(`${user}:${password}`);
        await new Promise((r) => setTimeout(r, 50));
        return users.get(user) === password ? { user, email: user } : null;
      },
      handlers: { FolderSync: async () => ({}) },
    });
    const send = (authorization: string) =>
      slow.inject({
        method: 'POST',
        url: plainUrl('FolderSync'),
        headers: { authorization, ...version, 'content-type': 'application/vnd.ms-sync.wbxml' },
        payload: folderSyncBody,
      });
    const replies = await Promise.all([
      ...Array.from({ length: 8 }, () => send(basic('alice', 'secret'))),
      send(basic('alice', 'wrong')),
    ]);
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 401]);
    expect(calls.sort()).toEqual(['alice:secret', 'alice:wrong']);
    await slow.close();
  });

  it('throttles an address that tries many users', async () => {
    const small = await buildServer<AccountInfo>({
      logger: false,
      limits: { maxAuthFailuresPerAddress: 2 },
      authenticate: async (user, password) => (users.get(user) === password ? { user, email: user } : null),
      handlers: { FolderSync: async () => ({}) },
    });
    for (const user of ['u1', 'u2']) {
      const res = await small.inject({
        method: 'POST',
        url: plainUrl('FolderSync'),
        headers: { authorization: basic(user, 'x'), ...version },
        payload: folderSyncBody,
      });
      expect(res.statusCode).toBe(401);
    }
    const res = await small.inject({
      method: 'POST',
      url: plainUrl('FolderSync'),
      headers: {
        authorization: basic('alice', 'secret'),
        ...version,
        'content-type': 'application/vnd.ms-sync.wbxml',
      },
      payload: folderSyncBody,
    });
    expect(res.statusCode).toBe(503);
    await small.close();
  });
});

describe('gzip', () => {
  it('compresses a large response when the client accepts gzip', async () => {
    const res = await post(plainUrl('FolderSync'), {
      authorization: basic('alice', 'secret'),
      'ms-asprotocolversion': '14.0',
      'accept-encoding': 'gzip',
    });
    expect(res.headers['content-encoding']).toBe('gzip');
    const doc = decode(gunzipSync(res.rawPayload));
    expect(doc.children[1]?.value).toBe('x'.repeat(2000));
  });

  it('sends plain WBXML when the client does not ask for compression', async () => {
    const res = await post(plainUrl('FolderSync'), {
      authorization: basic('alice', 'secret'),
      'ms-asprotocolversion': '14.0',
    });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.rawPayload[0]).toBe(0x03);
  });
});

describe('debug trace', () => {
  it('hands the decoded request and response of a command to the trace hook', async () => {
    const traced: Array<{ who: string; direction: string; root: string }> = [];
    const app2 = await buildServer<AccountInfo>({
      logger: false,
      authenticate: async (user, password) => (users.get(user) === password ? { user, email: user } : null),
      handlers: {
        FolderSync: async () => ({
          body: el('FolderHierarchy', 'FolderSync', el('FolderHierarchy', 'Status', '1')),
        }),
      },
      trace: (who, direction, doc) =>
        traced.push({ who: `${who.user}/${who.deviceId}`, direction, root: doc.name }),
    });
    const res = await app2.inject({
      method: 'POST',
      url: plainUrl('FolderSync'),
      headers: {
        authorization: basic('alice', 'secret'),
        'ms-asprotocolversion': '14.0',
        'content-type': 'application/vnd.ms-sync.wbxml',
      },
      payload: folderSyncBody,
    });
    expect(res.statusCode).toBe(200);
    expect(traced).toEqual([
      { who: 'alice/DEV1', direction: 'request', root: 'FolderSync' },
      { who: 'alice/DEV1', direction: 'response', root: 'FolderSync' },
    ]);
    await app2.close();
  });
});
