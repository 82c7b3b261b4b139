// airsyncbase:BodyPart in Email ApplicationData (MS-ASAIRS 2.2.2.10): written from 14.1 on, in
// the schema's order, through real WBXML bytes; never accepted from a client.
import { describe, expect, test } from 'vitest';
import { decode, el, encode } from '../../../wbxml/index.js';
import type { EmailItem } from '../../../src/backend/model.js';
import { encodeItem } from '../../../src/protocol/items/index.js';
import { validateEasResponse } from '../../support/schema.js';
import { appData, applicationDataOf, parseError, syncResponseWith } from './helpers.js';

const item: EmailItem = {
  Subject: 'Re: lunch',
  Body: { Type: 1, EstimatedDataSize: 20, Data: 'new text\n> old text' },
  BodyPart: {
    Status: 1,
    Type: 2,
    EstimatedDataSize: 40,
    Truncated: true,
    Data: '<p>new text</p>',
    Preview: 'new text',
  },
};

describe('BodyPart', () => {
  test('14.1 and 16.1: Status, Type, EstimatedDataSize, Truncated, Data, Preview, valid against the schema', async () => {
    for (const protocolVersion of ['14.1', '16.1'] as const) {
      const response = syncResponseWith(encodeItem({ class: 'Email', item }, { protocolVersion }));
      const decoded = decode(encode(response));
      await validateEasResponse(decoded, 'Sync');
      const part = applicationDataOf(decoded).children.find((c) => c.name === 'BodyPart')!;
      expect(part.ns).toBe('AirSyncBase');
      expect(part.children.map((c) => [c.name, c.value])).toEqual([
        ['Status', '1'],
        ['Type', '2'],
        ['EstimatedDataSize', '40'],
        ['Truncated', '1'],
        ['Data', '<p>new text</p>'],
        ['Preview', 'new text'],
      ]);
    }
  });

  test('Status 176 without Data', async () => {
    const tooBig: EmailItem = {
      BodyPart: { Status: 176, Type: 2, EstimatedDataSize: 9000, Truncated: true },
    };
    const decoded = decode(
      encode(syncResponseWith(encodeItem({ class: 'Email', item: tooBig }, { protocolVersion: '16.1' }))),
    );
    await validateEasResponse(decoded, 'Sync');
    const part = applicationDataOf(decoded).children.find((c) => c.name === 'BodyPart')!;
    expect(part.children.map((c) => c.name)).toEqual(['Status', 'Type', 'EstimatedDataSize', 'Truncated']);
  });

  test('14.0 and older: no BodyPart (it is 14.1+)', () => {
    for (const protocolVersion of ['12.1', '14.0'] as const)
      expect(encodeItem({ class: 'Email', item }, { protocolVersion }).map((e) => e.name)).not.toContain(
        'BodyPart',
      );
  });

  test('a client that sends BodyPart gets a ProtocolError (MS-ASAIRS 2.2.2.10: requests MUST NOT include it)', () => {
    const data = appData(el('AirSyncBase', 'BodyPart', el('AirSyncBase', 'Status', '1')));
    expect(parseError('Email', data, '16.1').message).toMatch(/BodyPart is not allowed in a request/);
  });
});
