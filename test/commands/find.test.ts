// Find (16.1) on the memory backend, WBXML in and out: the mailbox criterion (FreeText,
// CollectionId, DeepTraversal, Range) with FindResponse.xsd's property set, the GAL criterion
// (the memory backend's accounts), and each failure Status (MS-ASCMD 2.2.3.177.2). Every response
// is schema-checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFindHandler } from '../../src/commands/find.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import {
  askSearch,
  searchWorld,
  subjects,
  withoutDirectory,
  type SearchAnswer,
  type SearchWorld,
} from '../support/search-world.js';

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => engine?.close());

const setup = (): Promise<SearchWorld> => searchWorld(engine, '16.1');

const mailbox = (query: string, options = ''): string =>
  `<Find xmlns="Find:"><SearchId>7F0C2A3E-1B2C-4D5E-8F90-A1B2C3D4E5F6</SearchId><ExecuteSearch><MailBoxSearchCriterion><Query>${query}</Query>${options && `<Options>${options}</Options>`}</MailBoxSearchCriterion></ExecuteSearch></Find>`;
const gal = (text: string, options = ''): string =>
  `<Find xmlns="Find:"><SearchId>1</SearchId><ExecuteSearch><GalSearchCriterion><Query><FreeText>${text}</FreeText></Query>${options && `<Options>${options}</Options>`}</GalSearchCriterion></ExecuteSearch></Find>`;
const cls = '<Class xmlns="AirSync:">Email</Class>';
const coll = (id: string): string => `<CollectionId xmlns="AirSync:">${id}</CollectionId>`;
const free = (t: string): string => `<FreeText>${t}</FreeText>`;

const find = (c: EasTestClient, body: string): Promise<SearchAnswer> => askSearch(c, 'Find', body);

describe('Find, mailbox criterion', () => {
  it('1: FreeText in one collection, newest first, with the Find properties', async () => {
    const w = await setup();
    const a = await find(w.c, mailbox(cls + coll(w.id) + free(w.word)));
    expect([a.Status, a.inner, a.Range, a.Total, subjects(a)]).toEqual([
      '1',
      '1',
      '0-1',
      '2',
      ['Second', `First ${w.word}`],
    ]);
    const r = a.results[0]!;
    expect([
      findText(r, 'Class'),
      findText(r, 'CollectionId'),
      findText(r, 'ServerId')?.startsWith(`${w.id}:`),
    ]).toEqual(['Email', w.id, true]);
    expect([
      findText(r, 'Preview'),
      findText(r, 'DisplayCc'),
      findText(r, 'HasAttachments'),
      findText(r, 'Read'),
    ]).toEqual([`the body says ${w.word}`, 'carol@example.com', '0', '0']);
    expect(findText(a.doc, 'Store')).toBe('Mailbox');
  });

  it('1: a result ServerId is one ItemOperations fetches', async () => {
    const w = await setup();
    const a = await find(w.c, mailbox(cls + coll(w.id) + free(`says ${w.word}`)));
    const res = await w.c.command(
      'ItemOperations',
      `<ItemOperations xmlns="ItemOperations:"><Fetch><Store>Mailbox</Store><ServerId xmlns="AirSync:">${findText(a.results[0], 'ServerId')}</ServerId></Fetch></ItemOperations>`,
    );
    expect(findText(res.doc, 'Subject')).toBe('Second');
  });

  it('1: without CollectionId, every mail folder', async () => {
    const w = await setup();
    expect((await find(w.c, mailbox(cls + free(w.word)))).Total).toBe('3');
  });

  it('1: DeepTraversal takes in subfolders', async () => {
    const w = await setup();
    const flat = await find(w.c, mailbox(cls + coll(w.id) + free(`deep ${w.word}`)));
    const deep = await find(w.c, mailbox(cls + coll(w.id) + free(`deep ${w.word}`), '<DeepTraversal/>'));
    expect([flat.Total, deep.Total, findText(deep.results[0], 'CollectionId')]).toEqual(['0', '1', w.subId]);
  });

  it('1: Range 1-1 is the second match', async () => {
    const w = await setup();
    const a = await find(w.c, mailbox(cls + coll(w.id) + free(w.word), '<Range>1-1</Range>'));
    expect([a.inner, a.Range, a.Total, subjects(a)]).toEqual(['1', '1-1', '2', [`First ${w.word}`]]);
  });

  it('1: no match is no Result and Total 0', async () => {
    const w = await setup();
    const a = await find(w.c, mailbox(cls + coll(w.id) + free(`${w.word}none`)));
    expect([a.inner, a.results.length, a.Range, a.Total]).toEqual(['1', 0, undefined, '0']);
  });

  it('3: a CollectionId the device was not given', async () => {
    const w = await setup();
    expect((await find(w.c, mailbox(cls + coll('9999') + free(w.word)))).inner).toBe('3');
  });

  it('2: a Query without FreeText', async () => {
    const w = await setup();
    expect((await find(w.c, mailbox(cls + coll(w.id)))).Status).toBe('2');
  });

  it('2: a Range that runs backwards', async () => {
    const w = await setup();
    expect((await find(w.c, mailbox(cls + free(w.word), '<Range>9-1</Range>'))).Status).toBe('2');
  });

  it('2: a Find without SearchId', async () => {
    const w = await setup();
    const body = `<Find xmlns="Find:"><ExecuteSearch><MailBoxSearchCriterion><Query>${free(w.word)}</Query></MailBoxSearchCriterion></ExecuteSearch></Find>`;
    expect((await find(w.c, body)).Status).toBe('2');
  });

  it('2: a class the mailbox search does not cover', async () => {
    const w = await setup();
    expect((await find(w.c, mailbox('<Class xmlns="AirSync:">Tasks</Class>' + free(w.word)))).inner).toBe(
      '2',
    );
  });
});

describe('Find, GAL criterion', () => {
  it('1: finds an account by part of its name', async () => {
    const c = await engine.client('alice', { version: '16.1' });
    const a = await find(c, gal('bo'));
    const r = a.results[0]!;
    expect([
      a.inner,
      findText(a.doc, 'Store'),
      a.Total,
      findText(r, 'DisplayName'),
      findText(r, 'EmailAddress'),
    ]).toEqual(['1', 'GAL', '1', 'bob', 'bob@easd.local']);
  });

  it('1: a Picture asked for is Status 173, none', async () => {
    const c = await engine.client('alice', { version: '16.1' });
    const a = await find(c, gal('bob', '<Picture><MaxPictures>1</MaxPictures></Picture>'));
    expect(findText(findAll(a.results[0], 'Picture')[0], 'Status')).toBe('173');
  });

  it('1: no match is no Result', async () => {
    const c = await engine.client('alice', { version: '16.1' });
    const a = await find(c, gal('nobody-by-this-name'));
    expect([a.inner, a.results.length, a.Total]).toEqual(['1', 0, '0']);
  });
});

describe('Find without a directory', () => {
  let bare: TestEngine;
  beforeAll(async () => {
    bare = await startTestEngine({
      extraHandlers: (deps) => ({ Find: createFindHandler(withoutDirectory(deps)) }),
    });
  });
  afterAll(async () => bare?.close());

  it('2: the GAL criterion when the backend has no directory', async () => {
    const c = await bare.client('alice', { version: '16.1' });
    expect((await find(c, gal('bob'))).inner).toBe('2');
  });
});
