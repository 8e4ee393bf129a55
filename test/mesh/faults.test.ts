/**
 * Pause and partition on three real daemons with fast membership timings (suspect 1 s, dead 3 s):
 * what is tested is the state machine going down and coming back, not how fast.
 */
import { describe, expect, it } from 'vitest';
import { useMeshHarness } from '../harness/vitest.js';
import {
  FAST_MEMBERSHIP,
  daemonMesh,
  logMark,
  meshAvailable,
  routeHosts,
  secs,
  startMesh,
  transitionsAbout,
} from './helpers.js';

const NODES = [0, 1, 2];

describe.skipIf(!meshAvailable)('faults on a three-node mesh (suspect 1 s, dead 3 s)', () => {
  const mesh = useMeshHarness(
    () => daemonMesh({ nodes: 3, subnet: '100.64.61', config: { membership: FAST_MEMBERSHIP } }),
    { tailLines: 60 },
  );

  it('starts three nodes that see each other alive', async () => {
    await startMesh(mesh(), NODES, { timeoutMs: 30_000 });
    await mesh().waitForConvergence({ timeoutMs: 30_000, intervalMs: 100 });
  }, 70_000);

  it('sees a node stopped with SIGSTOP go suspect then dead, and alive again after SIGCONT with the same incarnation', async () => {
    const paused = 2;
    const observers = [0, 1];
    const before = await mesh().status(paused);
    const marks = observers.map((i) => logMark(mesh(), i));
    const t0 = performance.now();
    mesh().pause(paused); // daemon and nats-server, like a laptop lid closing
    try {
      await mesh().waitForState(observers, paused, 'dead', { timeoutMs: 20_000, intervalMs: 100 });
      console.log(
        `[mesh] SIGSTOP of node2: dead in both views after ${secs(performance.now() - t0)}`,
      );
    } finally {
      mesh().resume(paused);
    }
    const t1 = performance.now();
    const views = await mesh().waitForConvergence({ timeoutMs: 30_000, intervalMs: 100 });
    console.log(`[mesh] SIGCONT of node2: all alive again after ${secs(performance.now() - t1)}`);
    // The views are alive; the logs that record it may reach their files a moment later.
    await mesh().waitFor(
      () =>
        observers.every((i, k) =>
          /->alive$/.test(transitionsAbout(mesh(), i, 'node2', marks[k]).at(-1) ?? ''),
        ),
      { timeoutMs: 5000, intervalMs: 100, what: 'the revival to be logged' },
    );
    observers.forEach((i, k) => {
      const seq = transitionsAbout(mesh(), i, 'node2', marks[k]);
      // Down through silence (suspect, or straight to dead when the observer's tick comes late
      // on a loaded machine), then back to alive as the same process (not a restart).
      expect(seq[0]).toMatch(/^alive->(suspect|dead)$/);
      expect(seq).toContain('suspect->dead');
      expect(seq.at(-1)).toMatch(/->alive$/);
    });
    expect(views.get(paused)!.self).toMatchObject({
      id: before.self.id,
      startedAt: (before.self as { startedAt?: string }).startedAt,
    });
  }, 70_000);

  it('splits a partitioned node from the others on both sides, and heals', async () => {
    const cut = 1;
    const others = [0, 2];
    const t0 = performance.now();
    mesh().partition(cut);
    try {
      // The others see it go; it, still running, sees them go.
      await mesh().waitForState(others, cut, 'dead', { timeoutMs: 20_000, intervalMs: 100 });
      console.log(
        `[mesh] partition of node1: dead in the others' views after ${secs(performance.now() - t0)}`,
      );
      // Only membership is asserted here: NATS keeps a route over a cut link until its write
      // deadline (seen: 20 s and more), so routes are checked after the heal instead.
      await mesh().waitFor(
        async () => {
          const view = await mesh().status(cut);
          const states = others.map((o) => mesh().stateIn(view, o));
          if (states.every((s) => s === 'dead')) return true;
          throw new Error(`node1 sees node0 ${states[0]}, node2 ${states[1]}`);
        },
        { timeoutMs: 20_000, intervalMs: 100, what: 'node1 to see node0 and node2 dead' },
      );
      console.log(
        `[mesh] partition of node1: both sides see the split after ${secs(performance.now() - t0)}`,
      );
      // The two on the connected side keep each other.
      await mesh().waitForConvergence({ members: others, timeoutMs: 10_000 });
    } finally {
      mesh().heal(cut);
    }
    const t1 = performance.now();
    await mesh().waitForConvergence({ timeoutMs: 40_000, intervalMs: 100 });
    await mesh().waitFor(
      async () => {
        const views = await mesh().views(NODES);
        return NODES.every((i) => {
          const hosts = routeHosts(views.get(i)!);
          return NODES.filter((o) => o !== i).every((o) => hosts.includes(mesh().info(o).address));
        });
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the full route mesh after heal' },
    );
    console.log(
      `[mesh] heal of node1: all alive with full routes after ${secs(performance.now() - t1)}`,
    );
    expect(mesh().runningNodes()).toEqual(NODES);
  }, 90_000);
});
