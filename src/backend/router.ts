// Mounts several backends behind one: mail from IMAP, contacts from CardDAV, calendar and tasks
// from CalDAV, each mount serving the classes it is given. The router is itself a Backend, so
// the engine never knows how many stores an account spans. Ids stay apart by a short prefix per
// mount ("m:" + the inner id), and every call is routed back by it.
import type {
  Account,
  AttachmentContent,
  AttachmentSource,
  Backend,
  BusyPeriod,
  ChangeHint,
  DirectoryEntry,
  Folder,
  FolderAdmin,
  FreeBusySource,
  ItemRecord,
  ItemStamp,
  MailboxQuery,
  MailTransport,
  OofStore,
  ReadOptions,
  Searcher,
  UserInformation,
} from './contract.js';
import { BackendError } from './errors.js';
import type { ItemClass, TypedItem } from './model.js';

export interface Mount {
  /** Short and stable (it is part of every folder id a device holds): letters and digits only. */
  prefix: string;
  backend: Backend;
  /** The classes this mount serves; its folders of other classes are hidden. */
  classes: readonly ItemClass[];
  /**
   * For a store that cannot watch, when another mount can (so the router watches): how often a
   * held request is told to look at this mount's folders again; 30 s by default.
   */
  pollMs?: number;
}

/** Per mount: the account it signed in, or why not. */
type MountLogin = { state: 'ok'; account: Account } | { state: 'rejected' } | { state: 'failed' };

interface RouterHandle {
  logins: Map<string, MountLogin>;
}

const SEP = ':';

export class BackendRouter implements Backend {
  readonly name: string;
  readonly folders?: FolderAdmin;
  readonly mail?: MailTransport;
  readonly attachments?: AttachmentSource;
  readonly search?: Searcher;
  readonly freeBusy?: FreeBusySource;
  readonly oof?: OofStore;
  private readonly mounts: Map<string, Mount>;
  private readonly primary: Mount;

  /** The first mount is the primary: it decides logins and serves mail sending, OOF and user information. */
  constructor(mounts: readonly Mount[]) {
    const first = mounts[0];
    if (first === undefined) throw new Error('BackendRouter needs at least one mount');
    this.primary = first;
    this.mounts = new Map();
    const claimed = new Map<ItemClass, string>();
    for (const m of mounts) {
      if (!/^[A-Za-z0-9]+$/.test(m.prefix))
        throw new Error(`mount prefix "${m.prefix}" must be letters and digits`);
      if (this.mounts.has(m.prefix)) throw new Error(`mount prefix "${m.prefix}" used twice`);
      for (const c of m.classes) {
        const other = claimed.get(c);
        if (other !== undefined) throw new Error(`class ${c} mounted twice ("${other}" and "${m.prefix}")`);
        claimed.set(c, m.prefix);
      }
      this.mounts.set(m.prefix, m);
    }
    this.name = `router(${mounts.map((m) => `${m.prefix}=${m.backend.name}`).join(',')})`;

    if (mounts.some((m) => m.backend.folders !== undefined)) this.folders = this.folderAdmin();
    const mailMount = this.mountForClass('Email');
    if (mailMount?.backend.mail !== undefined) this.mail = this.mailTransport(mailMount);
    // FileReferences carry their mount's prefix, so any mount's attachments can be served
    if (mounts.some((m) => m.backend.attachments !== undefined)) this.attachments = this.attachmentSource();
    if (mailMount?.backend.search !== undefined) this.search = this.searcher(mailMount);
    // free/busy comes from the calendars
    const calendarMount = this.mountForClass('Calendar');
    const freeBusy = calendarMount?.backend.freeBusy;
    if (calendarMount !== undefined && freeBusy !== undefined)
      this.freeBusy = {
        freeBusy: async (account, addresses, start, end, signal) => {
          // the calendar store may know the user by another address than the primary's
          const inner = await this.inner(account, calendarMount, signal);
          const asInner = (a: string): string =>
            a.toLowerCase() === account.email.toLowerCase() ? inner.email : a;
          const got = await freeBusy.freeBusy(inner, addresses.map(asInner), start, end, signal);
          const out = new Map<string, BusyPeriod[]>();
          for (const a of addresses) {
            const periods = got.get(asInner(a));
            if (periods !== undefined) out.set(a, periods);
          }
          return out;
        },
      };
    const oof = this.primary.backend.oof;
    if (oof !== undefined) {
      this.oof = {
        get: async (account, signal) => oof.get(await this.inner(account, this.primary, signal), signal),
        set: async (account, settings, signal) =>
          oof.set(await this.inner(account, this.primary, signal), settings, signal),
      };
    }
    if (mounts.some((m) => m.backend.changes !== undefined)) {
      this.changes = {
        currentCursor: async (account, folderId, signal) => {
          const r = await this.route(account, folderId, signal);
          if (r.mount.backend.changes === undefined)
            throw new BackendError('cursor-expired', 'this store keeps no change log');
          return r.mount.backend.changes.currentCursor(r.account, r.inner, signal);
        },
        changesSince: async (account, folderId, cursor, signal) => {
          const r = await this.route(account, folderId, signal);
          if (r.mount.backend.changes === undefined)
            throw new BackendError('cursor-expired', 'this store keeps no change log');
          return r.mount.backend.changes.changesSince(r.account, r.inner, cursor, signal);
        },
      };
    }
    if (mounts.some((m) => m.backend.watch !== undefined)) this.watch = this.watchAll.bind(this);
    if (mounts.some((m) => m.backend.emptyFolder !== undefined)) {
      this.emptyFolder = async (account, folderId, opts, signal) => {
        const r = await this.route(account, folderId, signal);
        if (r.mount.backend.emptyFolder === undefined)
          throw new BackendError('unsupported', 'this store cannot empty folders');
        await r.mount.backend.emptyFolder(r.account, r.inner, opts, signal);
      };
    }
    const userInformation = this.primary.backend.userInformation;
    if (userInformation !== undefined) {
      this.userInformation = async (account, signal) =>
        userInformation.call(this.primary.backend, await this.inner(account, this.primary, signal), signal);
    }
  }

