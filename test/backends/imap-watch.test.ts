// The IMAP watcher's reconnect pace after a lost connection: doubling from the first delay, capped,
// with up to half of it taken off at random so many users' watchers do not reconnect at once.
import { describe, expect, it } from 'vitest';
import { reconnectDelay } from '../../backends/imap/watch.js';

describe('reconnectDelay', () => {
  it.each([
    // failures, first, max, random → delay
    [1, 1000, 30_000, 0, 1000],
    [2, 1000, 30_000, 0, 2000],
    [5, 1000, 30_000, 0, 16_000],
    [6, 1000, 30_000, 0, 30_000],
    [1000, 1000, 30_000, 0, 30_000],
    [1, 1000, 30_000, 0.999_999, 500],
    [3, 250, 30_000, 0.5, 750],
    [1, 1000, 400, 0, 400],
  ])('failure %i from %i ms capped at %i ms, random %f: %i ms', (failures, first, max, r, expected) => {
    expect(reconnectDelay(failures, first, max, () => r)).toBe(expected);
  });

  it('stays between half the ceiling and the ceiling', () => {
    for (let failures = 1; failures <= 12; failures++) {
      const ceiling = Math.min(30_000, 1000 * 2 ** (failures - 1));
      const d = reconnectDelay(failures, 1000, 30_000);
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });
});
