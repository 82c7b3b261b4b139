// VJOURNAL ↔ NoteItem (MS-ASNOTE): golden samples (an Evolution memo, an HTML journal), what an
// update keeps, and property round trips (NoteItem → VJOURNAL → NoteItem keeps every field).
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NoteItem } from '../../src/backend/model.js';
import { IcalendarError } from '../../src/convert/icalendar.js';
import { icsToNote, noteToIcs, STICKY_NOTE } from '../../src/convert/vjournal.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/ics/${name}`, import.meta.url), 'utf8');
const unfold = (text: string): string => text.replace(/\r?\n[ \t]/g, '');
const d = (s: string): Date => new Date(s);

describe('VJOURNAL → NoteItem', () => {
  it('reads an Evolution memo: subject, both descriptions as one body, categories, last modified', () => {
    expect(icsToNote(fixture('evolution-memo.ics'))).toEqual({
      Subject: 'Packing list',
      Body: { Type: 1, EstimatedDataSize: 44, Data: 'passport, tickets\nchargers\n\nand the umbrella' },
      MessageClass: STICKY_NOTE,
      LastModifiedDate: d('2025-11-05T07:12:30Z'),
      Categories: ['Travel', 'Personal'],
    });
  });

  it('reads HTML (X-ALT-DESC) as the native body, plain on request, and DTSTAMP without LAST-MODIFIED', () => {
    const html = icsToNote(fixture('html-journal.ics'));
    expect(html.Body).toMatchObject({ Type: 2, Data: '<p>Decided: <b>ship it</b></p>' });
    expect(html.LastModifiedDate).toEqual(d('2026-03-15T18:30:00Z'));
    expect(html.Categories).toEqual([]);
    const plain = icsToNote(fixture('html-journal.ics'), { bodyPreferences: [{ Type: 1 }] });
    expect(plain.Body).toMatchObject({ Type: 1, Data: 'Plain fallback' });
  });

  it('refuses text without a VJOURNAL with IcalendarError', () => {
    expect(() => icsToNote(fixture('google-single-utc.ics'))).toThrow(IcalendarError);
    expect(() => icsToNote('not a calendar')).toThrow(IcalendarError);
  });
});

describe('NoteItem → VJOURNAL', () => {
  it('writes a new note with UID, DTSTAMP, LAST-MODIFIED, SUMMARY, DESCRIPTION and CATEGORIES', () => {
    const out = unfold(
      noteToIcs(
        {
          Subject: 'Groceries',
          Body: { Type: 1, EstimatedDataSize: 10, Data: 'milk, eggs' },
          Categories: ['Home'],
          MessageClass: STICKY_NOTE,
          LastModifiedDate: d('2026-11-22T03:04:05Z'),
        },
        { uid: 'note-1' },
      ),
    );
    expect(out).toMatch(/^BEGIN:VJOURNAL\r$/m);
    expect(out).toMatch(/^UID:note-1\r$/m);
    expect(out).toMatch(/^LAST-MODIFIED:20261122T030405Z\r$/m);
    expect(out).toMatch(/^DESCRIPTION:milk\\, eggs\r$/m);
    expect(out).toMatch(/^CATEGORIES:Home\r$/m);
    expect(out).not.toContain('X-EASD-MESSAGECLASS');
  });

  it('an edit of the Evolution memo keeps what a note does not map and its UID', () => {
    const base = fixture('evolution-memo.ics');
    const note = icsToNote(base);
    const out = unfold(noteToIcs({ ...note, Subject: 'Packing list (final)' }, { base, uid: 'ignored' }));
    for (const kept of [
      'UID:20251104T101500Z-4711-1000-1-12@workstation',
      'DTSTART;VALUE=DATE:20251104',
      'STATUS:FINAL',
      'CLASS:PUBLIC',
      'X-EVOLUTION-CALDAV-HREF:/alice/notes/packing.ics',
    ])
      expect(out).toContain(kept);
    expect(out).toContain('SUMMARY:Packing list (final)');
    expect(icsToNote(out)).toEqual({ ...note, Subject: 'Packing list (final)' });
  });

  it('keeps a class other than IPM.StickyNote', () => {
    const out = noteToIcs({ Subject: 'x', MessageClass: 'IPM.StickyNote.Custom' });
    expect(icsToNote(out).MessageClass).toBe('IPM.StickyNote.Custom');
  });
});

describe('round trips', () => {
  const text = fc
    .string({ minLength: 1, maxLength: 30 })
    .filter((s) => s.trim() === s && !/[\r\n\u0000-\u001f\u007f\\]/.test(s));
  const multiline = fc.array(text, { minLength: 1, maxLength: 3 }).map((l) => l.join('\n'));
  const seconds = fc
    .integer({ min: Date.UTC(2000, 0, 1) / 1000, max: Date.UTC(2099, 0, 1) / 1000 })
    .map((s) => new Date(s * 1000));
  const note: fc.Arbitrary<NoteItem> = fc.record(
    {
      Subject: text,
      Body: multiline.map((Data) => ({ Type: 1 as const, EstimatedDataSize: Buffer.byteLength(Data), Data })),
      Categories: fc.uniqueArray(
        text.filter((s) => !s.includes(',')),
        { maxLength: 4 },
      ),
      MessageClass: fc.constantFrom(STICKY_NOTE, 'IPM.StickyNote.Work'),
      LastModifiedDate: seconds,
    },
    { requiredKeys: ['MessageClass', 'LastModifiedDate', 'Categories'] },
  );

  it('NoteItem → VJOURNAL → NoteItem keeps every field', () => {
    fc.assert(
      fc.property(note, (n) => {
        expect(icsToNote(noteToIcs(n))).toEqual(n);
      }),
      { numRuns: 300 },
    );
  });

  it('rewriting over the stored object gives the same note', () => {
    fc.assert(
      fc.property(note, note, (first, second) => {
        const base = noteToIcs(first, { uid: 'u' });
        const out = noteToIcs(second, { base });
        expect(icsToNote(out)).toEqual(second);
        expect(unfold(out)).toMatch(/^UID:u\r$/m);
      }),
      { numRuns: 200 },
    );
  });
});
