// `easd wbxml decode|encode [file|-]`: read a device trace as XML, or write WBXML from XML.
// src/cli.ts calls wbxmlCli for `easd wbxml …`; `node dist/wbxml/cli.js …` runs it directly.

import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { decode } from './decoder.js';
import { encode } from './encoder.js';
import { WbxmlError } from './errors.js';
import { fromXml, toXml } from './xml.js';

export interface WbxmlCliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const USAGE = `usage: easd wbxml decode [--hex] [file|-]   WBXML (binary, or hex text) → XML
       easd wbxml encode [--hex] [file|-]   XML → WBXML (binary, or hex text with --hex)

decode reads binary WBXML, or a hex dump of it ("03 01 6a 00 …", as logged by servers and
proxies); encode reads XML as decode writes it. Without a file, or with -, they read stdin.
`;

async function readInput(path: string, stdin: NodeJS.ReadableStream): Promise<Uint8Array> {
  if (path !== '-') return new Uint8Array(await readFile(path));
  const chunks: Uint8Array[] = [];
  for await (const chunk of stdin) {
    chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk));
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/**
 * A hex dump as bytes, or undefined when `input` is not one. Binary WBXML starts with the version
 * byte 0x03, never with a hex digit or whitespace, so the two cannot be confused.
 */
function parseHexDump(input: Uint8Array): Uint8Array | undefined {
  const text = new TextDecoder().decode(input);
  if (!/^(\s|0x|[0-9a-fA-F]{2}|,)*$/.test(text)) return undefined;
  const digits = text.replace(/0x|[\s,]/g, '');
  if (digits.length === 0 || digits.length % 2 !== 0) return undefined;
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    lines.push(Array.from(bytes.subarray(i, i + 16), (b) => b.toString(16).padStart(2, '0')).join(' '));
  }
  return lines.join('\n') + '\n';
}

function write(stream: NodeJS.WritableStream, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/** Runs `wbxml <argv…>` and returns the exit code: 0 done, 1 bad input, 2 bad usage. */
export async function wbxmlCli(argv: string[], io: WbxmlCliIo): Promise<number> {
  const [command, ...rest] = argv;
  const hex = rest.includes('--hex');
  const files = rest.filter((a) => a !== '--hex');
  if (command === 'help' || command === '--help' || command === '-h') {
    await write(io.stdout, USAGE);
    return 0;
  }
  if (
    (command !== 'decode' && command !== 'encode') ||
    files.length > 1 ||
    files.some((f) => f.startsWith('--'))
  ) {
    await write(io.stderr, USAGE);
    return 2;
  }
  const path = files[0] ?? '-';
  try {
    const input = await readInput(path, io.stdin);
    if (command === 'decode') {
      const bytes = parseHexDump(input) ?? input;
      await write(io.stdout, toXml(decode(bytes)));
    } else {
      const bytes = encode(fromXml(new TextDecoder().decode(input)));
      await write(io.stdout, hex ? toHex(bytes) : bytes);
    }
    return 0;
  } catch (e) {
    if (e instanceof WbxmlError) {
      await write(io.stderr, `easd wbxml ${command}: ${e.message}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string' && typeof err.syscall === 'string') {
      await write(io.stderr, `easd wbxml ${command}: cannot read ${path}: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  process.exitCode = await wbxmlCli(process.argv.slice(2), process);
}
