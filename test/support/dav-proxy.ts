// A DAV server that schedules, made from the stack's Radicale (which does not): a loopback proxy
// that forwards every request and, as configured, adds `calendar-auto-schedule` to the DAV header
// (RFC 6638 §2) or answers a PROPFIND for the schedule outbox (§2.1.1) or a free-busy-query
// (RFC 4791 §7.10) itself. It records the requests, so a test can count the backend's questions and see its headers.
// It can also hide or freeze the collections' DAV:sync-token and CS:getctag in PROPFIND answers,
// to stand for a server that has neither, or one whose tag does not move.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SchedulingProxyOptions {
  /** Add `calendar-auto-schedule` to every DAV response header. */
  autoSchedule?: boolean;
  /** Answer a PROPFIND for CALDAV:schedule-outbox-URL with `<principal>outbox/`. */
  outbox?: boolean;
  /** Answer a free-busy-query REPORT (RFC 4791 §7.10) with this VCALENDAR, as servers that have it do. */
  freeBusy?: string;
  /** Answer this many free-busy-query REPORTs with 503 first (a server failing for a moment). */
  freeBusyFailures?: number;
  /**
   * PROPFIND answers without DAV:sync-token and CS:getctag (`strip`: a server that has neither),
   * or with both always `frozen` (`freeze`: a server whose tag does not move on a change).
   */
  collectionTags?: 'strip' | 'freeze';
  /** Refuse every sync-collection REPORT's token (403 DAV:valid-sync-token, RFC 6578 §3.2). */
  refuseSyncTokens?: boolean;
}

/** A DAV:sync-token or CS:getctag element, with any prefix, empty or with text. */
const TAG_ELEMENT = /<([\w.-]+:)?(sync-token|getctag)(\s[^>]*)?(\/>|>[^<]*<\/\1?\2\s*>)/g;

function rewriteTags(xml: string, mode: 'strip' | 'freeze'): string {
  return xml.replace(
    TAG_ELEMENT,
    (_all, prefix: string | undefined, name: string, attrs: string | undefined) =>
      mode === 'strip' ? '' : `<${prefix ?? ''}${name}${attrs ?? ''}>frozen</${prefix ?? ''}${name}>`,
  );
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface SchedulingProxy {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

// fetch decodes the body, so its encoding headers are not passed on
const HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'accept-encoding',
  'host',
]);

export async function startSchedulingProxy(
  target: string,
  opts: SchedulingProxyOptions,
): Promise<SchedulingProxy> {
  const seen: SeenRequest[] = [];
  let failures = opts.freeBusyFailures ?? 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      seen.push({ method: req.method ?? '', path, headers: req.headers, body });
      if (opts.outbox === true && req.method === 'PROPFIND' && body.includes('schedule-outbox-URL')) {
        res.writeHead(207, { 'Content-Type': 'application/xml; charset=utf-8' });
        res.end(
          `<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response><d:href>${path}</d:href><d:propstat><d:prop><c:schedule-outbox-URL><d:href>${path}outbox/</d:href></c:schedule-outbox-URL></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`,
        );
        return;
      }
      if (failures > 0 && req.method === 'REPORT' && body.includes('free-busy-query')) {
        failures--;
        res.writeHead(503);
        res.end();
        return;
      }
      if (opts.freeBusy !== undefined && req.method === 'REPORT' && body.includes('free-busy-query')) {
        res.writeHead(200, { 'Content-Type': 'text/calendar; charset=utf-8' });
        res.end(opts.freeBusy);
        return;
      }
      if (opts.refuseSyncTokens === true && req.method === 'REPORT' && body.includes('sync-collection')) {
        res.writeHead(403, { 'Content-Type': 'application/xml; charset=utf-8' });
        res.end(
          `<?xml version="1.0" encoding="utf-8"?><d:error xmlns:d="DAV:"><d:valid-sync-token/></d:error>`,
        );
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (!HOP.has(k) && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      fetch(new URL(path, target), {
        method: req.method ?? 'GET',
        headers,
        ...(chunks.length > 0 && { body }),
        redirect: 'manual',
      })
        .then(async (answer) => {
          const out: Record<string, string> = {};
          answer.headers.forEach((v, k) => {
            if (!HOP.has(k)) out[k] = v;
          });
          if (opts.autoSchedule === true && out.dav !== undefined)
            out.dav = `${out.dav}, calendar-auto-schedule`;
          res.writeHead(answer.status, out);
          const bytes = Buffer.from(await answer.arrayBuffer());
          if (opts.collectionTags !== undefined && req.method === 'PROPFIND')
            res.end(rewriteTags(bytes.toString('utf8'), opts.collectionTags));
          else res.end(bytes);
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
