// draftForSending (src/convert/mime-compose.ts): a saved draft made ready to leave for a Sync
// Add/Change with email2:Send (MS-ASEMAIL 2.2.2.69).
import { describe, expect, it } from 'vitest';
import { draftForSending } from '../../src/convert/mime-compose.js';

const now = new Date('2026-12-07T16:00:00Z');
const text = (raw: Uint8Array): string => Buffer.from(raw).toString('latin1');
const ready = (draft: string): string =>
  text(draftForSending(Buffer.from(draft, 'latin1'), 'carol@easd.test', now));

describe('draftForSending', () => {
  it('dates the message now, not when the draft was saved, and keeps one Date field', () => {
    const out = ready(
      'Date: Mon, 01 Jan 2024 00:00:00 +0000\r\nFrom: carol@easd.test\r\nSubject: x\r\n\r\nbody\r\n',
    );
    expect(out.match(/^Date: .*$/gm)).toEqual(['Date: Mon, 07 Dec 2026 16:00:00 +0000']);
  });

  it('adds the account as From and a Message-ID on its domain when the draft has none', () => {
    const out = ready('To: bob@easd.test\r\nSubject: x\r\n\r\nbody\r\n');
    expect(out).toMatch(/^From: carol@easd\.test\r$/m);
    expect(out).toMatch(/^Message-ID: <[^@>]+@easd\.test>\r$/m);
  });

  it('keeps the draft’s own From, Message-ID, folded fields and body bytes', () => {
    const draft =
      'From: "Carol" <carol@easd.test>\r\nMessage-ID: <kept@easd.test>\r\nSubject: long\r\n subject\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n';
    const out = ready(draft);
    expect(out).toContain('From: "Carol" <carol@easd.test>\r\n');
    expect(out.match(/^Message-ID:.*$/gim)).toEqual(['Message-ID: <kept@easd.test>']);
    expect(out).toContain('Subject: long\r\n subject\r\n');
    expect(out.endsWith('\r\n\r\ncaf\xe9\r\n')).toBe(true);
  });
});
