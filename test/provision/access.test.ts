import { describe, expect, it } from 'vitest';
import { evaluateDeviceAccess, globMatches, type DeviceAccessRules } from '../../src/provision/access.js';

describe('globMatches', () => {
  it.each([
    ['iPhone', 'iphone', true],
    ['iPhone', 'iPhoneX', false],
    ['iPhone*', 'iPhone13C2', true],
    ['*', '', true],
    ['', '', true],
    ['', 'x', false],
    ['Apple-*/*', 'Apple-iPhone13C2/2001.1', true],
    ['Apple-?Phone*', 'Apple-iPhone', true],
    ['Apple-?Phone*', 'Apple-Phone', false],
    ['*Android*', 'Mozilla/5.0 (Linux; Android 14)', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['.*', 'anything', false],
    ['[abc]', '[abc]', true],
    ['Ä*', 'äpfel', true],
    ['*a*a*a*a*a*b', 'a'.repeat(40), false],
  ])('%j against %j: %s', (pattern, value, expected) => {
    expect(globMatches(pattern, value)).toBe(expected);
  });
});

describe('evaluateDeviceAccess', () => {
  const iphone = { deviceType: 'iPhone', userAgent: 'Apple-iPhone13C2/2001.1' };
  const android = { deviceType: 'Android', userAgent: 'Android-Mail/2024.01' };
  const noAgent = { deviceType: 'WindowsMail' };

  it('allows everything without rules', () => {
    expect(evaluateDeviceAccess({}, iphone)).toEqual({ access: 'allowed', rule: 'default' });
  });

  it('blocks what a block rule matches, and only that', () => {
    const rules: DeviceAccessRules = { block: [{ UserAgent: 'Android-Mail/*' }] };
    expect(evaluateDeviceAccess(rules, android)).toEqual({ access: 'blocked', rule: 'block[0]' });
    expect(evaluateDeviceAccess(rules, iphone).access).toBe('allowed');
    expect(evaluateDeviceAccess(rules, noAgent).access).toBe('allowed');
  });

  it('lets only allowed devices in when allow rules exist; block wins over allow', () => {
    const rules: DeviceAccessRules = {
      allow: [{ DeviceType: 'iphone' }, { DeviceType: 'Android', UserAgent: 'Android-Mail/*' }],
      block: [{ DeviceType: 'iPhone', UserAgent: '*/1999*' }],
    };
    expect(evaluateDeviceAccess(rules, iphone)).toEqual({ access: 'allowed', rule: 'allow[0]' });
    expect(evaluateDeviceAccess(rules, android)).toEqual({ access: 'allowed', rule: 'allow[1]' });
    expect(evaluateDeviceAccess(rules, { deviceType: 'Android', userAgent: 'Other' })).toEqual({
      access: 'blocked',
      rule: 'unmatched',
    });
    expect(evaluateDeviceAccess(rules, { deviceType: 'iPhone', userAgent: 'Apple/1999.2' })).toEqual({
      access: 'blocked',
      rule: 'block[0]',
    });
    expect(evaluateDeviceAccess(rules, noAgent).access).toBe('blocked');
  });

  it('quarantines unmatched devices when told to', () => {
    expect(
      evaluateDeviceAccess({ allow: [{ DeviceType: 'iPhone' }], unmatched: 'quarantined' }, android).access,
    ).toBe('quarantined');
  });
});
