// ResolveRecipients Availability (MS-ASCMD 2.2.3.16) on the memory backend with a free/busy source
// added: MergedFreeBusy digits per 30 minutes (2.2.3.107) for the addresses the source knows, 163
// for resolved recipients it does not, 160 past 100 recipients, EndTime's default of seven days and
// Status 5 for a window under 30 minutes or over 42 days (2.2.3.61.1); the user's own address
// resolves without a directory. WBXML in and out, every response schema-checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, BusyPeriod, FreeBusySource } from '../../src/backend/contract.js';
import { BackendError } from '../../src/backend/errors.js';
import type { EngineDeps } from '../../src/commands/deps.js';
import { createResolveRecipientsHandler, mergedFreeBusy } from '../../src/commands/resolve-recipients.js';
import { findAll, findText, type EasTestClient } from '../support/eas-client.js';
import { startTestEngine, type TestEngine } from '../support/engine.js';
import { withFixedDirectory } from '../support/gal.js';
import { validateEasResponse } from '../support/schema.js';
import { withoutDirectory } from '../support/search-world.js';

const at = (hhmm: string): Date => new Date(`2030-01-01T${hhmm}:00.000Z`);
const window = (from: string, to: string): string =>
  `<Availability><StartTime>${from}</StartTime><EndTime>${to}</EndTime></Availability>`;
const fourHours = window('2030-01-01T00:00:00.000Z', '2030-01-01T04:00:00.000Z');

/** alice's day: busy 00:30–01:30, tentative 01:15–02:00, out of office 03:00–03:10. */
const aliceBusy: BusyPeriod[] = [
  { start: at('00:30'), end: at('01:30'), type: 'busy' },
  { start: at('01:15'), end: at('02:00'), type: 'tentative' },
  { start: at('03:00'), end: at('03:10'), type: 'oof' },
];

/** `deps` whose backend tells free/busy through `source`. */
function withFreeBusy(deps: EngineDeps, source: FreeBusySource): EngineDeps {
  const backend = new Proxy(deps.backend, {
    get: (t, p) => (p === 'freeBusy' ? source : Reflect.get(t, p, t)),
  }) as Backend;
  return { ...deps, backend };
}

const asked: string[][] = [];
const knowsAlice: FreeBusySource = {
  freeBusy: (account, addresses) => {
    asked.push([...addresses]);
    return Promise.resolve(
      new Map(addresses.filter((a) => a === account.email).map((a) => [a, aliceBusy] as const)),
    );
  },
};

async function availabilityOf(
  c: EasTestClient,
  to: string[],
  options: string,
): Promise<{
  Status: string | undefined;
  recipients: Array<[string | undefined, string | undefined, string | undefined]>;
}> {
  const body = `<ResolveRecipients xmlns="ResolveRecipients:">${to.map((t) => `<To>${t}</To>`).join('')}<Options>${options}</Options></ResolveRecipients>`;
  const res = await c.command('ResolveRecipients', body);
  expect(res.status).toBe(200);
  await validateEasResponse(res.doc!, 'ResolveRecipients');
  return {
    Status: res.doc!.children.find((e) => e.name === 'Status')?.value as string | undefined,
    recipients: findAll(res.doc, 'Recipient').map((r) => {
      const a = findAll(r, 'Availability')[0];
      return [findText(r, 'EmailAddress'), findText(a, 'Status'), findText(a, 'MergedFreeBusy')];
    }),
  };
}

