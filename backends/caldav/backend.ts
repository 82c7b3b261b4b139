// The CalDAV backend (RFC 4791): every calendar collection of the user is a Calendar folder (when
// it takes VEVENT) and/or a Tasks folder (when it takes VTODO); with `notes`, a collection taking
// VJOURNAL only (a memo list) is a Notes folder; every calendar object resource is an item. Ids come from hrefs, versions are ETags, FilterType is a calendar-query time-range (the
// server expands recurrences), the change feed is sync-collection (RFC 6578), reads are
// calendar-multiget, writes are conditional PUTs that rewrite the stored object through
// src/convert/icalendar.ts so properties a phone never saw survive its edits.
import { randomUUID } from 'node:crypto';
import type {
  Account,
  Backend,
  BusyPeriod,
  ChangeBatch,
  ChangeLog,
  Folder,
  FolderAdmin,
  FolderRole,
  FreeBusySource,
  ItemRecord,
  ItemStamp,
  ReadOptions,
  WriteOptions,
} from '../../src/backend/contract.js';
import { BackendError, isBackendError } from '../../src/backend/errors.js';
import type { CalendarItem, ItemClass, NoteItem, TaskItem, TypedItem } from '../../src/backend/model.js';
import {
  calendarToIcs,
  IcalendarError,
  icsToCalendar,
  icsToTask,
  taskToIcs,
} from '../../src/convert/icalendar.js';
import { busyPeriods } from '../../src/convert/icalendar-freebusy.js';
import { icsToNote, noteToIcs } from '../../src/convert/vjournal.js';
import ICAL from 'ical.js';
import {
  buildXml,
  CALDAV,
  childKeys,
  DAV,
  EASD,
  el,
  idFor,
  lastSegment,
  parseMultistatus,
  prop,
  statusError as davStatusError,
  textEl,
  textOf,
  type DavAnswer,
  type DavResponse,
  type XmlSpec,
} from '../dav/webdav.js';
import {
  DavResources,
  parentsFirst,
  propfindBody,
  listedResource,
  type ListedResource,
} from '../dav/resources.js';

export interface CalDavOptions {
  /** Where discovery starts: the server root, a principal URL or a /.well-known/caldav URL (RFC 6764). */
  url: string;
  /**
   * The DAV user name for an EAS login (a table or a function); default: the login itself. The
   * account's address is the login when it has an `@`, else `user@emailDomain`.
   */
  userMapping?: Record<string, string> | ((login: string) => string);
  /** For logins without `@` (default: the server's host name). */
  emailDomain?: string;
  /** Per DAV request (default 15 s); past it the call fails with 'unavailable'. */
  timeoutMs?: number;
  /**
   * Resources remembered from folder listings, across all users (default 100,000; 0: none). A
   * look at a folder whose sync-token/ctag is that of its last listing answers from it (see
   * backends/dav/listing.ts); the least recently used listings go first.
   */
  listingRows?: number;
  /**
   * The user's zone (IANA or Windows name) for floating times, date-only tasks and all-day events
   * another client wrote without a zone (default UTC).
   */
  timeZone?: string;
  /**
   * Made in the home when the user has no calendar / no task list at all (default: `calendar`,
   * "Calendar" with VEVENT and `tasks`, "Tasks" with VTODO); `false` makes nothing.
   */
  defaultCollections?:
    | {
        calendar: { segment: string; displayName: string };
        tasks: { segment: string; displayName: string };
        /** With `notes` (default `notes`, "Notes" with VJOURNAL). */
        notes?: { segment: string; displayName: string };
      }
    | false;
  /**
   * Serve notes (MS-ASNOTE, 14.0+) from collections that take VJOURNAL and neither VEVENT nor
   * VTODO (memo lists), and make the default one when there is none. Default false.
   */
  notes?: boolean;
}

/** Account.handle: which session the account belongs to. Holds no credentials. */
export class CalDavHandle {
  constructor(readonly davUser: string) {}
  toJSON(): { backend: string; user: string } {
    return { backend: 'caldav', user: this.davUser };
  }
}

type Component = 'VEVENT' | 'VTODO' | 'VJOURNAL';
type DavClass = 'Calendar' | 'Tasks' | 'Notes';
const componentOf = { Calendar: 'VEVENT', Tasks: 'VTODO', Notes: 'VJOURNAL' } as const;
const classOfComponent = { VEVENT: 'Calendar', VTODO: 'Tasks', VJOURNAL: 'Notes' } as const;
const isDavClass = (c: ItemClass): c is DavClass => c === 'Calendar' || c === 'Tasks' || c === 'Notes';

interface FolderInfo extends Folder {
  class: DavClass;
  /** Absolute URL of the collection, ending in `/`. */
  url: string;
  component: Component;
  /** The collection takes both VEVENT and VTODO and so is listed twice, once per class. */
  mixed: boolean;
  syncCollection: boolean;
}

