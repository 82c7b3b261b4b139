// `npm run bench`: runs every benchmark module listed below and writes docs/benchmarks.md, one
// section per module after a description of the machine. To add a module, export an async
// function returning a markdown section (starting with a `## ` heading) and list it here.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { imapSyncBench } from './imap-sync.js';
import { pushBench } from './push.js';
import { pushLatencyBench } from './push-latency.js';
import { wbxmlBench } from './wbxml.js';

const modules: { name: string; run: () => Promise<string> }[] = [
  { name: 'wbxml', run: wbxmlBench },
  { name: 'push', run: pushBench },
  { name: 'push-latency', run: pushLatencyBench },
  { name: 'imap-sync', run: imapSyncBench },
];

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

const sections: string[] = [];
for (const m of modules) {
  process.stdout.write(`bench: ${m.name} … `);
  const started = Date.now();
  sections.push(await m.run());
  process.stdout.write(`${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}
const out = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
writeFileSync(out, [machine, ...sections].join('\n'));
console.log(`bench: wrote ${out}`);
