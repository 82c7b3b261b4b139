// EASD_MAIL_CA: the TLS options for easd's connections to the mail servers (IMAP, SMTP), shared by
// the server and `easd check` so that both trust the same certificates.
import { readFile } from 'node:fs/promises';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import type { Config } from './config.js';

export class MailCaError extends Error {}

/**
 * The mail servers' private CA, trusted besides the system's CAs (Node's `ca` replaces them, so
 * both are given). Host names are still checked. Undefined without EASD_MAIL_CA.
 */
export async function mailTls(config: Config): Promise<ConnectionOptions | undefined> {
  if (config.mailCaFile === undefined) return undefined;
  let pem: string;
  try {
    pem = await readFile(config.mailCaFile, 'utf8');
  } catch (err) {
    throw new MailCaError(`EASD_MAIL_CA=${config.mailCaFile} cannot be read: ${(err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new MailCaError(`EASD_MAIL_CA=${config.mailCaFile} holds no PEM certificate`);
  return { ca: [...rootCertificates, pem] };
}
