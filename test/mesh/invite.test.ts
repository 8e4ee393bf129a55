/**
 * Joining on a plain LAN (no tailnet: mDNS and an invite code), on real daemons:
 *   node0  creates the mesh and issues a code with `helix-node invite`
 *   node1  joins with `helix-node join --invite CODE`
 *   node2  tries the same code again and is refused
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useMeshHarness } from '../harness/vitest.js';
import {
  WILDCARD_HOSTS,
  daemonMesh,
  meshAvailable,
  parseSs,
  routeHosts,
  secs,
  startMesh,
} from './helpers.js';

describe.skipIf(!meshAvailable)('joining on a plain LAN with an invite code', () => {
  const mesh = useMeshHarness(() => daemonMesh({ nodes: 3, subnet: '100.64.63', tailnet: false }), {
    tailLines: 40,
  });
  let code = '';

  it('admits a node that joins with a code from `helix-node invite`, and it comes up alive', async () => {
    await startMesh(mesh(), [0], { timeoutMs: 30_000 });
    const invite = await mesh().cli(0, ['invite'], { timeoutMs: 30_000 });
    expect(invite.code, invite.stderr).toBe(0);
    code = invite.stdout.trim();
    expect(code).not.toBe('');
    expect(invite.stderr).toMatch(/valid once, until .*helix-node join --invite/);

    const t0 = performance.now();
    mesh().startNode(1, ['--invite', code]);
    const views = await mesh().waitForConvergence({
      members: [0, 1],
      timeoutMs: 40_000,
      intervalMs: 200,
    });
    console.log(
      `[mesh] invite join: node1 alive in both views ${secs(performance.now() - t0)} after its start`,
    );
    expect(views.get(1)!.self).toMatchObject({
      meshId: (views.get(0)!.self as { meshId?: string }).meshId,
    });
    expect(mesh().log(1)).toMatch(/"msg":"joined mesh"/);
    // No tailnet on either node: membership and routes come from the invite and the LAN alone.
    expect((views.get(1) as { tailnet?: { kind?: string } }).tailnet?.kind).not.toBe('running');
    await mesh().waitFor(
      async () => routeHosts(await mesh().status(1)).includes(mesh().info(0).address),
      { timeoutMs: 15_000, intervalMs: 200, what: 'node1 to route to node0' },
    );
  }, 80_000);

  it('refuses a second join with the same code, saying it was used', async () => {
    mesh().startNode(2, ['--invite', code]);
    const exit = await mesh().exited(2, { timeoutMs: 30_000 });
    const said =
      mesh()
        .log(2)
        .split('\n')
        .find((l) => l.startsWith('helix-node:')) ?? '';
    console.log(`[mesh] reused invite, as the node prints it: ${said}`);
    expect(exit).toEqual({ code: 77, signal: null });
    expect(said).toMatch(/already used .* by node .*helix-node invite/);
    expect(existsSync(path.join(mesh().info(2).stateDir, 'mesh.json'))).toBe(false);
    for (const i of [0, 1]) expect(mesh().stateIn(await mesh().status(i), 2)).toBe('absent');
  }, 40_000);

  it('binds no TCP listener to 0.0.0.0 or [::] with LAN discovery (mDNS, libp2p) on', async () => {
    for (const i of [0, 1]) {
      const tcp = await mesh().run(i, 'ss', ['-ltnpH'], { timeoutMs: 10_000 });
      expect(tcp.code, tcp.stderr).toBe(0);
      const listeners = parseSs(tcp.stdout);
      expect(listeners.length).toBeGreaterThanOrEqual(4);
      const wild = listeners.filter((l) => WILDCARD_HOSTS.has(l.host));
      expect(wild, `node${i} listens on every interface:\n${tcp.stdout}`).toEqual([]);
      const udp = await mesh().run(i, 'ss', ['-lunpH'], { timeoutMs: 10_000 });
      console.log(
        `[mesh] node${i} UDP sockets: ${parseSs(udp.stdout)
          .map((l) => `${l.local} (${l.processes.join(',')})`)
          .join('; ')}`,
      );
    }
  }, 40_000);
});
