// A scripted phone for the device flows (test/e2e/flows): it talks to a server over a real socket
// with the request sequences real clients send, remembers what a phone remembers (policy key,
// folder hierarchy, one SyncKey and the items of each collection), and checks every answer:
// each WBXML response validates against Microsoft's XSDs, and no Sync may Add an item the phone
// already holds or Change/Delete one it never got — so "nothing duplicated, nothing lost" is
// checked on every step, not only where a test asks.
//
// Profiles describe what differs between clients (MS-ASHTTP 2.2.1.1.1.1: DeviceType and the
// User-Agent are free text chosen by the client); the values follow what iOS Mail, Gmail and
// Samsung Email on Android, and Outlook mobile are reported to send.
import { el, encode, fromXml, type WbxmlElement } from '../../wbxml/index.js';
import { EasTestClient, findAll, findText, type EasReply } from './eas-client.js';
import { httpRequest } from './device-server.js';
import { validateEasResponse } from './schema.js';

export interface DeviceProfile {
  label: string;
  deviceType: string;
  userAgent: string;
  version: '12.1' | '14.0' | '14.1' | '16.0' | '16.1';
  /** The base64 query form (MS-ASHTTP 2.2.1.1.1.1.1) instead of Cmd=…&User=…. */
  base64: boolean;
  /** Settings:DeviceInformation sent inside Provision (14.1+ clients do) or as a Settings command. */
  deviceInformationIn: 'Provision' | 'Settings';
  model: string;
  os: string;
  /** WindowSize of mail Syncs. */
  windowSize: number;
  /** AirSyncBase:BodyPreference Type (1 text, 2 HTML) and TruncationSize for mail. */
  mailBody: { type: 1 | 2; truncation: number };
  /** Ping HeartbeatInterval, seconds. */
  heartbeat: number;
  /**
   * Only contacts, calendars and tasks (a desktop add-on next to the mail client's own IMAP):
   * the setup flow skips its mail steps, the client's own flow covers it.
   */
  pimOnly?: true;
  /**
   * The inner XML of a Sync's Options for a folder class, when the client sends more than a
   * BodyPreference (a FilterType, the Class element 14.x allows there).
   */
  options?: (cls: string) => string;
}

