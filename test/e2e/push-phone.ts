// A scripted phone for the Direct Push e2e tests (push-*.test.ts): provisioned, knows its folders
// by name, keeps each collection synced so a Ping has nothing old to report, and holds Pings.
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import type { TestUser } from '../stack/users.js';
import { EasTestClient, findAll, findText, type EasReply } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

export const mail = (subject: string): string =>
  `From: Alice <alice@easd.test>\r\nTo: dana@easd.test\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@easd.test>\r\n\r\nhello\r\n`;

/** A provisioned phone that knows its folders and keeps each collection synced. */
export class Phone {
  readonly client: EasTestClient;
  folders = new Map<string, string>();
  private keys = new Map<string, string>();

  constructor(app: FastifyInstance, user: TestUser, deviceId: string) {
    this.client = EasTestClient.inject(app, {
      user: user.user,
      password: user.password,
      deviceId,
      version: '14.1',
    });
  }

  async setUp(): Promise<void> {
    await this.client.provision();
    await this.folderSync();
  }

  async folderSync(): Promise<void> {
    const res = await this.client.command(
      'FolderSync',
      '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
    );
    this.folders = new Map(
      findAll(res.doc, 'Add').map((a) => [findText(a, 'DisplayName')!, findText(a, 'ServerId')!]),
    );
    this.keys.clear();
  }

  id(name: string): string {
    const id = this.folders.get(name);
    if (id === undefined) throw new Error(`no folder ${name}`);
    return id;
  }

  /** Syncs the collection until nothing is left, so a Ping on it has nothing to report. */
  async syncAll(name: string): Promise<void> {
    const id = this.id(name);
    let key = this.keys.get(id) ?? '0';
    for (let i = 0; i < 20; i++) {
      const res = await this.client.command(
        'Sync',
        `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${id}</CollectionId>${key === '0' ? '' : '<GetChanges/><WindowSize>100</WindowSize>'}</Collection></Collections></Sync>`,
      );
      if (res.raw.length === 0) break; // nothing new (empty Sync response, MS-ASCMD 2.2.1.21)
      key = findText(res.doc, 'SyncKey') ?? key;
      this.keys.set(id, key);
      if (findAll(res.doc, 'MoreAvailable').length === 0 && i > 0) break;
    }
  }

  ping(names: string[] | null, heartbeat = 300): Promise<EasReply> {
    const body =
      names === null
        ? undefined
        : `<Ping xmlns="Ping:"><HeartbeatInterval>${heartbeat}</HeartbeatInterval><Folders>${names
            .map((n) => `<Folder><Id>${this.id(n)}</Id><Class>Email</Class></Folder>`)
            .join('')}</Folders></Ping>`;
    return this.client.command('Ping', body);
  }
}

export const HELD = Symbol('held');
/** The reply if the request was answered within `ms`, else HELD. */
export async function within(p: Promise<EasReply>, ms: number): Promise<EasReply | typeof HELD> {
  return Promise.race([p, new Promise<typeof HELD>((r) => setTimeout(() => r(HELD), ms))]);
}

export async function pingStatus(
  reply: EasReply,
): Promise<{ status: string | undefined; folders: string[] }> {
  expect(reply.status).toBe(200);
  await validateEasResponse(reply.doc!, 'Ping');
  return {
    status: findText(reply.doc, 'Status'),
    folders: findAll(reply.doc, 'Folder').map((f) => String(f.value)),
  };
}
