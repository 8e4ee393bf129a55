import { describe, expect, it } from 'vitest';
import { HybridClock, compareHlc, type Hlc } from '../../node/settings/index.js';

/** A wall clock the test moves by hand (backwards too). */
function manualClock(start: number): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

describe('hybrid logical clock', () => {
  it('never goes backwards when the wall clock jumps back', () => {
    const wall = manualClock(10_000);
    const clock = new HybridClock('a', wall.now);
    const stamps: Hlc[] = [];
    for (const t of [10_000, 10_000, 10_005, 9_000, 9_000, 10_005, 10_006, 1]) {
      wall.set(t);
      stamps.push(clock.now());
    }
    for (let i = 1; i < stamps.length; i++) {
      expect(compareHlc(stamps[i - 1]!, stamps[i]!)).toBe(-1);
    }
    // the wall part keeps the largest time seen; the counter orders stamps within it
    expect(stamps.at(-1)).toEqual({ wall: 10_006, logical: 1, node: 'a' });
  });

  it('stamps after a remote write from a clock that runs ahead', () => {
    const slow = new HybridClock('slow', () => 1_000);
    const remote: Hlc = { wall: 60_000, logical: 7, node: 'fast' };
    slow.observe(remote);
    const next = slow.now();
    expect(compareHlc(next, remote)).toBe(1);
    expect(next.wall).toBe(60_000);
  });

  it('stays monotonic across many interleaved local and remote events with skewed clocks', () => {
    // node a's wall clock is 5 s behind b's and wobbles; every stamp a makes must be later than
    // every stamp a made or saw before it
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    let t = 100_000;
    const a = new HybridClock('a', () => t - 5_000 + Math.floor(rand() * 50));
    const b = new HybridClock('b', () => t + Math.floor(rand() * 50));
    let latest: Hlc = { wall: 0, logical: 0, node: '' };
    for (let i = 0; i < 2_000; i++) {
      t += Math.floor(rand() * 3);
      if (rand() < 0.3) {
        const seen = b.now();
        a.observe(seen);
        if (compareHlc(seen, latest) > 0) latest = seen;
      }
      const mine = a.now();
      expect(compareHlc(mine, latest)).toBe(1);
      latest = mine;
    }
  });

  it('orders by wall, then counter, then node id', () => {
    const table: [Hlc, Hlc, number][] = [
      [{ wall: 1, logical: 9, node: 'z' }, { wall: 2, logical: 0, node: 'a' }, -1],
      [{ wall: 2, logical: 1, node: 'a' }, { wall: 2, logical: 0, node: 'z' }, 1],
      [{ wall: 2, logical: 1, node: 'a' }, { wall: 2, logical: 1, node: 'b' }, -1],
      [{ wall: 2, logical: 1, node: 'b' }, { wall: 2, logical: 1, node: 'b' }, 0],
    ];
    for (const [x, y, want] of table) expect(compareHlc(x, y)).toBe(want);
  });
});
