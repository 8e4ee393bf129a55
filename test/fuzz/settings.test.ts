/**
 * Fuzzing (issue 11): settings updates. The codec answers a message or a drop reason for any
 * bytes, signed or not; the merge is a state-based CRDT (last writer wins by HLC, ties by node id):
 * commutative, associative and idempotent over arbitrary entry sets, whatever the order.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveKey } from '../../node/identity/index.js';
import {
  applyEntries,
  mergeStates,
  SettingsCodec,
  stateDigest,
  type SettingEntry,
  type SettingsState,
} from '../../node/settings/index.js';
import { DROP_REASONS, type MessageKind } from '../../node/settings/codec.js';
import { mutated, nested, runs, smallBytes, smallJson, utf8 } from './support.js';

const SECRET = randomBytes(32);
const MESH = 'mesh-fuzz';
const KEY = deriveKey(SECRET, 'settings');
const codec = new SettingsCodec({ meshId: MESH, secret: SECRET });
const REASONS = new Set<string>(DROP_REASONS);
const KINDS: MessageKind[] = ['delta', 'digest', 'state'];

/** `<mac>\n<body>`, signed with the mesh's settings key as a member would. */
function signed(body: unknown): Uint8Array {
  const json = JSON.stringify(body);
  const mac = createHmac('sha256', KEY).update(json).digest('hex');
  return utf8(`${mac}\n${json}`);
}

/** Received on a subject of `kind` (one of the three, as the subject says). */
function decodesSafely(bytes: Uint8Array, kind: MessageKind = 'delta'): void {
  const result = codec.decode(bytes, kind);
  // plain checks, not expect(): this runs tens of thousands of times
  if ('drop' in result) {
    if (!REASONS.has(result.drop)) throw new Error(`unknown drop reason ${result.drop}`);
  } else {
    if (result.ok.kind !== kind) throw new Error(`a ${result.ok.kind} passed as a ${kind}`);
    // what the replicator does next with a delta or a state chunk must not throw either
    if ('entries' in result.ok) applyEntries(new Map(), result.ok.entries);
  }
}
const kind = fc.constantFrom(...KINDS);

const hlc = fc.record({
  wall: fc.oneof(fc.nat(5), fc.integer(), fc.double(), smallJson),
  logical: fc.oneof(fc.nat(3), smallJson),
  node: fc.oneof(fc.constantFrom('n1', 'n2', 'n-3'), fc.string({ maxLength: 4 })),
});
const looseEntry = fc.record(
  {
    key: fc.oneof(fc.constantFrom('a', 'b', 'lights.backend'), fc.string({ maxLength: 6 })),
    hlc: fc.oneof(hlc, smallJson),
    value: smallJson,
    deleted: fc.oneof(fc.constant(true), smallJson),
    extra: smallJson,
  },
  { requiredKeys: ['key', 'hlc'] },
);
const delta = {
  v: 1,
  meshId: MESH,
  from: 'n1',
  kind: 'delta',
  entries: [{ key: 'lights.backend', value: 'both', hlc: { wall: 1, logical: 0, node: 'n1' } }],
};

