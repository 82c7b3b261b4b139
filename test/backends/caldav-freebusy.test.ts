// Free/busy of the user's own address from the CalDAV backend. On the stack's Radicale (whose
// free-busy-query answers a plain multistatus) the window's events are read by calendar-query
// and expanded by easd: another client's zoned weekly series across a DST change, with an EXDATE
// and a moved occurrence, tentative, transparent and cancelled events. Behind a proxy that
// answers free-busy-query with a VFREEBUSY, that answer is used as it is. Other people's
// addresses are not answered (the engine says 163 for them).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openCalDavBackend } from '../../backends/caldav/index.js';
import type { Account, Folder } from '../../src/backend/contract.js';
import { startSchedulingProxy } from '../support/dav-proxy.js';

const stack = inject('stack');
const alice = stack.users.find((u) => u.user === 'alice')!;
const signal = new AbortController().signal;
const auth = `Basic ${Buffer.from(`${alice.user}:${alice.password}`).toString('base64')}`;

const vevent = (uid: string, lines: string[]): string =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//other//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');

const berlin = [
  'BEGIN:VTIMEZONE',
  'TZID:Europe/Berlin',
  'BEGIN:DAYLIGHT',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0200',
  'TZNAME:CEST',
  'DTSTART:19700329T020000',
  'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU',
  'END:DAYLIGHT',
  'BEGIN:STANDARD',
  'TZOFFSETFROM:+0200',
  'TZOFFSETTO:+0100',
  'TZNAME:CET',
  'DTSTART:19701025T030000',
  'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU',
  'END:STANDARD',
  'END:VTIMEZONE',
];

const event = (uid: string, props: string[]): string[] => [
  'BEGIN:VEVENT',
  `UID:${uid}`,
  'DTSTAMP:20260101T000000Z',
  ...props,
  'END:VEVENT',
];

