// Test users shared by every service of the real test stack: the same name and password log in to
// Dovecot, Radicale and the SMTP receiver. Passwords stay within [A-Za-z0-9-] so they fit every
// config format used here (passwd-file, htpasswd) without escaping.
export interface TestUser {
  user: string;
  password: string;
  email: string;
}

export const MAIL_DOMAIN = 'easd.test';

export const users: readonly TestUser[] = [
  { user: 'alice', password: 'alice-pw-7Qx2', email: `alice@${MAIL_DOMAIN}` },
  { user: 'bob', password: 'bob-pw-4Kd9', email: `bob@${MAIL_DOMAIN}` },
  { user: 'carol', password: 'carol-pw-8Mz3', email: `carol@${MAIL_DOMAIN}` },
];

export function findUser(user: string): TestUser | undefined {
  return users.find((u) => u.user === user);
}
