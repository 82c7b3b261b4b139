// A request refused because the store failed (503, 401) is logged with the store's own reason, so
// an admin sees why; the client gets only the catalogue text and Retry-After.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackendError } from '../../src/backend/errors.js';
import { httpErrorFor } from '../../src/backend/status.js';
import { buildServer, type AccountInfo } from '../../src/server.js';

const logs: Record<string, unknown>[] = [];
let app: FastifyInstance;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  app = await buildServer<AccountInfo>({
    logger: pino({ level: 'info' }, sink),
    authenticate: async (user) => ({ user, email: `${user}@example.com`, displayName: user }),
    handlers: {
      SendMail: async () => {
        throw httpErrorFor(
          new BackendError('unavailable', 'SMTP submission refused: 421 4.3.2 Service shutting down', {
            retryAfter: 60,
          }),
        );
      },
    },
  });
});
afterAll(async () => app.close());

it("logs the store's reason with a 503, and keeps it off the wire", async () => {
  const res = await app.inject({
    method: 'POST',
    url: '/Microsoft-Server-ActiveSync?Cmd=SendMail&User=alice&DeviceId=D1&DeviceType=Phone&SaveInSent=T',
    headers: {
      authorization: 'Basic ' + Buffer.from('alice:pw').toString('base64'),
      'ms-asprotocolversion': '12.1',
      'content-type': 'message/rfc822',
    },
    payload: 'Subject: hi\r\n\r\nhello\r\n',
  });
  expect(res.statusCode).toBe(503);
  expect(res.headers['retry-after']).toBe('60');
  expect(res.body).not.toContain('421');
  const refused = logs.find((l) => l['msg'] === 'refused');
  expect(refused).toMatchObject({
    code: 'backend-unavailable',
    reason: 'SMTP submission refused: 421 4.3.2 Service shutting down',
  });
});