export const profiles = {
  /** iOS Mail: base64 query, 16.1, DeviceInformation in Provision, long heartbeats. */
  iPhone: {
    label: 'iOS Mail',
    deviceType: 'iPhone',
    userAgent: 'Apple-iPhone15C2/2104.120',
    version: '16.1',
    base64: true,
    deviceInformationIn: 'Provision',
    model: 'iPhone15C2',
    os: 'iOS 17.5 21F90',
    windowSize: 25,
    mailBody: { type: 2, truncation: 200_000 },
    heartbeat: 1680,
  },
  /** Gmail's Exchange support on Android: plain query, 14.1, a Settings command after Provision. */
  android: {
    label: 'Gmail (Android)',
    deviceType: 'Android',
    userAgent: 'Android-Mail/2024.05.12.633',
    version: '14.1',
    base64: false,
    deviceInformationIn: 'Settings',
    model: 'Pixel 7',
    os: 'Android 14',
    windowSize: 25,
    mailBody: { type: 2, truncation: 51_200 },
    heartbeat: 780,
  },
  /** Samsung Email: DeviceType is SAMSUNG plus the model, 14.1, text bodies. */
  samsung: {
    label: 'Samsung Email',
    deviceType: 'SAMSUNGSMS911B',
    userAgent: 'Android-SAMSUNG-SM-S911B/101.140102',
    version: '14.1',
    base64: false,
    deviceInformationIn: 'Settings',
    model: 'SM-S911B',
    os: 'Android 14',
    windowSize: 10,
    mailBody: { type: 1, truncation: 5120 },
    heartbeat: 470,
  },
  /** Outlook for iOS and Android: 16.1, DeviceType Outlook, short heartbeats (180 s). */
  outlook: {
    label: 'Outlook mobile',
    deviceType: 'Outlook',
    userAgent: 'Outlook-iOS-Android/1.0',
    version: '16.1',
    base64: false,
    deviceInformationIn: 'Provision',
    model: 'Outlook for Android',
    os: 'Android 14',
    windowSize: 50,
    mailBody: { type: 2, truncation: 32_768 },
    heartbeat: 180,
  },
  /**
   * Thunderbird with TbSync's "Provider for Exchange ActiveSync" (EAS-4-TbSync): contacts,
   * calendars and tasks only (mail stays on IMAP), EAS 14.0 (or 2.5), plain query, DeviceType
   * TbSync. It sends commands without a policy key until the server asks for one (142), sets
   * DeviceInformation with a Settings command before every FolderSync, never Pings (it syncs every
   * few minutes), asks GetItemEstimate with the Class in Options, and sends its own changes in a
   * Sync of their own without GetChanges or Options. WindowSize is its "maxitems", 50.
   */
  thunderbird: {
    label: 'Thunderbird (TbSync)',
    deviceType: 'TbSync',
    userAgent: 'Thunderbird ActiveSync',
    version: '14.0',
    base64: false,
    deviceInformationIn: 'Settings',
    model: 'Computer',
    os: 'Linux',
    windowSize: 50,
    mailBody: { type: 1, truncation: 0 },
    heartbeat: 0,
    pimOnly: true,
    // The calendar keeps 6 months back ("synclimit" 7); no TruncationSize: whole bodies.
    options: (cls) =>
      `${cls === 'Calendar' ? '<FilterType>7</FilterType>' : ''}<Class>${cls}</Class><BodyPreference xmlns="AirSyncBase:"><Type>1</Type></BodyPreference>`,
  },
} satisfies Record<string, DeviceProfile>;

/** The folder types of MS-ASCMD 2.2.3.186.3 the flows look up. */
export const FolderType = {
  Inbox: '2',
  Drafts: '3',
  Deleted: '4',
  Sent: '5',
  Outbox: '6',
  Tasks: '7',
  Calendar: '8',
  Contacts: '9',
  UserMail: '12',
  UserContacts: '14',
} as const;

export interface Folder {
  serverId: string;
  parentId: string;
  displayName: string;
  type: string;
}

export interface SyncResult {
  reply: EasReply;
  /** Collection Status (1 fine, 3 invalid key, 8 unknown folder, 12 hierarchy changed …). */
  status: string | undefined;
  adds: WbxmlElement[];
  changes: WbxmlElement[];
  deletes: string[];
  /** The Responses children: the outcome of each command the phone sent. */
  responses: WbxmlElement[];
  more: boolean;
}

export interface Collection {
  key: string;
  /** ServerId → the ApplicationData the phone holds. */
  items: Map<string, WbxmlElement>;
}

type Body = WbxmlElement | string | Buffer;

/** Thrown when a server answer breaks what a phone can live with (duplicate Add, unknown Delete). */
export class DeviceError extends Error {}

export class Device {
  readonly client: EasTestClient;
  readonly folders = new Map<string, Folder>();
  hierarchyKey = '0';
  readonly collections = new Map<string, Collection>();
  /** Every command this device sent, with the HTTP status and the top Status it got back. */
  readonly trace: Array<{ cmd: string; http: number; status?: string }> = [];

  constructor(
    /** The server's base URL; a function so a restarted server on a new port is followed. */
    private readonly server: () => string,
    readonly account: { user: string; password: string; email: string },
    readonly profile: DeviceProfile,
    readonly deviceId: string,
  ) {
    this.client = new EasTestClient((req) => httpRequest(this.server(), req, this.pendingSignal), {
      user: account.user,
      password: account.password,
      deviceId,
      deviceType: profile.deviceType,
      version: profile.version,
      userAgent: profile.userAgent,
      base64: profile.base64,
    });
  }

