// Self-signed certificates for tests, made by the openssl command (Debian's openssl package,
// present wherever the test stack runs), valid from now: S/MIME-style ones with a subjectAltName
// e-mail address, as DER bytes (what a vCard KEY or a ResolveRecipients Certificate carries), and
// TLS server ones for a host name, as PEM files.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** `openssl req -x509` with a new P-256 key (no passphrase) written to `keyFile`. */
function selfSigned(keyFile: string, subject: string, altName: string, days: number, out: string[]): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-subj',
      subject,
      '-addext',
      `subjectAltName=${altName}`,
      '-days',
      String(days),
      ...out,
    ],
    { stdio: 'ignore' },
  );
}

export function testCertificate(email: string, days = 365): Uint8Array {
  const dir = mkdtempSync(path.join(tmpdir(), 'easd-cert-'));
  try {
    const out = path.join(dir, 'cert.der');
    selfSigned(path.join(dir, 'key.pem'), `/CN=${email}`, `email:${email}`, days, [
      '-outform',
      'DER',
      '-out',
      out,
    ]);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A TLS server certificate for `hostname`: `fullchain.pem` and `privkey.pem` written into `dir`. */
export function serverCertificate(dir: string, hostname: string, days = 2): { cert: string; key: string } {
  const cert = path.join(dir, 'fullchain.pem');
  const key = path.join(dir, 'privkey.pem');
  selfSigned(key, `/CN=${hostname}`, `DNS:${hostname}`, days, ['-out', cert]);
  return { cert, key };
}
