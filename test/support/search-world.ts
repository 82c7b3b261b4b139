// Shared arrangement for the Search, Find and ResolveRecipients tests: a mail folder with a
// subfolder, messages carrying a word no other test uses, and a device that has FolderSynced.
import { expect } from 'vitest';
import type { WbxmlElement } from '../../wbxml/index.js';
import type { Account, Backend } from '../../src/backend/contract.js';
import type { EngineDeps } from '../../src/commands/deps.js';
import { findAll, findText, type EasTestClient } from './eas-client.js';
import type { TestEngine } from './engine.js';
import { validateEasResponse } from './schema.js';

export const day = 86_400_000;
const signal = (): AbortSignal => AbortSignal.timeout(10_000);
let seq = 0;

export interface SearchWorld {
  c: EasTestClient;
  /** A word only this world's messages carry. */
  word: string;
  /** The test folder's and its subfolder's ServerIds. */
  id: string;
  subId: string;
  now: number;
}

async function addMail(
  engine: TestEngine,
  account: Account,
  folderId: string,
  headers: string,
  body: string,
  received: Date,
): Promise<void> {
  const mime = Buffer.from(
    `${headers}From: a@example.com\r\nTo: alice@easd.local\r\nDate: ${received.toUTCString()}\r\n\r\n${body}\r\n`,
  );
  await engine.backend.createItem(
    account,
    folderId,
    {
      class: 'Email',
      item: { DateReceived: received, Body: { Type: 4, Data: mime, EstimatedDataSize: mime.length } },
    },
    signal(),
  );
}

/**
 * Alice's folder with "First <word>" (3 days old), "Second" (the word in its body, a minute old,
 * Cc carol), "Third" (without the word), and a subfolder with "Deep <word>"; a client of `version`
 * that has done its FolderSync.
 */
export async function searchWorld(engine: TestEngine, version = '16.1'): Promise<SearchWorld> {
  const c = await engine.client('alice', { version });
  const account = await engine.account();
  const word = `zork${process.pid}q${++seq}`;
  const folders = engine.backend.folders!;
  const folder = await folders.createFolder(account, null, `Search ${word}`, 'Email', signal());
  const sub = await folders.createFolder(account, folder.id, `Sub ${word}`, 'Email', signal());
  const now = Date.now();
  await addMail(
    engine,
    account,
    folder.id,
    `Subject: First ${word}\r\n`,
    'plain words',
    new Date(now - 3 * day),
  );
  await addMail(
    engine,
    account,
    folder.id,
    'Subject: Second\r\nCc: carol@example.com\r\n',
    `the body says ${word}`,
    new Date(now - 60_000),
  );
  await addMail(engine, account, folder.id, 'Subject: Third\r\n', 'nothing to see', new Date(now - 30_000));
  await addMail(engine, account, sub.id, `Subject: Deep ${word}\r\n`, 'below', new Date(now - 1000));
  const res = await c.command(
    'FolderSync',
    '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>',
  );
  const adds = findAll(res.doc, 'Add');
  const idOf = (name: string): string =>
    findText(
      adds.find((a) => findText(a, 'DisplayName') === name),
      'ServerId',
    )!;
  return { c, word, id: idOf(folder.displayName), subId: idOf(sub.displayName), now };
}

/** The engine's dependencies with a backend whose Searcher has no directory. */
export function withoutDirectory(deps: EngineDeps): EngineDeps {
  const search = deps.backend.search!;
  const backend = new Proxy(deps.backend, {
    get: (t, p) => (p === 'search' ? { mailbox: search.mailbox.bind(search) } : Reflect.get(t, p, t)),
  }) as Backend;
  return { ...deps, backend };
}

/** A Search or Find answer, schema-checked: the top Status, the inner one (Store / Response), results. */
export interface SearchAnswer {
  doc: WbxmlElement;
  Status?: string;
  /** Status of the Store (Search) or Response (Find) element. */
  inner?: string;
  results: WbxmlElement[];
  Range?: string;
  Total?: string;
}

export async function askSearch(
  c: EasTestClient,
  command: 'Search' | 'Find',
  body: string,
): Promise<SearchAnswer> {
  const res = await c.command(command, body);
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, command);
  const inner = findAll(res.doc, command === 'Search' ? 'Store' : 'Response')[0];
  return {
    doc: res.doc!,
    Status: res.doc!.children.find((e) => e.name === 'Status')?.value as string | undefined,
    inner: inner === undefined ? undefined : findText(inner, 'Status'),
    results: findAll(res.doc, 'Result'),
    Range: findText(res.doc, 'Range'),
    Total: findText(res.doc, 'Total'),
  };
}

export const subjects = (a: SearchAnswer): Array<string | undefined> =>
  a.results.map((r) => findText(r, 'Subject'));
