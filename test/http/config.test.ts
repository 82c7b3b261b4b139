import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactUrl } from '../../src/config.js';

const cwd = '/srv/easd';

describe('loadConfig', () => {
  it('has embedded defaults', () => {
    const c = loadConfig({}, cwd);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(c.dataDir).toBe('/srv/easd/data');
    expect(c.stateUrl).toBeUndefined();
    expect(c.imapUrl).toBeUndefined();
    expect(c.logLevel).toBe('info');
    expect(c.tls).toBeUndefined();
  });

  it('reads every variable', () => {
    const c = loadConfig(
      {
        EASD_LISTEN: '[::1]:9443',
        EASD_TLS_CERT: 'cert.pem',
        EASD_TLS_KEY: 'key.pem',
        EASD_DATA_DIR: '/var/lib/easd',
        EASD_STATE_URL: 'redis://127.0.0.1:6379/0',
        EASD_IMAP_URL: 'imaps://mail.example.com',
        EASD_SMTP_URL: 'smtp://mail.example.com:587',
        EASD_CALDAV_URL: 'https://dav.example.com/',
        EASD_CARDDAV_URL: 'https://dav.example.com/',
        EASD_LOG_LEVEL: 'debug',
        EASD_TRACE_DEVICES: 'alice/ABC, bob/*',
        EASD_TRUST_PROXY: 'true',
      },
      cwd,
    );
    expect(c.listen).toEqual({ host: '::1', port: 9443 });
    expect(c.tls).toEqual({ certFile: '/srv/easd/cert.pem', keyFile: '/srv/easd/key.pem' });
    expect(c.stateUrl).toBe('redis://127.0.0.1:6379/0');
    expect(c.traceDevices).toEqual(['alice/ABC', 'bob/*']);
    expect(c.trustProxy).toBe(true);
  });

  it('reads a config file, with the environment winning', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'easd-config-'));
    const file = path.join(dir, 'easd.json');
    writeFileSync(
      file,
      JSON.stringify({ listen: '0.0.0.0:8443', logLevel: 'warn', imapUrl: 'imap://localhost' }),
    );
    const c = loadConfig({ EASD_CONFIG: file, EASD_LOG_LEVEL: 'error' }, cwd);
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(c.logLevel).toBe('error');
    expect(c.imapUrl).toBe('imap://localhost');
  });

  it.each([
    [{ EASD_LISTEN: '8080' }, 'EASD_LISTEN must be host:port'],
    [{ EASD_LISTEN: 'localhost:99999' }, 'EASD_LISTEN must be host:port'],
    [{ EASD_TLS_CERT: 'a.pem' }, 'must be set together'],
    [{ EASD_IMAP_URL: 'http://mail' }, 'EASD_IMAP_URL must start with imap:// or imaps://'],
    [{ EASD_STATE_URL: 'mysql://x' }, 'EASD_STATE_URL must start with sqlite://'],
    [{ EASD_LOG_LEVEL: 'loud' }, 'EASD_LOG_LEVEL must be one of'],
    [{ EASD_TRUST_PROXY: 'maybe' }, 'EASD_TRUST_PROXY must be true or false'],
    [{ EASD_MAX_BODY_BYTES: '12' }, 'at least 1024'],
    [{ EASD_CONFIG: '/nonexistent/easd.json' }, 'cannot be read as JSON'],
  ])('refuses %j with a clear message', (env, message) => {
    expect(() => loadConfig(env, cwd)).toThrowError(ConfigError);
    expect(() => loadConfig(env, cwd)).toThrowError(message);
  });

  it('reports every problem at once, and unknown keys in the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'easd-config-'));
    const file = path.join(dir, 'easd.json');
    writeFileSync(file, JSON.stringify({ lissten: '1:2' }));
    try {
      loadConfig({ EASD_CONFIG: file, EASD_LOG_LEVEL: 'x', EASD_LISTEN: 'y' }, cwd);
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toHaveLength(3);
      expect((err as ConfigError).message).toContain('Unknown setting "lissten"');
    }
  });

  it('never shows a password from a URL in its messages', () => {
    expect(() => loadConfig({ EASD_IMAP_URL: 'ftp://admin:s3cret@mail' }, cwd)).toThrowError(
      /^(?![\s\S]*s3cret)/,
    );
    expect(redactUrl('imaps://admin:s3cret@mail.example.com/')).toBe('imaps://admin:***@mail.example.com/');
  });
});

describe('metrics settings', () => {
  it('serve metrics on a loopback address without a token, elsewhere only with one', () => {
    expect(loadConfig({ EASD_METRICS_LISTEN: '127.0.0.1:9464' }, cwd).metricsListen).toEqual({
      host: '127.0.0.1',
      port: 9464,
    });
    expect(loadConfig({}, cwd).metricsListen).toBeUndefined();
    expect(() => loadConfig({ EASD_METRICS_LISTEN: '0.0.0.0:9464' }, cwd)).toThrow(
      /EASD_METRICS_LISTEN is not a loopback address: set EASD_METRICS_TOKEN/,
    );
    const c = loadConfig({ EASD_METRICS_LISTEN: ':9464', EASD_METRICS_TOKEN: 'x'.repeat(16) }, cwd);
    expect(c.metricsListen).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(c.metricsToken).toBe('x'.repeat(16));
    expect(() =>
      loadConfig({ EASD_METRICS_LISTEN: '127.0.0.1:9464', EASD_METRICS_TOKEN: 'short' }, cwd),
    ).toThrow(/EASD_METRICS_TOKEN must be at least 16 characters/);
    expect(() => loadConfig({ EASD_METRICS_LISTEN: 'nope' }, cwd)).toThrow(
      /EASD_METRICS_LISTEN must be host:port/,
    );
  });
});
