/**
 * The egress address policy, one for every path out of the node on an agent's behalf (the
 * `http.fetch` host call; the egress network's firewall, node/agents/docker/egress-firewall.ts,
 * blocks the same IPv4 ranges). Pure: an address and the host's own addresses in, a verdict out.
 *
 * Deny by default. Refused: every block of the IANA special-purpose address registries
 * (iana-ipv4-special-registry and iana-ipv6-special-registry, as of 2024, including the blocks
 * the registry calls globally reachable, such as AS112 and AMT: no agent needs them), IPv4
 * multicast and the host's own interface addresses (a host with a public or TEST-NET address
 * is still the host). IPv6 must be global unicast (2000::/3); addresses that embed an IPv4
 * address (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the
 * IPv4 address inside. Anything that is not a literal address (a name, a zone id, an odd
 * encoding) is refused: callers resolve first and pass the answers.
 */

/** [block, prefix length, what it is] — IANA IPv4 special-purpose registry, plus multicast. */
export const IPV4_SPECIAL: ReadonlyArray<readonly [string, number, string]> = [
  ['0.0.0.0', 8, '"this network" (RFC 791)'],
  ['10.0.0.0', 8, 'private use (RFC 1918)'],
  ['100.64.0.0', 10, 'shared address space / CGNAT, the tailnet (RFC 6598)'],
  ['127.0.0.0', 8, 'loopback (RFC 1122)'],
  ['169.254.0.0', 16, 'link-local (RFC 3927)'],
  ['172.16.0.0', 12, 'private use (RFC 1918)'],
  ['192.0.0.0', 24, 'IETF protocol assignments (RFC 6890)'],
  ['192.0.2.0', 24, 'documentation, TEST-NET-1 (RFC 5737)'],
  ['192.31.196.0', 24, 'AS112-v4 (RFC 7535)'],
  ['192.52.193.0', 24, 'AMT (RFC 7450)'],
  ['192.88.99.0', 24, 'deprecated 6to4 relay anycast (RFC 7526)'],
  ['192.168.0.0', 16, 'private use (RFC 1918)'],
  ['192.175.48.0', 24, 'direct delegation AS112 service (RFC 7534)'],
  ['198.18.0.0', 15, 'benchmarking (RFC 2544)'],
  ['198.51.100.0', 24, 'documentation, TEST-NET-2 (RFC 5737)'],
  ['203.0.113.0', 24, 'documentation, TEST-NET-3 (RFC 5737)'],
  ['224.0.0.0', 4, 'multicast (RFC 5771)'],
  ['240.0.0.0', 4, 'reserved, and the limited broadcast 255.255.255.255 (RFC 1112, RFC 919)'],
];

/** IANA IPv6 special-purpose registry blocks inside 2000::/3 (everything outside it is refused). */
export const IPV6_SPECIAL: ReadonlyArray<readonly [string, number, string]> = [
  ['2001::', 23, 'IETF protocol assignments: Teredo, benchmarking, ORCHID, … (RFC 2928)'],
  ['2001:db8::', 32, 'documentation (RFC 3849)'],
  ['2620:4f:8000::', 48, 'direct delegation AS112 service (RFC 7534)'],
  ['3fff::', 20, 'documentation (RFC 9637)'],
];

/** Outside 2000::/3, named for the error message; the rest there is "not global unicast". */
const IPV6_NAMED: ReadonlyArray<readonly [string, number, string]> = [
  ['::1', 128, 'loopback (RFC 4291)'],
  ['::', 128, 'unspecified (RFC 4291)'],
  ['64:ff9b:1::', 48, 'local-use IPv4/IPv6 translation (RFC 8215)'],
  ['100::', 64, 'discard-only (RFC 6666)'],
  ['5f00::', 16, 'SRv6 SIDs (RFC 9602)'],
  ['fc00::', 7, 'unique local, the tailnet fd7a:115c:a1e0::/48 too (RFC 4193)'],
  ['fe80::', 10, 'link-local (RFC 4291)'],
  ['ff00::', 8, 'multicast (RFC 4291)'],
];

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

export interface AddressPolicyOptions {
  /** the host's own interface addresses (os.networkInterfaces()), refused whatever their range */
  hostAddresses?: readonly string[];
}

