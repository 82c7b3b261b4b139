// A contact picture from one phone through easd to the stack's Radicale and back to another phone:
// the Picture bytes arrive unchanged, and the card on Radicale holds the whole photo (Radicale
// 3.1 cuts a vCard 4.0 PHOTO data: URI at its comma, so easd writes 3.0 there).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findAll, findText } from '../support/eas-client.js';
import { openStackEasd, syncedPhone } from './calendar-support.js';

const stack = inject('stack');
const alice = stack.users.find((u) => u.user === 'alice')!;
let stackEasd: Awaited<ReturnType<typeof openStackEasd>>;

beforeAll(async () => {
  stackEasd = await openStackEasd(stack, { carddav: true });
});
afterAll(async () => {
  await stackEasd?.close();
});

describe('contact pictures on Radicale', () => {
  it('a Picture added on one phone reaches another phone byte for byte, and Radicale holds the whole photo', async () => {
    const writer = await syncedPhone(stackEasd.easd.app, alice, '16.1', '9');
    const reader = await syncedPhone(stackEasd.easd.app, alice, '16.1', '9');
    const last = `Photo${randomBytes(4).toString('hex')}`;
    // JPEG magic, then 9 KB: the base64 is folded over ~160 lines in the vCard
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), randomBytes(9000)]);
    const picture = jpeg.toString('base64');
    const added = await writer.sync(
      `<Commands><Add><ClientId>p1</ClientId><ApplicationData><FirstName xmlns="Contacts:">Pia</FirstName><LastName xmlns="Contacts:">${last}</LastName><Picture xmlns="Contacts:">${picture}</Picture></ApplicationData></Add></Commands>`,
    );
    expect(findText(findAll(added, 'Add')[0], 'Status')).toBe('1');

    const got = await reader.sync('<GetChanges/><WindowSize>100</WindowSize>');
    const add = findAll(got, 'Add').find((a) => findText(a, 'LastName') === last);
    expect(add, 'the other phone gets the contact').toBeDefined();
    expect(Buffer.from(findText(add, 'Picture')!, 'base64').equals(jpeg)).toBe(true);

    // the card on Radicale itself, found by its name
    const authorization = 'Basic ' + Buffer.from(`${alice.user}:${alice.password}`).toString('base64');
    const hrefsIn = async (url: string): Promise<string[]> => {
      const res = await fetch(url, { method: 'PROPFIND', headers: { authorization, depth: '1' } });
      return [...(await res.text()).matchAll(/<(?:[A-Za-z]+:)?href>([^<]+)<\//g)].map((m) => m[1]!);
    };
    const cards: string[] = [];
    for (const collection of await hrefsIn(`${stack.dav.url}${alice.user}/`))
      if (collection.endsWith('/'))
        for (const h of await hrefsIn(new URL(collection, stack.dav.url).href))
          if (h.endsWith('.vcf'))
            cards.push(await (await fetch(new URL(h, stack.dav.url), { headers: { authorization } })).text());
    const card = cards.find((c) => c.includes(last));
    expect(card).toBeDefined();
    const lines = card!.replace(/\r\n[ \t]/g, '').split('\r\n');
    expect(lines).toContain('VERSION:3.0');
    expect(lines).toContain(`PHOTO;ENCODING=b;TYPE=JPEG:${picture}`);
  });
});
