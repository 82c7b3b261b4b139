// Validates EAS responses against Microsoft's XML Schemas (../shared/schemas/eas beside the
// repository, see its README.md) with xmllint, so any test can check that what easd builds is
// what a phone expects:
//
//   await validateEasResponse(tree, 'Sync');       // throws with xmllint's violations and the XML
//   await expectValidEasResponse(xmlString, 'Provision');
//   const problems = await easResponseViolations(tree, 'FolderSync'); // [] when valid
//
// Why the schemas cannot simply be imported one by one: a response schema and a namespace schema
// often share a targetNamespace (FolderSyncResponse.xsd and FolderHierarchy.xsd are both
// "FolderHierarchy"), and libxml2 loads only the first document imported for a namespace; the
// schemas also refer to each other's namespaces without any xs:import, which libxml2 refuses. So
// on a command's first use this module writes, into a cache directory in the system temp folder
// (named by a hash of the schemas and of this file, shared by test processes, built once):
//
//   - a copy of every schema document the command needs, with an xs:import added for each foreign
//     namespace it refers to, and with global declarations that another document of the same
//     namespace also makes removed (the command's response schema wins), so none is declared twice;
//   - one ns-N.xsd per namespace whose only content is an xs:include of each of its documents, so
//     a namespace is one schema no matter how many files declare it;
//   - wrapper.xsd, which imports every ns-N.xsd. All imports of a namespace name the same ns-N.xsd.
//
// The documents a command needs are all namespace schemas, its response schema(s), and any other
// response schema that declares something those refer to (ProvisionResponse.xsd refers to
// settings:DeviceInformation, which only SettingsResponse.xsd declares). Since the schemas declare
// many global elements, xmllint alone would accept e.g. a bare <Status> as a document; the root
// element is therefore checked here against the command's response element first.
//
// Documents validated concurrently for the same command share one xmllint run (Promise.all over
// many responses costs little more than one). toXml's wbxml:base64 markers are removed before
// validation: WBXML elements have no attributes, and the marker only records how toXml wrote
// OPAQUE bytes or an XML-unsafe string; such content is validated as its base64 text.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import type { Document as XmlDocument, Element as XmlElement } from '@xmldom/xmldom';
import { toXml, type WbxmlElement } from '../../wbxml/index.js';

const XS = 'http://www.w3.org/2001/XMLSchema';
const AUTODISCOVER_NS = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';

/** The repository root: this file is test/support/schema.ts. */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the team's schemas live: shared/ beside the repository, in a checkout and in CI. */
export const EAS_SCHEMA_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'schemas', 'eas');

interface CommandSchema {
  /** Response schema files, the first declaring the root element. */
  files: string[];
  /** Namespace and local name of the response's root element. */
  root: [ns: string, name: string];
}