describe('caldav free/busy', () => {
  let account: Account;
  let folder: Folder;
  let backend: Awaited<ReturnType<typeof openCalDavBackend>>;
  const put = async (uid: string, text: string): Promise<number> =>
    (
      await fetch(new URL(`${alice.user}/${folder.id}/${uid}.ics`, stack.dav.url), {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'text/calendar; charset=utf-8' },
        body: text,
      })
    ).status;

  beforeAll(async () => {
    backend = await openCalDavBackend({ url: stack.dav.url, emailDomain: 'easd.test' });
    account = (await backend.authenticate(alice.user, alice.password, signal))!;
    folder = await backend.folders.createFolder(
      account,
      null,
      `FB ${randomBytes(4).toString('hex')}`,
      'Calendar',
      signal,
    );
    // weekly Mondays 09:00 Berlin from 2035-03-19 (CET, 08:00Z): 26 March is after the change
    // (CEST, 07:00Z); 2 April is deleted, 9 April moved to 14:00 Berlin (12:00Z)
    const weekly = vevent('weekly', [
      ...berlin,
      ...event('weekly', [
        'DTSTART;TZID=Europe/Berlin:20350319T090000',
        'DTEND;TZID=Europe/Berlin:20350319T100000',
        'RRULE:FREQ=WEEKLY;COUNT=6',
        'EXDATE;TZID=Europe/Berlin:20350402T090000',
        'SUMMARY:Weekly',
      ]),
      ...event('weekly', [
        'RECURRENCE-ID;TZID=Europe/Berlin:20350409T090000',
        'DTSTART;TZID=Europe/Berlin:20350409T140000',
        'DTEND;TZID=Europe/Berlin:20350409T150000',
        'SUMMARY:Weekly (moved)',
      ]),
    ]);
    expect(await put('weekly', weekly)).toBe(201);
    const single = (uid: string, start: string, end: string, extra: string[]): string =>
      vevent(uid, event(uid, [`DTSTART:${start}`, `DTEND:${end}`, `SUMMARY:${uid}`, ...extra]));
    expect(
      await put('tent', single('tent', '20350320T100000Z', '20350320T110000Z', ['STATUS:TENTATIVE'])),
    ).toBe(201);
    expect(
      await put('transp', single('transp', '20350320T120000Z', '20350320T130000Z', ['TRANSP:TRANSPARENT'])),
    ).toBe(201);
    expect(
      await put('gone', single('gone', '20350320T140000Z', '20350320T150000Z', ['STATUS:CANCELLED'])),
    ).toBe(201);
    expect(
      await put(
        'oof',
        single('oof', '20350321T000000Z', '20350322T000000Z', ['X-MICROSOFT-CDO-BUSYSTATUS:OOF']),
      ),
    ).toBe(201);
  });
  afterAll(async () => {
    await backend?.folders.deleteFolder(account, folder.id, signal).catch(() => undefined);
  });

  const iso = (periods: Array<{ start: Date; end: Date; type: string }>): string[] =>
    periods.map((p) => `${p.start.toISOString()} ${p.end.toISOString()} ${p.type}`).sort();

  it("reads the user's own busy time from the calendars, series expanded in their zone", async () => {
    const got = await backend.freeBusy.freeBusy(
      account,
      [account.email, 'someone@elsewhere.test'],
      new Date('2035-03-18T00:00:00Z'),
      new Date('2035-04-30T00:00:00Z'),
      signal,
    );
    expect([...got.keys()]).toEqual([account.email]);
    expect(iso(got.get(account.email)!)).toEqual(
      [
        '2035-03-19T08:00:00.000Z 2035-03-19T09:00:00.000Z busy',
        '2035-03-20T10:00:00.000Z 2035-03-20T11:00:00.000Z tentative',
        '2035-03-21T00:00:00.000Z 2035-03-22T00:00:00.000Z oof',
        '2035-03-26T07:00:00.000Z 2035-03-26T08:00:00.000Z busy',
        '2035-04-09T12:00:00.000Z 2035-04-09T13:00:00.000Z busy',
        '2035-04-16T07:00:00.000Z 2035-04-16T08:00:00.000Z busy',
        '2035-04-23T07:00:00.000Z 2035-04-23T08:00:00.000Z busy',
      ].sort(),
    );
  });

  it('cuts periods to the window', async () => {
    const got = await backend.freeBusy.freeBusy(
      account,
      [account.email],
      new Date('2035-03-21T12:00:00Z'),
      new Date('2035-03-21T13:00:00Z'),
      signal,
    );
    expect(iso(got.get(account.email) ?? [])).toEqual([
      '2035-03-21T12:00:00.000Z 2035-03-21T13:00:00.000Z oof',
    ]);
  });

  it('uses a VFREEBUSY where the server answers free-busy-query with one', async () => {
    const proxy = await startSchedulingProxy(stack.dav.url, {
      freeBusy: [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//server//EN',
        'BEGIN:VFREEBUSY',
        'DTSTAMP:20260101T000000Z',
        'DTSTART:20350318T000000Z',
        'DTEND:20350430T000000Z',
        'FREEBUSY;FBTYPE=BUSY:20350319T080000Z/20350319T090000Z,20350326T070000Z/PT1H',
        'FREEBUSY;FBTYPE=BUSY-TENTATIVE:20350320T100000Z/20350320T110000Z',
        'FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20350321T000000Z/20350322T000000Z',
        'FREEBUSY;FBTYPE=FREE:20350322T000000Z/20350323T000000Z',
        'END:VFREEBUSY',
        'END:VCALENDAR',
        '',
      ].join('\r\n'),
    });
    try {
      const other = await openCalDavBackend({ url: proxy.url, emailDomain: 'easd.test' });
      const acc = (await other.authenticate(alice.user, alice.password, signal))!;
      const got = await other.freeBusy.freeBusy(
        acc,
        [acc.email],
        new Date('2035-03-18T00:00:00Z'),
        new Date('2035-04-30T00:00:00Z'),
        signal,
      );
      // every calendar of alice's answers the same VFREEBUSY here, so periods repeat per calendar
      const kinds = new Set(iso(got.get(acc.email)!));
      expect([...kinds].sort()).toEqual([
        '2035-03-19T08:00:00.000Z 2035-03-19T09:00:00.000Z busy',
        '2035-03-20T10:00:00.000Z 2035-03-20T11:00:00.000Z tentative',
        '2035-03-21T00:00:00.000Z 2035-03-22T00:00:00.000Z oof',
        '2035-03-26T07:00:00.000Z 2035-03-26T08:00:00.000Z busy',
      ]);
      // no calendar-query was needed
      expect(proxy.seen.filter((r) => r.method === 'REPORT' && r.body.includes('calendar-query'))).toEqual(
        [],
      );
    } finally {
      await proxy.close();
    }
  });
});
