import { describe, expect, it } from 'vitest';
import { StallWatch, fenceRefusal, type FenceInputs } from '../../node/agenthost/fence.js';
import { peer } from '../placement/peers.js';

const NOW = 1_000_000;
const timing = { suspect_after_ms: 3000, heartbeat_ms: 1000 };
const self = { id: 'id-desk', name: 'desk' };

function inputs(
  over: Partial<FenceInputs> & { callerState?: 'alive' | 'suspect' | 'dead'; silentMs?: number },
): FenceInputs {
  const { callerState = 'alive', silentMs = 300, ...rest } = over;
  const pi = {
    ...peer({ name: 'pi', id: 'id-pi', state: callerState }),
    lastSeenMs: NOW - silentMs,
  };
  return {
    idempotent: true,
    callerNode: 'pi',
    self,
    view: [peer({ name: 'desk', id: 'id-desk', self: true }), pi],
    nowMs: NOW,
    stalledMs: 0,
    timing,
    ...rest,
  };
}

describe('fenceRefusal (may a run its caller can move act here?)', () => {
  it.each<[string, Parameters<typeof inputs>[0], RegExp | null]>([
    ['a caller heard 0.3 s ago: acts', {}, null],
    ['a caller heard 1.9 s ago: acts', { silentMs: 1900 }, null],
    [
      'a caller silent 2 s (it moves at 3 s): refused',
      { silentMs: 2000 },
      /not been heard for 2\.0 s/,
    ],
    ['a suspect caller: refused', { callerState: 'suspect' }, /pi is suspect here/],
    ['a caller not in the view yet (just joined): acts', { view: [] }, null],
    ['this node stood still 1.6 s: refused', { stalledMs: 1600 }, /stood still for 1\.6 s/],
    ['a lag of 0.4 s: acts', { stalledMs: 400 }, null],
    ['not idempotent (never moved): acts', { idempotent: false, silentMs: 60_000 }, null],
    ['this node owns the request: acts', { callerNode: 'desk', stalledMs: 60_000 }, null],
    ['caller named by id: same rule', { callerNode: 'id-pi', silentMs: 5000 }, /not been heard/],
    ['no caller (a call between tasks of a local run): acts', { callerNode: undefined }, null],
  ])('%s', (_name, over, want) => {
    const why = fenceRefusal(inputs(over));
    if (want === null) expect(why).toBeNull();
    else expect(why).toMatch(want);
  });

  it('never goes tighter than 1 s with fast test timings', () => {
    const fast = { suspect_after_ms: 1000, heartbeat_ms: 250 };
    expect(fenceRefusal(inputs({ timing: fast, silentMs: 900 }))).toBeNull();
    expect(fenceRefusal(inputs({ timing: fast, stalledMs: 900 }))).toBeNull();
    expect(fenceRefusal(inputs({ timing: fast, silentMs: 1000 }))).not.toBeNull();
  });
});

describe('StallWatch', () => {
  it('reads a frozen event loop synchronously, before its timer catches up', async () => {
    const watch = new StallWatch(50);
    watch.start();
    try {
      await new Promise((r) => setTimeout(r, 120));
      expect(watch.stalledMs()).toBeLessThan(500);
      // a busy loop stands for SIGSTOP: no timer runs meanwhile
      const until = performance.now() + 1200;
      while (performance.now() < until) {
        // frozen
      }
      expect(watch.stalledMs()).toBeGreaterThanOrEqual(1000);
      await new Promise((r) => setTimeout(r, 120));
      expect(watch.stalledMs()).toBeLessThan(500);
    } finally {
      watch.stop();
    }
  });
});
