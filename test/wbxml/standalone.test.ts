// wbxml/ is a standalone library (issue 3, STYLE.md layout): it imports only itself, Node built-ins
// and @xmldom/xmldom — nothing from src/ or backends/.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../wbxml/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('wbxml/ stands alone', () => {
  it('imports nothing outside wbxml/ but node: built-ins and @xmldom/xmldom', () => {
    const files = sources(root);
    expect(files.length).toBeGreaterThan(30);
    for (const file of files) {
      const specifiers = [
        ...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm),
      ].map((m) => m[1]!);
      for (const spec of specifiers) {
        if (spec.startsWith('node:') || spec === '@xmldom/xmldom') continue;
        expect(spec.startsWith('./') || spec.startsWith('../'), `${file}: ${spec}`).toBe(true);
        expect(join(file, '..', spec).startsWith(root), `${file} imports ${spec} from outside wbxml/`).toBe(
          true,
        );
      }
    }
  });
});