const COMMANDS: Record<string, CommandSchema> = {
  Autodiscover: {
    files: ['AutodiscoverResponse.xsd', 'AutodiscoverMobileSync.xsd'],
    root: [AUTODISCOVER_NS, 'Autodiscover'],
  },
  Find: { files: ['FindResponse.xsd'], root: ['Find', 'Find'] },
  FolderCreate: { files: ['FolderCreateResponse.xsd'], root: ['FolderHierarchy', 'FolderCreate'] },
  FolderDelete: { files: ['FolderDeleteResponse.xsd'], root: ['FolderHierarchy', 'FolderDelete'] },
  FolderSync: { files: ['FolderSyncResponse.xsd'], root: ['FolderHierarchy', 'FolderSync'] },
  FolderUpdate: { files: ['FolderUpdateResponse.xsd'], root: ['FolderHierarchy', 'FolderUpdate'] },
  GetHierarchy: { files: ['GetHierarchyResponse.xsd'], root: ['FolderHierarchy', 'Folders'] },
  GetItemEstimate: { files: ['GetItemEstimateResponse.xsd'], root: ['GetItemEstimate', 'GetItemEstimate'] },
  ItemOperations: { files: ['ItemOperationsResponse.xsd'], root: ['ItemOperations', 'ItemOperations'] },
  MeetingResponse: { files: ['MeetingResponseResponse.xsd'], root: ['MeetingResponse', 'MeetingResponse'] },
  MoveItems: { files: ['MoveItemsResponse.xsd'], root: ['Move', 'MoveItems'] },
  Ping: { files: ['PingResponse.xsd'], root: ['Ping', 'Ping'] },
  Provision: { files: ['ProvisionResponse.xsd'], root: ['Provision', 'Provision'] },
  ResolveRecipients: {
    files: ['ResolveRecipientsResponse.xsd'],
    root: ['ResolveRecipients', 'ResolveRecipients'],
  },
  Search: { files: ['SearchResponse.xsd'], root: ['Search', 'Search'] },
  SendMail: { files: ['SendMailResponse.xsd'], root: ['ComposeMail', 'SendMail'] },
  Settings: { files: ['SettingsResponse.xsd'], root: ['Settings', 'Settings'] },
  SmartForward: { files: ['SmartForwardResponse.xsd'], root: ['ComposeMail', 'SmartForward'] },
  SmartReply: { files: ['SmartReplyResponse.xsd'], root: ['ComposeMail', 'SmartReply'] },
  Sync: { files: ['SyncResponse.xsd'], root: ['AirSync', 'Sync'] },
  ValidateCert: { files: ['ValidateCertResponse.xsd'], root: ['ValidateCert', 'ValidateCert'] },
};

/** Every command validateEasResponse knows, as the names it accepts. */
export const EAS_SCHEMA_COMMANDS: readonly string[] = Object.keys(COMMANDS);

function commandSchema(command: string): CommandSchema {
  const found = Object.entries(COMMANDS).find(([name]) => name.toLowerCase() === command.toLowerCase());
  if (found === undefined) {
    throw new Error(
      `No EAS response schema for command "${command}"; known: ${EAS_SCHEMA_COMMANDS.join(', ')}`,
    );
  }
  return found[1];
}

// ---------------------------------------------------------------------------------------------
// Reading the schemas

/** A response schema, as opposed to a namespace (code page) schema. */
function isResponseSchema(file: string): boolean {
  return file.endsWith('Response.xsd') || file.startsWith('Autodiscover');
}

/** "element|AirSync|Status": a global declaration's symbol space, namespace and name. */
type ComponentKey = string;

interface SchemaDoc {
  file: string;
  doc: XmlDocument;
  targetNamespace: string;
  /** Global declarations: key → the top-level xs:* element declaring it. */
  globals: Map<ComponentKey, XmlElement>;
  /** Components this document refers to (ref, type, base, …), in any namespace. */
  refs: Set<ComponentKey>;
}

function xsChildren(parent: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (let n = parent.firstChild; n !== null; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as XmlElement).namespaceURI === XS) out.push(n as XmlElement);
  }
  return out;
}

function symbolSpace(kind: string): string | undefined {
  switch (kind) {
    case 'element':
    case 'group':
    case 'attribute':
    case 'attributeGroup':
      return kind;
    case 'complexType':
    case 'simpleType':
      return 'type';
    default:
      return undefined;
  }
}

/** Resolves a QName written in `context` to a component key, or undefined for an XML Schema built-in. */
function qnameKey(space: string, qname: string, context: XmlElement, file: string): ComponentKey | undefined {
  const colon = qname.indexOf(':');
  const prefix = colon < 0 ? null : qname.slice(0, colon);
  const local = colon < 0 ? qname : qname.slice(colon + 1);
  // xmldom finds the default namespace under the prefix '' (null finds nothing).
  const ns = context.lookupNamespaceURI(prefix ?? '') ?? '';
  if (ns === XS) return undefined;
  if (prefix !== null && ns === '')
    throw new Error(`${file}: prefix "${prefix}" of ${qname} is not declared`);
  return `${space}|${ns}|${local}`;
}

