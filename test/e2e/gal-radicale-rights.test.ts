// The shared address book set up as docs/configuration.md tells ("The global address list"): a
// Radicale of its own with the documented rights file, the book owned by a `directory` user and
// readable by every signed-in user. easd reads it with each user's own credentials (no service
// account): alice finds the entries, nobody but `directory` may write the book, and alice's own
// address book stays hers. Uses the stack's Dovecot for logins (alice, bob).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { openEasd, type Easd } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { spawnDaemon, waitUntilReady, withFreePort, type Daemon } from '../stack/process.js';
import { radicaleConfig } from '../stack/radicale.js';
import { EasTestClient, findAll, findText } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

const stack = inject('stack');
const alice = stack.users.find((u) => u.user === 'alice')!;
const bob = stack.users.find((u) => u.user === 'bob')!;
const directory = { user: 'directory', password: 'directory-pw-3Jk8' };

/** The rights file of docs/configuration.md, as written there. */
const rights = `# The organisation's address book: its owner writes it, every signed-in user reads it.
[gal-owner]
user: directory
collection: directory/gal
permissions: rw

[gal-readers]
user: .+
collection: directory/gal
permissions: r

# Everything else as owner_only: each user's own principal and collections.
[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {user}
permissions: RW

[own-collections]
user: .+
collection: {user}/[^/]+
permissions: rw
`;

let dir: string;
let daemon: Daemon | undefined;
let url: string;
let easd: Easd;

const auth = (who: { user: string; password: string }): string =>
  `Basic ${Buffer.from(`${who.user}:${who.password}`).toString('base64')}`;

async function dav(
  who: { user: string; password: string },
  method: string,
  target: string,
  body?: string,
): Promise<number> {
  const res = await fetch(target, {
    method,
    headers: {
      Authorization: auth(who),
      'Content-Type': method === 'PUT' ? 'text/vcard; charset=utf-8' : 'application/xml',
    },
    ...(body !== undefined && { body }),
  });
  await res.text();
  return res.status;
}

const mkAddressBook =
  '<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>';
const vcard = (uid: string, fn: string, email: string): string =>
  `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${fn}\r\nN:${fn.split(' ').reverse().join(';')};;;\r\nEMAIL:${email}\r\nEND:VCARD\r\n`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'easd-gal-radicale-'));
  await writeFile(
    path.join(dir, 'users'),
    [alice, bob, directory].map((u) => `${u.user}:${u.password}`).join('\n') + '\n',
  );
  await writeFile(path.join(dir, 'rights'), rights);
  url = await withFreePort(async (port) => {
    const conf = radicaleConfig(dir, port).replace(
      'type = owner_only',
      `type = from_file\nfile = ${dir}/rights`,
    );
    await writeFile(path.join(dir, 'config'), conf);
    const d = spawnDaemon(
      'radicale-gal',
      '/usr/bin/python3',
      ['-m', 'radicale', '--config', path.join(dir, 'config')],
      path.join(dir, 'radicale.log'),
      { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } },
    );
    const base = `http://127.0.0.1:${port}/`;
    try {
      await waitUntilReady(d, async () => (await fetch(base, { method: 'OPTIONS' })).status > 0);
    } catch (err) {
      await d.stop();
      throw err;
    }
    daemon = d;
    return base;
  });
  // The directory user makes the book (its principal first, as a client's first visit would).
  expect(await dav(directory, 'PROPFIND', `${url}directory/`, undefined)).toBe(207);
  expect(await dav(directory, 'MKCOL', `${url}directory/gal/`, mkAddressBook)).toBe(201);
  expect(
    await dav(
      directory,
      'PUT',
      `${url}directory/gal/dana.vcf`,
      vcard('dana', 'Dana Dietrich', 'dana@corp.example'),
    ),
  ).toBe(201);
  easd = await openEasd(
    loadConfig({
      EASD_DATA_DIR: dir,
      EASD_IMAP_URL: `imap://${stack.imap.host}:${stack.imap.port}`,
      EASD_GAL_URL: `${url}directory/gal/`,
      EASD_GAL_REFRESH: '0',
    }),
    pino({ level: 'silent' }),
  );
});
afterAll(async () => {
  await easd?.app.close();
  await daemon?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('every user reads the book with their own credentials; only its owner writes it; own books stay private', async () => {
  const phone = EasTestClient.inject(easd.app, {
    user: alice.user,
    password: alice.password,
    deviceId: `GALRIGHTS${Date.now()}`,
    version: '16.1',
  });
  await phone.provision();
  const res = await phone.command(
    'Search',
    '<Search xmlns="Search:"><Store><Name>GAL</Name><Query>dan</Query></Store></Search>',
  );
  await validateEasResponse(res.doc!, 'Search');
  expect(findAll(res.doc, 'Result').map((r) => findText(r, 'EmailAddress'))).toEqual(['dana@corp.example']);

  // Readers cannot change the organisation's book.
  expect(await dav(bob, 'PUT', `${url}directory/gal/x.vcf`, vcard('x', 'Mal Lory', 'x@corp.example'))).toBe(
    403,
  );
  expect(await dav(bob, 'DELETE', `${url}directory/gal/dana.vcf`)).toBe(403);
  // A user's own address book is still theirs alone.
  expect(await dav(alice, 'PROPFIND', `${url}alice/`, undefined)).toBe(207);
  expect(await dav(alice, 'MKCOL', `${url}alice/contacts/`, mkAddressBook)).toBe(201);
  expect(await dav(bob, 'PROPFIND', `${url}alice/contacts/`, undefined)).toBe(403);
});
