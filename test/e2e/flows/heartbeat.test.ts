// A phone's Ping loop on a quiet mailbox, against the compiled server on the stack's Dovecot: the
// server's heartbeat bounds are short here (EASD_PING_MIN/EASD_PING_MAX, seconds), so a phone
// asking for more is told the bound (Status 5), and each held Ping then ends by its heartbeat
// (Status 1, no folders), as a real phone's 28-minute Ping does on a quiet night. The next Ping
// carries on, a change still wakes one (Status 2), and the server's own metrics show nothing
// left behind: no held request, no timer keeping the process alive.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { appendMessage } from '../../stack/dovecot.js';
import { findText } from '../../support/eas-client.js';
import { eventually, profiles } from '../../support/device.js';
import { FlowMailbox, subjectsOn } from '../../support/device-mailbox.js';
import { stackEnv, useScratch, type CompiledEasd } from '../../support/device-server.js';

const stack = inject('stack');
const carol = stack.users.find((u) => u.user === 'carol')!;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const scratch = useScratch('easd-flow-heartbeat-');
const world = new FlowMailbox(stack.imap, carol, () => server.base, run);
let server: CompiledEasd;
let metricsUrl: string;
const [minHeartbeat, maxHeartbeat] = [2, 5];

beforeAll(async () => {
  server = await scratch.start({
    ...stackEnv(stack, scratch.path('easd')),
    EASD_PING_MIN: String(minHeartbeat),
    EASD_PING_MAX: String(maxHeartbeat),
    EASD_METRICS_LISTEN: '127.0.0.1:0',
    // The metrics address is logged at info level.
    EASD_LOG_LEVEL: 'info',
  });
  metricsUrl = await eventually('the metrics address in the log', async () => {
    for (const line of server.log.split('\n')) {
      if (!line.includes('metrics listening')) continue;
      return (JSON.parse(line) as { address: string }).address;
    }
    return undefined;
  });
});

/** One sample of the server's Prometheus endpoint, e.g. `easd_held_requests{command="Ping"}`. */
async function sample(name: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

const heldPings = 'easd_held_requests{command="Ping"}';
const timers = 'easd_nodejs_active_resources{type="Timeout"}';

describe('a Ping ended by its heartbeat', { timeout: 90_000 }, () => {
  it('is answered with Status 1, the next Ping carries on, a change still wakes one, and nothing is left behind', async () => {
    const mailbox = `Heartbeat ${run}`;
    const { phone, box } = await world.setUp('BEAT', mailbox, profiles.outlook);

    // Outlook asks for 180 s: too long here. Status 5 names the longest allowed (MS-ASCMD
    // 2.2.3.79.2), and the phone asks again with it.
    const tooLong = await phone.ping([box]);
    expect([tooLong.status, findText(tooLong.reply.doc, 'HeartbeatInterval')]).toEqual([
      '5',
      String(maxHeartbeat),
    ]);
    const tooShort = await phone.ping([box], { heartbeat: 1 });
    expect([tooShort.status, findText(tooShort.reply.doc, 'HeartbeatInterval')]).toEqual([
      '5',
      String(minHeartbeat),
    ]);

    // Three quiet cycles: each Ping is held (the gauge shows it) and ends by its heartbeat
    // alone — Status 1 and no folders; nothing else could end it (no newer request is sent).
    let timersWhileHeld = 0;
    for (let cycle = 0; cycle < 3; cycle++) {
      const held = phone.ping([box], { heartbeat: maxHeartbeat });
      await eventually('the Ping held', async () => (await sample(heldPings)) === 1);
      timersWhileHeld = Math.max(timersWhileHeld, await sample(timers));
      const answer = await held;
      expect([answer.status, answer.changed]).toEqual(['1', []]);
      await eventually('the gauge back to 0', async () => (await sample(heldPings)) === 0);
      // No timer keeps the process busy once the Ping is over (its heartbeat and checks are
      // cleared; what lingers, such as the IMAP watch, is unref'd and not counted).
      await eventually('no timer left', async () => (await sample(timers)) === 0);
      // The phone syncs after a quiet Ping only if it wants to: nothing is there.
      const quiet = await phone.sync(box);
      expect([quiet.status, quiet.adds.length]).toEqual(['1', 0]);
    }
    // The held Ping's heartbeat was a timer the metrics saw.
    expect(timersWhileHeld).toBeGreaterThan(0);

    // The next cycle still works: a message APPENDed while the Ping is held wakes it.
    const subject = `Heartbeat ${run} wake`;
    const held = phone.ping([box], { heartbeat: maxHeartbeat });
    await eventually('the Ping held', async () => (await sample(heldPings)) === 1);
    await appendMessage(stack.imap, carol, mailbox, world.message(subject));
    // The append may land just as a heartbeat ends: then the next Ping reports it.
    let answer = await held;
    if (answer.status === '1') answer = await phone.ping([box], { heartbeat: maxHeartbeat });
    expect([answer.status, answer.changed]).toEqual(['2', [box]]);
    await phone.syncAll(box);
    expect(subjectsOn(phone, box)).toEqual([subject]);
    await eventually('the gauge back to 0', async () => (await sample(heldPings)) === 0);
    // No error was logged on the way (pino level 50 and above).
    expect(server.log.split('\n').filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
  });
});
