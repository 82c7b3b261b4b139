import { describe, expect, it } from 'vitest';
import { BackendError, backendErrorKinds, isBackendError } from '../../src/backend/errors.js';
import { classForCreateType, folderTypeFor } from '../../src/backend/folder-types.js';
import { httpErrorFor, statusFor, type StatusCommand } from '../../src/backend/status.js';

const commands: StatusCommand[] = [
  'Sync',
  'FolderSync',
  'FolderCreate',
  'FolderUpdate',
  'FolderDelete',
  'GetItemEstimate',
  'MoveItems',
  'ItemOperations',
  'SendMail',
  'SmartReply',
  'SmartForward',
  'Search',
  'Settings',
  'Ping',
  'Provision',
  'MeetingResponse',
  'ResolveRecipients',
  'Find',
];

describe('statusFor', () => {
  it.each([
    // [command, kind, target, Status] — one line per rule the engine relies on
    ['Sync', 'conflict', 'item', 7],
    ['Sync', 'not-found', 'item', 8],
    ['Sync', 'not-found', 'folder', 12],
    ['Sync', 'unavailable', 'item', 16],
    ['Sync', 'denied', 'item', 6],
    ['FolderSync', 'unavailable', 'item', 6],
    ['FolderCreate', 'conflict', 'item', 2],
    ['FolderCreate', 'not-found', 'item', 5],
    ['FolderUpdate', 'not-found', 'item', 4],
    ['FolderUpdate', 'not-found', 'destination', 5],
    ['FolderDelete', 'denied', 'item', 3],
    ['FolderDelete', 'not-found', 'item', 4],
    ['GetItemEstimate', 'not-found', 'folder', 2],
    ['MoveItems', 'not-found', 'item', 1],
    ['MoveItems', 'not-found', 'destination', 2],
    ['MoveItems', 'unavailable', 'item', 7],
    ['ItemOperations', 'not-found', 'item', 6],
    ['ItemOperations', 'not-found', 'attachment', 15],
    ['ItemOperations', 'too-large', 'item', 11],
    ['SendMail', 'too-large', 'item', 122],
    ['SmartReply', 'not-found', 'item', 150],
    ['Search', 'not-found', 'folder', 11],
    ['Settings', 'unavailable', 'item', 4],
    ['Ping', 'not-found', 'folder', 7],
    ['Ping', 'unavailable', 'item', 8],
    ['Provision', 'unavailable', 'item', 3],
    ['MeetingResponse', 'not-found', 'item', 2],
    ['ResolveRecipients', 'not-found', 'item', 4],
    ['Find', 'not-found', 'folder', 3],
  ] as const)('%s %s (%s) → %i', (command, kind, target, status) => {
    expect(statusFor(command, kind, target)).toBe(status);
  });

  it('answers a failure Status (never 1, never undefined) for every command and kind', () => {
    for (const command of commands) {
      for (const kind of backendErrorKinds) {
        const s = statusFor(command, kind);
        expect(Number.isInteger(s), `${command} ${kind}`).toBe(true);
        // MoveItems' success value is 3; every other command's is 1
        expect(s, `${command} ${kind}`).not.toBe(command === 'MoveItems' ? 3 : 1);
      }
    }
  });
});

describe('httpErrorFor', () => {
  it('ends the request with 401 for auth and 503 + Retry-After for unavailable', () => {
    const auth = httpErrorFor(new BackendError('auth'));
    expect(auth?.httpStatus).toBe(401);
    expect(auth?.headers['WWW-Authenticate']).toMatch(/^Basic /);
    const down = httpErrorFor(new BackendError('unavailable', 'imap down', { retryAfter: 12 }));
    expect(down?.httpStatus).toBe(503);
    expect(down?.headers['Retry-After']).toBe('12');
    expect(httpErrorFor(new BackendError('unavailable'))?.headers['Retry-After']).toBe('30');
  });

  it('leaves item-level kinds to statusFor', () => {
    for (const kind of [
      'not-found',
      'conflict',
      'denied',
      'too-large',
      'cursor-expired',
      'unsupported',
    ] as const) {
      expect(httpErrorFor(new BackendError(kind))).toBeUndefined();
    }
  });
});

describe('BackendError', () => {
  it('carries its kind, and isBackendError narrows by kind', () => {
    const e = new BackendError('conflict', 'stale version', { cause: new Error('inner') });
    expect(e).toBeInstanceOf(Error);
    expect(e.kind).toBe('conflict');
    expect(e.message).toBe('stale version');
    expect(isBackendError(e)).toBe(true);
    expect(isBackendError(e, 'conflict')).toBe(true);
    expect(isBackendError(e, 'denied')).toBe(false);
    expect(isBackendError(new Error('x'))).toBe(false);
  });
});

describe('folder types (MS-ASCMD 2.2.3.186.3)', () => {
  it.each([
    ['Email', 'inbox', 2],
    ['Email', 'drafts', 3],
    ['Email', 'deleted', 4],
    ['Email', 'sent', 5],
    ['Email', 'outbox', 6],
    ['Email', 'junk', 12],
    ['Email', null, 12],
    ['Tasks', 'default', 7],
    ['Calendar', 'default', 8],
    ['Contacts', 'default', 9],
    ['Notes', 'default', 10],
    ['Calendar', null, 13],
    ['Contacts', null, 14],
    ['Tasks', null, 15],
    ['Notes', null, 17],
  ] as const)('%s/%s → %i', (cls, role, type) => {
    expect(folderTypeFor(cls, role)).toBe(type);
  });

  it('maps FolderCreate types back to classes and refuses the special ones', () => {
    expect(classForCreateType(1)).toBe('Email');
    expect(classForCreateType(12)).toBe('Email');
    expect(classForCreateType(13)).toBe('Calendar');
    expect(classForCreateType(14)).toBe('Contacts');
    expect(classForCreateType(15)).toBe('Tasks');
    expect(classForCreateType(17)).toBe('Notes');
    for (const t of [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 18, 19, 99])
      expect(classForCreateType(t)).toBeUndefined();
  });
});
