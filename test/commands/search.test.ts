// Search on the memory backend, WBXML in and out: the Mailbox store (FreeText, CollectionId,
// DateReceived bounds, Range, DeepTraversal, BodyPreference), LongIds that ItemOperations fetches,
// the GAL store (the memory backend's accounts; photos from a fixed directory), and each failure
// Status (MS-ASCMD 2.2.3.177.13).
// Every response is schema-checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSearchHandler } from '../../src/commands/search.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import {
  askSearch,
  day,
  searchWorld,
  subjects,
  withoutDirectory,
  type SearchAnswer,
  type SearchWorld,
} from '../support/search-world.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { testPhoto, withFixedDirectory } from '../support/gal.js';
import { validateEasResponse } from '../support/schema.js';

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => engine?.close());

const setup = (version?: string): Promise<SearchWorld> => searchWorld(engine, version);

const mailbox = (query: string, options = ''): string =>
  `<Search xmlns="Search:"><Store><Name>Mailbox</Name><Query>${query}</Query>${options && `<Options>${options}</Options>`}</Store></Search>`;
const and = (...parts: string[]): string => `<And>${parts.join('')}</And>`;
const cls = '<Class xmlns="AirSync:">Email</Class>';
const coll = (id: string): string => `<CollectionId xmlns="AirSync:">${id}</CollectionId>`;
const free = (t: string): string => `<FreeText>${t}</FreeText>`;
const when = (op: 'GreaterThan' | 'LessThan', d: Date, prop = '<DateReceived xmlns="Email:"/>'): string =>
  `<${op}>${prop}<Value>${d.toISOString()}</Value></${op}>`;
const gal = (q: string, options = ''): string =>
  `<Search xmlns="Search:"><Store><Name>GAL</Name><Query>${q}</Query>${options && `<Options>${options}</Options>`}</Store></Search>`;

const search = (c: EasTestClient, body: string): Promise<SearchAnswer> => askSearch(c, 'Search', body);

