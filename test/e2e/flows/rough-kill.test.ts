// The compiled server killed with SIGKILL in the middle of a Sync, on the stack's Dovecot and
// Radicale: no shutdown hook runs, nothing is flushed. Started again on the same port and data,
// the phone repeats the request whose answer it never got, and ends with every message once.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { profiles } from '../../support/device.js';
import { FlowMailbox, subjectsOn } from '../../support/device-mailbox.js';
import { stackEnv, useScratch, type CompiledEasd } from '../../support/device-server.js';

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
let server: CompiledEasd;
const scratch = useScratch('easd-flow-kill-');
const world = new FlowMailbox(stack.imap, carol, () => server.base, run);

beforeAll(async () => {
  server = await scratch.start(stackEnv(stack, scratch.path('easd')));
});

describe('the server killed', () => {
  it(
    'the server killed with SIGKILL in the middle of a Sync: restarted, the phone repeats its request and gets every message once',
    { timeout: 90_000 },
    async () => {
      const mailbox = `Killed ${run}`;
      const { phone, box } = await world.setUp('KILL', mailbox, profiles.iPhone);
      await world.append(mailbox, `Killed ${run}`, 0, 150);
      const windows: number[] = [];
      for (let i = 0; ; i++) {
        if (i === 1) {
          // The second window is asked for, and the server dies while it works on it.
          const inFlight = phone.sync(box, { windowSize: 50 }).then(
            () => 'answered',
            () => 'lost',
          );
          // Long enough for the request to arrive, short of the ~100 ms the window takes.
          await new Promise((resolve) => setTimeout(resolve, 40));
          await server.kill();
          await inFlight;
          await server.restart();
          // The killed process left the device's state lock in SQLite; the restarted server
          // sees its holder is gone and takes it at once (src/state/lock.ts holderIsGone).
        }
        const r = await phone.sync(box, { windowSize: 50 });
        expect(r.status).toBe('1');
        windows.push(r.adds.length);
        if (!r.more) break;
      }
      expect(windows.reduce((a, b) => a + b, 0)).toBe(150);
      expect(subjectsOn(phone, box)).toEqual(await world.subjectsIn(mailbox));
    },
  );
});