function collectRefs(root: XmlElement, file: string): Set<ComponentKey> {
  const refs = new Set<ComponentKey>();
  const add = (space: string, qname: string | null, context: XmlElement): void => {
    if (qname === null || qname === '') return;
    const key = qnameKey(space, qname.trim(), context, file);
    if (key !== undefined) refs.add(key);
  };
  const walk = (el: XmlElement): void => {
    const kind = el.localName ?? '';
    if (kind === 'element' || kind === 'attribute') add(kind, el.getAttribute('ref'), el);
    if (kind === 'group' || kind === 'attributeGroup') add(kind, el.getAttribute('ref'), el);
    if (kind === 'element' || kind === 'attribute') add('type', el.getAttribute('type'), el);
    if (kind === 'element') add('element', el.getAttribute('substitutionGroup'), el);
    if (kind === 'restriction' || kind === 'extension') add('type', el.getAttribute('base'), el);
    if (kind === 'list') add('type', el.getAttribute('itemType'), el);
    if (kind === 'union') {
      for (const member of (el.getAttribute('memberTypes') ?? '').split(/\s+/)) add('type', member, el);
    }
    for (const child of xsChildren(el)) walk(child);
  };
  walk(root);
  return refs;
}

function missingSchemaDir(dir: string): Error {
  return new Error(
    `EAS schema folder not found: ${dir}. The schemas are team material kept in shared/ beside the ` +
      `repository: the parent of the repository root must hold shared/schemas/eas.`,
  );
}

function readSchemaDir(dir: string): SchemaDoc[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw missingSchemaDir(dir);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.xsd'))
    .sort();
  if (files.length === 0) throw new Error(`EAS schema folder ${dir} holds no .xsd files`);
  return files.map((file) => {
    const text = readFileSync(path.join(dir, file), 'utf8').replace(/^\uFEFF/, '');
    const doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(`${file}: ${message}`);
      },
    }).parseFromString(text, 'text/xml');
    const root = doc.documentElement;
    if (root === null || root.namespaceURI !== XS || root.localName !== 'schema') {
      throw new Error(`${dir}/${file} is not an XML Schema document`);
    }
    const targetNamespace = root.getAttribute('targetNamespace') ?? '';
    const globals = new Map<ComponentKey, XmlElement>();
    for (const child of xsChildren(root)) {
      const space = symbolSpace(child.localName ?? '');
      const name = child.getAttribute('name');
      if (space !== undefined && name !== null) globals.set(`${space}|${targetNamespace}|${name}`, child);
    }
    return { file, doc, targetNamespace, globals, refs: collectRefs(root, file) };
  });
}

// ---------------------------------------------------------------------------------------------
// Building one command's wrapper schema

/**
 * The documents a command is validated with: every namespace schema, the command's response
 * schemas, and, transitively, each other response schema declaring something otherwise missing.
 */
function documentsFor(spec: CommandSchema, all: SchemaDoc[]): SchemaDoc[] {
  const byFile = new Map(all.map((d) => [d.file, d]));
  const chosen: SchemaDoc[] = [];
  for (const file of spec.files) {
    const d = byFile.get(file);
    if (d === undefined) throw new Error(`${file} is missing from the schema folder`);
    chosen.push(d);
  }
  chosen.push(...all.filter((d) => !isResponseSchema(d.file)));
  for (;;) {
    const declared = new Set(chosen.flatMap((d) => [...d.globals.keys()]));
    const missing = [...new Set(chosen.flatMap((d) => [...d.refs]))].filter((k) => !declared.has(k));
    const extra = all.filter((d) => !chosen.includes(d) && missing.some((k) => d.globals.has(k)));
    if (extra.length === 0) return chosen;
    chosen.push(...extra);
  }
}

function escapeAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** Writes a command's schema set into `dir`; returns the duplicate declarations it dropped. */
async function writeCommandSchemas(spec: CommandSchema, all: SchemaDoc[], dir: string): Promise<string[]> {
  const docs = documentsFor(spec, all);
  const namespaces = [...new Set(docs.map((d) => d.targetNamespace))];
  const nsFile = new Map(namespaces.map((ns, i) => [ns, `ns-${i}.xsd`]));

  // The first document of a namespace to declare a component keeps it; documents are in order of
  // preference (the command's response schemas first), so the response's own declarations win.
  const owner = new Map<ComponentKey, string>();
  const dropped: string[] = [];
  const serializer = new XMLSerializer();
  for (const d of docs) {
    const copy = d.doc.cloneNode(true) as XmlDocument;
    const root = copy.documentElement!;
    for (const child of xsChildren(root)) {
      const space = symbolSpace(child.localName ?? '');
      const name = child.getAttribute('name');
      if (space === undefined || name === null) continue;
      const key = `${space}|${d.targetNamespace}|${name}`;
      const first = owner.get(key);
      if (first === undefined) {
        owner.set(key, d.file);
      } else {
        root.removeChild(child);
        dropped.push(`${d.file}: ${child.localName} ${name} (kept ${first}'s)`);
      }
    }
    // libxml2 refuses references into a namespace the document does not import.
    const foreign = new Set(
      [...d.refs].map((k) => k.split('|')[1]!).filter((ns) => ns !== d.targetNamespace),
    );
    const first = root.firstChild;
    for (const ns of foreign) {
      const location = nsFile.get(ns);
      if (location === undefined)
        throw new Error(`${d.file} refers to namespace "${ns}", which no schema declares`);
      const imp = copy.createElementNS(XS, `${root.prefix === null ? '' : `${root.prefix}:`}import`);
      imp.setAttribute('namespace', ns);
      imp.setAttribute('schemaLocation', location);
      root.insertBefore(imp, first);
      root.insertBefore(copy.createTextNode('\n'), first);
    }
    await writeFile(path.join(dir, d.file), serializer.serializeToString(copy));
  }

  for (const ns of namespaces) {
    const includes = docs
      .filter((d) => d.targetNamespace === ns)
      .map((d) => `  <xs:include schemaLocation="${escapeAttr(d.file)}"/>\n`)
      .join('');
    const tns = ns === '' ? '' : ` targetNamespace="${escapeAttr(ns)}"`;
    await writeFile(
      path.join(dir, nsFile.get(ns)!),
      `<?xml version="1.0" encoding="UTF-8"?>\n<xs:schema xmlns:xs="${XS}"${tns}>\n${includes}</xs:schema>\n`,
    );
  }
  const imports = namespaces
    .map((ns) => `  <xs:import namespace="${escapeAttr(ns)}" schemaLocation="${nsFile.get(ns)!}"/>\n`)
    .join('');
  await writeFile(
    path.join(dir, 'wrapper.xsd'),
    `<?xml version="1.0" encoding="UTF-8"?>\n<xs:schema xmlns:xs="${XS}">\n${imports}</xs:schema>\n`,
  );
  await writeFile(path.join(dir, 'dropped.json'), JSON.stringify(dropped, null, 2));
  return dropped;
}

/**
 * Writes the schema set for `command` built from the schemas in `schemaDir` into `outDir` (which
 * must exist). validateEasResponse does this itself, cached; this is for testing the construction.
 */
export async function buildEasSchemaSet(
  schemaDir: string,
  command: string,
  outDir: string,
): Promise<BuiltCommand> {
  const dropped = await writeCommandSchemas(commandSchema(command), readSchemaDir(schemaDir), outDir);
  return { wrapper: path.join(outDir, 'wrapper.xsd'), dropped };
}