  readonly changes?: Backend['changes'];
  readonly watch?: Backend['watch'];
  readonly emptyFolder?: Backend['emptyFolder'];
  readonly userInformation?: (account: Account, signal: AbortSignal) => Promise<UserInformation>;

  async authenticate(user: string, password: string, signal: AbortSignal): Promise<Account | null> {
    const main = await this.primary.backend.authenticate(user, password, signal);
    if (main === null) return null;
    const logins = new Map<string, MountLogin>([[this.primary.prefix, { state: 'ok', account: main }]]);
    // The other stores get the same credentials. One that is down must not stop the login (mail
    // still works); its folders fail with 'unavailable' until the user's next login (the
    // server's login cache is short), so no password is kept here.
    await Promise.all(
      [...this.mounts.values()]
        .filter((m) => m !== this.primary)
        .map(async (m) => logins.set(m.prefix, await this.login(m, user, password, signal))),
    );
    const handle: RouterHandle = { logins };
    return {
      user: main.user,
      email: main.email,
      ...(main.displayName !== undefined && { displayName: main.displayName }),
      handle,
    };
  }

  async listFolders(account: Account, signal: AbortSignal): Promise<Folder[]> {
    const out: Folder[] = [];
    for (const m of this.mounts.values()) {
      const login = this.logins(account).get(m.prefix);
      // A store that refused these credentials has no folders for this user; one that is
      // down must fail the listing, or devices would delete its folders.
      if (login?.state === 'rejected') continue;
      const inner = await this.inner(account, m, signal);
      for (const f of await m.backend.listFolders(inner, signal)) {
        if (!m.classes.includes(f.class)) continue;
        out.push({ ...f, id: wrap(m, f.id), parentId: f.parentId === null ? null : wrap(m, f.parentId) });
      }
    }
    return out;
  }

  async listStamps(
    account: Account,
    folderId: string,
    opts: { since?: Date },
    signal: AbortSignal,
  ): Promise<ItemStamp[]> {
    const r = await this.route(account, folderId, signal);
    return r.mount.backend.listStamps(r.account, r.inner, opts, signal);
  }

  async getItems(
    account: Account,
    folderId: string,
    ids: readonly string[],
    opts: ReadOptions,
    signal: AbortSignal,
  ): Promise<ItemRecord[]> {
    const r = await this.route(account, folderId, signal);
    const records = await r.mount.backend.getItems(r.account, r.inner, ids, opts, signal);
    return records.map((rec) => wrapAttachments(r.mount, rec));
  }

  async createItem(
    account: Account,
    folderId: string,
    item: TypedItem,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const r = await this.route(account, folderId, signal);
    return r.mount.backend.createItem(r.account, r.inner, unwrapAttachments(r.mount, item), signal);
  }

