// The memory backend's users: <dataDir>/accounts.json, passwords stored as scrypt hashes
// (node:crypto). `createAccount` adds one; `ensureDemoAccount` makes "demo" on a first start.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import path from 'node:path';
import { readJsonFile, writeFileAtomic } from './persist.js';

export interface AccountRecord {
  user: string;
  email: string;
  displayName?: string;
  /** `scrypt$N$r$p$salt$hash`, salt and hash in base64. */
  passwordHash: string;
}

interface AccountsFile {
  version: 1;
  accounts: AccountRecord[];
}

export const accountsFileName = 'accounts.json';
/** The domain given to users created without an address. */
export const defaultDomain = 'easd.local';

// N=2^15 costs ~32 MiB and tens of milliseconds: slow for guessing, fine for a login (and the
// server caches successful logins).
const params = { N: 1 << 15, r: 8, p: 1 } as const;
const keyLength = 32;

function derive(password: string, salt: Buffer, opts: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...opts, maxmem: 256 * opts.N * opts.r };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return key.byteLength === expected.byteLength && timingSafeEqual(key, expected);
}

/** A hash no password matches, checked for unknown users so they take as long as known ones. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}

export async function readAccounts(dataDir: string): Promise<AccountRecord[]> {
  const file = (await readJsonFile(path.join(dataDir, accountsFileName))) as AccountsFile | undefined;
  if (file === undefined) return [];
  if (file.version !== 1 || !Array.isArray(file.accounts))
    throw new Error(`${accountsFileName}: unknown format`);
  return file.accounts;
}

async function writeAccounts(dataDir: string, accounts: AccountRecord[]): Promise<void> {
  const file: AccountsFile = { version: 1, accounts };
  await writeFileAtomic(path.join(dataDir, accountsFileName), `${JSON.stringify(file, null, 2)}\n`);
}

export interface NewAccount {
  user: string;
  password: string;
  /** Defaults to `user@easd.local` (or `user` itself when it is an address). */
  email?: string;
  displayName?: string;
}

const userPattern = /^[A-Za-z0-9._@+-]{1,64}$/;

/** Adds an account to the users file. Throws if the user or address exists. */
export async function createAccount(dataDir: string, account: NewAccount): Promise<AccountRecord> {
  if (!userPattern.test(account.user)) throw new Error('user names are 1–64 letters, digits and . _ @ + -');
  if (account.password.length < 8) throw new Error('passwords have at least 8 characters');
  const email = (
    account.email ?? (account.user.includes('@') ? account.user : `${account.user}@${defaultDomain}`)
  ).toLowerCase();
  const accounts = await readAccounts(dataDir);
  if (accounts.some((a) => a.user.toLowerCase() === account.user.toLowerCase()))
    throw new Error(`user ${account.user} exists`);
  if (accounts.some((a) => a.email === email)) throw new Error(`address ${email} is taken`);
  const record: AccountRecord = {
    user: account.user,
    email,
    ...(account.displayName !== undefined && { displayName: account.displayName }),
    passwordHash: await hashPassword(account.password),
  };
  await writeAccounts(dataDir, [...accounts, record]);
  return record;
}

/**
 * On a first start (no accounts at all), creates the user "demo" with a random password and
 * returns the credentials so they can be printed once; otherwise null.
 */
export async function ensureDemoAccount(dataDir: string): Promise<{ user: string; password: string } | null> {
  if ((await readAccounts(dataDir)).length > 0) return null;
  const password = randomBytes(12).toString('base64url');
  await createAccount(dataDir, { user: 'demo', password, displayName: 'Demo User' });
  return { user: 'demo', password };
}