/** What the backend knows of one DAV user; rebuilt from the server whenever it misses. */
interface UserCache {
  principal?: string;
  home?: string;
  folders?: Map<string, FolderInfo>;
  /** Whether the server schedules by itself (RFC 6638), asked once. */
  schedules?: boolean;
  /** Whether the server answers free-busy-query (RFC 4791 §7.10) with a VFREEBUSY, learnt once. */
  freeBusyQuery?: boolean;
}

interface Session {
  davUser: string;
  /** The Basic credentials, only here: in a WeakMap keyed by the Account's handle. */
  authorization: string;
}

const MULTIGET_BATCH = 100;
/** Names (segment or display name) that mark the default collection of a class, lower case. */
const defaultNames: Record<FolderInfo['class'], string[]> = {
  Calendar: ['calendar', 'default', 'personal', 'home', 'calendars'],
  Tasks: ['tasks', 'todo', 'todos', 'reminders', 'task'],
  Notes: ['notes', 'memos', 'journal', 'note'],
};

const statusError = (answer: DavAnswer, what: string): BackendError =>
  davStatusError(answer, `CalDAV ${what}`);

const compFilter = (name: string, ...children: XmlSpec[]): XmlSpec => ({
  ns: CALDAV,
  name: 'comp-filter',
  attrs: { name },
  children,
});

/** RFC 4791 §9.9: time-range values are UTC date-times in the basic format. */
const utcBasic = (d: Date): string =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

const hasComponent = (text: string, c: Component): boolean => new RegExp(`^BEGIN:${c}\\r?$`, 'm').test(text);

export class CalDavBackend implements Backend {
  readonly name = 'caldav';
  readonly changes: ChangeLog;
  readonly folders: FolderAdmin;
  readonly freeBusy: FreeBusySource;

  private readonly opts: Required<Omit<CalDavOptions, 'userMapping' | 'emailDomain' | 'timeZone' | 'notes'>> &
    Pick<CalDavOptions, 'userMapping' | 'emailDomain' | 'timeZone' | 'notes'>;
  private readonly sessions = new WeakMap<CalDavHandle, Session>();
  private readonly caches = new Map<string, UserCache>();
  private readonly dav: DavResources;