  async updateItem(
    account: Account,
    folderId: string,
    id: string,
    item: TypedItem,
    opts: { ifVersion?: string },
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const r = await this.route(account, folderId, signal);
    return r.mount.backend.updateItem(r.account, r.inner, id, unwrapAttachments(r.mount, item), opts, signal);
  }

  async deleteItem(
    account: Account,
    folderId: string,
    id: string,
    opts: { ifVersion?: string },
    signal: AbortSignal,
  ): Promise<void> {
    const r = await this.route(account, folderId, signal);
    await r.mount.backend.deleteItem(r.account, r.inner, id, opts, signal);
  }

  async moveItem(
    account: Account,
    folderId: string,
    id: string,
    toFolderId: string,
    signal: AbortSignal,
  ): Promise<ItemStamp> {
    const from = await this.route(account, folderId, signal);
    const to = await this.route(account, toFolderId, signal);
    if (from.mount !== to.mount) throw new BackendError('unsupported', 'cannot move items between stores');
    return from.mount.backend.moveItem(from.account, from.inner, id, to.inner, signal);
  }

  async close(): Promise<void> {
    await Promise.all([...this.mounts.values()].map((m) => m.backend.close?.()));
  }

  private mountForClass(cls: ItemClass): Mount | undefined {
    for (const m of this.mounts.values()) if (m.classes.includes(cls)) return m;
    return undefined;
  }

  private async login(m: Mount, user: string, password: string, signal: AbortSignal): Promise<MountLogin> {
    try {
      const account = await m.backend.authenticate(user, password, signal);
      return account === null ? { state: 'rejected' } : { state: 'ok', account };
    } catch (e) {
      if (signal.aborted) throw e;
      return { state: 'failed' };
    }
  }

  private logins(account: Account): Map<string, MountLogin> {
    const h = account.handle as RouterHandle | undefined;
    if (h === undefined || !(h.logins instanceof Map))
      throw new BackendError('auth', 'account was not signed in through this router');
    return h.logins;
  }

  /** The mount's own account for this user. */
  private async inner(account: Account, m: Mount, signal: AbortSignal): Promise<Account> {
    signal.throwIfAborted();
    const login = this.logins(account).get(m.prefix);
    if (login?.state === 'ok') return login.account;
    if (login?.state === 'failed')
      throw new BackendError('unavailable', `${m.backend.name} was unavailable at login`);
    throw new BackendError('not-found', `no ${m.backend.name} account for this user`);
  }

  private async route(
    account: Account,
    folderId: string,
    signal: AbortSignal,
  ): Promise<{ mount: Mount; inner: string; account: Account }> {
    const { mount, inner } = this.split(folderId);
    return { mount, inner, account: await this.inner(account, mount, signal) };
  }

  private split(id: string): { mount: Mount; inner: string } {
    const at = id.indexOf(SEP);
    const mount = at > 0 ? this.mounts.get(id.slice(0, at)) : undefined;
    if (mount === undefined) throw new BackendError('not-found', 'unknown folder');
    return { mount, inner: id.slice(at + 1) };
  }

  private async watchAll(
    account: Account,
    folderIds: readonly string[],
    onChange: (hint: ChangeHint) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const byMount = new Map<Mount, string[]>();
    for (const id of folderIds) {
      const { mount, inner } = this.split(id);
      byMount.set(mount, [...(byMount.get(mount) ?? []), inner]);
    }
    await Promise.all(
      [...byMount].map(async ([m, ids]) => {
        // A store that cannot watch (CardDAV, CalDAV) is looked at again at its pace: without
        // this, the hub would trust the other mounts' watch for it and wait for the heartbeat.
        if (m.backend.watch === undefined) return pollFolders(m, ids, onChange, signal);
        const inner = await this.inner(account, m, signal);
        await m.backend.watch(
          inner,
          ids,
          (hint) =>
            onChange({ ...hint, ...(hint.folderId !== undefined && { folderId: wrap(m, hint.folderId) }) }),
          signal,
        );
      }),
    );
  }