describe('ResolveRecipients Availability with a free/busy source', () => {
  let g: TestEngine;
  beforeAll(async () => {
    g = await startTestEngine({
      extraHandlers: (deps) => ({
        ResolveRecipients: createResolveRecipientsHandler(
          withFreeBusy(
            withFixedDirectory(deps, [
              { DisplayName: 'Alice', EmailAddress: 'alice@easd.local' },
              { DisplayName: 'Anna Berg', EmailAddress: 'anna@example.org' },
            ]),
            knowsAlice,
          ),
        ),
      }),
    });
  });
  afterAll(async () => g?.close());

  it('1 with MergedFreeBusy for the address the source knows, 163 for the other, in one question', async () => {
    const c = await g.client('alice', { version: '14.1' });
    asked.length = 0;
    const a = await availabilityOf(c, ['alice@easd.local', 'anna@example.org'], fourHours);
    // slots of 30 min from 00:00: 00:30–01:30 busy, 01:30 busy+tentative → busy, 01:30–02:00
    // tentative, 03:00–03:30 out of office for ten minutes of it
    expect(a).toEqual({
      Status: '1',
      recipients: [
        ['alice@easd.local', '1', '02210030'],
        ['anna@example.org', '163', undefined],
      ],
    });
    expect(asked).toEqual([['alice@easd.local', 'anna@example.org']]);
  });

  it('160 for every recipient when more than 100 are named', async () => {
    const c = await g.client('alice', { version: '16.1' });
    const to = ['alice@easd.local', ...Array.from({ length: 100 }, (_, i) => `nobody${i}@example.org`)];
    const a = await availabilityOf(c, to, fourHours);
    expect(a.recipients).toEqual([['alice@easd.local', '160', undefined]]);
  });

  // MS-ASCMD 2.2.3.61.1: EndTime defaults to StartTime + 7 days; shorter than 30 minutes or longer
  // than the server's days (42, as Exchange 2010/2013) is Status 5
  it.each([
    ['ends before it starts', window('2030-01-01T04:00:00.000Z', '2030-01-01T00:00:00.000Z')],
    ['is 29 minutes', window('2030-01-01T00:00:00.000Z', '2030-01-01T00:29:00.000Z')],
    ['is 42 days and a minute', window('2030-01-01T00:00:00.000Z', '2030-02-12T00:01:00.000Z')],
    ['has no StartTime', '<Availability><EndTime>2030-01-01T04:00:00.000Z</EndTime></Availability>'],
    ['starts at no date-time', window('yesterday', '2030-01-01T00:00:00.000Z')],
  ])('5 for a window that %s', async (_name, bad) => {
    const c = await g.client('alice', { version: '14.1' });
    expect(await availabilityOf(c, ['alice@easd.local'], bad)).toEqual({ Status: '5', recipients: [] });
  });

  it.each([
    [
      'no EndTime: seven days',
      '<Availability><StartTime>2030-01-01T00:00:00.000Z</StartTime></Availability>',
      '02210030'.padEnd(7 * 48, '0'),
    ],
    ['30 minutes: one slot', window('2030-01-01T00:00:00.000Z', '2030-01-01T00:30:00.000Z'), '0'],
    [
      '42 days',
      window('2030-01-01T00:00:00.000Z', '2030-02-12T00:00:00.000Z'),
      '02210030'.padEnd(42 * 48, '0'),
    ],
  ])('1 for a window of %s', async (_name, options, digits) => {
    const c = await g.client('alice', { version: '14.1' });
    const a = await availabilityOf(c, ['alice@easd.local'], options);
    expect(a).toEqual({ Status: '1', recipients: [['alice@easd.local', '1', digits]] });
  });
});

describe('ResolveRecipients Availability, other cases', () => {
  let g: TestEngine;
  let failing: TestEngine;
  beforeAll(async () => {
    g = await startTestEngine({
      extraHandlers: (deps) => ({
        ResolveRecipients: createResolveRecipientsHandler(withFreeBusy(withoutDirectory(deps), knowsAlice)),
      }),
    });
    failing = await startTestEngine({
      extraHandlers: (deps) => ({
        ResolveRecipients: createResolveRecipientsHandler(
          withFreeBusy(deps, {
            freeBusy: () => Promise.reject(new BackendError('unavailable', 'the calendar server is down')),
          }),
        ),
      }),
    });
  });
  afterAll(async () => {
    await g?.close();
    await failing?.close();
  });

  it("the user's own address resolves without a directory, with its free/busy", async () => {
    const c = await g.client('alice', { version: '16.1' });
    const a = await availabilityOf(c, ['Alice &lt;alice@easd.local&gt;', 'anna@example.org'], fourHours);
    expect(a.recipients).toEqual([['alice@easd.local', '1', '02210030']]);
  });

  it('163 when the free/busy source fails: the names stay resolved', async () => {
    const c = await failing.client('alice', { version: '14.1' });
    const a = await availabilityOf(c, ['bob@easd.local'], fourHours);
    expect([a.Status, a.recipients]).toEqual(['1', [['bob@easd.local', '163', undefined]]]);
  });
});

describe('mergedFreeBusy', () => {
  const from = at('00:00');
  it.each([
    ['nothing: all free', [], at('02:00'), '0000'],
    ['a partial last slot counts', [], at('01:10'), '000'],
    [
      'a period before or after the window is not shown',
      [{ start: at('05:00'), end: at('06:00'), type: 'busy' as const }],
      at('02:00'),
      '0000',
    ],
    [
      'one minute makes a slot busy',
      [{ start: at('00:59'), end: at('01:00'), type: 'busy' as const }],
      at('02:00'),
      '0200',
    ],
    [
      'the higher digit wins',
      [
        { start: at('00:00'), end: at('02:00'), type: 'tentative' as const },
        { start: at('00:30'), end: at('01:00'), type: 'oof' as const },
      ],
      at('02:00'),
      '1311',
    ],
  ])('%s', (_name, periods, to, digits) => {
    expect(mergedFreeBusy(periods, from, to)).toBe(digits);
  });

  it('stops at 32 KB (MS-ASCMD 2.2.3.107)', () => {
    expect(mergedFreeBusy([], from, new Date(from.getTime() + 5 * 365 * 86_400_000))).toHaveLength(32 * 1024);
  });
});