// ---------------------------------------------------------------------------------------------
// The cache: <tmpdir>/easd-eas-schemas-<hash of the schemas and of this file>/<Command>/, built
// on a command's first use by whichever test process gets there first (written aside, then
// renamed into place, so concurrent processes never see half a directory), reused by the rest.

export interface BuiltCommand {
  wrapper: string;
  /** Global declarations dropped as duplicates, "file: kind name (kept other's)". */
  dropped: string[];
}

interface Cache {
  dir: string;
  schemas: () => SchemaDoc[];
  commands: Map<string, Promise<BuiltCommand>>;
}

let cache: Promise<Cache> | undefined;

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(
          error.code === 'ENOENT'
            ? new Error(
                `xmllint not found on PATH: EAS response validation needs it (Debian package libxml2-utils)`,
              )
            : error,
        );
        return;
      }
      resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
    });
  });
}

function getCache(): Promise<Cache> {
  cache ??= (async () => {
    if (!existsSync(EAS_SCHEMA_DIR) || !statSync(EAS_SCHEMA_DIR).isDirectory()) {
      throw missingSchemaDir(EAS_SCHEMA_DIR);
    }
    await run('xmllint', ['--version']);
    const hash = createHash('sha256');
    hash.update(readFileSync(fileURLToPath(import.meta.url)));
    for (const file of readdirSync(EAS_SCHEMA_DIR).sort()) {
      if (!file.endsWith('.xsd')) continue;
      hash.update(`\0${file}\0`).update(readFileSync(path.join(EAS_SCHEMA_DIR, file)));
    }
    const dir = path.join(tmpdir(), `easd-eas-schemas-${hash.digest('hex').slice(0, 16)}`);
    await mkdir(dir, { recursive: true });
    await utimes(dir, new Date(), new Date()); // in use: see pruneStaleCaches
    await pruneStaleCaches(dir);
    let schemas: SchemaDoc[] | undefined;
    return { dir, schemas: () => (schemas ??= readSchemaDir(EAS_SCHEMA_DIR)), commands: new Map() };
  })();
  cache.catch(() => {
    cache = undefined; // a later call reports the problem again rather than a stale rejection
  });
  return cache;
}

/** Removes cache directories of other schema or builder versions that no run used for a week. */
async function pruneStaleCaches(current: string): Promise<void> {
  const weekAgo = Date.now() - 7 * 24 * 3600 * 1000;
  for (const name of await readdir(tmpdir())) {
    const dir = path.join(tmpdir(), name);
    if (!name.startsWith('easd-eas-schemas-') || dir === current) continue;
    try {
      if ((await stat(dir)).mtimeMs < weekAgo) await rm(dir, { recursive: true, force: true });
    } catch {
      // another process pruned it first, or it is not ours to remove: either way, not our concern
    }
  }
}

async function buildOrReuse(c: Cache, name: string, spec: CommandSchema): Promise<BuiltCommand> {
  const final = path.join(c.dir, name);
  const wrapper = path.join(final, 'wrapper.xsd');
  if (!existsSync(wrapper)) {
    const aside = await mkdtemp(path.join(c.dir, `.${name}-`));
    try {
      await writeCommandSchemas(spec, c.schemas(), aside);
      await rename(aside, final);
    } catch (e) {
      await rm(aside, { recursive: true, force: true });
      if (!existsSync(wrapper)) throw e; // not merely another process renaming first
    }
  }
  const dropped = JSON.parse(await readFile(path.join(final, 'dropped.json'), 'utf8')) as string[];
  return { wrapper, dropped };
}

async function builtCommand(command: string): Promise<BuiltCommand> {
  const spec = commandSchema(command);
  const c = await getCache();
  const name = spec.files[0]!.replace(/\.xsd$/, '');
  let built = c.commands.get(name);
  if (built === undefined) {
    built = buildOrReuse(c, name, spec);
    c.commands.set(name, built);
    built.catch(() => c.commands.delete(name));
  }
  return built;
}

