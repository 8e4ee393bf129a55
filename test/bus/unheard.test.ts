import { describe, expect, it } from 'vitest';
import { UnheardPeersCheck } from '../../node/bus/index.js';

/** Feed [routes, alive, atMs] steps; the times at which the check says "re-assert". */
function fired(steps: Array<[number, number, number]>, afterMs = 4000): number[] {
  const check = new UnheardPeersCheck(afterMs);
  return steps.filter(([r, a, t]) => check.observe(r, a, t)).map(([, , t]) => t);
}

const every = (from: number, to: number, routes: number, alive: number) =>
  Array.from(
    { length: (to - from) / 1000 + 1 },
    (_, i) => [routes, alive, from + i * 1000] as [number, number, number],
  );

describe('UnheardPeersCheck', () => {
  it.each([
    ['every routed peer heard', every(0, 20_000, 2, 2), []],
    ['more alive peers than routes (routes still coming up)', every(0, 20_000, 1, 2), []],
    [
      'a routed peer unheard: after 4 s, then every 4 s',
      every(0, 13_000, 2, 1),
      [4000, 8000, 12_000],
    ],
    [
      'a peer quiet for 3 s (paused: suspect, then its route drops) never fires',
      [...every(0, 2000, 2, 2), ...every(3000, 5000, 2, 1), ...every(6000, 20_000, 1, 1)],
      [],
    ],
    [
      'the count resets when the peer is heard again',
      [...every(0, 3000, 2, 1), ...every(4000, 4000, 2, 2), ...every(5000, 10_000, 2, 1)],
      [9000],
    ],
  ])('%s', (_what, steps, want) => {
    expect(fired(steps)).toEqual(want);
  });
});
