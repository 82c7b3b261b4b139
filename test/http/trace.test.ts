import { describe, expect, it } from 'vitest';
import { el } from '../../wbxml/index.js';
import { redactForTrace, renderTrace, traceMatcher } from '../../src/http/trace.js';

describe('debug trace', () => {
  it('removes passwords and shortens large content', () => {
    const doc = el(
      'ItemOperations',
      'ItemOperations',
      el(
        'ItemOperations',
        'Fetch',
        el('ItemOperations', 'Password', 'hunter2'),
        el('ItemOperations', 'UserName', 'alice'),
      ),
      el('ItemOperations', 'Data', new Uint8Array(5000)),
      el('ItemOperations', 'Store', 'x'.repeat(5000)),
    );
    const xml = renderTrace(doc);
    expect(xml).not.toContain('hunter2');
    expect(xml).toContain('[redacted]');
    expect(xml).toContain('alice');
    expect(xml).toContain('[5000 bytes]');
    expect(xml).toContain('[5000 chars]');
    // The original tree is left untouched.
    expect(doc.children[0]?.children[0]?.value).toBe('hunter2');
    expect(redactForTrace(doc).children[0]?.children[1]?.value).toBe('alice');
  });

  it.each([
    [['alice/DEV1'], 'alice', 'DEV1', true],
    [['alice/DEV1'], 'alice', 'DEV2', false],
    [['Alice/*'], 'alice', 'DEV2', true],
    [['bob'], 'bob', 'X', true],
    [['*/DEV9'], 'carol', 'DEV9', true],
    [[], 'alice', 'DEV1', false],
  ])('patterns %j match %s/%s: %s', (patterns, user, device, expected) => {
    expect(traceMatcher(patterns)(user, device)).toBe(expected);
  });
});
