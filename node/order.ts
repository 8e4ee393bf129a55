/**
 * Sort orders the daemon uses. Deliberately not `localeCompare` or `Intl.Collator`: the first
 * collation makes V8 load ICU's collation data, about 3 MB of a node's resident memory for
 * orders that only need to be stable (ids, keys, addresses). The CLI, which prints for people,
 * may still sort by locale.
 */

/** Code-unit order: stable and locale-free, for ids, keys and platform strings. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Names people gave (nodes, agents): case-insensitive first, then code units, so the order is total. */
export function compareNames(a: string, b: string): number {
  return compareText(a.toLowerCase(), b.toLowerCase()) || compareText(a, b);
}

/**
 * Dotted IPv4 addresses by value (100.64.0.9 before 100.64.0.10); anything that is not an IPv4
 * address sorts after them, by code units.
 */
export function compareAddresses(a: string, b: string): number {
  const na = ipv4Value(a);
  const nb = ipv4Value(b);
  if (na !== null && nb !== null) return na - nb || compareText(a, b);
  if (na !== null) return -1;
  if (nb !== null) return 1;
  return compareText(a, b);
}

function ipv4Value(address: string): number | null {
  const parts = address.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}
