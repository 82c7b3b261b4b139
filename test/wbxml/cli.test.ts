// `easd wbxml decode|encode` on files a phone sent (the golden fixtures), stdin and hex dumps.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { wbxmlCli } from '../../wbxml/cli.js';
import { collect, fixturesDir, loadFixtures } from './helpers.js';

async function cli(argv: string[], stdin: string | Uint8Array = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout as AsyncIterable<Uint8Array>);
  const err = collect(stderr as AsyncIterable<Uint8Array>);
  const code = await wbxmlCli(argv, { stdin: Readable.from([Buffer.from(stdin)]), stdout, stderr });
  stdout.end();
  stderr.end();
  return { code, stdout: Buffer.from(await out), stderr: Buffer.from(await err).toString('utf8') };
}

const fixtures = loadFixtures();
const ping = fixtures.find((f) => f.name === 'ping-request')!;

describe('easd wbxml', () => {
  it('decodes a binary WBXML file a phone sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'easd-wbxml-'));
    const file = join(dir, 'ping.wbxml');
    writeFileSync(file, ping.bytes);
    const r = await cli(['decode', file]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.toString('utf8')).toBe(ping.xml);
  });

  it('decodes a hex dump file and a hex dump on stdin', async () => {
    const fromFile = await cli(['decode', join(fixturesDir, 'ping-request.hex')]);
    expect(fromFile.stdout.toString('utf8')).toBe(ping.xml);
    const fromStdin = await cli(
      ['decode', '-'],
      '0x03,0x01,0x6a,0x00, 0x00 0x07 0x56 0x52 0x03 0x30 0x00 0x01 0x01',
    );
    expect(fromStdin.stdout.toString('utf8')).toContain('<FolderSync xmlns="FolderHierarchy:">');
  });

  it('encodes XML from stdin to the bytes the phone sent, binary or hex', async () => {
    for (const f of fixtures) {
      const r = await cli(['encode'], f.xml);
      expect(r.code, f.name).toBe(0);
      expect(r.stdout.equals(Buffer.from(f.bytes)), f.name).toBe(true);
    }
    const hex = await cli(['encode', '--hex', join(fixturesDir, 'ping-request.xml')]);
    expect(hex.stdout.toString('utf8')).toMatch(/^03 01 6a 00 00 0d 45 48 03 34 38 30 00 01/);
  });

  it('reports malformed input with code and offset, exit code 1', async () => {
    const r = await cli(['decode'], Buffer.from(ping.bytes.subarray(0, 20)));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^easd wbxml decode: .*\(truncated at offset 20\)\n$/);
    const x = await cli(['encode'], '<Sync xmlns="AirSync:"><Nope/></Sync>');
    expect(x.code).toBe(1);
    expect(x.stderr).toContain('unknown-tag');
    const missing = await cli(['decode', join(fixturesDir, 'no-such-file.wbxml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
  });

  it('prints usage: exit 0 for help, 2 for a bad command line', async () => {
    expect((await cli(['help'])).stdout.toString('utf8')).toContain('usage: easd wbxml decode');
    expect((await cli([])).code).toBe(2);
    expect((await cli(['decode', 'a', 'b'])).code).toBe(2);
    expect((await cli(['translate'])).stderr).toContain('usage:');
  });
});
