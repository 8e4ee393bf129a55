import { describe, expect, it } from 'vitest';
import {
  checkEgressAddress,
  isPrivateAddress,
  parseAddress,
  IPV4_SPECIAL,
} from '../../node/agents/index.js';

describe('egress address policy (IANA special-purpose registries, the host itself)', () => {
  it.each([
    // each IPv4 special-purpose block, and multicast
    ['0.1.2.3', /this network/],
    ['10.1.2.3', /RFC 1918/],
    ['100.64.0.7', /CGNAT/],
    ['100.127.255.1', /CGNAT/],
    ['127.0.0.1', /loopback/],
    ['169.254.169.254', /link-local/],
    ['172.31.255.255', /RFC 1918/],
    ['192.0.0.9', /IETF protocol assignments/],
    ['192.0.2.2', /TEST-NET-1/], // missed before: the list had 192.0.0.0/24 only
    ['192.31.196.1', /AS112/],
    ['192.52.193.1', /AMT/],
    ['192.88.99.1', /6to4 relay/],
    ['192.168.1.20', /RFC 1918/],
    ['192.175.48.1', /AS112/],
    ['198.19.0.1', /benchmarking/],
    ['198.51.100.7', /TEST-NET-2/],
    ['203.0.113.9', /TEST-NET-3/],
    ['224.0.0.251', /multicast/],
    ['239.255.255.250', /multicast/],
    ['240.0.0.1', /reserved/],
    ['255.255.255.255', /broadcast/],
    // IPv6
    ['::1', /loopback/],
    ['::', /unspecified/],
    ['fd7a:115c:a1e0::1', /unique local/],
    ['fc00::1', /unique local/],
    ['fe80::1', /link-local/],
    ['ff02::1', /multicast/],
    ['100::1', /discard-only/],
    ['64:ff9b:1::1', /local-use/],
    ['2001::1', /IETF protocol assignments/], // Teredo
    ['2001:2::1', /IETF protocol assignments/], // benchmarking
    ['2001:db8::1', /documentation/],
    ['3fff::1', /documentation/],
    ['5f00::1', /SRv6/],
    ['2620:4f:8000::1', /AS112/],
    ['::2', /not global unicast/],
    ['4000::1', /not global unicast/],
    // IPv4 inside IPv6, every encoding
    ['::ffff:192.168.0.1', /RFC 1918.*IPv4-mapped/],
    ['::ffff:7f00:1', /loopback.*IPv4-mapped/],
    ['::FFFF:127.0.0.1', /loopback/],
    ['64:ff9b::10.0.0.1', /RFC 1918.*NAT64/],
    ['64:ff9b::a9fe:a9fe', /link-local.*NAT64/],
    ['2002:c0a8:0101::1', /RFC 1918.*6to4/],
    // not literal addresses, or odd encodings: refused, not guessed at
    ['not-an-ip', /not an IP address/],
    ['0177.0.0.1', /not an IP address/],
    ['0x7f.0.0.1', /not an IP address/],
    ['2130706433', /not an IP address/],
    ['fe80::1%eth0', /not an IP address/],
    ['1.2.3', /not an IP address/],
    ['1:2:3:4:5:6:7:8:9', /not an IP address/],
  ])('refuses %s (%s)', (ip, reason) => {
    const verdict = checkEgressAddress(ip);
    expect(verdict.allowed).toBe(false);
    expect((verdict as { reason: string }).reason).toMatch(reason);
    expect(isPrivateAddress(ip)).toBe(true);
  });

  it.each([
    '93.184.216.34',
    '1.1.1.1',
    '100.128.0.1',
    '192.0.3.1',
    '198.20.0.1',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('allows %s', (ip) => {
    expect(checkEgressAddress(ip)).toEqual({ allowed: true });
  });

  it("refuses the host's own addresses whatever their range, in every form", () => {
    const hostAddresses = ['93.184.216.34', '2a00:1450:4001:80b::200e', 'fe80::1%eth0'];
    for (const ip of ['93.184.216.34', '::ffff:93.184.216.34', '2a00:1450:4001:080b:0:0:0:200e'])
      expect(checkEgressAddress(ip, { hostAddresses })).toEqual({
        allowed: false,
        reason: "it is this host's own",
      });
    expect(checkEgressAddress('64:ff9b::5db8:d822', { hostAddresses })).toMatchObject({
      allowed: false,
      reason: /host's own, inside a NAT64/,
    });
    expect(checkEgressAddress('93.184.216.35', { hostAddresses })).toEqual({ allowed: true });
  });

  it('parses the usual text forms', () => {
    expect([...parseAddress('::ffff:1.2.3.4')!]).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4,
    ]);
    expect([...parseAddress('1::')!]).toEqual([0, 1, ...Array(14).fill(0)]);
    expect(parseAddress('1::2::3')).toBeNull();
    expect(parseAddress('256.0.0.1')).toBeNull();
    // Every IPv4 block is on the list the egress firewall installs.
    expect(IPV4_SPECIAL.map(([net, bits]) => `${net}/${bits}`)).toContain('192.0.2.0/24');
  });
});
