// The metrics listener: GET /metrics in the Prometheus text format, on its own address
// (EASD_METRICS_LISTEN), never on the port phones use. With EASD_METRICS_TOKEN set, a scrape
// must send `Authorization: Bearer <token>`; config.ts refuses a non-loopback address without one.
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { EasdMetrics } from './index.js';

export interface MetricsServerOptions {
  metrics: EasdMetrics;
  token?: string;
}

export async function buildMetricsServer(opts: MetricsServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const expected = opts.token === undefined ? undefined : digest(opts.token);
  app.get('/metrics', async (req, reply) => {
    if (expected !== undefined) {
      const header = req.headers.authorization ?? '';
      const given = /^Bearer +(.+)$/i.exec(header)?.[1];
      // Compared as digests: equal length, constant time, nothing learnt from timing.
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        return reply
          .code(401)
          .header('WWW-Authenticate', 'Bearer realm="easd metrics"')
          .type('text/plain')
          .send('Bearer token required\n');
      }
    }
    return reply.type(opts.metrics.contentType).send(await opts.metrics.text());
  });
  app.setNotFoundHandler(async (_req, reply) => reply.code(404).type('text/plain').send('Not found\n'));
  return app;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