  private pendingSignal: AbortSignal | undefined;

  get policyKey(): number | undefined {
    return this.client.policyKey;
  }

  /**
   * Sends one command; a WBXML answer must validate against the command's response schema.
   * `signal` aborts the request (the phone loses its connection).
   */
  async send(
    cmd: string,
    body?: Body,
    extra: { signal?: AbortSignal; policyKey?: number | null; params?: Record<string, string> } = {},
  ): Promise<EasReply> {
    this.pendingSignal = extra.signal;
    let reply: EasReply;
    try {
      reply = await this.client.command(cmd, body, { policyKey: extra.policyKey, params: extra.params });
    } finally {
      this.pendingSignal = undefined;
    }
    if (reply.doc !== undefined) await validateEasResponse(reply.doc, cmd);
    this.trace.push({ cmd, http: reply.status, status: findText(reply.doc, 'Status') });
    return reply;
  }

  /** POST /autodiscover/autodiscover.xml with the mobilesync schema; the answer is validated. */
  async autodiscover(path = '/autodiscover/autodiscover.xml'): Promise<{ status: number; xml: string }> {
    const xml = `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request><EMailAddress>${this.account.email}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>`;
    const res = await httpRequest(this.server(), {
      method: 'POST',
      url: path,
      headers: {
        authorization: this.basicAuth(),
        'content-type': 'text/xml',
        'user-agent': this.profile.userAgent,
      },
      payload: Buffer.from(xml),
    });
    const text = res.body.toString('utf8');
    if (res.statusCode === 200) await validateEasResponse(text, 'Autodiscover');
    return { status: res.statusCode, xml: text };
  }

  /** OPTIONS: the versions and commands the server offers. */
  async options(): Promise<{ versions: string[]; commands: string[] }> {
    const res = await httpRequest(this.server(), {
      method: 'OPTIONS',
      url: '/Microsoft-Server-ActiveSync',
      headers: { authorization: this.basicAuth(), 'user-agent': this.profile.userAgent },
    });
    if (res.statusCode !== 200) throw new DeviceError(`OPTIONS answered ${res.statusCode}`);
    const list = (h: string | string[] | undefined): string[] => String(h ?? '').split(',');
    return {
      versions: list(res.headers['ms-asprotocolversions']),
      commands: list(res.headers['ms-asprotocolcommands']),
    };
  }

  basicAuth(): string {
    return 'Basic ' + Buffer.from(`${this.account.user}:${this.account.password}`).toString('base64');
  }

  private deviceInformation(): string {
    return `<DeviceInformation xmlns="Settings:"><Set><Model>${this.profile.model}</Model><FriendlyName>${this.profile.label}</FriendlyName><OS>${this.profile.os}</OS><OSLanguage>English</OSLanguage><UserAgent>${this.profile.userAgent}</UserAgent></Set></DeviceInformation>`;
  }