async function forgetCommand(command: string): Promise<void> {
  const c = await getCache();
  const name = commandSchema(command).files[0]!.replace(/\.xsd$/, '');
  c.commands.delete(name);
  await rm(path.join(c.dir, name), { recursive: true, force: true });
}

/** Duplicate global declarations removed while building a command's schema set (diagnostics). */
export async function easSchemaDuplicatesDropped(command: string): Promise<string[]> {
  return (await builtCommand(command)).dropped;
}

// ---------------------------------------------------------------------------------------------
// Preparing a response document

/**
 * The XML the schemas expect: code page namespaces without their colon ("AirSync:" → "AirSync"),
 * no DOCTYPE, no BOM, and without toXml's wbxml:base64 markers (WBXML elements have no attributes;
 * the marker only says how toXml wrote OPAQUE bytes or an XML-unsafe string as text).
 */
export function easResponseXml(doc: WbxmlElement | string): string {
  let xml = typeof doc === 'string' ? doc : toXml(doc);
  xml = xml.replace(/^\uFEFF/, '');
  xml = xml.replace(/<!DOCTYPE(?:[^[>]|\[[\s\S]*?\])*>\s*/g, '');
  xml = xml.replace(/(\sxmlns(?::[\w.-]+)?\s*=\s*)(["'])([^"':]+):\2/g, '$1$2$3$2');
  xml = xml.replace(/\s[\w.-]+:base64\s*=\s*(["'])(?:opaque|string)\1/g, '');
  xml = xml.replace(/\sxmlns:[\w.-]+\s*=\s*(["'])urn:easd:wbxml\1/g, '');
  return xml;
}

function rootProblem(xml: string, spec: CommandSchema, command: string): string | undefined {
  let root: XmlElement | null;
  try {
    root = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(xml, 'text/xml').documentElement;
  } catch (e) {
    return `not well-formed XML: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (root === null) return 'the document has no root element';
  const [ns, name] = spec.root;
  if (root.namespaceURI !== ns || root.localName !== name) {
    return (
      `root element is {${root.namespaceURI ?? ''}}${root.localName ?? ''}; ` +
      `a ${command} response must be {${ns}}${name}`
    );
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Running xmllint, several documents a run

interface Pending {
  xml: string;
  resolve: (violations: string[]) => void;
  reject: (e: unknown) => void;
}

const BATCH_MAX = 64;
const queues = new Map<string, Pending[]>();

/** xmllint's output without the "URI X is not absolute" warnings (and their two context lines). */
function withoutNamespaceWarnings(output: string): string[] {
  const lines = output.split('\n');
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (/namespace warning : xmlns(?::[\w.-]+)?: URI .* is not absolute/.test(lines[i]!)) i += 2;
    else if (lines[i] !== '') kept.push(lines[i]!);
  }
  return kept;
}

async function flush(command: string, batch: Pending[]): Promise<void> {
  const { wrapper } = await builtCommand(command);
  const docsDir = await mkdtemp(path.join(tmpdir(), 'easd-eas-response-'));
  let outcomes: (string[] | Error)[];
  try {
    const files = batch.map((_, i) => path.join(docsDir, `response-${i}.xml`));
    await Promise.all(batch.map((p, i) => writeFile(files[i]!, p.xml)));
    const { code, stdout, stderr } = await run('xmllint', [
      '--noout',
      '--nonet',
      '--schema',
      wrapper,
      ...files,
    ]);
    const lines = withoutNamespaceWarnings(`${stderr}\n${stdout}`);
    // Anything said about the schema documents themselves (a failed compile, a skipped import)
    // means the schema set is broken, and no verdict on the responses can be trusted.
    const schemaDir = path.dirname(wrapper);
    const aboutSchemas = lines.filter((l) => l.includes(schemaDir) || l.includes('failed to compile'));
    if (aboutSchemas.length > 0) {
      // Possibly a damaged cache (a tmp cleaner removing files): the next use builds it afresh.
      await forgetCommand(command);
      throw new Error(
        `xmllint reports problems with the EAS schema set built for ${command} (${schemaDir}):\n` +
          aboutSchemas.slice(0, 20).join('\n'),
      );
    }
    outcomes = files.map((file): string[] | Error => {
      const verdict = lines.find((l) => l === `${file} validates` || l === `${file} fails to validate`);
      const violations = lines
        .filter((l) => l.startsWith(`${file}:`))
        .map((l) => `response.xml${l.slice(file.length)}`);
      if (verdict === `${file} validates` && violations.length === 0) return [];
      if (violations.length > 0) return violations;
      return new Error(
        `xmllint (exit ${code}) gave no verdict on a ${command} response:\n${lines.join('\n')}`,
      );
    });
  } finally {
    await rm(docsDir, { recursive: true, force: true });
  }
  // Settled only now, with the documents removed: a test process may end as soon as they are.
  batch.forEach((p, i) => {
    const outcome = outcomes[i]!;
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  });
}

function enqueue(command: string, xml: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const key = commandSchema(command).files[0]!;
    let queue = queues.get(key);
    if (queue === undefined) {
      queue = [];
      queues.set(key, queue);
      setImmediate(() => {
        queues.delete(key);
        const all = queue!;
        for (let i = 0; i < all.length; i += BATCH_MAX) {
          const batch = all.slice(i, i + BATCH_MAX);
          flush(command, batch).catch((e: unknown) => {
            for (const p of batch) p.reject(e);
          });
        }
      });
    }
    queue.push({ xml, resolve, reject });
  });
}

// ---------------------------------------------------------------------------------------------
// API

/**
 * xmllint's violations of a response against the command's schema, [] when it validates; a root
 * element that is not the command's response element, or XML that is not well-formed, is one
 * violation. Throws when the schemas or xmllint are missing, or the command is unknown.
 */
export async function easResponseViolations(doc: WbxmlElement | string, command: string): Promise<string[]> {
  const spec = commandSchema(command);
  await builtCommand(command); // the schemas and xmllint are there, whatever the document
  const xml = easResponseXml(doc);
  const problem = rootProblem(xml, spec, command);
  if (problem !== undefined) return [problem];
  return enqueue(command, xml);
}

const MAX_VIOLATIONS = 8;

function numbered(xml: string): string {
  const lines = xml.replace(/\n$/, '').split('\n');
  const width = String(lines.length).length;
  return lines.map((l, i) => `${String(i + 1).padStart(width)} | ${l}`).join('\n');
}

/**
 * Resolves when the response validates against the command's response schema ("Sync" →
 * SyncResponse.xsd, "Autodiscover" → AutodiscoverResponse.xsd with AutodiscoverMobileSync.xsd, …)
 * and every namespace schema; otherwise throws an Error with xmllint's first violations and the
 * XML that was validated (line numbers match the violations').
 */
export async function validateEasResponse(doc: WbxmlElement | string, command: string): Promise<void> {
  const violations = await easResponseViolations(doc, command);
  if (violations.length === 0) return;
  const shown = violations.slice(0, MAX_VIOLATIONS);
  const more = violations.length > shown.length ? `\n… and ${violations.length - shown.length} more` : '';
  const files = commandSchema(command).files.join(' + ');
  throw new Error(
    `${command} response does not validate against ${files}:\n${shown.join('\n')}${more}\n` +
      `--- response.xml ---\n${numbered(easResponseXml(doc))}`,
  );
}

/** validateEasResponse for use in a vitest test body: `await expectValidEasResponse(tree, 'Sync')`. */
export async function expectValidEasResponse(doc: WbxmlElement | string, command: string): Promise<void> {
  await validateEasResponse(doc, command);
}