describe('fuzz: settings codec', () => {
  it('arbitrary bytes, with or without a mac line: a drop reason, never a throw', () => {
    const withMac = fc
      .tuple(fc.stringMatching(/^[0-9a-f]{64}$/), smallBytes)
      .map(([mac, body]) => Uint8Array.from([...utf8(`${mac}\n`), ...body]));
    fc.assert(fc.property(fc.oneof(smallBytes, withMac), kind, decodesSafely), runs());
  });

  it('arbitrary JSON bodies, unsigned and wrongly signed', () => {
    const body = fc.oneof(
      smallJson,
      fc.record({ v: smallJson, meshId: smallJson, from: smallJson, kind: smallJson }),
    );
    fc.assert(
      fc.property(body, fc.stringMatching(/^[0-9a-f]{64}$/), kind, (b, mac, k) => {
        const json = JSON.stringify(b);
        decodesSafely(utf8(json), k);
        decodesSafely(utf8(`${mac}\n${json}`), k);
      }),
      runs(),
    );
  });

  it('validly signed bodies with arbitrary entries: the schema decides, never a throw', () => {
    const body = fc.record(
      {
        v: fc.oneof(fc.constant(1), smallJson),
        meshId: fc.oneof(fc.constant(MESH), fc.string({ maxLength: 4 })),
        from: fc.oneof(fc.constant('n1'), smallJson),
        kind: fc.oneof(fc.constantFrom(...KINDS), smallJson),
        entries: fc.oneof(fc.array(looseEntry, { maxLength: 4 }), smallJson),
        digest: fc.oneof(fc.stringMatching(/^[0-9a-f]{1,8}$/), smallJson),
        count: fc.oneof(fc.nat(), smallJson),
        to: fc.oneof(fc.string({ maxLength: 4 }), smallJson),
        part: fc.oneof(fc.nat(3), smallJson),
        parts: fc.oneof(fc.nat(3), smallJson),
      },
      { requiredKeys: ['v', 'meshId', 'from', 'kind'] },
    );
    fc.assert(
      fc.property(body, (b) => {
        // on the subject its kind names, so a valid body gets through to the merge
        const k = KINDS.find((x) => x === b.kind) ?? 'delta';
        decodesSafely(signed(b), k);
      }),
      runs(),
    );
  });

  it('mutations of a valid signed delta', () => {
    fc.assert(fc.property(mutated(signed(delta)), kind, decodesSafely), runs());
  });

  it('deeply nested values, signed: dropped, not a stack overflow', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30_000 }), (depth) => {
        const json = JSON.stringify(delta).replace('"both"', nested(depth));
        const mac = createHmac('sha256', KEY).update(json).digest('hex');
        decodesSafely(utf8(`${mac}\n${json}`));
      }),
      runs(200),
    );
  });
});

// ---- the merge ----

const entry: fc.Arbitrary<SettingEntry> = fc
  .record({
    key: fc.constantFrom('a', 'b', 'c'),
    wall: fc.nat(3),
    logical: fc.nat(2),
    node: fc.constantFrom('n1', 'n2', 'n3'),
    value: fc.option(fc.jsonValue({ maxDepth: 1 }), { nil: undefined }),
  })
  .map(({ key, wall, logical, node, value }) =>
    value === undefined
      ? { key, hlc: { wall, logical, node }, deleted: true as const }
      : { key, hlc: { wall, logical, node }, value: value as never },
  );
const entries = fc.array(entry, { maxLength: 8 });

function stateOf(list: readonly SettingEntry[]): SettingsState {
  const s: SettingsState = new Map();
  applyEntries(s, list);
  return s;
}
/** A state as comparable text: sorted by key, values through JSON (as they travel). */
const canon = (s: SettingsState): string =>
  JSON.stringify([...s.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

describe('fuzz: settings merge (LWW by HLC, ties by node id)', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(entries, entries, (a, b) => {
        const ab = mergeStates(stateOf(a), stateOf(b));
        const ba = mergeStates(stateOf(b), stateOf(a));
        expect(canon(ab)).toBe(canon(ba));
        expect(stateDigest(ab)).toBe(stateDigest(ba));
      }),
      runs(),
    );
  });

  it('is associative', () => {
    fc.assert(
      fc.property(entries, entries, entries, (a, b, c) => {
        const [sa, sb, sc] = [stateOf(a), stateOf(b), stateOf(c)];
        expect(canon(mergeStates(mergeStates(sa, sb), sc))).toBe(
          canon(mergeStates(sa, mergeStates(sb, sc))),
        );
      }),
      runs(),
    );
  });

  it('is idempotent, and merging a part of what a state has seen changes nothing', () => {
    fc.assert(
      fc.property(entries, entries, (a, b) => {
        const sa = stateOf(a);
        expect(canon(mergeStates(sa, sa))).toBe(canon(sa));
        const sab = stateOf([...a, ...b]);
        expect(canon(mergeStates(sab, sa))).toBe(canon(sab));
        expect(applyEntries(sab, a)).toEqual([]);
      }),
      runs(),
    );
  });

  it('gives the same state whatever order the writes arrive in, and the latest write wins', () => {
    fc.assert(
      fc.property(
        entries.chain((list) =>
          fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length })),
        ),
        ([list, shuffled]) => {
          const s = stateOf(list);
          expect(canon(stateOf(shuffled))).toBe(canon(s));
          for (const [key, winner] of s) {
            for (const e of list.filter((x) => x.key === key)) {
              const { wall, logical, node } = e.hlc;
              const w = winner.hlc;
              const later =
                w.wall !== wall
                  ? w.wall > wall
                  : w.logical !== logical
                    ? w.logical > logical
                    : w.node >= node;
              expect(later).toBe(true);
            }
          }
        },
      ),
      runs(),
    );
  });
});
