// The CalDAV backend against the stack's Radicale: the conformance kit on Calendar and Tasks, then
// what only a CalDAV store shows — recurring events stored as one resource with RECURRENCE-ID and
// EXDATE, another client's edits, FilterType over a recurring series, all-day dates, completed
// tasks, stale ETags, unknown properties surviving a phone's edit. Every collection this file makes
// has a random name (the Radicale is shared by all test files of a run).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openCalDavBackend, type CalDavBackend } from '../../backends/caldav/index.js';
import { describeBackendConformance, expectBackendError } from '../../backends/testkit/index.js';
import type { Account, Folder } from '../../src/backend/contract.js';
import type { CalendarItem, NoteItem, TaskItem } from '../../src/backend/model.js';

const stack = inject('stack');
const [alice, bob] = stack.users;
if (alice === undefined || bob === undefined) throw new Error('the stack has no test users');
const signal = new AbortController().signal;
const tag = (): string => randomBytes(4).toString('hex');
const basic = (u: { user: string; password: string }): string =>
  `Basic ${Buffer.from(`${u.user}:${u.password}`).toString('base64')}`;

/** Another CalDAV client: raw requests with alice's credentials. */
async function raw(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(new URL(path, stack.dav.url), {
    method,
    headers: {
      Authorization: basic(alice!),
      ...(body !== undefined && { 'Content-Type': 'text/calendar; charset=utf-8' }),
      ...headers,
    },
    ...(body !== undefined && { body }),
  });
}

/** RFC 5545 3.1: content lines unfolded, so a test can look for one property. */
const unfold = (text: string): string => text.replace(/\r?\n[ \t]/g, '');

describeBackendConformance(
  'caldav',
  async () => {
    const backend = await openCalDavBackend({
      url: stack.dav.url,
      timeoutMs: 10_000,
      emailDomain: 'easd.test',
      notes: true,
    });
    return { backend, credentials: alice, otherCredentials: bob, teardown: async () => undefined };
  },
  { classes: ['Calendar', 'Tasks', 'Notes'], capabilities: { changes: true, folders: true } },
);

