import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type AccountInfo } from '../../src/server.js';

const auth = 'Basic ' + Buffer.from('alice:secret').toString('base64');
let app: FastifyInstance;

beforeAll(async () => {
  app = await buildServer<AccountInfo>({
    logger: false,
    authenticate: async (u, p) =>
      u === 'alice' && p === 'secret'
        ? { user: 'alice', email: 'alice@example.com', displayName: 'Alice Liddell' }
        : null,
    handlers: {},
    publicUrl: 'https://mail.example.com',
  });
});
afterAll(async () => app.close());

const request = (
  schema: string,
  email = 'alice@example.com',
): string => `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006">
  <Request>
    <EMailAddress>${email}</EMailAddress>
    <AcceptableResponseSchema>${schema}</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;
const mobileSync = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
const outlook = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';

const post = (url: string, body: string, authorization: string | null = auth) =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'text/xml', ...(authorization ? { authorization } : {}) },
    payload: body,
  });

describe('Autodiscover (MS-ASCMD 2.2.1.1)', () => {
  it.each([
    '/autodiscover/autodiscover.xml',
    '/Autodiscover/Autodiscover.xml',
    '/AUTODISCOVER/AUTODISCOVER.XML',
  ])('answers the mobilesync schema at %s with the EAS URL', async (url) => {
    const res = await post(url, request(mobileSync));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(res.body).toContain(`<Url>https://mail.example.com/Microsoft-Server-ActiveSync</Url>`);
    expect(res.body).toContain('<Type>MobileSync</Type>');
    expect(res.body).toContain('<EMailAddress>alice@example.com</EMailAddress>');
    expect(res.body).toContain('<DisplayName>Alice Liddell</DisplayName>');
    expect(res.body).toContain(`xmlns="${mobileSync}"`);
  });

  it('answers the Outlook schema with error 601 so Outlook falls back at once', async () => {
    const res = await post('/autodiscover/autodiscover.xml', request(outlook));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<ErrorCode>601</ErrorCode>');
  });

  it.each([
    ['not XML', 'hello'],
    ['another root', '<Foo/>'],
    ['unclosed', '<Autodiscover><Request>'],
  ])('answers %s with error 600', async (_name, body) => {
    const res = await post('/autodiscover/autodiscover.xml', body);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<ErrorCode>600</ErrorCode>');
  });

  it('refuses entity expansion (billion laughs) without expanding anything', async () => {
    const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006">
<Request><EMailAddress>&lol9;</EMailAddress><AcceptableResponseSchema>${mobileSync}</AcceptableResponseSchema></Request>
</Autodiscover>`;
    const res = await post('/autodiscover/autodiscover.xml', laughs);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<ErrorCode>600</ErrorCode>');
    expect(res.body.length).toBeLessThan(2000);
  });

  it('refuses an external entity (XXE)', async () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request><EMailAddress>&x;</EMailAddress><AcceptableResponseSchema>${mobileSync}</AcceptableResponseSchema></Request></Autodiscover>`;
    const res = await post('/autodiscover/autodiscover.xml', xxe);
    expect(res.body).not.toContain('root:');
    expect(res.body).toContain('<ErrorCode>600</ErrorCode>');
  });

  it('needs credentials', async () => {
    const res = await post('/autodiscover/autodiscover.xml', request(mobileSync), null);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic/);
  });

  it('refuses an oversized request document', async () => {
    const res = await post(
      '/autodiscover/autodiscover.xml',
      request(mobileSync, 'a'.repeat(70_000) + '@example.com'),
    );
    expect(res.body).toContain('<ErrorCode>600</ErrorCode>');
  });

  it('derives the URL from the request when no public URL is configured', async () => {
    const bare = await buildServer<AccountInfo>({
      logger: false,
      authenticate: async () => ({ user: 'alice', email: 'alice@example.com' }),
      handlers: {},
    });
    const res = await bare.inject({
      method: 'POST',
      url: '/autodiscover/autodiscover.xml',
      headers: { host: 'eas.example.org:8443', authorization: auth, 'content-type': 'text/xml' },
      payload: request(mobileSync),
    });
    expect(res.body).toContain('<Url>http://eas.example.org:8443/Microsoft-Server-ActiveSync</Url>');
    await bare.close();
  });
});
