// Helpers shared by the calendar e2e files: what a user's collections hold on the stack's Radicale,
// and a provisioned phone synced up to date on one folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { openEasd, type Easd } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { WbxmlElement } from '../../wbxml/index.js';
import type { TestStack } from '../stack/types.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

/**
 * easd on the stack's Dovecot and Radicale for calendars (or `caldavUrl`, a proxy in front of it;
 * contacts too with `carddav`, and its SMTP receiver with `smtp`; more settings in `env`), in a
 * fresh data directory.
 */
export async function openStackEasd(
  stack: TestStack,
  opts: { smtp?: boolean; carddav?: boolean; caldavUrl?: string; env?: Record<string, string> } = {},
): Promise<{ easd: Easd; close(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'easd-cal-'));
  const easd = await openEasd(
    loadConfig({
      EASD_DATA_DIR: dataDir,
      EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
      ...(opts.smtp === true && { EASD_SMTP_URL: `smtp://${stack.smtp.host}:${stack.smtp.port}` }),
      EASD_CALDAV_URL: opts.caldavUrl ?? stack.dav.url,
      ...(opts.carddav === true && { EASD_CARDDAV_URL: stack.dav.url }),
      ...opts.env,
    }),
    pino({ level: 'silent' }),
  );
  return {
    easd,
    close: async () => {
      await easd.app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** RFC 5545 3.1: content lines unfolded, so a test can look for one property. */
export const unfold = (text: string): string => text.replace(/\r?\n[ \t]/g, '');

/** Every calendar object in the user's collections on Radicale, unfolded, by href. */
export async function davObjects(
  davUrl: string,
  user: { user: string; password: string },
): Promise<Map<string, string>> {
  const authorization = 'Basic ' + Buffer.from(`${user.user}:${user.password}`).toString('base64');
  const hrefsIn = async (url: string): Promise<string[]> => {
    const res = await fetch(url, { method: 'PROPFIND', headers: { authorization, depth: '1' } });
    return [...(await res.text()).matchAll(/<(?:[A-Za-z]+:)?href>([^<]+)<\//g)].map((m) => m[1]!);
  };
  const out = new Map<string, string>();
  for (const collection of await hrefsIn(`${davUrl}${user.user}/`)) {
    if (!collection.endsWith('/')) continue;
    for (const h of await hrefsIn(new URL(collection, davUrl).toString())) {
      if (!h.endsWith('.ics')) continue;
      const res = await fetch(new URL(h, davUrl), { headers: { authorization } });
      out.set(h, unfold(await res.text()));
    }
  }
  return out;
}

/** A provisioned 16.1 phone after its first FolderSync, and the folders' ServerIds by Type. */
export async function phoneWithFolders(
  app: FastifyInstance,
  user: { user: string; password: string },
  deviceId: string,
): Promise<{ phone: EasTestClient; folders: Map<string, string> }> {
  const phone = EasTestClient.inject(app, {
    user: user.user,
    password: user.password,
    deviceId,
    version: '16.1',
  });
  await phone.provision();
  const fs = await phone.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  const folders = new Map<string, string>();
  for (const a of findAll(fs.doc, 'Add')) folders.set(findText(a, 'Type')!, findText(a, 'ServerId')!);
  return { phone, folders };
}

export interface SyncedPhone {
  client: EasTestClient;
  collectionId: string;
  /** Sends one Sync of the collection with `inner` after its SyncKey; undefined for an empty answer. */
  sync(inner: string): Promise<WbxmlElement | undefined>;
}

let phones = 0;

/** A provisioned phone that holds every item of the first folder of `type` (FolderSync Type). */
export async function syncedPhone(
  app: FastifyInstance,
  user: { user: string; password: string },
  version: string,
  type: string,
): Promise<SyncedPhone> {
  const client = EasTestClient.inject(app, {
    user: user.user,
    password: user.password,
    deviceId: `CAL${type}V${version.replace('.', '')}${Date.now()}${++phones}`,
    version,
  });
  await client.provision();
  const fs = await client.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  await validateEasResponse(fs.doc!, 'FolderSync');
  const folder = findAll(fs.doc, 'Add').find((a) => findText(a, 'Type') === type);
  const collectionId = findText(folder, 'ServerId')!;
  let key = '0';
  const sync = async (inner: string): Promise<WbxmlElement | undefined> => {
    const res = await client.command(
      'Sync',
      `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>${key}</SyncKey><CollectionId>${collectionId}</CollectionId>${inner}</Collection></Collections></Sync>`,
    );
    // MS-ASCMD 2.2.1.21: nothing to say is an empty response, and the key stays
    if (res.doc === undefined) return undefined;
    await validateEasResponse(res.doc, 'Sync');
    key = findText(res.doc, 'SyncKey')!;
    return res.doc;
  };
  await sync('');
  for (let i = 0; i < 20; i++) {
    const res = await sync('<GetChanges/><WindowSize>100</WindowSize>');
    if (res === undefined || findAll(res, 'MoreAvailable').length === 0) break;
  }
  return { client, collectionId, sync };
}

/** Another CalDAV client PUTs a calendar object (its content lines) into one of the user's collections. */
export async function putIcs(
  davUrl: string,
  user: { user: string; password: string },
  collection: string,
  uid: string,
  lines: readonly string[],
): Promise<number> {
  const res = await fetch(`${davUrl}${user.user}/${collection}/${encodeURIComponent(uid)}.ics`, {
    method: 'PUT',
    headers: {
      authorization: 'Basic ' + Buffer.from(`${user.user}:${user.password}`).toString('base64'),
      'content-type': 'text/calendar; charset=utf-8',
    },
    body: [...lines, ''].join('\r\n'),
  });
  return res.status;
}
