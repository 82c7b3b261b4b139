// buildServer(): the Fastify instance that speaks MS-ASHTTP. It never listens by itself (main.ts
// does), so tests drive it with inject(). It knows nothing of backends or state: it receives an
// authenticate function, the command handlers and an optional gate (provisioning, device access).
import compress from '@fastify/compress';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { decode, encode, WbxmlError } from '../wbxml/index.js';
import type { WbxmlElement } from '../wbxml/tree.js';
import { findCommand, type CommandSpec } from './commands/table.js';
import {
  isProtocolVersion,
  protocolVersions,
  versionAtLeast,
  type CommandContext,
  type CommandHandler,
  type CommandName,
  type CommandResult,
} from './commands/types.js';
import { EasHttpError } from './errors.js';
import {
  AutodiscoverParseError,
  buildErrorResponse,
  buildMobileSyncResponse,
  mobileSyncResponseSchema,
  parseAutodiscoverRequest,
} from './http/autodiscover.js';
import { Authenticator, parseBasicAuth, type AuthenticateFn } from './http/auth.js';
import { parseRequestLine } from './http/query.js';
import { checkWebhookAuth, parseWebhookEvent, WebhookError, type WebhookEvent } from './http/webhook.js';
import { defaultServerLimits, type ServerLimits } from './limits.js';
import type { HeldRequests } from './admin/held.js';
import type { EasdMetrics } from './metrics/index.js';

export const easPath = '/Microsoft-Server-ActiveSync';
export const wbxmlContentType = 'application/vnd.ms-sync.wbxml';
/** Sent in MS-Server-ActiveSync; clients only log it. */
export const serverVersion = '16.1';

/** What easd knows of a signed-in user; backends' accounts carry at least this. */
export interface AccountInfo {
  user: string;
  email: string;
  displayName?: string;
}

/**
 * Runs before every command once the user is known: records the device, checks policy keys and
 * access rules. It returns a result to answer instead of running the command (e.g. Status 142),
 * throws an EasHttpError (449, 403), or returns undefined to go on.
 */
export type CommandGate<A> = (
  ctx: CommandContext<A>,
  spec: CommandSpec,
) => Promise<CommandResult | undefined>;

export interface ServerOptions<A extends AccountInfo> {
  authenticate: AuthenticateFn<A>;
  handlers: Partial<Record<CommandName, CommandHandler<A>>>;
  gate?: CommandGate<A>;
  limits?: Partial<ServerLimits>;
  publicUrl?: string;
  trustProxy?: boolean;
  /** A pino logger or `false`; tests pass `false`. */
  logger?: Logger | false;
  /** Called with each decoded request and response of a traced device (redacted XML). */
  trace?: (
    ctx: { user: string; deviceId: string },
    direction: 'request' | 'response',
    doc: WbxmlElement,
  ) => void;
  https?: { cert: Buffer; key: Buffer };
  /** The push webhook (POST /easd/push): enabled when a shared secret is configured. */
  webhook?: { secret: string; onEvent: (event: WebhookEvent) => Promise<void> };
  /** Counts requests by command, EAS Status and HTTP status (src/metrics). */
  metrics?: EasdMetrics;
  /** Told which Ping/Sync of a device is in flight, for held-request tracking (src/admin/held.ts). */
  held?: HeldRequests;
}

declare module 'fastify' {
  interface FastifyRequest {
    easLog?: {
      user?: string;
      deviceId?: string;
      command?: string;
      /** The response's top-level EAS Status. */
      easStatus?: string;
      /** Ping/Sync: the HeldRequests token, and whether the answer carried changes. */
      held?: number;
      changed?: boolean;
    };
  }
}