  private folderAdmin(): FolderAdmin {
    const admin = (m: Mount): FolderAdmin => {
      if (m.backend.folders === undefined)
        throw new BackendError('unsupported', `${m.backend.name} cannot change folders`);
      return m.backend.folders;
    };
    const out = (m: Mount, f: Folder): Folder => ({
      ...f,
      id: wrap(m, f.id),
      parentId: f.parentId === null ? null : wrap(m, f.parentId),
    });
    return {
      createFolder: async (account, parentId, displayName, cls, signal) => {
        const m = parentId === null ? this.mountForClass(cls) : this.split(parentId).mount;
        if (m === undefined || !m.classes.includes(cls))
          throw new BackendError('unsupported', `no store for ${cls} folders here`);
        const parent = parentId === null ? null : this.split(parentId).inner;
        return out(
          m,
          await admin(m).createFolder(await this.inner(account, m, signal), parent, displayName, cls, signal),
        );
      },
      updateFolder: async (account, folderId, change, signal) => {
        const r = await this.route(account, folderId, signal);
        let parent: string | null = null;
        if (change.parentId !== null) {
          const p = this.split(change.parentId);
          if (p.mount !== r.mount)
            throw new BackendError('unsupported', 'cannot move folders between stores');
          parent = p.inner;
        }
        return out(
          r.mount,
          await admin(r.mount).updateFolder(
            r.account,
            r.inner,
            { displayName: change.displayName, parentId: parent },
            signal,
          ),
        );
      },
      deleteFolder: async (account, folderId, signal) => {
        const r = await this.route(account, folderId, signal);
        await admin(r.mount).deleteFolder(r.account, r.inner, signal);
      },
    };
  }

  private mailTransport(m: Mount): MailTransport {
    const mail = m.backend.mail as MailTransport;
    return {
      send: async (account, mime, opts, signal) =>
        mail.send(await this.inner(account, m, signal), mime, opts, signal),
    };
  }

  private attachmentSource(): AttachmentSource {
    return {
      getAttachment: async (account, fileReference, signal): Promise<AttachmentContent> => {
        const r = this.split(fileReference);
        const inner = r.mount.backend.attachments;
        if (inner === undefined) throw new BackendError('not-found', 'unknown attachment');
        return inner.getAttachment(await this.inner(account, r.mount, signal), r.inner, signal);
      },
    };
  }

  private searcher(m: Mount): Searcher {
    const search = m.backend.search as Searcher;
    const directory = search.directory;
    return {
      mailbox: async (account, query: MailboxQuery, signal) => {
        const inner = await this.inner(account, m, signal);
        const folderIds = query.folderIds?.map((id) => {
          const s = this.split(id);
          if (s.mount !== m) throw new BackendError('not-found', 'not a mail folder');
          return s.inner;
        });
        const result = await search.mailbox(
          inner,
          { ...query, ...(folderIds !== undefined && { folderIds }) },
          signal,
        );
        return {
          total: result.total,
          hits: result.hits.map((h) => ({ ...h, folderId: wrap(m, h.folderId) })),
        };
      },
      ...(directory !== undefined && {
        directory: async (
          account: Account,
          text: string,
          limit: number,
          signal: AbortSignal,
        ): Promise<DirectoryEntry[]> =>
          directory.call(search, await this.inner(account, m, signal), text, limit, signal),
      }),
    };
  }
}

function wrap(m: Mount, id: string): string {
  return `${m.prefix}${SEP}${id}`;
}

/** FileReferences leave the router prefixed, like folder ids, so getAttachment can route them. */
function wrapAttachments(m: Mount, rec: ItemRecord): ItemRecord {
  const item = rec.item;
  if (!('Attachments' in item) || item.Attachments === undefined) return rec;
  return {
    ...rec,
    item: {
      ...item,
      Attachments: item.Attachments.map((a) => ({ ...a, FileReference: wrap(m, a.FileReference) })),
    },
  } as ItemRecord;
}

/** Draft edits name attachments to delete by the FileReference the client was given. */
function unwrapAttachments(m: Mount, typed: TypedItem): TypedItem {
  const item = typed.item;
  if (!('AttachmentsDelete' in item) || item.AttachmentsDelete === undefined) return typed;
  const prefix = `${m.prefix}${SEP}`;
  const inner = item.AttachmentsDelete.map((ref) =>
    ref.startsWith(prefix) ? ref.slice(prefix.length) : ref,
  );
  return { ...typed, item: { ...item, AttachmentsDelete: inner } } as TypedItem;
}

/**
 * Hints at a mount's folders every `pollMs` until the watch ends. Polled folders are blind (a
 * change between two polls goes unreported until the next), so the hub never counts them quiet.
 */
function pollFolders(
  m: Mount,
  ids: readonly string[],
  onChange: (hint: ChangeHint) => void,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    for (const id of ids) onChange({ folderId: wrap(m, id), blind: true });
    const timer = setInterval(() => {
      for (const id of ids) onChange({ folderId: wrap(m, id) });
    }, m.pollMs ?? 30_000);
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(timer);
        resolve();
      },
      { once: true },
    );
  });
}
