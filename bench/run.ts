// `npm run bench`: runs every benchmark module listed below and writes docs/benchmarks.md, one
// section per module after a description of the machine. To add a module, export an async
// function returning a markdown section (starting with a `## ` heading) and list it here.
// BENCH_ONLY=push,imap-sync runs only those modules and replaces only their sections, keeping the
// others from the file (a long bench can be re-run alone without losing the rest).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { imapSyncBench } from './imap-sync.js';
import { pushBench } from './push.js';
import { pushLatencyBench } from './push-latency.js';
import { wbxmlBench } from './wbxml.js';

/** `heading`: how the module's section starts, to find it in the file again. */
const modules: { name: string; heading: string; run: () => Promise<string> }[] = [
  { name: 'wbxml', heading: '## WBXML codec', run: wbxmlBench },
  { name: 'push', heading: '## Direct Push', run: pushBench },
  { name: 'push-latency', heading: '## Push latency on Dovecot', run: pushLatencyBench },
  { name: 'imap-sync', heading: '## Mail sync on IMAP', run: imapSyncBench },
];

const only = process.env['BENCH_ONLY']
  ?.split(',')
  .map((n) => n.trim())
  .filter(Boolean);
for (const name of only ?? []) {
  if (!modules.some((m) => m.name === name)) {
    throw new Error(`BENCH_ONLY: no module "${name}" (${modules.map((m) => m.name).join(', ')})`);
  }
}

const cpu = cpus();
const machine = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (bench/run.ts); numbers from one run on the machine below.',
  '',
  `- Node ${process.version} (V8 ${process.versions.v8}), ${osType()} ${release()}`,
  `- CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} logical cores; ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
  `- Load average when the run started: ${loadavg()[0]!.toFixed(2)} (other work on the machine lowers the numbers)`,
  `- Date: ${new Date().toISOString().slice(0, 10)}`,
  '',
].join('\n');

const out = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
const kept = only && existsSync(out) ? splitSections(readFileSync(out, 'utf8')) : undefined;

const sections: string[] = [];
for (const m of modules) {
  if (only && !only.includes(m.name)) {
    sections.push(kept?.[modules.indexOf(m)] ?? '');
    continue;
  }
  process.stdout.write(`bench: ${m.name} … `);
  const started = Date.now();
  const section = await m.run();
  // A section run alone says when, since the header describes the last full run.
  sections.push(only ? stampSection(section) : section);
  process.stdout.write(`${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}
const header = only && kept ? kept.header : machine;
writeFileSync(
  out,
  `${[header, ...sections]
    .map((s) => s.trimEnd())
    .filter(Boolean)
    .join('\n\n')}\n`,
);
console.log(`bench: wrote ${out}`);

/**
 * The file's machine header and its module sections, in the order of `modules` (matched by the
 * `## ` heading each module writes first; a module without a section in the file gets '').
 */
function splitSections(text: string): string[] & { header: string } {
  const parts = text.split(/^(?=## )/m);
  const header = parts[0]?.startsWith('## ') ? machine : (parts.shift() ?? machine);
  const byHeading = new Map(parts.map((p) => [p.split('\n', 1)[0]!, p]));
  return Object.assign(
    modules.map((m) => [...byHeading].find(([k]) => k.startsWith(m.heading))?.[1] ?? ''),
    { header: header.endsWith('\n') ? header.slice(0, -1) : header },
  );
}

/** Puts a dated line under a section's heading. */
function stampSection(section: string): string {
  const [heading, ...rest] = section.split('\n');
  const when = `_Run alone (BENCH_ONLY) on ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0]!.toFixed(2)} at its start; the header above describes the last full run._`;
  return [heading, '', when, ...rest].join('\n');
}
