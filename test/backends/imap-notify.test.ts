// NOTIFY's unasked STATUS responses as imapflow's parser hands them over: what the watcher reads
// from them, and that malformed ones are read as "nothing known" instead of throwing.
import { describe, expect, it } from 'vitest';
import { parseStatus } from '../../backends/imap/notify.js';

const atom = (value: string) => ({ type: 'ATOM', value });

describe('parseStatus', () => {
  it.each([
    [
      'MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ',
      ['MESSAGES', '3', 'UIDNEXT', '9', 'UIDVALIDITY', '1795332603', 'HIGHESTMODSEQ', '18446744073709551615'],
      { messages: 3, uidNext: 9, uidValidity: 1795332603n, highestModseq: 18446744073709551615n },
    ],
    ['a flag change: HIGHESTMODSEQ alone', ['HIGHESTMODSEQ', '7'], { highestModseq: 7n }],
    ['lower-case names, UNSEEN ignored', ['messages', '1', 'unseen', '1'], { messages: 1 }],
    ['a value that is not a number', ['MESSAGES', 'many', 'UIDNEXT', '-1'], {}],
    ['a name without a value', ['MESSAGES'], {}],
    ['nothing', [], {}],
  ])('reads %s', (_name, items, expected) => {
    expect(parseStatus(items.map(atom))).toEqual(expected);
  });

  it('skips nested lists where a name or a value should be', () => {
    expect(
      parseStatus([[atom('MESSAGES')], atom('2'), atom('UIDNEXT'), [atom('4')], atom('MESSAGES'), atom('5')]),
    ).toEqual({
      messages: 5,
    });
  });
});
