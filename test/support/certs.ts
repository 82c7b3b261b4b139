// Self-signed S/MIME-style certificates for tests, made by the openssl command (Debian's openssl
// package, present wherever the test stack runs): a subjectAltName e-mail address, a validity
// period from now. DER bytes, as a vCard KEY or a ResolveRecipients Certificate carries them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function testCertificate(email: string, days = 365): Uint8Array {
  const dir = mkdtempSync(path.join(tmpdir(), 'easd-cert-'));
  try {
    const out = path.join(dir, 'cert.der');
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
        path.join(dir, 'key.pem'),
        '-subj',
        `/CN=${email}`,
        '-addext',
        `subjectAltName=email:${email}`,
        '-days',
        String(days),
        '-outform',
        'DER',
        '-out',
        out,
      ],
      { stdio: 'ignore' },
    );
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
