// The shape of what test/stack/global-setup.ts provides; read it in a test with inject('stack').
import type { TestUser } from './users.js';

export interface TestStack {
  tmpDir: string;
  users: TestUser[];
  /** Dovecot, IMAP only, plaintext LOGIN/AUTH=PLAIN allowed (loopback, no TLS). */
  imap: { host: string; port: number };
  /** The recording SMTP receiver; AUTH PLAIN/LOGIN required, every message lands in spoolDir. */
  smtp: { host: string; port: number; spoolDir: string };
  /** Radicale base URL, e.g. http://127.0.0.1:PORT/; a user's home is `${url}${user}/`. */
  dav: { url: string };
  /** redis://127.0.0.1:PORT */
  redis: { url: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}
