// A small scripted EAS client for tests: sends real WBXML bytes to a server (in-process through
// inject(), or over a socket) and decodes what comes back. Requests can be written as trees or
// as XML in the form device traces use.
import type { FastifyInstance } from 'fastify';
import { decode, encode, fromXml, type WbxmlElement } from '../../wbxml/index.js';
import { encodeBase64Query } from '../../src/http/query.js';

export interface EasReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The decoded WBXML body, when there is one. */
  doc?: WbxmlElement;
  raw: Buffer;
}

export interface ClientOptions {
  user: string;
  password: string;
  deviceId: string;
  deviceType?: string;
  version?: string;
  userAgent?: string;
  /** Send the base64 query form instead of the plain one. */
  base64?: boolean;
}

export class EasTestClient {
  policyKey: number | undefined;

  constructor(
    private readonly send: (req: {
      method: string;
      url: string;
      headers: Record<string, string>;
      payload?: Buffer;
    }) => Promise<{
      statusCode: number;
      headers: Record<string, string | string[] | undefined>;
      body: Buffer;
    }>,
    readonly opts: ClientOptions,
  ) {}

  static inject(app: FastifyInstance, opts: ClientOptions): EasTestClient {
    return new EasTestClient(async (req) => {
      const res = await app.inject({
        method: req.method as 'POST',
        url: req.url,
        headers: req.headers,
        payload: req.payload,
      });
      return {
        statusCode: res.statusCode,
        headers: res.headers as Record<string, string | string[] | undefined>,
        body: res.rawPayload,
      };
    }, opts);
  }

  get version(): string {
    return this.opts.version ?? '16.1';
  }

  /** Sends a command; `body` is a tree, an XML string, raw bytes, or nothing. */
  async command(
    cmd: string,
    body?: WbxmlElement | string | Buffer,
    extra: {
      params?: Record<string, string>;
      headers?: Record<string, string>;
      policyKey?: number | null;
    } = {},
  ): Promise<EasReply> {
    const payload =
      body === undefined
        ? undefined
        : Buffer.isBuffer(body)
          ? body
          : Buffer.from(encode(typeof body === 'string' ? fromXml(body) : body));
    const policyKey = extra.policyKey === null ? undefined : (extra.policyKey ?? this.policyKey);
    const headers: Record<string, string> = {
      authorization: 'Basic ' + Buffer.from(`${this.opts.user}:${this.opts.password}`).toString('base64'),
      'content-type': 'application/vnd.ms-sync.wbxml',
      'user-agent': this.opts.userAgent ?? 'easd-test/1.0',
      ...extra.headers,
    };
    let url: string;
    if (this.opts.base64) {
      const codes: Record<string, number> = {
        Sync: 0,
        SendMail: 1,
        SmartForward: 2,
        SmartReply: 3,
        FolderSync: 9,
        FolderCreate: 10,
        FolderDelete: 11,
        FolderUpdate: 12,
        MoveItems: 13,
        GetItemEstimate: 14,
        MeetingResponse: 15,
        Search: 16,
        Settings: 17,
        Ping: 18,
        ItemOperations: 19,
        Provision: 20,
        ResolveRecipients: 21,
        ValidateCert: 22,
        Find: 23,
      };
      url = `/Microsoft-Server-ActiveSync?${encodeBase64Query({ protocolVersion: this.version, commandCode: codes[cmd] ?? 99, deviceId: this.opts.deviceId, deviceType: this.opts.deviceType ?? 'TestPhone', policyKey })}`;
    } else {
      const q = new URLSearchParams({
        Cmd: cmd,
        User: this.opts.user,
        DeviceId: this.opts.deviceId,
        DeviceType: this.opts.deviceType ?? 'TestPhone',
        ...extra.params,
      });
      url = `/Microsoft-Server-ActiveSync?${q.toString()}`;
      headers['ms-asprotocolversion'] = this.version;
      if (policyKey !== undefined) headers['x-ms-policykey'] = String(policyKey);
    }
    const res = await this.send({ method: 'POST', url, headers, payload });
    const isWbxml =
      String(res.headers['content-type'] ?? '').startsWith('application/vnd.ms-sync.wbxml') &&
      res.body.length > 0;
    return {
      status: res.statusCode,
      headers: res.headers,
      doc: isWbxml ? decode(res.body) : undefined,
      raw: res.body,
    };
  }

  /** Both phases of Provision; keeps the final policy key for later requests. */
  async provision(): Promise<number> {
    const ask = `<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>`;
    const first = await this.command('Provision', ask, { policyKey: null });
    const temp = Number(findText(first.doc, 'PolicyKey'));
    const ack = `<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>${temp}</PolicyKey><Status>1</Status></Policy></Policies></Provision>`;
    const second = await this.command('Provision', ack, { policyKey: temp });
    this.policyKey = Number(findText(second.doc, 'PolicyKey'));
    return this.policyKey;
  }
}

/** The text of the first element with this name, depth first. */
export function findText(doc: WbxmlElement | undefined, name: string): string | undefined {
  const found = findAll(doc, name)[0];
  return typeof found?.value === 'string' ? found.value : undefined;
}

export function findAll(doc: WbxmlElement | undefined, name: string): WbxmlElement[] {
  if (doc === undefined) return [];
  const out: WbxmlElement[] = [];
  const walk = (e: WbxmlElement): void => {
    if (e.name === name) out.push(e);
    e.children.forEach(walk);
  };
  walk(doc);
  return out;
}
