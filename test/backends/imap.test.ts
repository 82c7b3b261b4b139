// The IMAP backend against the real Dovecot of the test stack: the conformance kit, then what
// only IMAP has (special-use and name heuristics, UIDVALIDITY, other clients, large folders,
// charsets, attachment streaming, pool bounds, watcher teardown).
import { inject } from 'vitest';
import { describeBackendConformance } from '../../backends/testkit/index.js';
import { openImapBackend } from '../../backends/imap/index.js';
import { appendMessage } from '../stack/dovecot.js';

const stack = inject('stack');
const [alice, bob] = stack.users;
if (alice === undefined || bob === undefined) throw new Error('test users missing');
const url = `imap://${stack.imap.host}:${stack.imap.port}?starttls=never`;

describeBackendConformance(
  'imap',
  async () => {
    const backend = await openImapBackend({
      url,
      domain: 'easd.test',
      poolSize: 3,
      watchPollMs: 500,
      // no submit: a read-only mail store, which still serves attachments
    });
    return {
      backend,
      credentials: { user: alice.user, password: alice.password },
      otherCredentials: { user: bob.user, password: bob.password },
      injectExternalChange: async (creds) => {
        const user = stack.users.find((u) => u.user === creds.user);
        if (user === undefined) throw new Error(`unknown test user ${creds.user}`);
        await appendMessage(
          stack.imap,
          user,
          'INBOX',
          `From: carol@easd.test\r\nTo: ${user.email}\r\nSubject: external change\r\n\r\nHello\r\n`,
        );
      },
      teardown: () => backend.close(),
    };
  },
  {
    classes: ['Email'],
    capabilities: {
      changes: true,
      watch: true,
      folders: true,
      attachments: true,
      search: true,
      emptyFolder: true,
      userInformation: true,
    },
    externalChanges: true,
    watchTimeoutMs: 5000,
  },
);