describe('Search, Mailbox store', () => {
  for (const version of ['12.1', '14.1', '16.1']) {
    it(`1 (${version}): FreeText in one collection, newest first, LongId = ServerId`, async () => {
      const w = await setup(version);
      const a = await search(w.c, mailbox(and(cls, coll(w.id), free(w.word))));
      expect([a.Status, a.inner, a.Range, a.Total, subjects(a)]).toEqual([
        '1',
        '1',
        '0-1',
        '2',
        ['Second', `First ${w.word}`],
      ]);
      const r = a.results[0]!;
      expect([findText(r, 'Class'), findText(r, 'CollectionId')]).toEqual(['Email', w.id]);
      expect(findText(r, 'LongId')).toMatch(new RegExp(`^${w.id}:.+`));
    });
  }

  it('1: no match is one empty Result, Total 0, no Range', async () => {
    const w = await setup();
    const a = await search(w.c, mailbox(and(cls, coll(w.id), free(`${w.word}nothing`))));
    expect([a.inner, a.results.length, a.results[0]!.children.length, a.Range, a.Total]).toEqual([
      '1',
      1,
      0,
      undefined,
      '0',
    ]);
  });

  it('1: Range 1-1 is the second match, with the whole Total', async () => {
    const w = await setup();
    const a = await search(w.c, mailbox(and(cls, coll(w.id), free(w.word)), '<Range>1-1</Range>'));
    expect([a.inner, a.Range, a.Total, subjects(a)]).toEqual(['1', '1-1', '2', [`First ${w.word}`]]);
  });

  it('1: GreaterThan / LessThan on email:DateReceived', async () => {
    const w = await setup();
    const newer = await search(
      w.c,
      mailbox(and(cls, coll(w.id), free(w.word), when('GreaterThan', new Date(w.now - day)))),
    );
    const older = await search(
      w.c,
      mailbox(and(cls, coll(w.id), free(w.word), when('LessThan', new Date(w.now - day)))),
    );
    expect([subjects(newer), subjects(older)]).toEqual([['Second'], [`First ${w.word}`]]);
  });

  it('1: without CollectionId, every mail folder', async () => {
    const w = await setup();
    const a = await search(w.c, mailbox(and(cls, free(w.word))));
    expect([a.inner, a.Total, subjects(a)]).toEqual([
      '1',
      '3',
      [`Deep ${w.word}`, 'Second', `First ${w.word}`],
    ]);
  });

  it('1: DeepTraversal takes in subfolders', async () => {
    const w = await setup();
    const flat = await search(w.c, mailbox(and(cls, coll(w.id), free('deep'))));
    const deep = await search(w.c, mailbox(and(cls, coll(w.id), free(`deep ${w.word}`)), '<DeepTraversal/>'));
    expect([flat.Total, deep.Total, findText(deep.results[0], 'CollectionId')]).toEqual(['0', '1', w.subId]);
  });

  it('1: an Or of CollectionIds searches each', async () => {
    const w = await setup();
    const a = await search(w.c, mailbox(and(cls, `<Or>${coll(w.id)}${coll(w.subId)}</Or>`, free(w.word))));
    expect([a.inner, a.Total]).toEqual(['1', '3']);
  });

  it('1: BodyPreference gives the body, truncated', async () => {
    const w = await setup();
    const a = await search(
      w.c,
      mailbox(
        and(cls, coll(w.id), free(`says ${w.word}`)),
        '<BodyPreference xmlns="AirSyncBase:"><Type>1</Type><TruncationSize>8</TruncationSize></BodyPreference>',
      ),
    );
    const body = findAll(a.results[0], 'Body')[0];
    expect([findText(body, 'Type'), findText(body, 'Data'), findText(body, 'Truncated')]).toEqual([
      '1',
      'the body',
      '1',
    ]);
  });

  it('1: ItemOperations fetches a result by its LongId', async () => {
    const w = await setup();
    const a = await search(w.c, mailbox(and(cls, coll(w.id), free(`says ${w.word}`))));
    const longId = findText(a.results[0], 'LongId')!;
    const res = await w.c.command(
      'ItemOperations',
      `<ItemOperations xmlns="ItemOperations:"><Fetch><Store>Mailbox</Store><LongId xmlns="Search:">${longId}</LongId></Fetch></ItemOperations>`,
    );
    await validateEasResponse(res.doc!, 'ItemOperations');
    const fetch = findAll(res.doc, 'Fetch')[0];
    expect([findText(fetch, 'Status'), findText(fetch, 'LongId'), findText(fetch, 'Subject')]).toEqual([
      '1',
      longId,
      'Second',
    ]);
  });

  it('11: a CollectionId the device was not given', async () => {
    const w = await setup();
    expect((await search(w.c, mailbox(and(cls, coll('9999'), free(w.word))))).inner).toBe('11');
  });

  it('8: an Or of other conditions', async () => {
    const w = await setup();
    expect((await search(w.c, mailbox(`<Or>${free(w.word)}${coll(w.id)}</Or>`))).inner).toBe('8');
  });

  it('8: GreaterThan on a property other than DateReceived', async () => {
    const w = await setup();
    const q = and(cls, free(w.word), when('GreaterThan', new Date(), '<Subject xmlns="Email:"/>'));
    expect((await search(w.c, mailbox(q))).inner).toBe('8');
  });

  it('8: a class other than Email', async () => {
    const w = await setup();
    expect(
      (await search(w.c, mailbox(and('<Class xmlns="AirSync:">Contacts</Class>', free(w.word))))).inner,
    ).toBe('8');
  });

  it('2: a Range that runs backwards', async () => {
    const w = await setup();
    expect((await search(w.c, mailbox(and(cls, free(w.word)), '<Range>5-2</Range>'))).inner).toBe('2');
  });

  it('2: a Range of more than 100', async () => {
    const w = await setup();
    expect((await search(w.c, mailbox(and(cls, free(w.word)), '<Range>0-100</Range>'))).inner).toBe('2');
  });

  it('2: a Store without Query', async () => {
    const w = await setup();
    const a = await search(w.c, '<Search xmlns="Search:"><Store><Name>Mailbox</Name></Store></Search>');
    expect([a.Status, a.inner]).toEqual(['1', '2']);
  });

  it('2: a date that is not one', async () => {
    const w = await setup();
    const q = and(
      cls,
      free(w.word),
      '<GreaterThan><DateReceived xmlns="Email:"/><Value>yesterday</Value></GreaterThan>',
    );
    expect((await search(w.c, mailbox(q))).inner).toBe('2');
  });

  it('8: the Document Library store is not served', async () => {
    const w = await setup();
    const a = await search(
      w.c,
      '<Search xmlns="Search:"><Store><Name>Document Library</Name><Query><EqualTo><LinkId xmlns="DocumentLibrary:"/><Value>\\\\s\\x</Value></EqualTo></Query></Store></Search>',
    );
    expect(a.inner).toBe('8');
  });
});

describe('Search, GAL store', () => {
  it('1: finds an account by part of its name, with gal: properties', async () => {
    const c = await engine.client('alice', { version: '14.1' });
    const a = await search(c, gal('bo'));
    expect([a.inner, a.Range, a.Total]).toEqual(['1', '0-0', '1']);
    const p = a.results[0]!;
    expect([findText(p, 'DisplayName'), findText(p, 'EmailAddress'), findText(p, 'Alias')]).toEqual([
      'bob',
      'bob@easd.local',
      'bob',
    ]);
  });

  it('1: no match is no Result and Total 0', async () => {
    const c = await engine.client('alice');
    const a = await search(c, gal('nobody-by-this-name'));
    expect([a.inner, a.results.length, a.Range, a.Total]).toEqual(['1', 0, undefined, '0']);
  });

  it('1: Range pages through the directory', async () => {
    const c = await engine.client('alice');
    const a = await search(c, gal('easd.local', '<Range>1-1</Range>'));
    expect([a.inner, a.Range, a.results.length]).toEqual(['1', '1-1', 1]);
  });

  it('1 (14.1): a Picture asked for is Status 173, none', async () => {
    const c = await engine.client('alice', { version: '14.1' });
    const a = await search(c, gal('bob', '<Picture><MaxPictures>5</MaxPictures></Picture>'));
    const picture = findAll(a.results[0], 'Picture')[0];
    expect([a.inner, findText(picture, 'Status')]).toEqual(['1', '173']);
  });

  it('1 (12.1): no Picture before 14.1', async () => {
    const c = await engine.client('alice', { version: '12.1' });
    const a = await search(c, gal('bob'));
    expect([a.inner, findAll(a.doc, 'Picture').length]).toEqual(['1', 0]);
  });

  it('2: a GAL Query with elements in it', async () => {
    const c = await engine.client('alice');
    expect((await search(c, gal(free('bob')))).inner).toBe('2');
  });
});

