import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyChanges, diffStamps, type Stamp } from '../../src/sync/differ.js';

describe('diffStamps', () => {
  it.each([
    [
      'nothing known, two items',
      {},
      [
        ['a', '1'],
        ['b', '1'],
      ],
      ['add a', 'add b'],
    ],
    [
      'one changed',
      { a: '1', b: '1' },
      [
        ['a', '2'],
        ['b', '1'],
      ],
      ['change a'],
    ],
    ['one gone', { a: '1', b: '1' }, [['b', '1']], ['delete a']],
    [
      'add, change, delete together',
      { a: '1', b: '1' },
      [
        ['c', '1'],
        ['b', '2'],
      ],
      ['add c', 'change b', 'delete a'],
    ],
    [
      'duplicate listing',
      {},
      [
        ['a', '1'],
        ['a', '2'],
      ],
      ['add a'],
    ],
    ['no change', { a: '1' }, [['a', '1']], []],
  ])('%s', (_name, known, current, expected) => {
    const stamps = current.map(([id, version]) => ({ id, version }) as Stamp);
    const changes = diffStamps(new Map(Object.entries(known)), stamps);
    expect(changes.map((c) => `${c.kind} ${c.id}`)).toEqual(expected);
  });

  it('applying the diff always reaches the current state, whatever the window size', () => {
    const stampList = fc.uniqueArray(
      fc.record({ id: fc.string({ minLength: 1, maxLength: 4 }), version: fc.constantFrom('1', '2', '3') }),
      {
        selector: (s) => s.id,
        maxLength: 30,
      },
    );
    fc.assert(
      fc.property(stampList, stampList, fc.integer({ min: 1, max: 7 }), (before, after, window) => {
        const known = new Map(before.map((s) => [s.id, s.version]));
        // Sent window by window, recomputing the diff each time, as Sync with MoreAvailable does.
        for (let rounds = 0; rounds < 100; rounds++) {
          const changes = diffStamps(known, after);
          if (changes.length === 0) break;
          applyChanges(known, changes.slice(0, window));
        }
        expect(Object.fromEntries(known)).toEqual(Object.fromEntries(after.map((s) => [s.id, s.version])));
      }),
    );
  });
});
