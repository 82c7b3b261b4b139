// The phones of the Direct Push bench (bench/push.ts). One process holds at most ~19,000 sockets
// (the file limit here is 20,000) and one source address at most ~28,000 connections to one
// server port (the ephemeral port range), so bench/push.ts forks several of these, each with its
// own slice of devices and its own 127.0.0.x source address. Run as a child with an IPC channel:
//   parent → {cmd:'setup'}   the slice's devices provision, FolderSync and Sync their Contacts
//   child  → {setup:{seconds}}
//   parent → {cmd:'hold'}    one Ping per device, each on its own connection, held
//   child  → {sent:n}         once every Ping is written
//   parent → {cmd:'report'}  (after the server was stopped) → {answered:{early, atShutdown, failed}}
import { Agent, request } from 'node:http';
import { decode, encode, fromXml, type WbxmlElement } from '../wbxml/index.js';

export interface Reply {
  status: number;
  doc?: WbxmlElement;
}

export function text(doc: WbxmlElement | undefined, name: string): string | undefined {
  if (doc === undefined) return undefined;
  if (doc.name === name && typeof doc.value === 'string') return doc.value;
  for (const c of doc.children) {
    const t = text(c, name);
    if (t !== undefined) return t;
  }
  return undefined;
}

export class Phone {
  policyKey?: string;
  syncKey = '';
  /** The ServerId of the device's Contacts folder, once set up. */
  contacts = '';

  constructor(
    private readonly base: URL,
    readonly user: string,
    private readonly password: string,
    readonly deviceId: string,
    private readonly agent: Agent | false,
    private readonly localAddress?: string,
  ) {}

  send(cmd: string, xml?: string): Promise<Reply> {
    const body = xml === undefined ? undefined : Buffer.from(encode(fromXml(xml)));
    const q = new URLSearchParams({
      Cmd: cmd,
      User: this.user,
      DeviceId: this.deviceId,
      DeviceType: 'BenchPhone',
    });
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(`/Microsoft-Server-ActiveSync?${q}`, this.base),
        {
          method: 'POST',
          agent: this.agent,
          ...(this.localAddress === undefined ? {} : { localAddress: this.localAddress }),
          headers: {
            authorization: 'Basic ' + Buffer.from(`${this.user}:${this.password}`).toString('base64'),
            'content-type': 'application/vnd.ms-sync.wbxml',
            'ms-asprotocolversion': '16.1',
            ...(this.policyKey ? { 'x-ms-policykey': this.policyKey } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const buf = Buffer.concat(chunks);
            resolve({
              status: res.statusCode ?? 0,
              doc: buf.length > 0 && buf[0] === 3 ? decode(buf) : undefined,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Provision (both phases), FolderSync, and a first Sync of Contacts: what a Ping needs. */
  async setUp(): Promise<void> {
    const ask =
      '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>';
    const first = await this.send('Provision', ask);
    this.policyKey = text(first.doc, 'PolicyKey');
    const second = await this.send(
      'Provision',
      ask.replace('</PolicyType>', `</PolicyType><PolicyKey>${this.policyKey}</PolicyKey><Status>1</Status>`),
    );
    this.policyKey = text(second.doc, 'PolicyKey');
    const fs = await this.send(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    const walk = (e: WbxmlElement): void => {
      if (e.name === 'Add' && text(e, 'Type') === '9') this.contacts = text(e, 'ServerId') ?? '';
      e.children.forEach(walk);
    };
    if (fs.doc) walk(fs.doc);
    if (this.contacts === '') throw new Error(`no Contacts folder for ${this.deviceId} (HTTP ${fs.status})`);
    const init = await this.send(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>${this.contacts}</CollectionId></Collection></Collections></Sync>`,
    );
    this.syncKey = text(init.doc, 'SyncKey') ?? '';
  }

  ping(seconds: number): Promise<Reply> {
    return this.send(
      'Ping',
      `<Ping xmlns="Ping:"><HeartbeatInterval>${seconds}</HeartbeatInterval><Folders><Folder><Id>${this.contacts}</Id><Class>Contacts</Class></Folder></Folders></Ping>`,
    );
  }
}

export async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the parent passes in the environment (BENCH_PHONES, JSON). */
export interface PhonesConfig {
  base: string;
  password: string;
  /** Devices first..first+count-1, `devicesPerUser` per user (users bench0, bench1, …). */
  first: number;
  count: number;
  devicesPerUser: number;
  localAddress: string;
  intakeGapMs: number;
  setupWidth: number;
}

async function runPhones(cfg: PhonesConfig): Promise<void> {
  const send = (m: unknown): void => void process.send?.(m);
  const base = new URL(cfg.base);
  const agent = new Agent({ keepAlive: true, maxSockets: cfg.setupWidth });
  const phones = Array.from({ length: cfg.count }, (_, k) => {
    const i = cfg.first + k;
    return new Phone(
      base,
      `bench${Math.floor(i / cfg.devicesPerUser)}`,
      cfg.password,
      `BENCH${i}`,
      agent,
      cfg.localAddress,
    );
  });
  let stopping = false;
  const answered = { early: 0, atShutdown: 0, failed: 0 };
  /** Why Pings ended early or failed (status or error code → count), to tell what went wrong. */
  const reasons: Record<string, number> = {};
  const count = (why: string): void => void (reasons[why] = (reasons[why] ?? 0) + 1);
  const held: Promise<void>[] = [];
  process.on('message', (m: { cmd?: string }) => {
    if (m.cmd === 'setup') {
      const t0 = Date.now();
      pool(phones, cfg.setupWidth, (p) => p.setUp()).then(
        () => {
          agent.destroy();
          send({ setup: { seconds: (Date.now() - t0) / 1000 } });
        },
        (err: unknown) => send({ error: String(err) }),
      );
    } else if (m.cmd === 'hold') {
      void (async () => {
        for (const p of phones) {
          // Each Ping on a connection of its own (a phone's held request), from this process's
          // source address.
          const holder = new Phone(base, p.user, cfg.password, p.deviceId, false, cfg.localAddress);
          holder.policyKey = p.policyKey;
          holder.contacts = p.contacts;
          held.push(
            holder.ping(3000).then(
              (r) => {
                if (r.status !== 200) answered.failed++;
                else if (stopping) answered.atShutdown++;
                else answered.early++;
                if (!stopping) count(`HTTP ${r.status} Status ${text(r.doc, 'Status') ?? '-'}`);
              },
              (err: NodeJS.ErrnoException) => {
                answered.failed++;
                count(err.code ?? err.message);
              },
            ),
          );
          if (cfg.intakeGapMs > 0) await sleep(cfg.intakeGapMs);
        }
        send({ sent: phones.length });
      })();
    } else if (m.cmd === 'status') {
      send({ status: { ...answered, reasons } });
    } else if (m.cmd === 'stopping') {
      stopping = true;
    } else if (m.cmd === 'report') {
      void Promise.race([Promise.all(held), sleep(60_000)]).then(() => {
        send({ answered: { ...answered, reasons } });
        process.exit(0);
      });
    }
  });
  send({ ready: true });
}

const raw = process.env['BENCH_PHONES'];
if (raw !== undefined && process.send !== undefined) {
  runPhones(JSON.parse(raw) as PhonesConfig).catch((err: unknown) => {
    process.stderr.write(`bench phones: ${String(err)}\n`);
    process.exit(1);
  });
}
