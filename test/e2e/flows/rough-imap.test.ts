// Dovecot restarted while a phone holds a Ping, on a Dovecot of this file's own (the shared
// stack's servers are never restarted): during the outage a Sync is answered 503 (retry later),
// and after the restart the next new mail wakes the phone, which ends up holding exactly what
// Dovecot holds.
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { appendMessage, startDovecot, type DovecotInstance } from '../../stack/dovecot.js';
import { HOST, spawnDaemon, tcpExchange, waitUntilReady, type Daemon } from '../../stack/process.js';
import { Device, eventually, FolderType, profiles } from '../../support/device.js';
import { FlowMailbox, subjectsOn } from '../../support/device-mailbox.js';
import { stackEnv, useScratch } from '../../support/device-server.js';

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const scratch = useScratch('easd-flow-imap-');

/** Starts Dovecot again with the config (port, data) it had. */
async function restartDovecot(instance: DovecotInstance, port: number): Promise<Daemon> {
  const daemon = spawnDaemon(
    'dovecot',
    '/usr/sbin/dovecot',
    ['-F', '-c', path.join(instance.dir, 'dovecot.conf')],
    path.join(instance.dir, 'stdio-restarted.log'),
  );
  scratch.onCleanup(() => daemon.stop());
  await waitUntilReady(daemon, async () => /^\* OK/.test(await tcpExchange(port, null, /\r\n/)));
  return daemon;
}

/**
 * Pings until the phone holds a message with this subject: a Ping answered by a restart or an
 * outage (any status, or a failed request) is simply sent again, as phones do.
 */
async function pingUntilHeld(
  phone: Device,
  box: string,
  subject: string,
  first?: ReturnType<Device['ping']>,
) {
  let pending: ReturnType<Device['ping']> | undefined = first;
  const answers: string[] = [];
  await eventually(
    `${subject} pushed`,
    async () => {
      const answer = await (pending ?? phone.ping([box])).catch(() => undefined);
      pending = undefined;
      answers.push(answer?.status ?? 'failed');
      if (answer?.status === '2') await phone.syncAll(box);
      return phone.find(box, 'Subject', subject) !== undefined;
    },
    45_000,
  );
  return answers;
}

describe('Dovecot restarted under a held Ping', () => {
  // While Dovecot is down the IMAP watch keeps reconnecting with a capped backoff (up to 30 s
  // between attempts) and looks at everything once it is back; the new mail then wakes the Ping.
  it(
    'Dovecot restarted while a Ping is held: the outage is answered cleanly and push resumes on the restarted server',
    { timeout: 90_000 },
    async () => {
      const dovecot = await startDovecot(scratch.path('dovecot'), stack.users);
      const port = dovecot.port;
      scratch.onCleanup(() => dovecot.stop());
      const imap = { host: dovecot.host, port };
      const server = await scratch.start({
        ...stackEnv(stack, scratch.path('easd')),
        EASD_IMAP_URL: `imap://${HOST}:${port}`,
      });
      const world = new FlowMailbox(imap, carol, () => server.base, run);
      const phone = new Device(() => server.base, carol, profiles.outlook, `IMAPRS${run}`);
      await phone.provision();
      await phone.folderSync();
      const inbox = phone.folder(FolderType.Inbox);
      await appendMessage(imap, carol, 'INBOX', world.message(`Before ${run}`));
      await phone.syncAll(inbox);

      const held = phone.ping([inbox]);
      await eventually('the held Ping', async () =>
        /Held request.*Ping/.test((await server.cli(['devices', 'show', carol.user, phone.deviceId])).stdout),
      );
      await dovecot.stop();
      // While the mail server is down a Sync gets a clear answer: 503, retry later (MS-ASHTTP
      // 3.1.5.2.6 lets the client retry), not a hang, a crash or a wrong Status.
      const during = await phone.sync(inbox);
      expect([during.reply.status, during.reply.raw.toString()]).toEqual([
        503,
        'A backing store is unavailable; retry later\n',
      ]);
      await restartDovecot(dovecot, port);

      await appendMessage(imap, carol, 'INBOX', world.message(`After ${run}`));
      const answers = await pingUntilHeld(phone, inbox, `After ${run}`, held);
      expect(answers.at(-1)).toBe('2');
      expect(subjectsOn(phone, inbox)).toEqual(await world.subjectsIn('INBOX'));
      expect(server.running).toBe(true);
    },
  );
});