  /**
   * Both phases of Provision (MS-ASPROV 3.1.5.1): the policy, then the acknowledgement with the
   * temporary key. A pending wipe is acknowledged in the second phase instead (3.2.5.1.2).
   * Returns what the first answer asked for.
   */
  async provision(): Promise<{
    remoteWipe: boolean;
    accountOnlyRemoteWipe: boolean;
    policyKey: number;
    /** The first answer: the policy (EASProvisionDoc) or the wipe request. */
    first: EasReply;
  }> {
    const info = this.profile.deviceInformationIn === 'Provision' ? this.deviceInformation() : '';
    const first = await this.send(
      'Provision',
      `<Provision xmlns="Provision:">${info}<Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>`,
      { policyKey: null },
    );
    if (first.status !== 200 || findText(first.doc, 'Status') !== '1')
      throw new DeviceError(
        `Provision answered HTTP ${first.status}, Status ${findText(first.doc, 'Status')}`,
      );
    const remoteWipe = findAll(first.doc, 'RemoteWipe').length > 0;
    const accountOnlyRemoteWipe = findAll(first.doc, 'AccountOnlyRemoteWipe').length > 0;
    if (remoteWipe || accountOnlyRemoteWipe) {
      // The phone wipes itself (or the account), then says so.
      const ack = remoteWipe
        ? '<RemoteWipe><Status>1</Status></RemoteWipe>'
        : '<AccountOnlyRemoteWipe><Status>1</Status></AccountOnlyRemoteWipe>';
      const done = await this.send('Provision', `<Provision xmlns="Provision:">${ack}</Provision>`, {
        policyKey: null,
      });
      if (done.status !== 200) throw new DeviceError(`wipe acknowledgement answered ${done.status}`);
      this.forget();
      return { remoteWipe, accountOnlyRemoteWipe, policyKey: 0, first };
    }
    const temp = Number(findText(first.doc, 'PolicyKey'));
    const second = await this.send(
      'Provision',
      `<Provision xmlns="Provision:"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>${temp}</PolicyKey><Status>1</Status></Policy></Policies></Provision>`,
      { policyKey: temp },
    );
    const key = Number(findText(second.doc, 'PolicyKey'));
    if (!Number.isInteger(key) || key === 0) throw new DeviceError('the acknowledgement gave no policy key');
    this.client.policyKey = key;
    return { remoteWipe, accountOnlyRemoteWipe, policyKey: key, first };
  }

  /** What a wiped phone keeps: nothing. */
  forget(): void {
    this.client.policyKey = undefined;
    this.folders.clear();
    this.collections.clear();
    this.hierarchyKey = '0';
  }

  /** Settings with DeviceInformation (MS-ASCMD 2.2.1.18), as Android clients send after Provision. */
  async settings(): Promise<EasReply> {
    return this.send('Settings', `<Settings xmlns="Settings:">${this.deviceInformation()}</Settings>`);
  }

  /**
   * FolderSync from the key the phone holds, applied to its hierarchy. On Status 9 (invalid key,
   * MS-ASCMD 2.2.3.177.5) the phone starts over from 0, forgetting every collection, as the spec
   * asks; the status it first met is returned.
   */
  async folderSync(): Promise<{ status: string | undefined; reply: EasReply }> {
    const reply = await this.send(
      'FolderSync',
      `<FolderSync xmlns="FolderHierarchy:"><SyncKey>${this.hierarchyKey}</SyncKey></FolderSync>`,
    );
    const status = findText(reply.doc, 'Status');
    if (status === '9') {
      this.folders.clear();
      this.collections.clear();
      this.hierarchyKey = '0';
      await this.folderSync();
      return { status, reply };
    }
    if (status !== '1') return { status, reply };
    if (this.hierarchyKey === '0') this.folders.clear();
    this.hierarchyKey = findText(reply.doc, 'SyncKey')!;
    for (const kind of ['Add', 'Update'] as const) {
      for (const f of findAll(reply.doc, kind)) {
        const serverId = findText(f, 'ServerId')!;
        if (kind === 'Add' && this.folders.has(serverId))
          throw new DeviceError(`FolderSync added folder ${serverId} twice`);
        this.folders.set(serverId, {
          serverId,
          parentId: findText(f, 'ParentId') ?? '0',
          displayName: findText(f, 'DisplayName') ?? '',
          type: findText(f, 'Type') ?? '',
        });
      }
    }
    for (const d of findAll(reply.doc, 'Delete')) {
      const serverId = findText(d, 'ServerId')!;
      this.folders.delete(serverId);
      this.collections.delete(serverId);
    }
    return { status, reply };
  }

  /** The ServerId of the folder of this type (the first, for user folders). */
  folder(type: string): string {
    for (const f of this.folders.values()) if (f.type === type) return f.serverId;
    throw new DeviceError(`no folder of type ${type} in ${JSON.stringify([...this.folders.values()])}`);
  }

