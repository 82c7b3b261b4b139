// The backend test kit (after Haraka's): one conformance suite that every backend runs, the
// memory backend in-process and the IMAP/CardDAV/CalDAV backends against real servers. A plugin
// author calls `describeBackendConformance` from a vitest file with a setup that opens their
// backend on two test accounts; see docs/backends.md.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  Account,
  Backend,
  ChangeHint,
  Folder,
  ItemRecord,
  ItemStamp,
} from '../../src/backend/contract.js';
import { BackendError, type BackendErrorKind } from '../../src/backend/errors.js';
import type { BodyPreference, ItemClass, TypedItem } from '../../src/backend/model.js';

export interface Credentials {
  user: string;
  password: string;
}

export interface ConformanceContext {
  backend: Backend;
  /** An account the suite may fill with test items (it removes what it adds where it can). */
  credentials: Credentials;
  /** A second account, for isolation tests. */
  otherCredentials: Credentials;
  /**
   * Changes something in `folderId` of the account from outside `backend` (another client of
   * the store, a delivery), so watch and change detection can be checked against real servers.
   */
  injectExternalChange?(credentials: Credentials, folderId: string): Promise<void>;
  teardown(): Promise<void>;
}

/** The optional parts of the contract the backend offers; the suite checks the claim. */
export interface Capabilities {
  changes?: boolean;
  watch?: boolean;
  folders?: boolean;
  mail?: boolean;
  attachments?: boolean;
  search?: boolean;
  oof?: boolean;
  emptyFolder?: boolean;
  userInformation?: boolean;
}

export interface ConformanceOptions {
  /** The classes the backend serves (default: all five). */
  classes?: readonly ItemClass[];
  capabilities: Capabilities;
  /** The setup offers `injectExternalChange` (then watch is also checked against outside changes). */
  externalChanges?: boolean;
  /** How long to wait for a watch hint (default 5 s; real servers may need more). */
  watchTimeoutMs?: number;
}

const capabilityNames = [
  'changes',
  'watch',
  'folders',
  'mail',
  'attachments',
  'search',
  'oof',
  'emptyFolder',
  'userInformation',
] as const;
const allClasses: readonly ItemClass[] = ['Email', 'Calendar', 'Contacts', 'Tasks', 'Notes'];
const plain: BodyPreference[] = [{ Type: 1 }];

/** Resolves to the BackendError the promise rejects with; fails if it resolves or throws anything else. */
export async function expectBackendError(p: Promise<unknown>, kind: BackendErrorKind): Promise<BackendError> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  expect(error, `expected BackendError('${kind}')`).toBeInstanceOf(BackendError);
  expect((error as BackendError).kind).toBe(kind);
  return error as BackendError;
}

/** A token that makes this run's test data recognisable on a shared server. */
const token = (): string => randomBytes(4).toString('hex');

/** One sample item per class, with the fields every backend must round-trip. */
export function sampleItem(cls: ItemClass, tag: string): TypedItem {
  const body = (text: string) => ({
    Type: 1 as const,
    EstimatedDataSize: Buffer.byteLength(text),
    Data: text,
  });
  switch (cls) {
    case 'Email':
      return {
        class: 'Email',
        item: {
          To: '"Test Recipient" <recipient@example.com>',
          Subject: `Draft ${tag}`,
          Body: body(`Draft body ${tag}`),
          Importance: 1,
        },
      };
    case 'Calendar':
      return {
        class: 'Calendar',
        item: {
          Subject: `Meeting ${tag}`,
          StartTime: new Date('2030-05-06T09:00:00Z'),
          EndTime: new Date('2030-05-06T10:30:00Z'),
          AllDayEvent: false,
          Location: { DisplayName: `Room ${tag}` },
          BusyStatus: 2,
          Sensitivity: 0,
          Reminder: 15,
          Categories: ['Work'],
          UID: `uid-${tag}@easd.test`,
          Body: body(`Agenda ${tag}`),
        },
      };
    case 'Contacts':
      return {
        class: 'Contacts',
        item: {
          FirstName: 'Ada',
          LastName: `Lovelace ${tag}`,
          FileAs: `Lovelace ${tag}, Ada`,
          Email1Address: `ada.${tag}@example.com`,
          MobilePhoneNumber: '+44 20 7946 0000',
          CompanyName: 'Analytical Engines',
          JobTitle: 'Programmer',
          Categories: ['Friends'],
          Body: body(`Notes about ${tag}`),
        },
      };
    case 'Tasks':
      return {
        class: 'Tasks',
        item: {
          Subject: `Task ${tag}`,
          StartDate: new Date('2030-05-01T00:00:00Z'),
          UtcStartDate: new Date('2030-05-01T00:00:00Z'),
          DueDate: new Date('2030-05-03T00:00:00Z'),
          UtcDueDate: new Date('2030-05-03T00:00:00Z'),
          Complete: false,
          Importance: 2,
          Categories: ['Home'],
          Body: body(`Steps for ${tag}`),
        },
      };
    case 'Notes':
      return {
        class: 'Notes',
        item: { Subject: `Note ${tag}`, Categories: ['Ideas'], Body: body(`Note text ${tag}`) },
      };
  }
}