describe('Search without a directory', () => {
  let bare: TestEngine;
  beforeAll(async () => {
    bare = await startTestEngine({
      extraHandlers: (deps) => ({ Search: createSearchHandler(withoutDirectory(deps)) }),
    });
  });
  afterAll(async () => bare?.close());

  it('8: the GAL store when the backend has no directory', async () => {
    const c = await bare.client('alice');
    expect((await search(c, gal('bob'))).inner).toBe('8');
  });
});

describe('Search, GAL store with photos', () => {
  let g: TestEngine;
  const small = testPhoto(100);
  const large = testPhoto(5000);
  beforeAll(async () => {
    g = await startTestEngine({
      extraHandlers: (deps) => ({
        Search: createSearchHandler(
          withFixedDirectory(deps, [
            { DisplayName: 'Anna Berg', EmailAddress: 'anna@example.org', Picture: small },
            { DisplayName: 'Anton Bauer', EmailAddress: 'anton@example.org' },
            { DisplayName: 'Antje Brandt', EmailAddress: 'antje@example.org', Picture: large },
            { DisplayName: 'Anke Busch', EmailAddress: 'anke@example.org', Picture: small },
          ]),
        ),
      }),
    });
  });
  afterAll(async () => g?.close());

  /** Per result: display name, Picture Status, and whether Data is the photo it should be. */
  const pictures = (a: SearchAnswer): Array<[string | undefined, string | undefined, number]> =>
    a.results.map((r) => {
      const p = findAll(r, 'Picture')[0];
      const data = findText(p, 'Data');
      return [
        findText(r, 'DisplayName'),
        findText(p, 'Status'),
        data === undefined ? 0 : Buffer.from(data, 'base64').length,
      ];
    });

  it('1 (14.1): each photo as Data with Status 1, 173 for an entry without one', async () => {
    const c = await g.client('alice', { version: '14.1' });
    const a = await search(c, gal('an', '<Picture/>'));
    expect([a.inner, a.Total, pictures(a)]).toEqual([
      '1',
      '4',
      [
        ['Anke Busch', '1', small.length],
        ['Anna Berg', '1', small.length],
        ['Antje Brandt', '1', large.length],
        ['Anton Bauer', '173', 0],
      ],
    ]);
    const anna = findAll(a.doc, 'Result')[1];
    expect(findText(anna, 'Data')).toBe(Buffer.from(small).toString('base64'));
  });

  it('174: a photo larger than MaxSize', async () => {
    const c = await g.client('alice', { version: '16.1' });
    const a = await search(c, gal('antje', '<Picture><MaxSize>1000</MaxSize></Picture>'));
    expect(pictures(a)).toEqual([['Antje Brandt', '174', 0]]);
  });

  it('175: photos past MaxPictures; 173 and 174 are still told as such', async () => {
    const c = await g.client('alice', { version: '14.1' });
    const a = await search(
      c,
      gal('an', '<Picture><MaxSize>1000</MaxSize><MaxPictures>1</MaxPictures></Picture>'),
    );
    expect(pictures(a).map((p) => p[1])).toEqual(['1', '175', '174', '173']);
  });

  it('1: Range counts entries, Total all the matches', async () => {
    const c = await g.client('alice', { version: '14.1' });
    const a = await search(c, gal('an', '<Range>2-3</Range><Picture><MaxPictures>1</MaxPictures></Picture>'));
    expect([a.Range, a.Total, pictures(a)]).toEqual([
      '2-3',
      '4',
      [
        ['Antje Brandt', '1', large.length],
        ['Anton Bauer', '173', 0],
      ],
    ]);
  });

  it('1 (14.0): no Picture before 14.1, even when asked', async () => {
    const c = await g.client('alice', { version: '14.0' });
    const a = await search(c, gal('anna'));
    expect([a.results.length, findAll(a.doc, 'Picture').length]).toEqual([1, 0]);
  });
});

describe('Search, a GAL the user may not read', () => {
  let g: TestEngine;
  beforeAll(async () => {
    g = await startTestEngine({
      extraHandlers: (deps) => ({ Search: createSearchHandler(withFixedDirectory(deps, 'denied')) }),
    });
  });
  afterAll(async () => g?.close());

  it('5: access denied on the Store', async () => {
    const c = await g.client('alice');
    expect((await search(c, gal('anna'))).inner).toBe('5');
  });
});
