import { describe, expect, it } from 'vitest';
import { compareAddresses, compareNames, compareText } from '../node/order.js';

describe('sort orders', () => {
  it('orders IPv4 addresses by value, then anything else by code units', () => {
    const sorted = [
      '100.64.0.10',
      'fd7a:115c::1',
      '100.64.0.9',
      '10.0.0.200',
      'host.lan',
      '100.64.0.9',
    ].sort(compareAddresses);
    expect(sorted).toEqual([
      '10.0.0.200',
      '100.64.0.9',
      '100.64.0.9',
      '100.64.0.10',
      'fd7a:115c::1',
      'host.lan',
    ]);
    // not IPv4: a part over 255, five parts, a sign
    expect(['1.2.3.256', '1.2.3.4'].sort(compareAddresses)).toEqual(['1.2.3.4', '1.2.3.256']);
    expect(compareAddresses('1.2.3.4.5', '9.9.9.9')).toBeGreaterThan(0);
    expect(compareAddresses('1.2.3.-4', '9.9.9.9')).toBeGreaterThan(0);
  });

  it('orders names case-insensitively first, and totally', () => {
    expect(['kitchen', 'Bedroom', 'bedroom', 'attic'].sort(compareNames)).toEqual([
      'attic',
      'Bedroom',
      'bedroom',
      'kitchen',
    ]);
    expect(compareText('b', 'a')).toBe(1);
    expect(compareText('a', 'a')).toBe(0);
  });
});