export async function buildServer<A extends AccountInfo>(opts: ServerOptions<A>): Promise<FastifyInstance> {
  const limits: ServerLimits = { ...defaultServerLimits, ...opts.limits };
  const app = Fastify({
    loggerInstance:
      opts.logger === false || opts.logger === undefined ? undefined : (opts.logger as FastifyBaseLogger),
    logger: opts.logger === false ? false : undefined,
    // One line per request is written in onResponse, with user, device and command.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.maxBodyBytes,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 256 },
    trustProxy: opts.trustProxy ?? false,
    // Held Pings/Syncs last up to an hour; Node's default 5-minute request timeout would cut them.
    requestTimeout: 0,
    ...(opts.https ? { https: opts.https } : {}),
  });

  // Ends every held request (Ping, Sync with Wait) at shutdown, before the socket closes.
  const requests = new RequestSignals();
  app.addHook('preClose', async () => requests.abortAll());

  const authenticator = new Authenticator<A>(opts.authenticate, limits);

  await app.register(compress, {
    global: true,
    threshold: 1024,
    encodings: ['gzip', 'deflate'],
    customTypes: /vnd\.ms-sync|xml/,
  });

  // EAS bodies are WBXML, MIME or XML, never JSON: take every body as raw bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('MS-Server-ActiveSync', serverVersion);
    reply.header('Cache-Control', 'private');
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const info = req.easLog;
    opts.metrics?.request({
      command: info?.command ?? '-',
      httpStatus: reply.statusCode,
      ...(info?.easStatus === undefined ? {} : { easStatus: info.easStatus }),
      seconds: reply.elapsedTime / 1000,
    });
    if (info === undefined) return;
    if (info.held !== undefined && info.user !== undefined && info.deviceId !== undefined)
      opts.held?.end(info.user, info.deviceId, info.held, info.changed === true);
    req.log.info(
      {
        user: info.user,
        device: info.deviceId,
        command: info.command,
        status: reply.statusCode,
        ...(info.easStatus === undefined ? {} : { easStatus: info.easStatus }),
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  app.setErrorHandler(async (err: unknown, req, reply) => {
    if (err instanceof EasHttpError) {
      // Before login succeeded, the name the client claimed (never the password): a "401 loop"
      // is found in the log by user name.
      const claimed = req.easLog?.user ?? parseBasicAuth(req.headers.authorization)?.user;
      // The store's own words (an SMTP reply, a certificate error) say why; BackendError messages
      // hold no secrets (src/backend/errors.ts). They are logged, never sent.
      const reason = err.cause instanceof Error ? err.cause.message : undefined;
      req.log.info(
        {
          code: err.code,
          detail: err.message,
          ...(reason ? { reason } : {}),
          ...(claimed ? { user: claimed } : {}),
        },
        'refused',
      );
      return sendError(reply, err);
    }
    const fst = err as { code?: string; statusCode?: number; message?: string };
    if (fst.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return sendError(reply, new EasHttpError('body-too-large'));
    if (typeof fst.statusCode === 'number' && fst.statusCode >= 400 && fst.statusCode < 500) {
      return reply
        .code(fst.statusCode)
        .type('text/plain')
        .send(`${fst.message ?? 'Bad request'}\n`);
    }
    // Never a stack trace on the wire; the log has it.
    req.log.error({ err }, 'unhandled error');
    return sendError(reply, new EasHttpError('internal'));
  });

  app.setNotFoundHandler(async (_req, reply) => sendError(reply, new EasHttpError('not-found')));

  // MS-ASHTTP 2.2.3: OPTIONS tells the client what versions and commands are served.
  const served = [...new Set(Object.keys(opts.handlers))].filter((n) => findCommand(n) !== undefined);
  app.options(easPath, async (_req, reply) => {
    reply.header('Allow', 'OPTIONS,POST');
    reply.header('Public', 'OPTIONS,POST');
    reply.header('MS-ASProtocolVersions', protocolVersions.join(','));
    reply.header('MS-ASProtocolCommands', served.join(','));
    return reply.code(200).send();
  });

  app.post(easPath, async (req, reply) => {
    // Credentials first: nothing about the request is examined for a client that has none.
    const signal = requests.signal(reply);
    const account = await authenticator.check(req.headers.authorization, req.ip, signal);
    req.easLog = { user: account.user };
    const rawQuery = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    if (rawQuery.length > limits.maxQueryLength)
      throw new EasHttpError('bad-request', 'Query string too long');
    const line = parseRequestLine(rawQuery);
    req.easLog = { user: account.user, deviceId: line.deviceId, command: line.command };

    const spec = findCommand(line.command);
    if (spec === undefined) throw new EasHttpError('unknown-command', `Unknown command ${line.command}`);
    req.easLog.command = spec.name;

    const version = line.protocolVersion ?? headerValue(req, 'ms-asprotocolversion');
    if (!isProtocolVersion(version)) {
      throw new EasHttpError(
        'unsupported-version',
        version === undefined
          ? 'Missing MS-ASProtocolVersion header'
          : `Unsupported protocol version ${version}`,
        { 'MS-ASProtocolVersions': protocolVersions.join(',') },
      );
    }

    if (
      !versionAtLeast(version, spec.minVersion) ||
      (spec.maxVersion && !versionAtLeast(spec.maxVersion, version))
    ) {
      throw new EasHttpError('unknown-command', `${spec.name} is not part of protocol ${version}`);
    }
    const handler = opts.handlers[spec.name];
    if (handler === undefined)
      throw new EasHttpError('not-implemented', `${spec.name} is not implemented yet`);

    const rawBody: Uint8Array = Buffer.isBuffer(req.body) ? req.body : new Uint8Array(0);
    const ctx: CommandContext<A> = {
      command: spec.name,
      line,
      protocolVersion: version,
      policyKey: line.policyKey ?? parsePolicyKey(headerValue(req, 'x-ms-policykey')),
      userAgent: headerValue(req, 'user-agent'),
      remoteAddress: req.ip,
      account,
      body: decodeBody(spec, rawBody, headerValue(req, 'content-type')),
      rawBody,
      contentType: headerValue(req, 'content-type'),
      signal,
      log: req.log as unknown as Logger,
    };
    if (line.form === 'plain') {
      ctx.line.acceptMultiPart = headerValue(req, 'ms-asacceptmultipart')?.toUpperCase() === 'T';
    }
    const traced = opts.trace;
    if (traced && ctx.body) traced({ user: account.user, deviceId: line.deviceId }, 'request', ctx.body);

    const log = req.easLog;
    if (opts.held !== undefined && (spec.name === 'Ping' || spec.name === 'Sync'))
      log.held = opts.held.begin(account.user, line.deviceId, spec.name);
    const answer = (result: CommandResult): FastifyReply => {
      const body = result.body !== undefined && isElement(result.body) ? result.body : undefined;
      if (body !== undefined) {
        if (traced) traced({ user: account.user, deviceId: line.deviceId }, 'response', body);
        const status = body.children.find((c) => c.name === 'Status')?.value;
        if (typeof status === 'string') log.easStatus = status;
      }
      // MS-ASCMD 2.2.3.177.11: Ping Status 2 = changes; a Sync with nothing new is empty (2.2.1.21).
      log.changed = spec.name === 'Ping' ? log.easStatus === '2' : body !== undefined;
      return sendResult(reply, result);
    };
    const gated = opts.gate ? await opts.gate(ctx, spec) : undefined;
    if (gated !== undefined) return answer(gated);
    // Chained, not awaited: a held Ping or Sync lasts up to an hour, and this frame would keep
    // ctx (the request body, raw and decoded) that long. The handler keeps what it needs.
    return handler(ctx).then(answer);
  });

  app.post('/autodiscover/autodiscover.xml', async (req, reply) => {
    const account = await authenticator.check(req.headers.authorization, req.ip, requests.signal(reply));
    req.easLog = { user: account.user, command: 'Autodiscover' };
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    reply.type('text/xml; charset=utf-8');
    if (body.length > limits.maxAutodiscoverBytes) {
      return reply.code(200).send(buildErrorResponse(600, 'Invalid Request'));
    }
    let request;
    try {
      request = parseAutodiscoverRequest(body.toString('utf8'));
    } catch (err) {
      if (!(err instanceof AutodiscoverParseError)) throw err;
      return reply.code(200).send(buildErrorResponse(600, 'Invalid Request'));
    }
    if (request.acceptableResponseSchema !== mobileSyncResponseSchema) {
      return reply
        .code(200)
        .send(buildErrorResponse(601, 'Provider is not available for the requested schema'));
    }
    const url = opts.publicUrl ?? `${req.protocol}://${req.host}${easPath}`;
    return reply.code(200).send(
      buildMobileSyncResponse({
        emailAddress: account.email || request.emailAddress || account.user,
        displayName: account.displayName,
        url: url.endsWith(easPath) ? url : url.replace(/\/$/, '') + easPath,
      }),
    );
  });

  const webhook = opts.webhook;
  if (webhook !== undefined) {
    // Dovecot's OX push driver sends PUT; other senders POST
    app.route({
      method: ['POST', 'PUT'],
      url: '/easd/push',
      handler: async (req, reply) => {
        try {
          checkWebhookAuth(req.headers.authorization, webhook.secret);
          const event = parseWebhookEvent(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
          req.easLog = { user: event.user, command: 'webhook' };
          await webhook.onEvent(event);
        } catch (err) {
          if (!(err instanceof WebhookError)) throw err;
          return reply.code(err.httpStatus).type('text/plain').send(`${err.message}\n`);
        }
        return reply.code(204).send();
      },
    });
  }

  return app;
}

function headerValue(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parsePolicyKey(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value.trim())) return undefined;
  const key = Number(value.trim());
  return key <= 0xffffffff ? key : undefined;
}

function isElement(body: CommandResult['body']): body is WbxmlElement {
  return body !== undefined && 'ns' in body;
}

/** MIME bodies (12.x SendMail) pass through; anything claiming to be WBXML must decode. */
function decodeBody(
  spec: CommandSpec,
  raw: Uint8Array,
  contentType: string | undefined,
): WbxmlElement | undefined {
  if (spec.body === 'none') return undefined;
  if (raw.length === 0) {
    if (spec.body === 'wbxml') throw new EasHttpError('bad-request', `${spec.name} needs a request body`);
    return undefined;
  }
  const isWbxml = contentType?.toLowerCase().startsWith(wbxmlContentType) === true || raw[0] === 0x03;
  if (spec.body === 'mime-or-wbxml' && !isWbxml) return undefined;
  try {
    const root = decode(raw);
    // The root element always carries the command's name (MS-ASCMD 2.2.1).
    if (root.name !== spec.name) {
      throw new EasHttpError('bad-request', `Body is a ${root.name} document, not ${spec.name}`);
    }
    return root;
  } catch (err) {
    if (err instanceof WbxmlError) {
      throw new EasHttpError('bad-wbxml', `Invalid WBXML at byte ${err.offset}: ${err.message}`);
    }
    throw err;
  }
}

/**
 * Each request's AbortSignal: it fires when the client goes away before its answer, or at
 * shutdown. One AbortController per request, kept in a Set until the response closes, rather than
 * AbortSignal.any([gone, shutdown]): the composite is a second AbortSignal plus weak references
 * registered in both sources, which a held Ping would carry for up to an hour (~1.5 KiB each).
 */
class RequestSignals {
  private readonly live = new Set<AbortController>();
  private closing = false;

  signal(reply: FastifyReply): AbortSignal {
    const controller = new AbortController();
    if (this.closing) {
      controller.abort();
      return controller.signal;
    }
    this.live.add(controller);
    // 'close' comes once per response; before the response finished, the client went away.
    reply.raw.on('close', () => {
      this.live.delete(controller);
      if (!reply.raw.writableFinished) controller.abort();
    });
    return controller.signal;
  }

  abortAll(): void {
    this.closing = true;
    for (const controller of this.live) controller.abort();
    this.live.clear();
  }
}

function sendError(reply: FastifyReply, err: EasHttpError): FastifyReply {
  for (const [name, value] of Object.entries(err.headers)) reply.header(name, value);
  return reply.code(err.httpStatus).type('text/plain; charset=utf-8').send(`${err.message}\n`);
}

function sendResult(reply: FastifyReply, result: CommandResult): FastifyReply {
  for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
  reply.code(result.httpStatus ?? 200);
  const body = result.body;
  if (body === undefined) return reply.send();
  if (isElement(body)) return reply.type(wbxmlContentType).send(Buffer.from(encode(body)));
  reply.type(body.contentType);
  if (body.data instanceof Uint8Array) return reply.send(Buffer.from(body.data));
  return reply.send(Readable.from(asBuffers(body.data)));
}

async function* asBuffers(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const c of chunks) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}
