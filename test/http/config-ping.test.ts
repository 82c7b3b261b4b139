// EASD_PING_MIN / EASD_PING_MAX: the HeartbeatInterval bounds of Ping (MS-ASCMD 2.2.3.79.2), one
// line per case; the compiled server with short bounds: test/e2e/flows/heartbeat.test.ts.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const cwd = '/srv/easd';

describe('EASD_PING_MIN and EASD_PING_MAX', () => {
  it.each([
    [{}, undefined],
    [
      { EASD_PING_MIN: '2', EASD_PING_MAX: '4' },
      { min: 2, max: 4 },
    ],
    [{ EASD_PING_MIN: '120' }, { min: 120, max: 3540 }],
    [{ EASD_PING_MAX: '900' }, { min: 60, max: 900 }],
  ])('%j gives %j', (env, bounds) => {
    expect(loadConfig(env, cwd).pingHeartbeat).toEqual(bounds);
  });

  it.each([
    [{ EASD_PING_MIN: '0' }, 'EASD_PING_MIN must be a whole number of seconds from 1 to 3540'],
    [{ EASD_PING_MAX: '3600' }, 'EASD_PING_MAX must be a whole number of seconds from 1 to 3540'],
    [{ EASD_PING_MIN: '1.5' }, 'EASD_PING_MIN must be a whole number of seconds from 1 to 3540'],
    [{ EASD_PING_MAX: 'soon' }, 'EASD_PING_MAX must be a whole number of seconds from 1 to 3540'],
    [{ EASD_PING_MIN: '600', EASD_PING_MAX: '300' }, 'EASD_PING_MIN must not be larger than EASD_PING_MAX'],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(env, cwd)).toThrow(message);
  });
});

describe('EASD_DAV_POLL', () => {
  it.each([
    [{}, 30],
    [{ EASD_DAV_POLL: '5' }, 5],
  ])('%j gives %j seconds', (env, seconds) => {
    expect(loadConfig(env, cwd).davPollSeconds).toBe(seconds);
  });

  it.each([[{ EASD_DAV_POLL: '0' }], [{ EASD_DAV_POLL: '3601' }], [{ EASD_DAV_POLL: 'often' }]])(
    'refuses %j',
    (env) => {
      expect(() => loadConfig(env, cwd)).toThrow(
        'EASD_DAV_POLL must be a whole number of seconds from 1 to 3600',
      );
    },
  );
});

describe('EASD_AUTH_CACHE', () => {
  it.each([
    [{}, 900],
    [{ EASD_AUTH_CACHE: '0' }, 0],
    [{ EASD_AUTH_CACHE: '3600' }, 3600],
  ])('%j gives %j seconds', (env, seconds) => {
    expect(loadConfig(env, cwd).authCacheSeconds).toBe(seconds);
  });

  it.each([[{ EASD_AUTH_CACHE: '-1' }], [{ EASD_AUTH_CACHE: '86401' }], [{ EASD_AUTH_CACHE: '5m' }]])(
    'refuses %j',
    (env) => {
      expect(() => loadConfig(env, cwd)).toThrow(
        'EASD_AUTH_CACHE must be a whole number of seconds from 0 to 86400',
      );
    },
  );
});
