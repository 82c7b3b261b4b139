// CalDAV free/busy: whether the server has free-busy-query (RFC 4791 §7.10) is settled by its
// answer and kept for the session, but a failure of the moment (503) settles nothing. Behind a
// proxy in front of the stack's Radicale that fails the first free-busy-query, then answers it
// with a VFREEBUSY: the next question asks the report again and uses its answer (review 12b).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openCalDavBackend } from '../../backends/caldav/index.js';
import { startSchedulingProxy, type SchedulingProxy } from '../support/dav-proxy.js';

const stack = inject('stack');
const alice = stack.users.find((u) => u.user === 'alice')!;
const signal = new AbortController().signal;
const from = new Date('2035-03-18T00:00:00Z');
const to = new Date('2035-03-25T00:00:00Z');
const busy = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//server//EN',
  'BEGIN:VFREEBUSY',
  'DTSTAMP:20260101T000000Z',
  'DTSTART:20350318T000000Z',
  'DTEND:20350325T000000Z',
  'FREEBUSY;FBTYPE=BUSY:20350319T080000Z/20350319T090000Z',
  'END:VFREEBUSY',
  'END:VCALENDAR',
  '',
].join('\r\n');

describe('CalDAV free-busy-query detection', () => {
  let proxy: SchedulingProxy;
  beforeAll(async () => {
    proxy = await startSchedulingProxy(stack.dav.url, { freeBusy: busy, freeBusyFailures: 1 });
  });
  afterAll(async () => proxy?.close());

  it('a 503 to free-busy-query is asked again next time, and the VFREEBUSY then used', async () => {
    const backend = await openCalDavBackend({ url: proxy.url, emailDomain: 'easd.test' });
    const account = (await backend.authenticate(alice.user, alice.password, signal))!;
    const asked = (): number =>
      proxy.seen.filter((r) => r.method === 'REPORT' && r.body.includes('free-busy-query')).length;
    // the first question meets the 503 on one calendar (whose events are read instead)
    await backend.freeBusy.freeBusy(account, [account.email], from, to, signal);
    const before = asked();
    expect(before).toBeGreaterThanOrEqual(1);
    const got = await backend.freeBusy.freeBusy(account, [account.email], from, to, signal);
    expect(asked()).toBeGreaterThan(before);
    expect(new Set((got.get(account.email) ?? []).map((p) => `${p.start.toISOString()} ${p.type}`))).toEqual(
      new Set(['2035-03-19T08:00:00.000Z busy']),
    );
  });
});