describe('caldav backend on Radicale', () => {
  let backend: CalDavBackend;
  let a: Account;
  let cal: Folder;
  let todo: Folder;
  /** Paths of the test collections on the server, e.g. `/alice/<uuid>/`. */
  let calPath: string;
  let todoPath: string;

  beforeAll(async () => {
    backend = await openCalDavBackend({ url: stack.dav.url, emailDomain: 'easd.test' });
    a = (await backend.authenticate(alice.user, alice.password, signal))!;
    cal = await backend.folders.createFolder(a, null, `Test calendar ${tag()}`, 'Calendar', signal);
    todo = await backend.folders.createFolder(a, null, `Test tasks ${tag()}`, 'Tasks', signal);
    calPath = `/${alice.user}/${cal.id}/`;
    todoPath = `/${alice.user}/${todo.id}/`;
  });

  afterAll(async () => {
    await backend.folders.deleteFolder(a, cal.id, signal).catch(() => undefined);
    await backend.folders.deleteFolder(a, todo.id, signal).catch(() => undefined);
  });

  const readEvent = async (id: string): Promise<CalendarItem | undefined> =>
    (await backend.getItems(a, cal.id, [id], { bodyPreferences: [{ Type: 1 }] }, signal))[0]?.item as
      CalendarItem | undefined;

  it('lists calendars as Calendar folders and task lists as Tasks folders, one default each', async () => {
    const folders = await backend.listFolders(a, signal);
    for (const cls of ['Calendar', 'Tasks'] as const)
      expect(
        folders.filter((f) => f.class === cls && f.role === 'default'),
        cls,
      ).toHaveLength(1);
    expect(folders.find((f) => f.id === cal.id)).toMatchObject({
      class: 'Calendar',
      role: null,
      parentId: null,
    });
    expect(folders.find((f) => f.id === todo.id)).toMatchObject({
      class: 'Tasks',
      role: null,
      parentId: null,
    });
    expect(folders.every((f) => f.class === 'Calendar' || f.class === 'Tasks')).toBe(true);
  });

  it('shows a collection taking VEVENT and VTODO as a Calendar and a Tasks folder, each with its own items', async () => {
    const seg = `mixed-${tag()}`;
    // a plain MKCALENDAR without a component set takes every component (RFC 4791 §5.2.3)
    expect((await raw('MKCALENDAR', `/${alice.user}/${seg}/`)).status).toBe(201);
    try {
      const folders = await backend.listFolders(a, signal);
      const calView = folders.find((f) => f.id === seg);
      const taskView = folders.find(
        (f) => f.class === 'Tasks' && f.id.startsWith('h~') && f.displayName === calView?.displayName,
      );
      expect(calView?.class).toBe('Calendar');
      expect(taskView).toBeDefined();
      const ev = await backend.createItem(
        a,
        seg,
        {
          class: 'Calendar',
          item: {
            Subject: 'Mixed event',
            StartTime: new Date('2031-01-01T10:00:00Z'),
            EndTime: new Date('2031-01-01T11:00:00Z'),
          },
        },
        signal,
      );
      const tk = await backend.createItem(
        a,
        taskView!.id,
        { class: 'Tasks', item: { Subject: 'Mixed task' } },
        signal,
      );
      expect((await backend.listStamps(a, seg, {}, signal)).map((s) => s.id)).toEqual([ev.id]);
      expect((await backend.listStamps(a, taskView!.id, {}, signal)).map((s) => s.id)).toEqual([tk.id]);
      expect(await backend.getItems(a, seg, [tk.id], { bodyPreferences: [] }, signal)).toEqual([]);
      // the change feed cannot tell the two apart: easd lists instead
      await expectBackendError(backend.changes.currentCursor(a, seg, signal), 'cursor-expired');
      // deleting one view would delete the other's items
      await expectBackendError(backend.folders.deleteFolder(a, taskView!.id, signal), 'denied');
    } finally {
      await raw('DELETE', `/${alice.user}/${seg}/`);
    }
  });

  it('stores an event with a changed and a deleted occurrence as one resource with RECURRENCE-ID and EXDATE', async () => {
    const t = tag();
    const start = new Date('2030-03-04T09:00:00Z'); // a Monday
    const item: CalendarItem = {
      Subject: `Standup ${t}`,
      StartTime: start,
      EndTime: new Date('2030-03-04T09:15:00Z'),
      Recurrence: { Type: 0, Interval: 1, Occurrences: 10 },
      Exceptions: [
        { ExceptionStartTime: new Date('2030-03-06T09:00:00Z'), Deleted: true },
        {
          ExceptionStartTime: new Date('2030-03-07T09:00:00Z'),
          StartTime: new Date('2030-03-07T10:00:00Z'),
          EndTime: new Date('2030-03-07T10:30:00Z'),
          Subject: `Standup moved ${t}`,
        },
      ],
    };
    const stamp = await backend.createItem(a, cal.id, { class: 'Calendar', item }, signal);
    const res = await raw('GET', `${calPath}${stamp.id}`);
    expect(res.status).toBe(200);
    const text = unfold(await res.text());
    expect(text.match(/^BEGIN:VEVENT/gm)).toHaveLength(2);
    expect(new Set(text.match(/^UID:.*$/gm))).toHaveProperty('size', 1);
    expect(text).toMatch(/^RRULE:.*FREQ=DAILY/m);
    expect(text).toMatch(/^EXDATE[;:].*20300306T0900/m);
    expect(text).toMatch(/^RECURRENCE-ID[;:].*20300307T0900/m);
    expect(text).toContain(`SUMMARY:Standup moved ${t}`);

    const back = (await readEvent(stamp.id))!;
    expect(back.Recurrence).toMatchObject({ Type: 0, Occurrences: 10 });
    const exceptions = back.Exceptions ?? [];
    expect(exceptions.find((e) => e.Deleted === true)?.ExceptionStartTime).toEqual(
      new Date('2030-03-06T09:00:00Z'),
    );
    expect(exceptions.find((e) => e.Deleted !== true)).toMatchObject({
      ExceptionStartTime: new Date('2030-03-07T09:00:00Z'),
      StartTime: new Date('2030-03-07T10:00:00Z'),
      Subject: `Standup moved ${t}`,
    });
  });

  it('lists a recurring series that reaches into the FilterType window, and not an old single event', async () => {
    const t = tag();
    const since = new Date(Date.now() - 14 * 86_400_000);
    const ics = (uid: string, lines: string[]): string =>
      [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//other//client//EN',
        'BEGIN:VEVENT',
        `UID:${uid}`,
        'DTSTAMP:20200101T000000Z',
        ...lines,
        'END:VEVENT',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
    expect(
      (
        await raw(
          'PUT',
          `${calPath}weekly-${t}.ics`,
          ics(`weekly-${t}`, [
            'DTSTART:20200106T090000Z',
            'DTEND:20200106T100000Z',
            'RRULE:FREQ=WEEKLY',
            'SUMMARY:Weekly',
          ]),
        )
      ).status,
    ).toBe(201);
    expect(
      (
        await raw(
          'PUT',
          `${calPath}old-${t}.ics`,
          ics(`old-${t}`, ['DTSTART:20200106T090000Z', 'DTEND:20200106T100000Z', 'SUMMARY:Old']),
        )
      ).status,
    ).toBe(201);
    const listed = (await backend.listStamps(a, cal.id, { since }, signal)).map((s) => s.id);
    expect(listed).toContain(`weekly-${t}.ics`);
    expect(listed).not.toContain(`old-${t}.ics`);
    const all = (await backend.listStamps(a, cal.id, {}, signal)).map((s) => s.id);
    expect(all).toEqual(expect.arrayContaining([`weekly-${t}.ics`, `old-${t}.ics`]));
  });

  it('sees an event another client PUT and changed, in stamps and in the change feed, and reads it back', async () => {
    const cursor = await backend.changes.currentCursor(a, cal.id, signal);
    const name = `ext-${tag()}`;
    const ics = (summary: string): string =>
      [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//other//client//EN',
        'BEGIN:VEVENT',
        `UID:${name}`,
        'DTSTAMP:20300101T000000Z',
        'DTSTART;TZID=Europe/Berlin:20300610T140000',
        'DTEND;TZID=Europe/Berlin:20300610T150000',
        `SUMMARY:${summary}`,
        'END:VEVENT',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
    expect(
      (await raw('PUT', `${calPath}${name}.ics`, ics('Outside one'), { 'If-None-Match': '*' })).status,
    ).toBe(201);
    const mine = (await backend.listStamps(a, cal.id, {}, signal)).find((x) => x.id === `${name}.ics`);
    expect(mine).toBeDefined();
    const first = await backend.changes.changesSince(a, cal.id, cursor, signal);
    expect(first.changes).toContainEqual({ kind: 'upsert', id: `${name}.ics`, version: mine!.version });
    expect(await readEvent(`${name}.ics`)).toMatchObject({
      Subject: 'Outside one',
      StartTime: new Date('2030-06-10T12:00:00Z'), // 14:00 CEST
      EndTime: new Date('2030-06-10T13:00:00Z'),
    });

    expect(
      (await raw('PUT', `${calPath}${name}.ics`, ics('Outside two'), { 'If-Match': mine!.version })).status,
    ).toBe(201);
    const second = await backend.changes.changesSince(a, cal.id, first.cursor, signal);
    const changed = second.changes.find((c) => c.id === `${name}.ics`);
    expect(changed?.kind).toBe('upsert');
    expect(changed?.version).not.toBe(mine!.version);
    expect((await readEvent(`${name}.ics`))?.Subject).toBe('Outside two');

    expect((await raw('DELETE', `${calPath}${name}.ics`)).ok).toBe(true);
    const third = await backend.changes.changesSince(a, cal.id, second.cursor, signal);
    expect(third.changes).toEqual([{ kind: 'delete', id: `${name}.ics` }]);
  });

  it('keeps the date of an all-day event', async () => {
    const stamp = await backend.createItem(
      a,
      cal.id,
      {
        class: 'Calendar',
        item: {
          Subject: `Holiday ${tag()}`,
          AllDayEvent: true,
          StartTime: new Date('2030-12-25T00:00:00Z'),
          EndTime: new Date('2030-12-26T00:00:00Z'),
        },
      },
      signal,
    );
    const text = unfold(await (await raw('GET', `${calPath}${stamp.id}`)).text());
    expect(text).toMatch(/^DTSTART;VALUE=DATE:20301225$/m);
    expect(await readEvent(stamp.id)).toMatchObject({
      AllDayEvent: true,
      StartTime: new Date('2030-12-25T00:00:00Z'),
      EndTime: new Date('2030-12-26T00:00:00Z'),
    });
  });

  it('completes a task', async () => {
    const subject = `Pay bills ${tag()}`;
    const stamp = await backend.createItem(
      a,
      todo.id,
      { class: 'Tasks', item: { Subject: subject, Complete: false } },
      signal,
    );
    const done = new Date('2030-05-02T08:00:00Z');
    await backend.updateItem(
      a,
      todo.id,
      stamp.id,
      { class: 'Tasks', item: { Subject: subject, Complete: true, DateCompleted: done } },
      { ifVersion: stamp.version },
      signal,
    );
    const text = unfold(await (await raw('GET', `${todoPath}${stamp.id}`)).text());
    expect(text).toMatch(/^STATUS:COMPLETED$/m);
    expect(text).toMatch(/^COMPLETED:20300502T080000Z$/m);
    const back = (await backend.getItems(a, todo.id, [stamp.id], { bodyPreferences: [] }, signal))[0]
      ?.item as TaskItem;
    expect(back).toMatchObject({ Subject: subject, Complete: true, DateCompleted: done });
  });

  it('refuses a write over a stale ETag with conflict, and writes nothing', async () => {
    const stamp = await backend.createItem(
      a,
      cal.id,
      {
        class: 'Calendar',
        item: {
          Subject: 'v1',
          StartTime: new Date('2030-01-01T10:00:00Z'),
          EndTime: new Date('2030-01-01T11:00:00Z'),
        },
      },
      signal,
    );
    const text = await (await raw('GET', `${calPath}${stamp.id}`)).text();
    // another client edits it
    expect(
      (
        await raw('PUT', `${calPath}${stamp.id}`, text.replace('SUMMARY:v1', 'SUMMARY:theirs'), {
          'If-Match': stamp.version,
        })
      ).status,
    ).toBe(201);
    await expectBackendError(
      backend.updateItem(
        a,
        cal.id,
        stamp.id,
        { class: 'Calendar', item: { Subject: 'mine', StartTime: new Date('2030-01-01T10:00:00Z') } },
        { ifVersion: stamp.version },
        signal,
      ),
      'conflict',
    );
    await expectBackendError(
      backend.deleteItem(a, cal.id, stamp.id, { ifVersion: stamp.version }, signal),
      'conflict',
    );
    expect((await readEvent(stamp.id))?.Subject).toBe('theirs');
  });

  it("a phone's edit keeps the iCalendar properties it never saw", async () => {
    const name = `apple-${tag()}`;
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//Apple Inc.//macOS 14.2//EN',
      'BEGIN:VEVENT',
      `UID:${name}`,
      'DTSTAMP:20300101T000000Z',
      'DTSTART:20300301T100000Z',
      'DTEND:20300301T110000Z',
      'SUMMARY:Dentist',
      'X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC',
      'X-MOZ-GENERATION:3',
      'URL:https://example.com/booking/42',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    expect((await raw('PUT', `${calPath}${name}.ics`, ics)).status).toBe(201);
    const id = `${name}.ics`;
    const item = (await readEvent(id))!;
    await backend.updateItem(
      a,
      cal.id,
      id,
      {
        class: 'Calendar',
        item: {
          ...item,
          Subject: 'Dentist (moved)',
          StartTime: new Date('2030-03-01T12:00:00Z'),
          EndTime: new Date('2030-03-01T13:00:00Z'),
        },
      },
      {},
      signal,
    );
    const text = unfold(await (await raw('GET', `${calPath}${id}`)).text());
    expect(text).toContain('SUMMARY:Dentist (moved)');
    expect(text).toMatch(/^DTSTART.*20300301T120000Z$/m);
    expect(text).toContain('X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC');
    expect(text).toContain('X-MOZ-GENERATION:3');
    expect(text).toContain('URL:https://example.com/booking/42');
    expect(text).toContain(`UID:${name}`);
  });

  it('gives a long href a short hashed id that still reads, changes and deletes', async () => {
    const name = `${'long-name-'.repeat(8)}${tag()}`;
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//x//y//EN',
      'BEGIN:VEVENT',
      `UID:${name}`,
      'DTSTAMP:20300101T000000Z',
      'DTSTART:20300401T100000Z',
      'SUMMARY:Long',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    expect((await raw('PUT', `${calPath}${name}.ics`, ics)).status).toBe(201);
    const fresh = await openCalDavBackend({ url: stack.dav.url });
    const acc = (await fresh.authenticate(alice.user, alice.password, signal))!;
    const stamp = (await fresh.listStamps(acc, cal.id, {}, signal)).find((s) => s.id.startsWith('h~'));
    expect(stamp?.id.length).toBeLessThanOrEqual(64);
    const again = await openCalDavBackend({ url: stack.dav.url });
    const acc2 = (await again.authenticate(alice.user, alice.password, signal))!;
    // a new backend object (after a restart) finds the resource from the id alone
    expect(
      (await again.getItems(acc2, cal.id, [stamp!.id], { bodyPreferences: [] }, signal))[0]?.item,
    ).toMatchObject({ Subject: 'Long' });
    await again.deleteItem(acc2, cal.id, stamp!.id, {}, signal);
    expect((await raw('GET', `${calPath}${name}.ics`)).status).toBe(404);
  });

  it('answers null for a wrong password and unavailable for a server that is not there', async () => {
    expect(await backend.authenticate(alice.user, 'wrong', signal)).toBeNull();
    const gone = await openCalDavBackend({ url: 'http://127.0.0.1:9/', timeoutMs: 2000 });
    await expectBackendError(gone.authenticate(alice.user, alice.password, signal), 'unavailable');
    // the credentials are not on the account
    expect(JSON.stringify(a)).not.toContain(alice.password);
  });
});

describe('caldav backend on Radicale: notes as VJOURNAL', () => {
  let backend: CalDavBackend;
  let a: Account;
  let memos: Folder;
  let memoPath: string;

  beforeAll(async () => {
    backend = await openCalDavBackend({ url: stack.dav.url, emailDomain: 'easd.test', notes: true });
    a = (await backend.authenticate(alice.user, alice.password, signal))!;
    memos = await backend.folders.createFolder(a, null, `Test memos ${tag()}`, 'Notes', signal);
    memoPath = `/${alice.user}/${memos.id}/`;
  });

  afterAll(async () => {
    await backend.folders.deleteFolder(a, memos.id, signal).catch(() => undefined);
  });

  const readNote = async (id: string): Promise<NoteItem | undefined> =>
    (await backend.getItems(a, memos.id, [id], { bodyPreferences: [{ Type: 1 }] }, signal))[0]?.item as
      NoteItem | undefined;

  it('makes a memo list (MKCALENDAR with VJOURNAL only) and lists it as a Notes folder, with a default one', async () => {
    const props = await raw(
      'PROPFIND',
      memoPath,
      '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><supported-calendar-component-set xmlns="urn:ietf:params:xml:ns:caldav"/></prop></propfind>',
      { Depth: '0', 'Content-Type': 'application/xml' },
    );
    const body = await props.text();
    expect(body).toMatch(/name="VJOURNAL"/);
    expect(body).not.toMatch(/name="VEVENT"|name="VTODO"/);
    const folders = await backend.listFolders(a, signal);
    expect(folders.find((f) => f.id === memos.id)).toMatchObject({ class: 'Notes', role: null });
    expect(folders.filter((f) => f.class === 'Notes' && f.role === 'default')).toHaveLength(1);
  });

  it('a calendar that also takes VJOURNAL stays a calendar only; without `notes` no Notes folder at all', async () => {
    const seg = `all-${tag()}`;
    expect((await raw('MKCALENDAR', `/${alice.user}/${seg}/`)).status).toBe(201);
    try {
      // Radicale lists VEVENT, VTODO and VJOURNAL for a collection made without a component set
      const folders = await backend.listFolders(a, signal);
      const calView = folders.find((f) => f.id === seg);
      expect(calView?.class).toBe('Calendar');
      const same = folders.filter((f) => f.displayName === calView?.displayName);
      expect(same.map((f) => f.class).sort()).toEqual(['Calendar', 'Tasks']);
      const plain = await openCalDavBackend({ url: stack.dav.url, emailDomain: 'easd.test' });
      const pa = (await plain.authenticate(alice.user, alice.password, signal))!;
      expect((await plain.listFolders(pa, signal)).some((f) => f.class === 'Notes')).toBe(false);
      await expectBackendError(
        plain.folders.createFolder(pa, null, `No notes ${tag()}`, 'Notes', signal),
        'unsupported',
      );
    } finally {
      await raw('DELETE', `/${alice.user}/${seg}/`);
    }
  });

  it('stores a note as a VJOURNAL, reads it back, and an edit keeps what the note does not map', async () => {
    const note: NoteItem = {
      Subject: `Groceries ${tag()}`,
      Body: { Type: 1, EstimatedDataSize: 10, Data: 'milk, eggs' },
      Categories: ['Home'],
      MessageClass: 'IPM.StickyNote',
      LastModifiedDate: new Date('2026-11-20T10:00:00Z'),
    };
    const stamp = await backend.createItem(a, memos.id, { class: 'Notes', item: note }, signal);
    const hrefs = await raw('PROPFIND', memoPath, undefined, { Depth: '1' });
    const href = [...(await hrefs.text()).matchAll(/<(?:[A-Za-z]+:)?href>([^<]+\.ics)<\//g)].map(
      (m) => m[1]!,
    );
    expect(href).toHaveLength(1);
    const stored = unfold(await (await raw('GET', href[0]!)).text());
    expect(stored).toMatch(/^BEGIN:VJOURNAL\r?$/m);
    expect(stored).toContain(`SUMMARY:${note.Subject}`);
    expect(stored).toMatch(/^LAST-MODIFIED:20261120T100000Z\r?$/m);
    expect(await readNote(stamp.id)).toEqual({ ...note, Body: { ...note.Body, EstimatedDataSize: 10 } });

    // another client adds STATUS and an X- property; the phone's edit keeps them
    const edited = stored.replace(
      'BEGIN:VJOURNAL\r\n',
      'BEGIN:VJOURNAL\r\nSTATUS:FINAL\r\nX-OTHER-APP:kept\r\n',
    );
    expect((await raw('PUT', href[0]!, edited)).status).toBeLessThan(300);
    const [now] = await backend.listStamps(a, memos.id, {}, signal);
    const after = await backend.updateItem(
      a,
      memos.id,
      stamp.id,
      { class: 'Notes', item: { ...note, Subject: 'Groceries (done)' } },
      { ifVersion: now!.version },
      signal,
    );
    expect(after.version).not.toBe(now!.version);
    const rewritten = unfold(await (await raw('GET', href[0]!)).text());
    expect(rewritten).toContain('SUMMARY:Groceries (done)');
    expect(rewritten).toMatch(/^STATUS:FINAL\r?$/m);
    expect(rewritten).toMatch(/^X-OTHER-APP:kept\r?$/m);
    await backend.deleteItem(a, memos.id, stamp.id, {}, signal);
    expect(await backend.listStamps(a, memos.id, {}, signal)).toEqual([]);
  });
});
