import { describe, expect, it, vi } from 'vitest';
import { el } from '../../wbxml/index.js';
import { checkTracePattern, switchTrace, tracePatterns, TraceSwitch } from '../../src/admin/trace.js';
import { redactForTrace, renderTrace, traceMatcher } from '../../src/http/trace.js';
import { useTestStore } from '../state/stores.js';

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

describe('the trace switched at run time', () => {
  const t = useTestStore('sqlite');

  it('is picked up by the next timed re-read without a restart, EASD_TRACE_DEVICES kept', async () => {
    const node = new TraceSwitch(t.store, ['bob/*'], undefined, 20);
    await node.refresh();
    node.start();
    expect(node.traced('alice', 'DEV1')).toBe(false);
    expect(node.traced('bob', 'X')).toBe(true);

    // Another process (the CLI) switches alice's device on in the shared store.
    expect(await switchTrace(t.store, { on: 'alice/DEV1' })).toEqual(['alice/DEV1']);
    await vi.waitFor(() => expect(node.traced('alice', 'DEV1')).toBe(true));
    expect(node.traced('alice', 'DEV2')).toBe(false);

    await switchTrace(t.store, { on: 'carol' });
    await switchTrace(t.store, { off: 'alice/DEV1' });
    expect(await tracePatterns(t.store)).toEqual(['carol']);
    await switchTrace(t.store, { off: '--all' });
    expect(await tracePatterns(t.store)).toEqual([]);
    await vi.waitFor(() => expect(node.traced('alice', 'DEV1')).toBe(false));
    expect(node.traced('bob', 'X')).toBe(true);
    node.stop();
  });

  it.each(['', 'a,b', 'a b', '/DEV', 'alice/'])('refuses the pattern %j', (p) => {
    expect(checkTracePattern(p)).toBeDefined();
  });
});
