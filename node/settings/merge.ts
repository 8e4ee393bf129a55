/**
 * The settings state and its merge: a map from key to the last write, where "last" is the write
 * with the greater hybrid logical clock (ties cannot happen between two writes of one node, and
 * the clock's node id breaks them between nodes). A delete is a write too (a tombstone), so a
 * delete and a concurrent set resolve like two sets. The merge is commutative, associative and
 * idempotent (a state-based CRDT: a map of last-writer-wins registers), so nodes that have seen
 * the same writes hold the same state, whatever the order and however often they saw them.
 * Pure: no I/O.
 */
import { compareHlc, type Hlc } from './clock.js';
import { compareText } from '../order.js';

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One write: a value, or a tombstone (`deleted: true`, no value). The writer is `hlc.node`. */
export type SettingEntry =
  | { key: string; hlc: Hlc; value: JsonValue; deleted?: never }
  | { key: string; hlc: Hlc; deleted: true; value?: never };

export type SettingsState = Map<string, SettingEntry>;

/**
 * Which of two writes to one key wins: the greater clock. Two different writes with one clock
 * would need one node to stamp twice in one tick (a restart with a clock set back, say); the
 * serialised write then decides, so the choice stays the same on every node.
 */
export function compareEntries(a: SettingEntry, b: SettingEntry): number {
  const byClock = compareHlc(a.hlc, b.hlc);
  if (byClock !== 0) return byClock;
  return compareText(tieBreakKey(a), tieBreakKey(b));
}

function tieBreakKey(e: SettingEntry): string {
  return e.deleted ? '' : `=${JSON.stringify(e.value)}`;
}

/**
 * Merge `incoming` into `state` in place; returns the entries that won (changed the state), in
 * the order they came.
 */
export function applyEntries(
  state: SettingsState,
  incoming: Iterable<SettingEntry>,
): SettingEntry[] {
  const won: SettingEntry[] = [];
  for (const entry of incoming) {
    const current = state.get(entry.key);
    if (current === undefined || compareEntries(entry, current) > 0) {
      state.set(entry.key, entry);
      won.push(entry);
    }
  }
  return won;
}

/** A new state holding the winner of every key of `a` and `b` (neither is changed). */
export function mergeStates(a: SettingsState, b: SettingsState): SettingsState {
  const out: SettingsState = new Map(a);
  applyEntries(out, b.values());
  return out;
}

/** The latest clock in a state (to seed a node's clock after a restart), or null if empty. */
export function latestClock(state: ReadonlyMap<string, SettingEntry>): Hlc | null {
  let latest: Hlc | null = null;
  for (const e of state.values()) if (!latest || compareHlc(e.hlc, latest) > 0) latest = e.hlc;
  return latest;
}

/**
 * The lines a digest of the state is computed over: one `key hlc` per key, sorted by key. Two
 * nodes with the same lines hold the same state (a write's clock identifies it).
 */
export function digestLines(state: ReadonlyMap<string, SettingEntry>): string[] {
  return [...state.values()]
    .map((e) => `${JSON.stringify(e.key)} ${e.hlc.wall}.${e.hlc.logical}.${e.hlc.node}`)
    .sort();
}
