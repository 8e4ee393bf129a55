/**
 * Three real daemons on one tailnet with the default membership timings (suspect 3 s, dead 10 s):
 * convergence, listeners, a power cut, a restart with the same state dir, a clean leave.
 * The tests run in order on one mesh; each leaves it in the state the next one starts from.
 */
import { describe, expect, it } from 'vitest';
import { useMeshHarness } from '../harness/vitest.js';
import {
  DEAD_MARGIN_MS,
  DEFAULT_DEAD_AFTER_MS,
  WILDCARD_HOSTS,
  daemonMesh,
  logMark,
  meshAvailable,
  parseSs,
  routeHosts,
  secs,
  startMesh,
  transitionsAbout,
  upAt,
} from './helpers.js';
import { happensWithin } from '../support/wait.js';

const NODES = [0, 1, 2];

describe.skipIf(!meshAvailable)('a three-node mesh on one tailnet (default timings)', () => {
  const mesh = useMeshHarness(() => daemonMesh({ nodes: 3, subnet: '100.64.60' }), {
    tailLines: 60,
  });

  it('converges: every node sees every other alive, with a route to each', async () => {
    await startMesh(mesh(), NODES, { timeoutMs: 30_000 });
    const lastStart = Date.now();
    const views = await mesh().waitForConvergence({ timeoutMs: 30_000, intervalMs: 100 });
    const converged = Date.now();
    const lastUp = Math.max(...NODES.map((i) => upAt(mesh(), i) ?? NaN));
    console.log(
      `[mesh] 3 nodes converged ${secs(converged - lastStart)} after the last start: daemon start-up ${secs(lastUp - lastStart)} to the last "node is up", then ${secs(converged - lastUp)} to every view alive`,
    );

    const ids = NODES.map((i) => views.get(i)!.self.id);
    expect(new Set(ids).size).toBe(3);
    for (const i of NODES) {
      const view = views.get(i)!;
      expect(view.self.name).toBe(mesh().info(i).name);
      expect(view.nodes.map((n) => n.id).sort()).toEqual([...ids].sort());
      expect((view as { self: { meshId?: string } }).self.meshId).toBe(
        (views.get(0) as { self: { meshId?: string } }).self.meshId,
      );
    }
    // NATS gossip completes the route mesh: each server routes to both others.
    await mesh().waitFor(
      async () => {
        const now = await mesh().views(NODES);
        return NODES.every((i) => {
          const hosts = routeHosts(now.get(i)!);
          return NODES.filter((o) => o !== i).every((o) => hosts.includes(mesh().info(o).address));
        });
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'every node to route to both others' },
    );
    // The CLI prints the same view.
    const cli = await mesh().cli(1, ['status', '--json'], { timeoutMs: 30_000 });
    expect(cli.code, cli.stderr).toBe(0);
    const printed = JSON.parse(cli.stdout) as { nodes: { name: string; state: string }[] };
    expect(printed.nodes.map((n) => `${n.name}:${n.state}`).sort()).toEqual([
      'node0:alive',
      'node1:alive',
      'node2:alive',
    ]);
  }, 80_000);

  it('binds no TCP listener to 0.0.0.0 or [::] (daemon and nats-server), only loopback and the mesh address', async () => {
    for (const i of NODES) {
      const res = await mesh().run(i, 'ss', ['-ltnpH'], { timeoutMs: 10_000 });
      expect(res.code, res.stderr).toBe(0);
      const listeners = parseSs(res.stdout);
      const { address } = mesh().info(i);
      const where = (port: number) => listeners.filter((l) => l.port === port).map((l) => l.host);
      // What the daemon opens: NATS clients and monitoring on loopback, routes and gRPC on the mesh address.
      expect(where(4222), res.stdout).toEqual(['127.0.0.1']);
      expect(where(8222), res.stdout).toEqual(['127.0.0.1']);
      expect(where(6222), res.stdout).toEqual([address]);
      // gRPC also answers on loopback (local CLI tools); DESIGN.md §3 allows mesh address and loopback.
      expect(where(7700), res.stdout).toContain(address);
      const wild = listeners.filter((l) => WILDCARD_HOSTS.has(l.host));
      expect(wild, `node${i} listens on every interface:\n${res.stdout}`).toEqual([]);
      for (const l of listeners) expect(['127.0.0.1', '::1', address]).toContain(l.host);
      // On a tailnet mDNS is off, so there is no UDP socket on every interface either.
      const udp = await mesh().run(i, 'ss', ['-lunpH'], { timeoutMs: 10_000 });
      expect(udp.code, udp.stderr).toBe(0);
      expect(parseSs(udp.stdout).filter((l) => WILDCARD_HOSTS.has(l.host))).toEqual([]);
    }
  }, 40_000);

  it('sees a node killed with kill -9 (daemon and nats-server) dead within dead_after, and drops its routes', async () => {
    const victim = 2;
    const observers = [0, 1];
    const victimAddress = mesh().info(victim).address;
    const t0 = performance.now();
    mesh().kill(victim, 'SIGKILL', 'namespace');
    let suspectMs: number | null = null;
    let routesGoneMs: number | null = null;
    const budget = DEFAULT_DEAD_AFTER_MS + DEAD_MARGIN_MS;
    await mesh().waitFor(
      async () => {
        const views = await mesh().views(observers);
        const all = observers.map((i) => views.get(i));
        if (all.some((v) => !v)) return false;
        const states = all.map((v) => mesh().stateIn(v!, victim));
        if (suspectMs === null && states.every((s) => s !== 'alive'))
          suspectMs = performance.now() - t0;
        if (routesGoneMs === null && all.every((v) => !routeHosts(v!).includes(victimAddress)))
          routesGoneMs = performance.now() - t0;
        return states.every((s) => s === 'dead') && routesGoneMs !== null;
      },
      {
        timeoutMs: budget,
        intervalMs: 100,
        what: `node0 and node1 to see node2 dead with no route to ${victimAddress} (dead_after ${DEFAULT_DEAD_AFTER_MS} ms + ${DEAD_MARGIN_MS} ms)`,
      },
    );
    const deadMs = performance.now() - t0;
    console.log(
      `[mesh] kill -9 of node2: suspect ${suspectMs === null ? '-' : secs(suspectMs)}, dead ${secs(deadMs)}, routes gone ${routesGoneMs === null ? '-' : secs(routesGoneMs)} (dead_after ${secs(DEFAULT_DEAD_AFTER_MS)})`,
    );
    expect(await mesh().exited(victim, { timeoutMs: 5000 })).not.toBe('timeout');
    // The survivors still see each other alive.
    await mesh().waitForConvergence({ members: observers, timeoutMs: 10_000 });
  }, 60_000);

  it('brings a restarted node back alive with the same id from the same state dir', async () => {
    const before = (await mesh().status(0)).nodes.find((n) => n.name === 'node2');
    expect(before?.state).toBe('dead');
    const t0 = performance.now();
    mesh().startNode(2);
    const views = await mesh().waitForConvergence({ timeoutMs: 40_000, intervalMs: 100 });
    console.log(
      `[mesh] restarted node2 alive in every view ${secs(performance.now() - t0)} after its start`,
    );
    expect(views.get(2)!.self.id).toBe(before!.id);
    for (const i of [0, 1]) {
      const seen = views.get(i)!.nodes.filter((n) => n.name === 'node2');
      expect(seen.map((n) => n.id)).toEqual([before!.id]);
    }
    // It rejoined the same mesh rather than creating a new one.
    expect(mesh().log(2)).not.toMatch(/created a new mesh/);
  }, 60_000);

  it('shows a node that leaves with SIGTERM as left at once, never suspect, and it exits 0', async () => {
    const leaver = 1;
    const observers = [0, 2];
    const marks = observers.map((i) => logMark(mesh(), i));
    const t0 = performance.now();
    mesh().kill(leaver, 'SIGTERM');
    const exited = mesh().exited(leaver, { timeoutMs: 15_000 });
    await mesh().waitForState(observers, leaver, 'left', { timeoutMs: 10_000, intervalMs: 100 });
    console.log(
      `[mesh] SIGTERM of node1: left in both views after ${secs(performance.now() - t0)}`,
    );
    expect(await exited).toEqual({ code: 0, signal: null });
    observers.forEach((i, k) => {
      expect(transitionsAbout(mesh(), i, 'node1', marks[k])).toEqual(['alive->left']);
    });
    // And it stays left (silence does not turn a leaver into suspect or dead): watch for 4 s.
    const leftState = async (i: number) => mesh().stateIn(await mesh().status(i), leaver);
    await happensWithin(
      4000,
      async () => (await Promise.all(observers.map(leftState))).some((s) => s !== 'left'),
      500,
    );
    for (const i of observers) expect(mesh().stateIn(await mesh().status(i), leaver)).toBe('left');
    expect(mesh().netns.pids(leaver)).toEqual([]);
  }, 40_000);
});
