// MeetingResponse request parsing and response building (MS-ASCMD 2.2.1.11), on real bytes.
import { describe, expect, it } from 'vitest';
import { decode, encode, fromXml } from '../../wbxml/index.js';
import {
  buildMeetingResponseResponse,
  parseMeetingResponseRequest,
} from '../../src/protocol/meeting-response.js';
import { ProtocolError } from '../../src/protocol/read.js';
import { validateEasResponse } from '../support/schema.js';

const parse = (inner: string) =>
  parseMeetingResponseRequest(
    decode(encode(fromXml(`<MeetingResponse xmlns="MeetingResponse:">${inner}</MeetingResponse>`))),
  );

describe('MeetingResponse request', () => {
  it('reads CollectionId/RequestId, LongId, InstanceId and SendResponse', () => {
    expect(
      parse(
        '<Request><UserResponse>1</UserResponse><CollectionId>1</CollectionId><RequestId>1:5</RequestId></Request>' +
          '<Request><UserResponse>3</UserResponse><LongId xmlns="Search:">1:6</LongId></Request>' +
          '<Request><UserResponse>2</UserResponse><CollectionId>8</CollectionId><RequestId>8:2</RequestId><InstanceId>2025-03-19T16:00:00.000Z</InstanceId><SendResponse><Body xmlns="AirSyncBase:"><Type>1</Type><Data>maybe</Data></Body></SendResponse></Request>',
      ),
    ).toEqual([
      { UserResponse: 1, CollectionId: '1', RequestId: '1:5' },
      { UserResponse: 3, LongId: '1:6' },
      {
        UserResponse: 2,
        CollectionId: '8',
        RequestId: '8:2',
        InstanceId: new Date('2025-03-19T16:00:00Z'),
        SendResponse: { Body: { Type: 1, Data: 'maybe' } },
      },
    ]);
    expect(
      parse('<Request><UserResponse>1</UserResponse><RequestId>1:5</RequestId><SendResponse/></Request>'),
    ).toEqual([{ UserResponse: 1, RequestId: '1:5', SendResponse: {} }]);
  });

  it('reads a proposed new time (16.1 ProposedStartTime/ProposedEndTime in SendResponse)', () => {
    expect(
      parse(
        '<Request><UserResponse>2</UserResponse><CollectionId>8</CollectionId><RequestId>8:2</RequestId><SendResponse><ProposedStartTime>20310401T150000Z</ProposedStartTime><ProposedEndTime>20310401T160000Z</ProposedEndTime></SendResponse></Request>',
      ),
    ).toEqual([
      {
        UserResponse: 2,
        CollectionId: '8',
        RequestId: '8:2',
        SendResponse: {
          ProposedStartTime: new Date('2031-04-01T15:00:00Z'),
          ProposedEndTime: new Date('2031-04-01T16:00:00Z'),
        },
      },
    ]);
  });

  it.each([
    ['no Request', ''],
    ['UserResponse 4', '<Request><UserResponse>4</UserResponse><RequestId>1:5</RequestId></Request>'],
    ['no RequestId', '<Request><UserResponse>1</UserResponse><CollectionId>1</CollectionId></Request>'],
    [
      'LongId with RequestId',
      '<Request><UserResponse>1</UserResponse><RequestId>1:5</RequestId><LongId xmlns="Search:">1:5</LongId></Request>',
    ],
    [
      'a RequestId over 64 characters',
      `<Request><UserResponse>1</UserResponse><RequestId>${'x'.repeat(65)}</RequestId></Request>`,
    ],
    [
      'a bad InstanceId',
      '<Request><UserResponse>1</UserResponse><RequestId>1:5</RequestId><InstanceId>soon</InstanceId></Request>',
    ],
    [
      'a ProposedStartTime without ProposedEndTime',
      '<Request><UserResponse>2</UserResponse><RequestId>1:5</RequestId><SendResponse><ProposedStartTime>20310401T150000Z</ProposedStartTime></SendResponse></Request>',
    ],
    [
      'a proposal ending before it starts',
      '<Request><UserResponse>2</UserResponse><RequestId>1:5</RequestId><SendResponse><ProposedStartTime>20310401T150000Z</ProposedStartTime><ProposedEndTime>20310401T140000Z</ProposedEndTime></SendResponse></Request>',
    ],
    [
      'a ProposedEndTime that is no date',
      '<Request><UserResponse>2</UserResponse><RequestId>1:5</RequestId><SendResponse><ProposedStartTime>20310401T150000Z</ProposedStartTime><ProposedEndTime>later</ProposedEndTime></SendResponse></Request>',
    ],
  ])('refuses %s', (_, inner) => {
    expect(() => parse(inner)).toThrow(ProtocolError);
  });
});

describe('MeetingResponse response', () => {
  it('writes Result children in schema order', async () => {
    const doc = buildMeetingResponseResponse([
      { RequestId: '1:5', Status: 1, CalendarId: '8:3', InstanceId: new Date('2025-03-19T16:00:00Z') },
      { Status: 2 },
    ]);
    await validateEasResponse(decode(encode(doc)), 'MeetingResponse');
  });
});
