/**
 * Shared settings of the property-based (fast-check) tests: every property runs at least
 * RUNS generated cases per CI run, with small arbitraries so the whole set stays fast.
 */
import fc from 'fast-check';

export const RUNS = 10_000;

/** fc.assert options: RUNS cases; FUZZ_SEED=<n> replays a failure fast-check reported. */
export function runs(numRuns = RUNS): fc.Parameters<unknown> {
  const seed = process.env.FUZZ_SEED;
  return seed === undefined ? { numRuns } : { numRuns, seed: Number(seed) };
}

const enc = new TextEncoder();
export const utf8 = (s: string): Uint8Array => enc.encode(s);

/** Any JSON value, small. */
export const smallJson = fc.jsonValue({ maxDepth: 2 });

/** Bytes, small: the arbitrary-binary half of every parser's input. */
export const smallBytes = fc.uint8Array({ maxLength: 96 });

/** A JSON value nested `depth` arrays deep (stack-overflow bait for recursive code). */
export function nested(depth: number, open = '[', close = ']', inner = ''): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

/**
 * Mutations of a valid text: flip, insert, delete or overwrite a byte, truncate, or splice in a
 * fragment that parsers find interesting.
 */
export function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const fragments = ['"', '{', '}', '[', ']', ',', ':', 'null', '-1', '1e999', '"\\u0000"', '\n'];
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.nat(255) }),
    fc.record({
      kind: fc.constant('delete' as const),
      at: fc.nat(),
      n: fc.integer({ min: 1, max: 8 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      text: fc.constantFrom(...fragments),
    }),
  );
  return fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => {
    let b = Uint8Array.from(valid);
    for (const m of ms) {
      const at = b.length === 0 ? 0 : m.at % b.length;
      switch (m.kind) {
        case 'flip':
          if (b.length) b[at] = b[at]! ^ (1 << m.bit);
          break;
        case 'set':
          if (b.length) b[at] = m.byte;
          break;
        case 'delete':
          b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n)]);
          break;
        case 'truncate':
          b = b.slice(0, at);
          break;
        case 'insert':
          b = Uint8Array.from([...b.subarray(0, at), ...utf8(m.text), ...b.subarray(at)]);
          break;
      }
    }
    return b;
  });
}
