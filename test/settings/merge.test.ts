/**
 * The merge as algebra: commutative, associative, idempotent, over tables and over many random
 * states (fast-check is not installed; a seeded generator gives the same cases every run).
 */
import { describe, expect, it } from 'vitest';
import {
  applyEntries,
  mergeStates,
  stateDigest,
  type SettingEntry,
  type SettingsState,
} from '../../node/settings/index.js';

const set = (
  key: string,
  value: unknown,
  wall: number,
  node: string,
  logical = 0,
): SettingEntry => ({
  key,
  value: value as never,
  hlc: { wall, logical, node },
});
const del = (key: string, wall: number, node: string, logical = 0): SettingEntry => ({
  key,
  deleted: true,
  hlc: { wall, logical, node },
});
const state = (...entries: SettingEntry[]): SettingsState => {
  const s: SettingsState = new Map();
  applyEntries(s, entries);
  return s;
};
const plain = (s: SettingsState) =>
  Object.fromEntries([...s.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));

describe('last-writer-wins merge', () => {
  const table: { name: string; writes: SettingEntry[]; want: Record<string, unknown> }[] = [
    {
      name: 'the later clock wins',
      writes: [set('mqtt.url', 'mqtt://a', 10, 'a'), set('mqtt.url', 'mqtt://b', 20, 'b')],
      want: { 'mqtt.url': 'mqtt://b' },
    },
    {
      name: 'the counter orders writes in one ms',
      writes: [set('k', 2, 10, 'a', 1), set('k', 1, 10, 'b', 0)],
      want: { k: 2 },
    },
    {
      name: 'the node id breaks a tie of wall and counter',
      writes: [set('k', 'from-b', 10, 'b'), set('k', 'from-a', 10, 'a')],
      want: { k: 'from-b' },
    },
    {
      name: 'a later delete removes the value',
      writes: [set('k', 1, 10, 'a'), del('k', 11, 'b')],
      want: { k: undefined },
    },
    {
      name: 'a set later than a delete brings the key back',
      writes: [del('k', 11, 'b'), set('k', 3, 12, 'a')],
      want: { k: 3 },
    },
    {
      name: 'an older write arriving late changes nothing',
      writes: [set('k', 'new', 50, 'a'), set('k', 'old', 5, 'c')],
      want: { k: 'new' },
    },
    {
      name: 'keys merge independently',
      writes: [
        set('rooms.kitchen', { lights: ['x'] }, 10, 'a'),
        set('rooms.study', { lights: [] }, 5, 'b'),
      ],
      want: { 'rooms.kitchen': { lights: ['x'] }, 'rooms.study': { lights: [] } },
    },
  ];
  for (const { name, writes, want } of table) {
    it(`${name} (in every order)`, () => {
      for (const order of permutations(writes)) {
        const s = state(...order);
        for (const [key, value] of Object.entries(want)) {
          const e = s.get(key);
          expect(e?.deleted ? undefined : e?.value).toEqual(value);
        }
      }
    });
  }

  it('is commutative, associative and idempotent on random states', () => {
    const rand = seeded(7);
    for (let round = 0; round < 300; round++) {
      const [a, b, c] = [randomState(rand), randomState(rand), randomState(rand)];
      expect(plain(mergeStates(a, b))).toEqual(plain(mergeStates(b, a)));
      expect(plain(mergeStates(mergeStates(a, b), c))).toEqual(
        plain(mergeStates(a, mergeStates(b, c))),
      );
      expect(plain(mergeStates(a, a))).toEqual(plain(a));
      expect(plain(mergeStates(mergeStates(a, b), b))).toEqual(plain(mergeStates(a, b)));
      expect(stateDigest(mergeStates(a, b))).toBe(stateDigest(mergeStates(b, a)));
    }
  });

  it('picks the same winner for two writes with one clock, whichever came first', () => {
    // only a node that reused a clock (wall set back across a restart) can do this
    const x = set('k', 'x', 10, 'a');
    const y = set('k', 'y', 10, 'a');
    expect(state(x, y).get('k')).toEqual(state(y, x).get('k'));
  });

  it('reports only the writes that changed the state', () => {
    const s = state(set('k', 1, 10, 'a'));
    const won = applyEntries(s, [set('k', 0, 5, 'b'), set('j', 1, 1, 'b'), set('k', 2, 11, 'c')]);
    expect(won.map((e) => `${e.key}=${String(e.value)}`)).toEqual(['j=1', 'k=2']);
  });
});

function* permutations<T>(items: T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield items;
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const p of permutations(rest)) yield [items[i]!, ...p];
  }
}

function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

function randomState(rand: () => number): SettingsState {
  const keys = ['a', 'b', 'c', 'd'];
  const nodes = ['n1', 'n2', 'n3'];
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const entries: SettingEntry[] = [];
  const n = Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    const wall = Math.floor(rand() * 4);
    const logical = Math.floor(rand() * 2);
    entries.push(
      rand() < 0.25
        ? del(pick(keys), wall, pick(nodes), logical)
        : set(pick(keys), pick([1, 2, 'x', null, { y: 1 }]), wall, pick(nodes), logical),
    );
  }
  return state(...entries);
}
