import { describe, expect, it } from 'vitest';
import { RunStats } from '../../node/agents/run-stats.js';

describe('RunStats', () => {
  it('counts runs and failures per agent and keeps the median of the last runs', () => {
    const s = new RunStats(3);
    expect(s.of('lights')).toEqual({ runs: 0, failures: 0, p50Ms: null });
    s.record('lights', 10, true);
    s.record('lights', 30, false);
    expect(s.of('lights')).toEqual({ runs: 2, failures: 1, p50Ms: 20 });
    s.record('lights', 20, true);
    s.record('lights', 1000, true); // the 10 ms run leaves the window of 3
    expect(s.of('lights')).toEqual({ runs: 4, failures: 1, p50Ms: 30 });
    expect(s.of('timer').runs).toBe(0);
  });
});
