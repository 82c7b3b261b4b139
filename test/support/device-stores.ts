// What the device flows look at on the servers themselves: messages and flags in a Dovecot
// mailbox (IMAP), objects in a user's Radicale collections (WebDAV), messages the SMTP receiver
// recorded. A flow checks the phone's view against these, never easd's word alone.
import { imapConnect } from '../stack/dovecot.js';
import { readSpool } from '../stack/smtp.js';
import type { TestUser } from '../stack/users.js';

export interface ImapMessage {
  uid: number;
  subject: string;
  flags: Set<string>;
  raw?: string;
}

/** The messages of one mailbox with their flags (and source when `withSource`). */
export async function imapMessages(
  imap: { host: string; port: number },
  user: TestUser,
  mailbox: string,
  opts: { withSource?: boolean } = {},
): Promise<ImapMessage[]> {
  const client = await imapConnect(imap, user);
  try {
    const lock = await client.getMailboxLock(mailbox);
    try {
      const out: ImapMessage[] = [];
      if (client.mailbox === false || client.mailbox.exists === 0) return out;
      for await (const m of client.fetch('1:*', {
        uid: true,
        flags: true,
        envelope: true,
        source: opts.withSource === true,
      })) {
        out.push({
          uid: m.uid,
          subject: m.envelope?.subject ?? '',
          flags: m.flags ?? new Set(),
          raw: m.source?.toString('utf8'),
        });
      }
      return out;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

/** The messages of `mailbox` whose subject is exactly `subject`. */
export async function imapFind(
  imap: { host: string; port: number },
  user: TestUser,
  mailbox: string,
  subject: string,
  opts: { withSource?: boolean } = {},
): Promise<ImapMessage[]> {
  return (await imapMessages(imap, user, mailbox, opts)).filter((m) => m.subject === subject);
}

export interface DavCollection {
  href: string;
  kind: 'addressbook' | 'calendar';
  /** VEVENT/VTODO for calendars. */
  components: string[];
}

function auth(user: TestUser): string {
  return 'Basic ' + Buffer.from(`${user.user}:${user.password}`).toString('base64');
}

/** The user's collections on the DAV server (PROPFIND Depth 1 on the home). */
export async function davCollections(davUrl: string, user: TestUser): Promise<DavCollection[]> {
  const res = await fetch(`${davUrl}${user.user}/`, {
    method: 'PROPFIND',
    headers: { authorization: auth(user), depth: '1', 'content-type': 'application/xml' },
    body: '<?xml version="1.0"?><propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><resourcetype/><C:supported-calendar-component-set/></prop></propfind>',
  });
  const text = await res.text();
  const out: DavCollection[] = [];
  for (const block of text.split(/<(?:[A-Za-z]+:)?response[\s>]/).slice(1)) {
    const href = /<(?:[A-Za-z]+:)?href>([^<]+)</.exec(block)?.[1];
    if (href === undefined) continue;
    if (/addressbook/i.test(block)) out.push({ href, kind: 'addressbook', components: [] });
    else if (/<(?:[A-Za-z]+:)?calendar\s*\/>/i.test(block)) {
      const components = [...block.matchAll(/name="(V[A-Z]+)"/g)].map((m) => m[1]!);
      out.push({
        href,
        kind: 'calendar',
        components: components.length > 0 ? components : ['VEVENT', 'VTODO'],
      });
    }
  }
  return out;
}

/** Every object (.vcf or .ics) in the user's collections, with its body and ETag. */
export async function davObjects(
  davUrl: string,
  user: TestUser,
): Promise<Array<{ href: string; body: string; etag: string }>> {
  const out: Array<{ href: string; body: string; etag: string }> = [];
  for (const c of await davCollections(davUrl, user)) {
    const res = await fetch(new URL(c.href, davUrl), {
      method: 'PROPFIND',
      headers: { authorization: auth(user), depth: '1' },
    });
    const hrefs = [...(await res.text()).matchAll(/<(?:[A-Za-z]+:)?href>([^<]+)<\//g)]
      .map((m) => m[1]!)
      .filter((h) => /\.(vcf|ics)$/.test(h));
    for (const h of hrefs) {
      const get = await fetch(new URL(h, davUrl), { headers: { authorization: auth(user) } });
      if (get.ok) out.push({ href: h, body: await get.text(), etag: get.headers.get('etag') ?? '' });
    }
  }
  return out;
}

/** The objects whose body contains `needle`. */
export async function davFind(davUrl: string, user: TestUser, needle: string) {
  return (await davObjects(davUrl, user)).filter((o) => o.body.includes(needle));
}

/** PUT an object as another client (a desktop calendar, a web address book) would. */
export async function davPut(
  davUrl: string,
  user: TestUser,
  href: string,
  body: string,
  etag?: string,
): Promise<void> {
  const res = await fetch(new URL(href, davUrl), {
    method: 'PUT',
    headers: {
      authorization: auth(user),
      'content-type': href.endsWith('.vcf') ? 'text/vcard; charset=utf-8' : 'text/calendar; charset=utf-8',
      ...(etag === undefined ? { 'if-none-match': '*' } : { 'if-match': etag }),
    },
    body,
  });
  if (!res.ok) throw new Error(`PUT ${href}: ${res.status} ${await res.text()}`);
}

/**
 * A collection of this kind (and component) to put objects in; the first MKCOL/FolderSync made
 * the defaults. Undefined when the user has none yet.
 */
export async function davCollection(
  davUrl: string,
  user: TestUser,
  kind: 'addressbook' | 'VEVENT' | 'VTODO',
): Promise<string | undefined> {
  const all = await davCollections(davUrl, user);
  return all.find((c) => (kind === 'addressbook' ? c.kind === 'addressbook' : c.components.includes(kind)))
    ?.href;
}

/** Messages the SMTP receiver recorded that contain `needle` (a unique subject or Message-ID). */
export async function spooled(spoolDir: string, needle: string) {
  return (await readSpool(spoolDir)).filter((m) => m.raw.toString().includes(needle));
}

/**
 * What another client (a web address book, a desktop calendar) put on the DAV server before the
 * phone's first Sync: a contact (LastName `tag`), an event (`Event <tag>`) and a task
 * (`Task <tag>`), in the user's collections the first FolderSync made.
 */
export async function davSeed(davUrl: string, user: TestUser, tag: string): Promise<void> {
  const book = await davCollection(davUrl, user, 'addressbook');
  const cal = await davCollection(davUrl, user, 'VEVENT');
  const todo = await davCollection(davUrl, user, 'VTODO');
  if (book === undefined || cal === undefined || todo === undefined)
    throw new Error(`${user.user} has no address book, calendar or task list on ${davUrl}`);
  await davPut(
    davUrl,
    user,
    `${book}${tag}.vcf`,
    `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${tag}\r\nFN:Setup ${tag}\r\nN:${tag};Setup;;;\r\nEMAIL;TYPE=INTERNET:${tag}@example.com\r\nEND:VCARD\r\n`,
  );
  await davPut(
    davUrl,
    user,
    `${cal}${tag}-ev.ics`,
    `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//easd flows//EN\r\nBEGIN:VEVENT\r\nUID:${tag}-ev\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300301T100000Z\r\nDTEND:20300301T110000Z\r\nSUMMARY:Event ${tag}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`,
  );
  await davPut(
    davUrl,
    user,
    `${todo}${tag}-todo.ics`,
    `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//easd flows//EN\r\nBEGIN:VTODO\r\nUID:${tag}-todo\r\nDTSTAMP:20300101T000000Z\r\nSUMMARY:Task ${tag}\r\nDUE:20300305T170000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n`,
  );
}