/** The fields of `sampleItem` a backend must give back, per class. */
function expectRoundTrip(cls: ItemClass, sent: TypedItem, got: ItemRecord): void {
  expect(got.class).toBe(cls);
  const s = sent.item as Record<string, unknown>;
  const g = got.item as Record<string, unknown>;
  const text = (v: unknown): string => String((v as { Data?: unknown } | undefined)?.Data ?? '');
  if (cls === 'Email') {
    expect(g.Subject).toBe(s.Subject);
    expect(String(g.To)).toContain('recipient@example.com');
    expect(text(g.Body).trim()).toBe(text(s.Body));
    return;
  }
  for (const [k, v] of Object.entries(s)) {
    if (k === 'Body') expect(text(g.Body).trim(), k).toBe(text(v));
    else if (v instanceof Date) expect((g[k] as Date | undefined)?.getTime(), k).toBe(v.getTime());
    else expect(g[k], k).toEqual(v);
  }
}

export function describeBackendConformance(
  name: string,
  setup: () => Promise<ConformanceContext>,
  options: ConformanceOptions,
): void {
  const classes = options.classes ?? allClasses;
  const caps = options.capabilities;
  const watchTimeout = options.watchTimeoutMs ?? 5000;

  describe(`backend conformance: ${name}`, () => {
    let ctx: ConformanceContext;
    let backend: Backend;
    let a: Account;
    let b: Account;
    let foldersA: Folder[];
    const signal = new AbortController().signal;

    const folder = (cls: ItemClass, role: Folder['role'] = cls === 'Email' ? 'inbox' : 'default'): Folder => {
      const f = foldersA.find((x) => x.class === cls && x.role === role);
      if (f === undefined) throw new Error(`no ${cls} folder with role ${String(role)}`);
      return f;
    };
    /** Where the suite creates items of a class: Drafts for mail (what clients may add), the default folder otherwise. */
    const home = (cls: ItemClass): Folder => folder(cls, cls === 'Email' ? 'drafts' : 'default');
    const read = async (
      folderId: string,
      id: string,
      prefs: BodyPreference[] = plain,
    ): Promise<ItemRecord | undefined> =>
      (await backend.getItems(a, folderId, [id], { bodyPreferences: prefs }, signal)).find(
        (r) => r.id === id,
      );
    const create = (cls: ItemClass, tag = token()): Promise<ItemStamp> =>
      backend.createItem(a, home(cls).id, sampleItem(cls, tag), signal);

    beforeAll(async () => {
      ctx = await setup();
      backend = ctx.backend;
      const accA = await backend.authenticate(ctx.credentials.user, ctx.credentials.password, signal);
      const accB = await backend.authenticate(
        ctx.otherCredentials.user,
        ctx.otherCredentials.password,
        signal,
      );
      if (accA === null || accB === null) throw new Error('the test accounts cannot log in');
      a = accA;
      b = accB;
      foldersA = await backend.listFolders(a, signal);
    });

    afterAll(async () => {
      await ctx?.teardown();
    });

    describe('authentication', () => {
      it('signs in with the right password and gives the account an address', async () => {
        expect(a.user.toLowerCase()).toBe(ctx.credentials.user.toLowerCase());
        expect(a.email).toMatch(/^[^@\s]+@[^@\s]+$/);
      });

      it('answers null (not an error) for a wrong password and for an unknown user', async () => {
        expect(
          await backend.authenticate(ctx.credentials.user, `${ctx.credentials.password}x`, signal),
        ).toBeNull();
        expect(await backend.authenticate(`nobody-${token()}`, 'whatever-password', signal)).toBeNull();
      });

      it('offers exactly the optional capabilities it declares', () => {
        for (const c of capabilityNames) expect(backend[c] !== undefined, c).toBe(caps[c] === true);
      });
    });

    describe('folders', () => {
      it('lists unique ids, parents before children, only served classes', () => {
        const ids = new Set<string>();
        for (const f of foldersA) {
          expect(ids.has(f.id), `duplicate id ${f.id}`).toBe(false);
          if (f.parentId !== null)
            expect(ids.has(f.parentId), `parent of ${f.displayName} listed first`).toBe(true);
          ids.add(f.id);
          expect(classes).toContain(f.class);
          expect(f.id.length).toBeLessThanOrEqual(64);
          expect(f.displayName).not.toBe('');
        }
      });

      it('has one folder per required role', () => {
        const roles = (cls: ItemClass) =>
          foldersA.filter((f) => f.class === cls && f.role !== null).map((f) => f.role);
        if (classes.includes('Email')) {
          for (const role of ['inbox', 'drafts', 'sent', 'deleted'] as const)
            expect(
              roles('Email').filter((r) => r === role),
              role,
            ).toHaveLength(1);
        }
        for (const cls of classes.filter((c) => c !== 'Email'))
          expect(
            roles(cls).filter((r) => r === 'default'),
            cls,
          ).toHaveLength(1);
      });

      it('answers not-found for a folder that does not exist', async () => {
        const missing = `missing-${token()}`;
        await expectBackendError(backend.listStamps(a, missing, {}, signal), 'not-found');
        await expectBackendError(
          backend.getItems(a, missing, ['1'], { bodyPreferences: plain }, signal),
          'not-found',
        );
        await expectBackendError(
          backend.createItem(a, missing, sampleItem(classes[0] ?? 'Email', token()), signal),
          'not-found',
        );
      });
    });

    for (const cls of classes) {
      describe(`${cls} items`, () => {
        it('creates an item that reads back with its fields and is listed', async () => {
          const tag = token();
          const sent = sampleItem(cls, tag);
          const stamp = await backend.createItem(a, home(cls).id, sent, signal);
          expect(stamp.id).not.toBe('');
          expect(stamp.id.length).toBeLessThanOrEqual(64);
          const got = await read(home(cls).id, stamp.id);
          expect(got?.version).toBe(stamp.version);
          expectRoundTrip(cls, sent, got as ItemRecord);
          const stamps = await backend.listStamps(a, home(cls).id, {}, signal);
          expect(stamps).toContainEqual(stamp);
          await backend.deleteItem(a, home(cls).id, stamp.id, {}, signal);
        });

        it('changes the version on update, and only then', async () => {
          const stamp = await create(cls);
          const before = await backend.listStamps(a, home(cls).id, {}, signal);
          const again = await backend.listStamps(a, home(cls).id, {}, signal);
          expect(again.find((s) => s.id === stamp.id)?.version).toBe(
            before.find((s) => s.id === stamp.id)?.version,
          );

          const change: TypedItem =
            cls === 'Email'
              ? {
                  class: 'Email',
                  item: { Read: true, Flag: { Status: 2, FlagType: 'Follow up' }, Categories: ['Red'] },
                }
              : {
                  ...sampleItem(cls, 'changed'),
                  item: { ...sampleItem(cls, 'changed').item, Categories: ['Changed'] },
                };
          const updated = await backend.updateItem(a, home(cls).id, stamp.id, change, {}, signal);
          expect(updated.id).toBe(stamp.id);
          expect(updated.version).not.toBe(stamp.version);
          const listed = await backend.listStamps(a, home(cls).id, {}, signal);
          expect(listed.find((s) => s.id === stamp.id)?.version).toBe(updated.version);

          const got = (await read(home(cls).id, stamp.id)) as ItemRecord;
          const item = got.item as Record<string, unknown>;
          if (cls === 'Email') {
            expect(item.Read).toBe(true);
            expect(item.Flag).toMatchObject({ Status: 2 });
            expect(item.Categories).toEqual(['Red']);
            // a flag change leaves the message itself alone
            expect(String(item.Subject)).toMatch(/^Draft /);
          } else {
            expect(item.Categories).toEqual(['Changed']);
          }
          await backend.deleteItem(a, home(cls).id, stamp.id, {}, signal);
        });

        if (cls !== 'Email') {
          it('replaces the whole item on update (a property left out is removed)', async () => {
            const stamp = await create(cls);
            const full = sampleItem(cls, 'x').item as Record<string, unknown>;
            const { Categories: _dropped, ...rest } = full;
            await backend.updateItem(
              a,
              home(cls).id,
              stamp.id,
              { class: cls, item: rest } as TypedItem,
              {},
              signal,
            );
            const got = await read(home(cls).id, stamp.id);
            expect((got?.item as Record<string, unknown>).Categories ?? []).toEqual([]);
            await backend.deleteItem(a, home(cls).id, stamp.id, {}, signal);
          });
        }

        it('deletes: the item leaves the listing and reads as absent', async () => {
          const stamp = await create(cls);
          await backend.deleteItem(a, home(cls).id, stamp.id, {}, signal);
          expect((await backend.listStamps(a, home(cls).id, {}, signal)).map((s) => s.id)).not.toContain(
            stamp.id,
          );
          expect(
            await backend.getItems(a, home(cls).id, [stamp.id], { bodyPreferences: plain }, signal),
          ).toEqual([]);
        });

        it('refuses stale writes with conflict', async () => {
          const stamp = await create(cls);
          // A change that really changes the item: a sample draft may already be read, and a
          // store need not give a new version for a write that changes nothing.
          const change: TypedItem =
            cls === 'Email'
              ? { class: 'Email', item: { Flag: { Status: 2, FlagType: 'Follow up' } } }
              : sampleItem(cls, 'v2');
          const v2 = await backend.updateItem(
            a,
            home(cls).id,
            stamp.id,
            change,
            { ifVersion: stamp.version },
            signal,
          );
          await expectBackendError(
            backend.updateItem(a, home(cls).id, stamp.id, change, { ifVersion: stamp.version }, signal),
            'conflict',
          );
          await expectBackendError(
            backend.deleteItem(a, home(cls).id, stamp.id, { ifVersion: stamp.version }, signal),
            'conflict',
          );
          await backend.deleteItem(a, home(cls).id, stamp.id, { ifVersion: v2.version }, signal);
        });

        it('answers not-found for an item that does not exist, and skips it in getItems', async () => {
          const stamp = await create(cls);
          await backend.deleteItem(a, home(cls).id, stamp.id, {}, signal);
          const change: TypedItem =
            cls === 'Email' ? { class: 'Email', item: { Read: true } } : sampleItem(cls, 'gone');
          await expectBackendError(
            backend.updateItem(a, home(cls).id, stamp.id, change, {}, signal),
            'not-found',
          );
          await expectBackendError(backend.deleteItem(a, home(cls).id, stamp.id, {}, signal), 'not-found');
          const live = await create(cls);
          const got = await backend.getItems(
            a,
            home(cls).id,
            [stamp.id, live.id],
            { bodyPreferences: plain },
            signal,
          );
          expect(got.map((r) => r.id)).toEqual([live.id]);
          await backend.deleteItem(a, home(cls).id, live.id, {}, signal);
        });

        const other = classes.find((c) => c !== cls);
        if (other !== undefined) {
          it('refuses an item of another class', async () => {
            await expectBackendError(
              backend.createItem(a, home(cls).id, sampleItem(other, token()), signal),
              'unsupported',
            );
          });
        }
      });
    }

    if (classes.includes('Email')) {
      describe('moves', () => {
        it('gives the item a new stamp in the destination and removes it from the source', async () => {
          const stamp = await create('Email');
          const trash = folder('Email', 'deleted');
          const moved = await backend.moveItem(a, home('Email').id, stamp.id, trash.id, signal);
          expect((await backend.listStamps(a, home('Email').id, {}, signal)).map((s) => s.id)).not.toContain(
            stamp.id,
          );
          expect(await backend.listStamps(a, trash.id, {}, signal)).toContainEqual(moved);
          const got = await read(trash.id, moved.id);
          expect(String((got?.item as { Subject?: string }).Subject)).toMatch(/^Draft /);
          await backend.deleteItem(a, trash.id, moved.id, {}, signal);
        });

        it('answers not-found for a missing item or destination', async () => {
          const stamp = await create('Email');
          await expectBackendError(
            backend.moveItem(a, home('Email').id, stamp.id, `missing-${token()}`, signal),
            'not-found',
          );
          await backend.deleteItem(a, home('Email').id, stamp.id, {}, signal);
          await expectBackendError(
            backend.moveItem(a, home('Email').id, stamp.id, folder('Email', 'deleted').id, signal),
            'not-found',
          );
        });

        const otherClass = classes.find((c) => c !== 'Email');
        if (otherClass !== undefined) {
          it('refuses a move into a folder of another class', async () => {
            const stamp = await create('Email');
            await expectBackendError(
              backend.moveItem(a, home('Email').id, stamp.id, home(otherClass).id, signal),
              'unsupported',
            );
            await backend.deleteItem(a, home('Email').id, stamp.id, {}, signal);
          });
        }
      });

      describe('mail bodies', () => {
        const html =
          '<html><body><p>Hello <b>world</b>, this body is long enough to be cut.</p></body></html>';
        const mime = (tag: string): Uint8Array =>
          new TextEncoder().encode(
            [
              'From: "Sender" <sender@example.com>',
              'To: recipient@example.com',
              `Subject: Bodies ${tag}`,
              'Date: Mon, 03 Mar 2025 12:00:00 +0000',
              `Message-ID: <${tag}@easd.test>`,
              'MIME-Version: 1.0',
              'Content-Type: multipart/mixed; boundary="b1"',
              '',
              '--b1',
              'Content-Type: multipart/alternative; boundary="b2"',
              '',
              '--b2',
              'Content-Type: text/plain; charset=utf-8',
              '',
              'Hello world, this body is long enough to be cut.',
              '--b2',
              'Content-Type: text/html; charset=utf-8',
              '',
              html,
              '--b2--',
              '--b1',
              'Content-Type: text/plain; name="notes.txt"',
              'Content-Disposition: attachment; filename="notes.txt"',
              '',
              'attached text',
              '--b1--',
              '',
            ].join('\r\n'),
          );
        let inbox: Folder;
        let stamp: ItemStamp;
        let raw: Uint8Array;

        beforeAll(async () => {
          inbox = folder('Email', 'inbox');
          raw = mime(token());
          stamp = await backend.createItem(
            a,
            inbox.id,
            { class: 'Email', item: { Body: { Type: 4, EstimatedDataSize: raw.byteLength, Data: raw } } },
            signal,
          );
        });
        afterAll(async () => {
          await backend.deleteItem(a, inbox.id, stamp.id, {}, signal).catch(() => undefined);
        });

        it('gives plain text, HTML and the message itself on request', async () => {
          const p = await read(inbox.id, stamp.id, [{ Type: 1 }]);
          expect(p?.item).toMatchObject({
            Subject: expect.stringMatching(/^Bodies /),
            NativeBodyType: 2,
            Body: { Type: 1 },
          });
          expect(String((p?.item as { Body?: { Data?: unknown } }).Body?.Data).trim()).toBe(
            'Hello world, this body is long enough to be cut.',
          );
          const h = await read(inbox.id, stamp.id, [{ Type: 2 }]);
          expect((h?.item as { Body?: { Type: number; Data?: unknown } }).Body).toMatchObject({ Type: 2 });
          expect(String((h?.item as { Body?: { Data?: unknown } }).Body?.Data)).toContain('<b>world</b>');
          const m = (
            await backend.getItems(
              a,
              inbox.id,
              [stamp.id],
              { bodyPreferences: [{ Type: 4 }], MIMESupport: 2 },
              signal,
            )
          )[0];
          const body = (m?.item as { Body?: { Type: number; Data?: unknown; EstimatedDataSize: number } })
            .Body;
          expect(body?.Type).toBe(4);
          expect(Buffer.from(body?.Data as Uint8Array).toString()).toContain(
            'Content-Disposition: attachment; filename="notes.txt"',
          );
        });

        it('truncates to TruncationSize with the full size in EstimatedDataSize', async () => {
          const t = await read(inbox.id, stamp.id, [{ Type: 1, TruncationSize: 11 }]);
          const body = (
            t?.item as { Body?: { Data?: unknown; Truncated?: boolean; EstimatedDataSize: number } }
          ).Body;
          expect(body?.Data).toBe('Hello world');
          expect(body?.Truncated).toBe(true);
          expect(body?.EstimatedDataSize).toBeGreaterThan(11);
        });

        it('lists attachments with a FileReference and size', async () => {
          const got = await read(inbox.id, stamp.id);
          const atts = (
            got?.item as {
              Attachments?: Array<{ DisplayName?: string; FileReference: string; EstimatedDataSize: number }>;
            }
          ).Attachments;
          expect(atts?.map((x) => x.DisplayName)).toEqual(['notes.txt']);
          expect(atts?.[0]?.FileReference).not.toBe('');
          expect(atts?.[0]?.EstimatedDataSize).toBeGreaterThan(0);
          if (backend.attachments !== undefined && atts?.[0] !== undefined) {
            const content = await backend.attachments.getAttachment(a, atts[0].FileReference, signal);
            const chunks: Uint8Array[] = [];
            for await (const c of content.chunks(signal)) chunks.push(c);
            const bytes = Buffer.concat(chunks);
            // MIME parsers differ on the line break before a boundary; the text itself must match
            expect(bytes.toString().trim()).toBe('attached text');
            expect(content.length).toBe(bytes.byteLength);
          }
        });
      });
    }

    describe('isolation', () => {
      it("one account cannot read, change or delete another's items by id", async () => {
        const cls = classes[0] ?? 'Email';
        const tag = token();
        const stamp = await backend.createItem(a, home(cls).id, sampleItem(cls, tag), signal);
        const leaked = await backend
          .getItems(b, home(cls).id, [stamp.id], { bodyPreferences: plain }, signal)
          .catch(() => []);
        expect(JSON.stringify(leaked)).not.toContain(tag);
        const change: TypedItem =
          cls === 'Email' ? { class: 'Email', item: { Read: true } } : sampleItem(cls, 'intruder');
        await backend.updateItem(b, home(cls).id, stamp.id, change, {}, signal).catch(() => undefined);
        await backend.deleteItem(b, home(cls).id, stamp.id, {}, signal).catch(() => undefined);
        expect(await read(home(cls).id, stamp.id)).toMatchObject({ id: stamp.id, version: stamp.version });
        const foldersB = await backend.listFolders(b, signal);
        expect(JSON.stringify(foldersB)).not.toContain(tag);
        await backend.deleteItem(a, home(cls).id, stamp.id, {}, signal);
      });
    });

    if (caps.changes === true) {
      describe('change log', () => {
        it('reports what listStamps shows: applying the changes to the old stamps gives the new ones', async () => {
          const cls = classes[0] ?? 'Email';
          const f = home(cls).id;
          const changes = backend.changes;
          if (changes === undefined) throw new Error('changes declared but missing');
          const keep = await create(cls);
          const gone = await create(cls);
          const before = new Map((await backend.listStamps(a, f, {}, signal)).map((s) => [s.id, s.version]));
          const cursor = await changes.currentCursor(a, f, signal);
          const added = await create(cls);
          const change: TypedItem =
            cls === 'Email'
              ? { class: 'Email', item: { Flag: { Status: 2, FlagType: 'Follow up' } } }
              : sampleItem(cls, 'changed');
          await backend.updateItem(a, f, keep.id, change, {}, signal);
          await backend.deleteItem(a, f, gone.id, {}, signal);
          const batch = await changes.changesSince(a, f, cursor, signal);
          for (const c of batch.changes) {
            if (c.kind === 'delete') before.delete(c.id);
            else before.set(c.id, c.version ?? '');
          }
          const after = new Map((await backend.listStamps(a, f, {}, signal)).map((s) => [s.id, s.version]));
          expect(before).toEqual(after);
          expect(batch.changes.map((c) => c.id)).toEqual(
            expect.arrayContaining([added.id, keep.id, gone.id]),
          );
          const none = await changes.changesSince(a, f, batch.cursor, signal);
          expect(none.changes).toEqual([]);
          await backend.deleteItem(a, f, keep.id, {}, signal);
          await backend.deleteItem(a, f, added.id, {}, signal);
        });

        it('answers cursor-expired for a cursor it does not know', async () => {
          await expectBackendError(
            backend.changes!.changesSince(a, home(classes[0] ?? 'Email').id, `bogus-${token()}`, signal),
            'cursor-expired',
          );
        });
      });
    }

    if (caps.watch === true) {
      describe('watch', () => {
        const waitForHint = (
          folderId: string,
          act: () => Promise<unknown>,
        ): Promise<{ hints: ChangeHint[]; done: Promise<void>; stop: () => void }> =>
          new Promise((resolve, reject) => {
            const ac = new AbortController();
            const hints: ChangeHint[] = [];
            // hints may be spurious (a watcher may hint once when it is ready): only one that comes
            // once the act began counts, and the caller gets it after the act finished
            let acting = false;
            let acted = false;
            let hinted = false;
            const timer = setTimeout(() => {
              ac.abort();
              reject(new Error('no change hint arrived'));
            }, watchTimeout);
            const finish = (): void => {
              if (!acted || !hinted) return;
              clearTimeout(timer);
              resolve({ hints, done, stop: () => ac.abort() });
            };
            const done = backend.watch!(
              a,
              [folderId],
              (hint) => {
                hints.push(hint);
                if (acting && (hint.folderId === undefined || hint.folderId === folderId)) {
                  hinted = true;
                  finish();
                }
              },
              ac.signal,
            );
            done.catch(reject);
            // give the store a moment to set the subscription up before acting
            setTimeout(() => {
              acting = true;
              act().then(() => {
                acted = true;
                finish();
              }, reject);
            }, 50);
          });

        it('hints at a change in a watched folder, and ends when aborted', async () => {
          const cls = classes[0] ?? 'Email';
          let created: ItemStamp | undefined;
          const w = await waitForHint(home(cls).id, async () => (created = await create(cls)));
          w.stop();
          await expect(w.done).resolves.toBeUndefined();
          const count = w.hints.length;
          await backend.deleteItem(a, home(cls).id, created!.id, {}, signal);
          await new Promise((r) => setTimeout(r, 50));
          expect(w.hints).toHaveLength(count);
        });

        if (options.externalChanges === true) {
          it('hints at a change made outside this backend object', async () => {
            expect(
              ctx.injectExternalChange,
              'externalChanges declared, injectExternalChange missing',
            ).toBeTypeOf('function');
            const inbox = folder(
              classes[0] ?? 'Email',
              classes[0] === 'Email' || classes[0] === undefined ? 'inbox' : 'default',
            );
            const w = await waitForHint(inbox.id, () => ctx.injectExternalChange!(ctx.credentials, inbox.id));
            w.stop();
            await w.done;
          });
        }
      });
    }

    if (caps.folders === true) {
      describe('folder administration', () => {
        it('creates, renames and deletes a user folder', async () => {
          const admin = backend.folders!;
          const parent = folder(classes[0] ?? 'Email');
          const created = await admin.createFolder(a, parent.id, `Test ${token()}`, parent.class, signal);
          expect(created).toMatchObject({ parentId: parent.id, class: parent.class, role: null });
          expect((await backend.listFolders(a, signal)).map((f) => f.id)).toContain(created.id);
          const renamed = await admin.updateFolder(
            a,
            created.id,
            { displayName: `Renamed ${token()}`, parentId: null },
            signal,
          );
          expect(renamed).toMatchObject({ id: created.id, parentId: null });
          const listed = (await backend.listFolders(a, signal)).find((f) => f.id === created.id);
          expect(listed?.displayName).toBe(renamed.displayName);
          await admin.deleteFolder(a, created.id, signal);
          expect((await backend.listFolders(a, signal)).map((f) => f.id)).not.toContain(created.id);
        });

        it('refuses a duplicate name, a missing parent and changes to special folders', async () => {
          const admin = backend.folders!;
          const parent = folder(classes[0] ?? 'Email');
          const name = `Dup ${token()}`;
          const first = await admin.createFolder(a, parent.id, name, parent.class, signal);
          await expectBackendError(admin.createFolder(a, parent.id, name, parent.class, signal), 'conflict');
          await expectBackendError(
            admin.createFolder(a, `missing-${token()}`, 'x', parent.class, signal),
            'not-found',
          );
          await expectBackendError(admin.deleteFolder(a, parent.id, signal), 'denied');
          await expectBackendError(admin.deleteFolder(a, `missing-${token()}`, signal), 'not-found');
          await admin.deleteFolder(a, first.id, signal);
        });

        it('moves items between folders of one class other than mail', async () => {
          const admin = backend.folders!;
          for (const cls of classes.filter((c) => c !== 'Email')) {
            const extra = await admin.createFolder(a, null, `Extra ${cls} ${token()}`, cls, signal);
            const stamp = await create(cls);
            const moved = await backend.moveItem(a, home(cls).id, stamp.id, extra.id, signal);
            expect(await backend.listStamps(a, extra.id, {}, signal)).toContainEqual(moved);
            expect((await backend.listStamps(a, home(cls).id, {}, signal)).map((s) => s.id)).not.toContain(
              stamp.id,
            );
            await admin.deleteFolder(a, extra.id, signal);
          }
        });
      });
    }

    if (caps.search === true && classes.includes('Email')) {
      describe('search', () => {
        it('finds mail by words in the subject or body, newest first', async () => {
          const word = `zq${token()}`;
          const inbox = folder('Email', 'inbox');
          const msg = (subject: string, body: string, date: string): Uint8Array =>
            new TextEncoder().encode(
              `From: s@example.com\r\nTo: r@example.com\r\nSubject: ${subject}\r\nDate: ${date}\r\n\r\n${body}\r\n`,
            );
          const older = await backend.createItem(
            a,
            inbox.id,
            {
              class: 'Email',
              item: {
                Body: {
                  Type: 4,
                  EstimatedDataSize: 0,
                  Data: msg(`about ${word}`, 'x', 'Mon, 03 Mar 2025 10:00:00 +0000'),
                },
              },
            },
            signal,
          );
          const newer = await backend.createItem(
            a,
            inbox.id,
            {
              class: 'Email',
              item: {
                Body: {
                  Type: 4,
                  EstimatedDataSize: 0,
                  Data: msg('other', `body ${word}`, 'Tue, 04 Mar 2025 10:00:00 +0000'),
                },
              },
            },
            signal,
          );
          const miss = await backend.createItem(
            a,
            inbox.id,
            {
              class: 'Email',
              item: {
                Body: {
                  Type: 4,
                  EstimatedDataSize: 0,
                  Data: msg('nothing', 'here', 'Wed, 05 Mar 2025 10:00:00 +0000'),
                },
              },
            },
            signal,
          );
          const r = await backend.search!.mailbox(a, { FreeText: word, limit: 10 }, signal);
          expect(r.total).toBe(2);
          expect(r.hits.map((h) => h.id)).toEqual([newer.id, older.id]);
          expect(r.hits.every((h) => h.folderId === inbox.id)).toBe(true);
          const one = await backend.search!.mailbox(a, { FreeText: word, limit: 1 }, signal);
          expect(one).toMatchObject({ total: 2, hits: [{ id: newer.id }] });
          for (const s of [older, newer, miss]) await backend.deleteItem(a, inbox.id, s.id, {}, signal);
        });
      });
    }

    if (caps.oof === true) {
      it('stores and returns OOF settings', async () => {
        const settings = {
          OofState: 2 as const,
          StartTime: new Date('2030-01-01T00:00:00Z'),
          EndTime: new Date('2030-01-08T00:00:00Z'),
          OofMessage: [
            {
              AppliesTo: 'Internal' as const,
              Enabled: true,
              ReplyMessage: 'Away',
              BodyType: 'Text' as const,
            },
          ],
        };
        await backend.oof!.set(a, settings, signal);
        expect(await backend.oof!.get(a, signal)).toEqual(settings);
        await backend.oof!.set(a, { OofState: 0, OofMessage: [] }, signal);
      });
    }

    if (caps.emptyFolder === true) {
      it('empties a folder', async () => {
        const trash = classes.includes('Email') ? folder('Email', 'deleted') : home(classes[0] ?? 'Notes');
        await backend.createItem(a, trash.id, sampleItem(trash.class, token()), signal);
        expect(await backend.listStamps(a, trash.id, {}, signal)).not.toEqual([]);
        await backend.emptyFolder!(a, trash.id, { DeleteSubFolders: false }, signal);
        expect(await backend.listStamps(a, trash.id, {}, signal)).toEqual([]);
      });
    }

    if (caps.userInformation === true) {
      it('gives the primary address in UserInformation', async () => {
        const info = await backend.userInformation!(a, signal);
        expect(info.PrimarySmtpAddress).toBe(a.email);
        expect(info.SMTPAddress).toContain(a.email);
      });
    }
  });
}