/**
 * Whether an agent may connect to `ip` (a literal IPv4 or IPv6 address), and if not, why.
 */
export function checkEgressAddress(ip: string, opts: AddressPolicyOptions = {}): AddressVerdict {
  const bytes = parseAddress(ip);
  if (!bytes) return { allowed: false, reason: 'it is not an IP address' };
  for (const own of opts.hostAddresses ?? []) {
    const b = parseAddress(own.replace(/%.*$/, ''));
    if (b && sameAddress(b, bytes)) return { allowed: false, reason: "it is this host's own" };
  }
  if (bytes.length === 4) return checkV4(bytes);
  const embedded = embeddedV4(bytes);
  if (embedded) {
    const inner = checkV4(embedded.v4);
    if (!inner.allowed)
      return { allowed: false, reason: `${inner.reason}, inside ${embedded.what}` };
    // The IPv4 address inside may also be the host's own.
    for (const own of opts.hostAddresses ?? []) {
      const b = parseAddress(own);
      if (b && sameAddress(b, embedded.v4))
        return { allowed: false, reason: `it is this host's own, inside ${embedded.what}` };
    }
    return { allowed: true };
  }
  for (const [net, bits, what] of IPV6_NAMED) {
    if (inPrefix(bytes, parseAddress(net)!, bits)) return { allowed: false, reason: `${what}` };
  }
  if ((bytes[0]! & 0xe0) !== 0x20)
    return { allowed: false, reason: 'not global unicast (outside 2000::/3)' };
  for (const [net, bits, what] of IPV6_SPECIAL) {
    if (inPrefix(bytes, parseAddress(net)!, bits)) return { allowed: false, reason: what };
  }
  return { allowed: true };
}

/** True for addresses an agent may not reach (loopback, LAN, link-local, tailnet, reserved…). */
export function isPrivateAddress(ip: string, opts: AddressPolicyOptions = {}): boolean {
  return !checkEgressAddress(ip, opts).allowed;
}

function checkV4(bytes: Uint8Array): AddressVerdict {
  for (const [net, bits, what] of IPV4_SPECIAL) {
    if (inPrefix(bytes, parseAddress(net)!, bits))
      return { allowed: false, reason: `${what}, ${net}/${bits}` };
  }
  return { allowed: true };
}

function embeddedV4(b: Uint8Array): { v4: Uint8Array; what: string } | null {
  const zero = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (IPv4-mapped)
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff)
    return { v4: b.slice(12), what: 'an IPv4-mapped address' };
  // 64:ff9b::a.b.c.d (NAT64, RFC 6052)
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12))
    return { v4: b.slice(12), what: 'a NAT64 address' };
  // 2002:AABB:CCDD::/48 (6to4)
  if (b[0] === 0x20 && b[1] === 0x02) return { v4: b.slice(2, 6), what: 'a 6to4 address' };
  return null;
}

function inPrefix(addr: Uint8Array, net: Uint8Array, bits: number): boolean {
  if (addr.length !== net.length) return false;
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((addr[i / 8]! & mask) !== (net[i / 8]! & mask)) return false;
  }
  return true;
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length === b.length) return a.every((x, i) => x === b[i]);
  // 192.0.2.2 and ::ffff:192.0.2.2 are one address.
  const [v4, v6] = a.length === 4 ? [a, b] : [b, a];
  const e = embeddedV4(v6);
  return e !== null && e.what === 'an IPv4-mapped address' && sameAddress(v4, e.v4);
}

/** A literal address in its usual text forms (dotted quad; RFC 4291 IPv6) as bytes, or null. */
export function parseAddress(ip: string): Uint8Array | null {
  const v4 = parseV4(ip);
  if (v4) return v4;
  return parseV6(ip);
}

function parseV4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    // Decimal only, no leading zeros: 0177.0.0.1 and 0x7f.0.0.1 are refused, not guessed at.
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

function parseV6(s: string): Uint8Array | null {
  if (!s.includes(':') || s.includes('%')) return null;
  let tail: Uint8Array | null = null;
  let text = s;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail = parseV4(s.slice(lastColon + 1));
    if (!tail) return null;
    text = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const group = (h: string) => (h === '' ? [] : h.split(':'));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const groups = [...head, ...Array<string>(8 - total).fill('0'), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}
