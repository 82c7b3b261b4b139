// Rough networks, against the compiled server on the stack's Dovecot, Radicale and SMTP receiver:
// an answer lost on the way and the request repeated with the same SyncKey; the phone offline for
// days while the mailbox changes, then back, and back again after its state is gone; the server
// stopped while a Ping is held (SIGKILL in the middle of a Sync: rough-kill.test.ts). Each case ends
// with the phone holding exactly what the servers hold: nothing lost, nothing twice (the device
// client fails on any second Add of an id, and on a Change or Delete of one it never got).
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { appendMessage } from '../../stack/dovecot.js';
import { findText } from '../../support/eas-client.js';
import { eventually, FolderType, profiles } from '../../support/device.js';
import { FlowMailbox, subjectsOn } from '../../support/device-mailbox.js';
import { stackEnv, useScratch, type CompiledEasd } from '../../support/device-server.js';
import { davFind } from '../../support/device-stores.js';

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
let server: CompiledEasd;
const scratch = useScratch('easd-flow-rough-');
const world = new FlowMailbox(stack.imap, carol, () => server.base, run);

beforeAll(async () => {
  server = await scratch.start(stackEnv(stack, scratch.path('easd')));
});

// Generous: the whole suite shares two cores; each step waits for a condition, never a fixed time.
describe('rough networks', { timeout: 90_000 }, () => {
  it('a lost Sync answer, repeated with the same SyncKey, gets the same answer: no item twice, no Add applied twice', async () => {
    const mailbox = `Lost ${run}`;
    const { phone, box } = await world.setUp('LOST', mailbox);
    for (let i = 0; i < 3; i++)
      await appendMessage(stack.imap, carol, mailbox, world.message(`Lost ${run} ${i}`));

    // New mail: the answer is lost, the phone asks again with the key it still holds.
    const lost = await phone.sync(box, { lose: true });
    expect(lost.adds).toHaveLength(3);
    const again = await phone.sync(box);
    expect(again.adds.map((a) => findText(a, 'ServerId'))).toEqual(
      lost.adds.map((a) => findText(a, 'ServerId')),
    );
    expect(findText(again.reply.doc, 'SyncKey')).toBe(findText(lost.reply.doc, 'SyncKey'));
    expect((await phone.syncAll(box)).flatMap((r) => r.adds)).toHaveLength(0);
    expect(subjectsOn(phone, box)).toEqual(await world.subjectsIn(mailbox));

    // A contact added on the phone: the answer is lost, the same Add (same ClientId) is sent again.
    const contacts = phone.folder(FolderType.Contacts);
    await phone.syncAll(contacts);
    const name = `Lostcontact${run}`;
    const add = `<Add><ClientId>lc-${run}</ClientId><ApplicationData><FirstName xmlns="Contacts:">Lars</FirstName><LastName xmlns="Contacts:">${name}</LastName></ApplicationData></Add>`;
    const first = await phone.sync(contacts, { commands: add, lose: true });
    const second = await phone.sync(contacts, { commands: add });
    const idOf = (r: typeof first) =>
      findText(
        r.responses.find((x) => findText(x, 'ClientId') === `lc-${run}`),
        'ServerId',
      );
    expect(idOf(second)).toBeDefined();
    expect(idOf(second)).toBe(idOf(first));
    expect((await davFind(stack.dav.url, carol, name)).length).toBe(1);
    await phone.syncAll(contacts);
    expect(phone.find(contacts, 'LastName', name)?.serverId).toBe(idOf(second));
  });

  it('offline for days: the changes piled up arrive once; with its state gone the phone starts over as the spec says', async () => {
    const mailbox = `Away ${run}`;
    const { phone, box } = await world.setUp('AWAY', mailbox);
    await world.append(mailbox, `Away ${run}`, 0, 5);
    await phone.syncAll(box);

    // While the phone is away: new mail, mail read and deleted elsewhere, a folder created and
    // one removed by another client.
    await world.append(mailbox, `Away ${run}`, 5, 40);
    const gone = `Gone ${run}`;
    await world.withImap((c) => c.mailboxCreate(gone));
    await phone.folderSync();
    const goneId = phone.folderNamed(gone)!;
    await phone.syncAll(goneId);
    await world.withImap(async (c) => {
      const lock = await c.getMailboxLock(mailbox);
      try {
        await c.messageFlagsAdd({ subject: `Away ${run} 1` }, ['\\Seen']);
        await c.messageDelete({ subject: `Away ${run} 2` });
      } finally {
        lock.release();
      }
      await c.mailboxDelete(gone);
      await c.mailboxCreate(`New ${run}`);
    });

    // Back: the Sync of the removed folder says so (8: not found, or 12: hierarchy changed) …
    const stale = await phone.sync(goneId);
    expect(['8', '12']).toContain(stale.status);
    // … FolderSync brings the hierarchy up to date …
    expect((await phone.folderSync()).status).toBe('1');
    expect(phone.folderNamed(gone)).toBeUndefined();
    expect(phone.folderNamed(`New ${run}`)).toBeDefined();
    // … and the mail folder catches up in windows, each change once.
    await phone.syncAll(box);
    expect(subjectsOn(phone, box)).toEqual(await world.subjectsIn(mailbox));
    expect(findText(phone.find(box, 'Subject', `Away ${run} 1`)?.data, 'Read')).toBe('1');

    // Its state removed on the server (an admin's `easd devices remove`, a lost state store): the
    // phone is sent to Provision (142), its old SyncKey is refused (3) and so is its hierarchy
    // key (9); it starts over from 0 and ends with the mailbox once.
    const removed = await server.cli(['devices', 'remove', carol.user, phone.deviceId]);
    expect(removed.code).toBe(0);
    const refused = await phone.sync(box);
    expect(refused.status).toBe('142');
    await phone.provision();
    const oldKey = await phone.sync(box);
    expect(['3', '12']).toContain(oldKey.status);
    const fs = await phone.folderSync();
    expect(fs.status).toBe('9');
    const boxAgain = phone.folderNamed(mailbox)!;
    await phone.syncAll(boxAgain);
    expect(subjectsOn(phone, boxAgain)).toEqual(await world.subjectsIn(mailbox));
  });

  it('the server stopped while a Ping is held: the Ping is answered, and after the restart push works again', async () => {
    const mailbox = `Restart ${run}`;
    const { phone, box } = await world.setUp('RESTART', mailbox, profiles.outlook);
    const held = phone.ping([box]);
    // Wait until the server holds it (the device record shows the Ping), then stop the server.
    await eventually('the held Ping', async () =>
      /Held request.*Ping/.test((await server.cli(['devices', 'show', carol.user, phone.deviceId])).stdout),
    );
    const stopped = server.stop();
    const answer = await held;
    expect(answer.reply.status).toBe(200);
    expect(['1', '2']).toContain(answer.status);
    expect(await stopped).toBe(0);

    await server.restart();
    const again = phone.ping([box]);
    await appendMessage(stack.imap, carol, mailbox, world.message(`After restart ${run}`));
    const woken = await again;
    expect([woken.status, woken.changed]).toEqual(['2', [box]]);
    await phone.syncAll(box);
    expect(subjectsOn(phone, box)).toEqual(await world.subjectsIn(mailbox));
  });
});