  folderNamed(name: string): string | undefined {
    for (const f of this.folders.values()) if (f.displayName === name) return f.serverId;
    return undefined;
  }

  /** What to ask for per folder class, as the phone sets it up (MS-ASCMD 2.2.3.115 Options). */
  private syncOptions(collectionId: string): string {
    if (this.profile.options !== undefined)
      return `<Options>${this.profile.options(this.classOf(collectionId))}</Options>`;
    const type = this.folders.get(collectionId)?.type;
    const mail = !['7', '8', '9', '13', '14', '15'].includes(type ?? '');
    const body = mail
      ? `<BodyPreference xmlns="AirSyncBase:"><Type>${this.profile.mailBody.type}</Type><TruncationSize>${this.profile.mailBody.truncation}</TruncationSize></BodyPreference>`
      : '<BodyPreference xmlns="AirSyncBase:"><Type>1</Type><TruncationSize>32768</TruncationSize></BodyPreference>';
    return `<Options>${body}</Options>`;
  }

  collection(collectionId: string): Collection {
    let c = this.collections.get(collectionId);
    if (c === undefined) {
      c = { key: '0', items: new Map() };
      this.collections.set(collectionId, c);
    }
    return c;
  }

  /**
   * One Sync of one collection from the key the phone holds. `commands` is the inner XML of
   * <Commands>. With `lose` the answer is dropped on the floor as a broken connection would (the
   * phone keeps its key and items, and repeats the request). Status 3 makes the phone forget the
   * collection (MS-ASCMD 2.2.3.177.17: start over with SyncKey 0). With `upload` the request
   * carries only the key and the commands (no GetChanges, WindowSize or Options), as TbSync sends
   * its own changes.
   */
  async sync(
    collectionId: string,
    opts: {
      commands?: string;
      lose?: boolean;
      windowSize?: number;
      signal?: AbortSignal;
      upload?: boolean;
    } = {},
  ): Promise<SyncResult> {
    const c = this.collection(collectionId);
    const initial = c.key === '0';
    const windowSize = opts.windowSize ?? this.profile.windowSize;
    const inner = initial
      ? `<SyncKey>0</SyncKey><CollectionId>${collectionId}</CollectionId>`
      : opts.upload === true
        ? `<SyncKey>${c.key}</SyncKey><CollectionId>${collectionId}</CollectionId><Commands>${opts.commands ?? ''}</Commands>`
        : `<SyncKey>${c.key}</SyncKey><CollectionId>${collectionId}</CollectionId><DeletesAsMoves>1</DeletesAsMoves><GetChanges>1</GetChanges><WindowSize>${windowSize}</WindowSize>${this.syncOptions(collectionId)}${opts.commands === undefined ? '' : `<Commands>${opts.commands}</Commands>`}`;
    const reply = await this.send(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection>${inner}</Collection></Collections></Sync>`,
      { signal: opts.signal },
    );
    // MS-ASCMD 2.2.1.21: an empty answer means nothing changed; the phone keeps its key.
    if (reply.status === 200 && reply.doc === undefined)
      return { reply, status: '1', adds: [], changes: [], deletes: [], responses: [], more: false };
    const collection = findAll(reply.doc, 'Collection')[0];
    const result: SyncResult = {
      reply,
      status: findText(collection, 'Status') ?? findText(reply.doc, 'Status'),
      adds: [],
      changes: [],
      deletes: [],
      responses: findAll(collection, 'Responses').flatMap((r) => r.children),
      more: findAll(collection, 'MoreAvailable').length > 0,
    };
    const commands = findAll(collection, 'Commands')[0];
    for (const command of commands?.children ?? []) {
      if (command.name === 'Add') result.adds.push(command);
      else if (command.name === 'Change') result.changes.push(command);
      else if (command.name === 'Delete' || command.name === 'SoftDelete')
        result.deletes.push(findText(command, 'ServerId')!);
    }
    if (opts.lose) return result;
    if (result.status === '3') {
      this.collections.delete(collectionId);
      return result;
    }
    if (result.status !== '1' || reply.doc === undefined) return result;
    c.key = findText(collection, 'SyncKey') ?? c.key;
    // What the phone did itself is already in its store.
    const ownAdds = new Map<string, WbxmlElement>();
    if (opts.commands !== undefined) {
      for (const own of fromXml(`<Commands xmlns="AirSync:">${opts.commands}</Commands>`).children) {
        const clientId = findText(own, 'ClientId');
        if (own.name === 'Add' && clientId !== undefined) ownAdds.set(clientId, appData(own));
        const id = findText(own, 'ServerId');
        if (id === undefined) continue;
        if (own.name === 'Delete') c.items.delete(id);
        else if (own.name === 'Change' && c.items.has(id))
          c.items.set(id, mergeAppData(c.items.get(id)!, appData(own)));
      }
    }
    for (const add of result.adds) {
      const id = findText(add, 'ServerId')!;
      if (c.items.has(id)) throw new DeviceError(`Sync added ${id} to ${collectionId} twice`);
      c.items.set(id, appData(add));
    }
    for (const change of result.changes) {
      const id = findText(change, 'ServerId')!;
      if (!c.items.has(id)) throw new DeviceError(`Sync changed ${id} in ${collectionId}, never added`);
      c.items.set(id, mergeAppData(c.items.get(id)!, appData(change)));
    }
    for (const id of result.deletes) {
      if (!c.items.delete(id)) throw new DeviceError(`Sync deleted ${id} from ${collectionId}, never added`);
    }
    for (const r of result.responses) {
      const serverId = findText(r, 'ServerId');
      if (r.name === 'Add' && findText(r, 'Status') === '1' && serverId !== undefined) {
        if (c.items.has(serverId)) throw new DeviceError(`the server gave ${serverId} to two Adds`);
        c.items.set(serverId, ownAdds.get(findText(r, 'ClientId') ?? '') ?? el('AirSync', 'ApplicationData'));
      }
    }
    return result;
  }

  /** Sync until nothing more is available (the initial key-0 Sync first when needed). */
  async syncAll(collectionId: string, windowSize?: number): Promise<SyncResult[]> {
    const results: SyncResult[] = [];
    if (this.collection(collectionId).key === '0') {
      const init = await this.sync(collectionId);
      if (init.status !== '1')
        throw new DeviceError(`initial Sync of ${collectionId}: Status ${init.status}`);
    }
    for (let i = 0; i < 1000; i++) {
      const r = await this.sync(collectionId, { windowSize });
      results.push(r);
      if (r.status !== '1') throw new DeviceError(`Sync of ${collectionId}: Status ${r.status}`);
      if (!r.more) break;
    }
    return results;
  }

  /**
   * GetItemEstimate (MS-ASCMD 2.2.1.9) for a collection the phone has a key for, as Samsung
   * Email and others ask between Syncs; the Estimate, or undefined with the Status otherwise.
   */
  async estimate(collectionId: string): Promise<{ status: string | undefined; estimate?: number }> {
    const reply = await this.send(
      'GetItemEstimate',
      `<GetItemEstimate xmlns="GetItemEstimate:"><Collections><Collection><SyncKey xmlns="AirSync:">${this.collection(collectionId).key}</SyncKey><CollectionId>${collectionId}</CollectionId><Options xmlns="AirSync:"><FilterType>0</FilterType></Options></Collection></Collections></GetItemEstimate>`,
    );
    const estimate = findText(reply.doc, 'Estimate');
    return {
      status: findText(reply.doc, 'Status'),
      estimate: estimate === undefined ? undefined : Number(estimate),
    };
  }

  /** The item the phone holds whose `field` (Subject, FileAs, UID …) has this value. */
  find(
    collectionId: string,
    field: string,
    value: string,
  ): { serverId: string; data: WbxmlElement } | undefined {
    for (const [serverId, data] of this.collection(collectionId).items)
      if (findText(data, field) === value) return { serverId, data };
    return undefined;
  }

  /**
   * MoveItems (MS-ASCMD 2.2.1.12) of one item; on Status 3 the phone moves it in its own store
   * at once, under the new id, as clients do.
   */
  async moveItem(srcFolder: string, serverId: string, dstFolder: string) {
    const reply = await this.send(
      'MoveItems',
      `<MoveItems xmlns="Move:"><Move><SrcMsgId>${serverId}</SrcMsgId><SrcFldId>${srcFolder}</SrcFldId><DstFldId>${dstFolder}</DstFldId></Move></MoveItems>`,
    );
    const status = findText(reply.doc, 'Status');
    const dstId = findText(reply.doc, 'DstMsgId');
    if (status === '3' && dstId !== undefined) {
      const data = this.collection(srcFolder).items.get(serverId);
      this.collection(srcFolder).items.delete(serverId);
      const dst = this.collection(dstFolder);
      if (dst.key !== '0' && data !== undefined) dst.items.set(dstId, data);
    }
    return { status, dstId, reply };
  }

  /** Ping (MS-ASCMD 2.2.1.13) on these collections; resolves when the server answers. */
  async ping(collectionIds: string[], opts: { signal?: AbortSignal; heartbeat?: number } = {}) {
    const folders = collectionIds
      .map((id) => `<Folder><Id>${id}</Id><Class>${this.classOf(id)}</Class></Folder>`)
      .join('');
    const reply = await this.send(
      'Ping',
      `<Ping xmlns="Ping:"><HeartbeatInterval>${opts.heartbeat ?? this.profile.heartbeat}</HeartbeatInterval><Folders>${folders}</Folders></Ping>`,
      { signal: opts.signal },
    );
    const changed = findAll(reply.doc, 'Folder')
      .map((f) => (typeof f.value === 'string' ? f.value : undefined))
      .filter((f): f is string => f !== undefined);
    return { status: findText(reply.doc, 'Status'), changed, reply };
  }

  classOf(collectionId: string): string {
    const type = this.folders.get(collectionId)?.type;
    if (type === '7' || type === '15') return 'Tasks';
    if (type === '8' || type === '13') return 'Calendar';
    if (type === '9' || type === '14') return 'Contacts';
    return 'Email';
  }

  /** A ComposeMail command (SendMail, SmartReply, SmartForward) with the MIME as OPAQUE bytes. */
  async compose(
    cmd: 'SendMail' | 'SmartReply' | 'SmartForward',
    mime: string,
    source?: { folderId: string; itemId: string },
  ): Promise<EasReply> {
    const body = el(
      'ComposeMail',
      cmd,
      // MS-ASCMD 2.2.3.28.1: at most 40 characters, unique per message.
      el('ComposeMail', 'ClientId', `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 12)}`),
      source !== undefined &&
        el(
          'ComposeMail',
          'Source',
          el('ComposeMail', 'FolderId', source.folderId),
          el('ComposeMail', 'ItemId', source.itemId),
        ),
      el('ComposeMail', 'SaveInSentItems'),
      el('ComposeMail', 'Mime', new Uint8Array(Buffer.from(mime))),
    );
    return this.send(cmd, Buffer.from(encode(body)));
  }
}

function appData(command: WbxmlElement): WbxmlElement {
  return command.children.find((c) => c.name === 'ApplicationData') ?? el('AirSync', 'ApplicationData');
}

/** A Change carries only what changed (flags, read state …); the phone keeps the rest. */
function mergeAppData(held: WbxmlElement, change: WbxmlElement): WbxmlElement {
  const names = new Set(change.children.map((c) => c.name));
  return { ...held, children: [...held.children.filter((c) => !names.has(c.name)), ...change.children] };
}

/** Parses a request written as XML, for tests that send raw requests. */
export function xml(text: string): WbxmlElement {
  return fromXml(text);
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