  constructor(opts: CalDavOptions) {
    this.opts = {
      timeoutMs: 15_000,
      listingRows: 100_000,
      defaultCollections: {
        calendar: { segment: 'calendar', displayName: 'Calendar' },
        tasks: { segment: 'tasks', displayName: 'Tasks' },
      },
      ...opts,
      url: opts.url,
    };
    this.dav = new DavResources({
      label: 'CalDAV',
      timeoutMs: this.opts.timeoutMs,
      listingRows: this.opts.listingRows,
      contentType: 'text/calendar; charset=utf-8',
      extension: '.ics',
    });
    this.changes = {
      currentCursor: (a, f, s) => this.currentCursor(a, f, s),
      changesSince: (a, f, c, s) => this.changesSince(a, f, c, s),
    };
    this.freeBusy = { freeBusy: (a, who, from, to, s) => this.busyOf(a, who, from, to, s) };
    this.folders = {
      createFolder: (a, p, n, c, s) => this.createFolder(a, p, n, c, s),
      updateFolder: (a, f, c, s) => this.updateFolder(a, f, c, s),
      deleteFolder: (a, f, s) => this.deleteFolder(a, f, s),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  private session(account: Account): Session {
    const s = account.handle instanceof CalDavHandle ? this.sessions.get(account.handle) : undefined;
    if (s === undefined) throw new BackendError('auth', 'not a CalDAV session of this server');
    return s;
  }

  private cache(s: Pick<Session, 'davUser'>): UserCache {
    let c = this.caches.get(s.davUser);
    if (c === undefined) {
      c = {};
      this.caches.set(s.davUser, c);
    }
    return c;
  }

  private multistatus(
    s: Pick<Session, 'authorization'>,
    method: 'PROPFIND' | 'REPORT',
    url: string,
    depth: '0' | '1',
    body: string,
    signal: AbortSignal,
  ): Promise<{ answer: DavAnswer; responses: DavResponse[]; syncToken?: string }> {
    return this.dav.multistatus(s, method, url, depth, body, signal);
  }

  // -------------------------------------------------------------------------------------------
  // Login and discovery (RFC 6764 §6, RFC 5397 current-user-principal, RFC 4791 §6.2.1)

  async authenticate(user: string, password: string, signal: AbortSignal): Promise<Account | null> {
    const map = this.opts.userMapping;
    const davUser = typeof map === 'function' ? map(user) : (map?.[user] ?? user);
    const authorization = `Basic ${Buffer.from(`${davUser}:${password}`, 'utf8').toString('base64')}`;
    const found = await this.dav.discover(
      { authorization },
      this.opts.url,
      '/.well-known/caldav',
      el(CALDAV, 'calendar-home-set'),
      signal,
    );
    if (found === null) return null;
    const handle = new CalDavHandle(davUser);
    this.sessions.set(handle, { davUser, authorization });
    const cache = this.cache({ davUser });
    if (cache.home !== found.home || cache.principal !== found.principal) {
      cache.home = found.home;
      cache.principal = found.principal;
      delete cache.folders;
      delete cache.schedules;
    }
    const email = user.includes('@')
      ? user
      : `${user}@${this.opts.emailDomain ?? new URL(this.opts.url).hostname}`;
    return {
      user,
      email,
      ...(found.displayName !== undefined && { displayName: found.displayName }),
      handle,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Server-side scheduling (RFC 6638)

  /**
   * Whether the server schedules by itself: `calendar-auto-schedule` in the DAV header of the
   * calendar home (RFC 6638 §2), or a schedule outbox on the principal (§2.1.1, also what
   * servers of the older client-POST drafts have). Asked once per DAV user, then cached.
   */
  private async serverSchedules(account: Account, signal: AbortSignal): Promise<boolean> {
    const s = this.session(account);
    const cache = this.cache(s);
    if (cache.schedules !== undefined) return cache.schedules;
    const home = cache.home;
    if (home === undefined) throw new BackendError('auth', 'CalDAV session without a home');
    const options = await this.dav.request(s, 'OPTIONS', home, signal);
    let schedules = (options.headers.get('dav') ?? '')
      .split(',')
      .some((t) => t.trim().toLowerCase() === 'calendar-auto-schedule');
    if (!schedules && cache.principal !== undefined) {
      const answer = await this.dav.request(s, 'PROPFIND', cache.principal, signal, {
        headers: { Depth: '0' },
        body: propfindBody(el(CALDAV, 'schedule-outbox-URL')),
      });
      if (answer.status === 207) {
        const r = parseMultistatus(answer.text).responses[0];
        schedules = r !== undefined && prop(r, CALDAV, 'schedule-outbox-URL') !== undefined;
      }
    }
    cache.schedules = schedules;
    return schedules;
  }

  // -------------------------------------------------------------------------------------------
  // Free/busy of the user's own address, from their calendars

  private async busyOf(
    account: Account,
    addresses: readonly string[],
    start: Date,
    end: Date,
    signal: AbortSignal,
  ): Promise<Map<string, BusyPeriod[]>> {
    const out = new Map<string, BusyPeriod[]>();
    // other people's calendars are not the user's to read; a schedule outbox POST (RFC 6638 §5)
    // would ask the server for them, but Radicale has none to test it on
    const mine = addresses.filter((a) => a.toLowerCase() === account.email.toLowerCase());
    if (mine.length === 0) return out;
    const s = this.session(account);
    const periods: BusyPeriod[] = [];
    for (const f of (await this.loadFolders(s, signal)).values())
      if (f.class === 'Calendar') periods.push(...(await this.busyIn(s, f, start, end, signal)));
    for (const a of mine) out.set(a, periods);
    return out;
  }

  /**
   * One calendar's busy time: free-busy-query (RFC 4791 §7.10) where the server answers it with a
   * VFREEBUSY; else (Radicale 3.1 answers a plain multistatus) the events of the window by
   * calendar-query with a time-range (§9.9), expanded here (src/convert/icalendar-freebusy.ts).
   */
  private async busyIn(
    s: Session,
    f: FolderInfo,
    start: Date,
    end: Date,
    signal: AbortSignal,
  ): Promise<BusyPeriod[]> {
    const range: XmlSpec = {
      ns: CALDAV,
      name: 'time-range',
      attrs: { start: utcBasic(start), end: utcBasic(end) },
    };
    const cache = this.cache(s);
    if (cache.freeBusyQuery !== false) {
      const answer = await this.dav.request(s, 'REPORT', f.url, signal, {
        headers: { Depth: '1' },
        body: buildXml({ ns: CALDAV, name: 'free-busy-query', children: [range] }),
      });
      const vfreebusy =
        answer.status === 200 && /^text\/calendar/i.test(answer.headers.get('content-type') ?? '')
          ? freeBusyPeriods(answer.text)
          : undefined;
      if (vfreebusy !== undefined) {
        cache.freeBusyQuery = true;
        return vfreebusy;
      }
      // only a server's settled answer says it has no free-busy-query; a failure of the moment
      // (5xx, 408, 429) leaves it to be asked again, this time the events are read instead
      if (!(answer.status >= 500 || answer.status === 408 || answer.status === 429))
        cache.freeBusyQuery = false;
    }
    const body = buildXml(
      el(
        CALDAV,
        'calendar-query',
        el(DAV, 'prop', el(CALDAV, 'calendar-data')),
        el(CALDAV, 'filter', compFilter('VCALENDAR', compFilter('VEVENT', range))),
      ),
    );
    const res = await this.multistatus(s, 'REPORT', f.url, '1', body, signal);
    const out: BusyPeriod[] = [];
    for (const r of res.responses) {
      const text = prop(r, CALDAV, 'calendar-data')?.textContent ?? '';
      if (text === '') continue;
      try {
        out.push(
          ...busyPeriods(text, start, end, {
            ...(this.opts.timeZone !== undefined && { timeZone: this.opts.timeZone }),
          }),
        );
      } catch (e) {
        // an object that cannot be read has no time to show; the others still count
        if (!(e instanceof IcalendarError)) throw e;
      }
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Folders: the calendar collections of the home set

  private async listCollections(
    s: Session,
    home: string,
    signal: AbortSignal,
  ): Promise<{ answer: DavAnswer; calendars: DavResponse[] }> {
    const body = propfindBody(
      el(DAV, 'resourcetype'),
      el(DAV, 'displayname'),
      el(DAV, 'supported-report-set'),
      el(CALDAV, 'supported-calendar-component-set'),
      el(EASD, 'parent'),
    );
    const { answer, responses } = await this.multistatus(s, 'PROPFIND', home, '1', body, signal);
    const calendars = responses.filter((r) =>
      childKeys(prop(r, DAV, 'resourcetype')).has(`${CALDAV}|calendar`),
    );
    return { answer, calendars };
  }

  /** RFC 4791 §5.2.3: the components a collection takes; absent means any. */
  private static components(r: DavResponse): Set<Component> {
    const set = prop(r, CALDAV, 'supported-calendar-component-set');
    if (set === undefined) return new Set(['VEVENT', 'VTODO']);
    const out = new Set<Component>();
    for (const c of [...set.getElementsByTagNameNS(CALDAV, 'comp')]) {
      const n = (c.getAttribute('name') ?? '').toUpperCase();
      if (n === 'VEVENT' || n === 'VTODO' || n === 'VJOURNAL') out.add(n);
    }
    return out;
  }

  private async loadFolders(s: Session, signal: AbortSignal): Promise<Map<string, FolderInfo>> {
    const cache = this.cache(s);
    const home = cache.home;
    if (home === undefined) throw new BackendError('auth', 'CalDAV session without a home');
    let { answer, calendars } = await this.listCollections(s, home, signal);
    const def = this.opts.defaultCollections;
    if (def !== false) {
      // phones expect a default calendar and task list (MS-ASCMD 2.2.3.186.3 types 8 and 7)
      const has = (c: Component): boolean =>
        calendars.some((r) => this.classesOf(CalDavBackend.components(r)).includes(classOfComponent[c]));
      let made = false;
      const wanted: Array<readonly [Component, { segment: string; displayName: string }]> = [
        ['VEVENT', def.calendar],
        ['VTODO', def.tasks],
      ];
      if (this.opts.notes === true)
        wanted.push(['VJOURNAL', def.notes ?? { segment: 'notes', displayName: 'Notes' }]);
      for (const [c, want] of wanted) {
        if (has(c)) continue;
        const url = new URL(`${encodeURIComponent(want.segment)}/`, home).href;
        const res = await this.mkcalendar(s, url, want.displayName, c, null, signal);
        // another device of the user may have made it a moment ago: the listing below shows it
        if (res.status !== 201 && res.status !== 405 && res.status !== 409)
          throw statusError(res, 'MKCALENDAR (default collection)');
        made = true;
      }
      if (made) ({ answer, calendars } = await this.listCollections(s, home, signal));
    }

    const infos: FolderInfo[] = [];
    for (const r of calendars) {
      const href = new URL(r.href, answer.url).href;
      const url = href.endsWith('/') ? href : `${href}/`;
      const segment = decodeURIComponent(lastSegment(url));
      const classes = this.classesOf(CalDavBackend.components(r));
      const mixed = classes.length > 1;
      const reports = prop(r, DAV, 'supported-report-set');
      const base = {
        url,
        mixed,
        parentId: textOf(prop(r, EASD, 'parent')) || null,
        displayName: textOf(prop(r, DAV, 'displayname')) || segment,
        role: null,
        // without a supported-report-set, try it: a refusal is cursor-expired, and easd lists
        syncCollection:
          reports === undefined || reports.getElementsByTagNameNS(DAV, 'sync-collection').length > 0,
      };
      // A collection taking both components is listed twice: as a Calendar folder (the segment's
      // id) and as a Tasks folder (a hash of segment + "/tasks", which no segment can be).
      if (classes.includes('Calendar'))
        infos.push({ ...base, id: idFor(segment), class: 'Calendar', component: 'VEVENT' });
      if (classes.includes('Tasks'))
        infos.push({
          ...base,
          id: mixed ? idFor(`${segment}/tasks`) : idFor(segment),
          class: 'Tasks',
          component: 'VTODO',
        });
      if (classes.includes('Notes'))
        infos.push({ ...base, id: idFor(segment), class: 'Notes', component: 'VJOURNAL' });
    }
    const sorted = [...infos].sort((x, y) => (x.url < y.url ? -1 : x.url > y.url ? 1 : 0));
    for (const cls of ['Calendar', 'Tasks', 'Notes'] as const) {
      const mine = sorted.filter((f) => f.class === cls);
      // one named so, else a single-class one easd did not put below another, else the first by href
      const named = (f: FolderInfo): boolean => {
        const seg = decodeURIComponent(lastSegment(f.url)).toLowerCase();
        const dn = f.displayName.toLowerCase();
        return defaultNames[cls].some((n) => seg === n || dn === n);
      };
      const dflt =
        mine.find((f) => named(f) && !f.mixed) ??
        mine.find(named) ??
        mine.find((f) => f.parentId === null) ??
        mine[0];
      if (dflt !== undefined) {
        dflt.role = 'default' satisfies FolderRole;
        dflt.parentId = null;
      }
    }
    // an EAS parent must be a folder of the same class; otherwise the folder goes to the top
    const byId = new Map(infos.map((f) => [f.id, f]));
    for (const f of infos) {
      const p = f.parentId === null ? undefined : byId.get(f.parentId);
      if (p === undefined || p.class !== f.class || p.id === f.id) f.parentId = null;
    }
    const map = new Map(parentsFirst(sorted).map((f) => [f.id, f]));
    cache.folders = map;
    return map;
  }

  /**
   * The folder classes of a collection: Calendar for VEVENT, Tasks for VTODO, and (with `notes`)
   * Notes for a collection of VJOURNAL alone — a calendar that also takes journals stays a
   * calendar, so generic collections (Radicale lists all three components) do not double as notes.
   */
  private classesOf(components: Set<Component>): DavClass[] {
    const out: DavClass[] = [];
    if (components.has('VEVENT')) out.push('Calendar');
    if (components.has('VTODO')) out.push('Tasks');
    if (this.opts.notes === true && components.has('VJOURNAL') && out.length === 0) out.push('Notes');
    return out;
  }

  async listFolders(account: Account, signal: AbortSignal): Promise<Folder[]> {
    const map = await this.loadFolders(this.session(account), signal);
    return [...map.values()].map(({ id, parentId, displayName, class: cls, role }) => ({
      id,
      parentId,
      displayName,
      class: cls,
      role,
    }));
  }

  private async folder(s: Session, folderId: string, signal: AbortSignal): Promise<FolderInfo> {
    const cached = this.cache(s).folders?.get(folderId);
    if (cached !== undefined) return cached;
    const f = (await this.loadFolders(s, signal)).get(folderId);
    if (f === undefined) throw new BackendError('not-found', 'no such calendar');
    return f;
  }

  private mkcalendar(
    s: Session,
    url: string,
    displayName: string,
    component: Component,
    parentId: string | null,
    signal: AbortSignal,
  ): Promise<DavAnswer> {
    // RFC 4791 §5.3.1 MKCALENDAR, with the component set of §5.2.3
    const props: XmlSpec[] = [
      textEl(DAV, 'displayname', displayName),
      el(CALDAV, 'supported-calendar-component-set', {
        ns: CALDAV,
        name: 'comp',
        attrs: { name: component },
      }),
    ];
    if (parentId !== null) props.push(textEl(EASD, 'parent', parentId));
    return this.dav.request(s, 'MKCALENDAR', url, signal, {
      body: buildXml(el(CALDAV, 'mkcalendar', el(DAV, 'set', el(DAV, 'prop', ...props)))),
    });
  }

  private refuseDuplicate(
    folders: Map<string, FolderInfo>,
    cls: ItemClass,
    parentId: string | null,
    name: string,
    self: string | undefined,
  ): void {
    for (const f of folders.values())
      if (
        f.id !== self &&
        f.class === cls &&
        f.parentId === parentId &&
        f.displayName.toLowerCase() === name.toLowerCase()
      )
        throw new BackendError('conflict', 'a sibling folder has this name');
  }

  private async createFolder(
    account: Account,
    parentId: string | null,
    displayName: string,
    cls: ItemClass,
    signal: AbortSignal,
  ): Promise<Folder> {
    const s = this.session(account);
    if (!isDavClass(cls) || (cls === 'Notes' && this.opts.notes !== true))
      throw new BackendError('unsupported', 'CalDAV keeps calendars, tasks and (when enabled) notes only');
    const folders = await this.loadFolders(s, signal);
    if (parentId !== null && folders.get(parentId)?.class !== cls)
      throw new BackendError('not-found', 'no such parent folder');
    this.refuseDuplicate(folders, cls, parentId, displayName, undefined);
    // calendar collections cannot hold collections (RFC 4791 §4.2): all live in the home, the
    // EAS parent is a dead property
    const segment = randomUUID();
    const url = new URL(`${segment}/`, this.cache(s).home).href;
    const answer = await this.mkcalendar(s, url, displayName, componentOf[cls], parentId, signal);
    if (answer.status === 405) throw new BackendError('conflict', 'the collection exists');
    if (answer.status !== 201) throw statusError(answer, 'MKCALENDAR');
    delete this.cache(s).folders;
    return { id: idFor(segment), parentId, displayName, class: cls, role: null };
  }

  private async updateFolder(
    account: Account,
    folderId: string,
    change: { displayName: string; parentId: string | null },
    signal: AbortSignal,
  ): Promise<Folder> {
    const s = this.session(account);
    const folders = await this.loadFolders(s, signal);
    const f = folders.get(folderId);
    if (f === undefined) throw new BackendError('not-found', 'no such calendar');
    const parentId = change.parentId;
    if (parentId !== null) {
      if (folders.get(parentId)?.class !== f.class)
        throw new BackendError('not-found', 'no such parent folder');
      for (let p: string | null = parentId; p !== null; p = folders.get(p)?.parentId ?? null)
        if (p === folderId) throw new BackendError('conflict', 'a folder cannot move below itself');
    }
    if (f.role === 'default' && parentId !== null)
      throw new BackendError('denied', 'the default folder stays on top');
    this.refuseDuplicate(folders, f.class, parentId, change.displayName, folderId);
    // a mixed collection has one name for both of its folders: renaming one renames the other
    const set = el(
      DAV,
      'set',
      el(
        DAV,
        'prop',
        textEl(DAV, 'displayname', change.displayName),
        ...(parentId !== null ? [textEl(EASD, 'parent', parentId)] : []),
      ),
    );
    const remove = el(DAV, 'remove', el(DAV, 'prop', el(EASD, 'parent')));
    const body = buildXml(el(DAV, 'propertyupdate', set, ...(parentId === null ? [remove] : [])));
    const answer = await this.dav.request(s, 'PROPPATCH', f.url, signal, { body });
    if (answer.status !== 207 && answer.status !== 200) throw statusError(answer, 'PROPPATCH');
    // RFC 4918 §9.2.1: a 207 lists per property whether it was set; the name must have been
    const r = answer.status === 207 ? parseMultistatus(answer.text).responses[0] : undefined;
    if (answer.status === 207 && (r === undefined || prop(r, DAV, 'displayname') === undefined))
      throw new BackendError('denied', 'CalDAV PROPPATCH: the server refused the new name');
    delete this.cache(s).folders;
    return { id: f.id, parentId, displayName: change.displayName, class: f.class, role: f.role };
  }

  private async deleteFolder(account: Account, folderId: string, signal: AbortSignal): Promise<void> {
    const s = this.session(account);
    const folders = await this.loadFolders(s, signal);
    const f = folders.get(folderId);
    if (f === undefined) throw new BackendError('not-found', 'no such calendar');
    if (f.role !== null) throw new BackendError('denied', 'the default folder cannot be deleted');
    // deleting one folder of a mixed collection would take the other class's items with it
    if (f.mixed) throw new BackendError('denied', 'this collection also holds the other class');
    for (const child of folders.values())
      if (child.parentId === folderId) await this.deleteFolder(account, child.id, signal);
    const answer = await this.dav.request(s, 'DELETE', f.url, signal);
    if (answer.status !== 204 && answer.status !== 200 && answer.status !== 404)
      throw statusError(answer, 'DELETE (calendar)');
    this.dav.forgetFolder(s, folderId);
    delete this.cache(s).folders;
  }

  // -------------------------------------------------------------------------------------------
  // Items

  private itemUrl(s: Session, f: FolderInfo, id: string, signal: AbortSignal): Promise<string> {
    return this.dav.itemUrl(s, f, id, () => this.listStampsOf(s, f, undefined, signal));
  }

  private async listStampsOf(
    s: Session,
    f: FolderInfo,
    since: Date | undefined,
    signal: AbortSignal,
  ): Promise<ItemStamp[]> {
    // RFC 4791 §7.8 calendar-query: the resources holding this folder's component; with FilterType
    // on events a time-range (§9.9), which the server applies to every instance of a recurring
    // event, so a series that reaches into the window is listed. Tasks ignore FilterType (listing
    // more is allowed).
    const range =
      since !== undefined && f.component === 'VEVENT'
        ? [{ ns: CALDAV, name: 'time-range', attrs: { start: utcBasic(since) } }]
        : [];
    const body = buildXml(
      el(
        CALDAV,
        'calendar-query',
        el(DAV, 'prop', el(DAV, 'getetag'), el(DAV, 'getlastmodified')),
        el(CALDAV, 'filter', compFilter('VCALENDAR', compFilter(f.component, ...range))),
      ),
    );
    try {
      // a changed collection is listed again, never patched by sync-collection: its feed does not
      // filter by component (a mixed collection's, or a server that does not enforce the
      // component set), which calendar-query does
      return await this.dav.listStamps(
        s,
        f,
        { since, feed: false },
        async () => {
          const res = await this.multistatus(s, 'REPORT', f.url, '1', body, signal);
          const rows: ListedResource[] = [];
          for (const r of res.responses) {
            if (r.status !== undefined && r.status !== 200) continue;
            const url = new URL(r.href, res.answer.url).href;
            const row = url.endsWith('/') ? undefined : listedResource(r, url);
            if (row !== undefined) rows.push(row);
          }
          return rows;
        },
        signal,
      );
    } catch (e) {
      if (isBackendError(e, 'not-found')) delete this.cache(s).folders;
      throw e;
    }
  }

  async listStamps(
    account: Account,
    folderId: string,
    opts: { since?: Date },
    signal: AbortSignal,
  ): Promise<ItemStamp[]> {
    const s = this.session(account);
    return this.listStampsOf(s, await this.folder(s, folderId, signal), opts.since, signal);
  }

  async getItems(
    account: Account,
    folderId: string,
    ids: readonly string[],
    opts: ReadOptions,
    signal: AbortSignal,
  ): Promise<ItemRecord[]> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    const urls: string[] = [];
    for (const id of ids) {
      try {
        urls.push(await this.itemUrl(s, f, id, signal));
      } catch (e) {
        if (!isBackendError(e, 'not-found')) throw e;
      }
    }
    const out: ItemRecord[] = [];
    for (let i = 0; i < urls.length; i += MULTIGET_BATCH) {
      const batch = urls.slice(i, i + MULTIGET_BATCH);
      // RFC 4791 §7.9 calendar-multiget: one resource is the master and its overridden instances
      const body = buildXml(
        el(
          CALDAV,
          'calendar-multiget',
          el(DAV, 'prop', el(DAV, 'getetag'), el(CALDAV, 'calendar-data')),
          ...batch.map((u) => textEl(DAV, 'href', new URL(u).pathname)),
        ),
      );
      const res = await this.multistatus(s, 'REPORT', f.url, '1', body, signal);
      for (const r of res.responses) {
        if (r.status !== undefined && r.status !== 200) continue;
        const data = prop(r, CALDAV, 'calendar-data')?.textContent ?? undefined;
        const version = textOf(prop(r, DAV, 'getetag'));
        // in a mixed collection the other class's resources are not this folder's items
        if (data === undefined || version === '' || !hasComponent(data, f.component)) continue;
        const id = this.dav.remember(s, f.id, new URL(r.href, res.answer.url).href);
        if (!ids.includes(id)) continue;
        out.push(this.read(account, f, id, version, data, opts));
      }
    }
    return out;
  }

  /** A stored object as an item; one that cannot be parsed still shows as something to delete. */
  private read(
    account: Account,
    f: FolderInfo,
    id: string,
    version: string,
    text: string,
    opts: ReadOptions,
  ): ItemRecord {
    const common = {
      bodyPreferences: opts.bodyPreferences,
      ...(this.opts.timeZone !== undefined && { timeZone: this.opts.timeZone }),
    };
    try {
      switch (f.class) {
        case 'Calendar':
          return {
            id,
            version,
            class: 'Calendar',
            item: icsToCalendar(text, { ...common, userAddresses: [account.email] }),
          };
        case 'Tasks':
          return { id, version, class: 'Tasks', item: icsToTask(text, common) };
        case 'Notes':
          return { id, version, class: 'Notes', item: icsToNote(text, common) };
      }
    } catch (e) {
      if (!(e instanceof IcalendarError)) throw e;
      const summary = /^SUMMARY[;:](?:[^\r\n:]*:)?([^\r\n]*)$/m.exec(text)?.[1]?.trim();
      const Subject = summary !== undefined && summary !== '' ? summary : '(unreadable item)';
      return { id, version, class: f.class, item: { Subject } } as ItemRecord;
    }
  }

  /** The iCalendar text for an item: new (`base` absent) or rewritten over the stored object. */
  private write(
    account: Account,
    typed: TypedItem,
    base: string | undefined,
    uid: string,
    schedules: boolean,
  ): string {
    if (typed.class === 'Calendar') {
      let item: CalendarItem = typed.item;
      if (base !== undefined) {
        // RFC 4791 §4.1: one UID per resource; a phone cannot change it (MS-ASCAL 2.2.2.46)
        const stored = icsToCalendar(base).UID;
        if (stored !== undefined) item = { ...item, UID: stored };
      }
      return calendarToIcs(item, {
        ...(base !== undefined && { base }),
        userAddresses: [account.email],
        uid,
        // easd sends the iTIP messages itself (src/calendar/invitations.ts, MeetingResponse):
        // RFC 6638 §7.1 CLIENT tells a scheduling server not to send them a second time
        ...(schedules && { scheduleAgent: 'CLIENT' as const }),
      });
    }
    if (typed.class === 'Notes') {
      const note: NoteItem = typed.item;
      return noteToIcs(note, { ...(base !== undefined && { base }), uid });
    }
    const item: TaskItem = (typed as { item: TaskItem }).item;
    return taskToIcs(item, {
      ...(base !== undefined && { base }),
      ...(this.opts.timeZone !== undefined && { timeZone: this.opts.timeZone }),
      uid,
    });
  }

  private checkClass(f: FolderInfo, typed: TypedItem): void {
    if (typed.class !== f.class)
      throw new BackendError(
        'unsupported',
        `this folder holds ${{ Calendar: 'events', Tasks: 'tasks', Notes: 'notes' }[f.class]} only`,
      );
  }

  async createItem(
    account: Account,
    folderId: string,
    typed: TypedItem,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    this.checkClass(f, typed);
    // RFC 4791 §5.3.2 with If-None-Match: *; a new UID when the phone sent none (RFC 5545 3.8.4.7)
    const schedules = f.class === 'Calendar' && (await this.serverSchedules(account, signal));
    return this.dav.create(s, f, (uuid) => this.write(account, typed, undefined, uuid, schedules), signal);
  }

  async updateItem(
    account: Account,
    folderId: string,
    id: string,
    typed: TypedItem,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    this.checkClass(f, typed);
    const url = await this.itemUrl(s, f, id, signal);
    const schedules = f.class === 'Calendar' && (await this.serverSchedules(account, signal));
    const version = await this.dav.rewrite(
      s,
      url,
      opts.ifVersion,
      (current) => {
        if (!hasComponent(current, f.component)) throw new BackendError('not-found', 'no such item');
        try {
          // the stored object is the base: what the phone does not map survives
          return this.write(account, typed, current, randomUUID(), schedules);
        } catch (e) {
          if (e instanceof IcalendarError)
            throw new BackendError('denied', 'the stored object cannot be read; not overwriting it', {
              cause: e,
            });
          throw e;
        }
      },
      signal,
    );
    return { id, version };
  }

  async deleteItem(
    account: Account,
    folderId: string,
    id: string,
    opts: WriteOptions,
    signal: AbortSignal,
  ): Promise<void> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    // RFC 6638 §8.1: no REPLY from the server for an attendee's delete (easd answers through
    // MeetingResponse; a CANCEL from the organizer is src/calendar/invitations.ts's)
    const headers: Record<string, string> =
      f.class === 'Calendar' && (await this.serverSchedules(account, signal))
        ? { 'Schedule-Reply': 'F' }
        : {};
    await this.dav.delete(s, await this.itemUrl(s, f, id, signal), opts.ifVersion, signal, headers);
    this.dav.itemMap(s, f.id).delete(id);
  }

  async moveItem(
    account: Account,
    folderId: string,
    id: string,
    toFolderId: string,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const s = this.session(account);
    const from = await this.folder(s, folderId, signal);
    const to = await this.folder(s, toFolderId, signal);
    if (to.class !== from.class) throw new BackendError('unsupported', 'an item moves within its class only');
    const url = await this.itemUrl(s, from, id, signal);
    if (from.url === to.url) return { id, version: await this.dav.etagOf(s, url, signal) };
    // RFC 4791 §5.3.2 preconditions apply at the destination
    return this.dav.move(s, from, id, url, to, signal);
  }

  // -------------------------------------------------------------------------------------------
  // Change feed: WebDAV sync-collection (RFC 6578)

  /** sync-collection reports every resource; a mixed collection's folders cannot tell theirs apart. */
  private feedable(f: FolderInfo): void {
    if (!f.syncCollection) throw new BackendError('cursor-expired', 'the server has no sync-collection');
    if (f.mixed) throw new BackendError('cursor-expired', 'a mixed collection is listed, not fed');
  }

  private async currentCursor(account: Account, folderId: string, signal: AbortSignal): Promise<string> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    this.feedable(f);
    return this.dav.syncToken(s, f.url, signal);
  }

  private async changesSince(
    account: Account,
    folderId: string,
    cursor: string,
    signal: AbortSignal,
  ): Promise<ChangeBatch> {
    const s = this.session(account);
    const f = await this.folder(s, folderId, signal);
    this.feedable(f);
    return this.dav.changesSince(s, f, cursor, signal);
  }
}

/** Opens the backend; nothing is fetched until the first login. */
export async function openCalDavBackend(opts: CalDavOptions): Promise<CalDavBackend> {
  if (!/^https?:\/\//.test(opts.url)) throw new Error('CalDAV url must be http(s)');
  return new CalDavBackend(opts);
}

/** The FREEBUSY periods of a VFREEBUSY (RFC 5545 3.8.2.6); undefined when the text is none. */
function freeBusyPeriods(text: string): BusyPeriod[] | undefined {
  let cal: ICAL.Component;
  try {
    cal = new ICAL.Component(ICAL.parse(text) as unknown[]);
  } catch {
    return undefined;
  }
  const fb = cal.getFirstSubcomponent('vfreebusy');
  if (fb === null) return undefined;
  const out: BusyPeriod[] = [];
  for (const p of fb.getAllProperties('freebusy')) {
    const kind = String(p.getParameter('fbtype') ?? 'BUSY').toUpperCase();
    if (kind === 'FREE') continue;
    const type = kind === 'BUSY-TENTATIVE' ? 'tentative' : kind === 'BUSY-UNAVAILABLE' ? 'oof' : 'busy';
    for (const v of p.getValues())
      if (v instanceof ICAL.Period) out.push({ start: v.start.toJSDate(), end: v.getEnd().toJSDate(), type });
  }
  return out;
}
