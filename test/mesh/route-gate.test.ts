/**
 * Point 8: a node without the mesh secret gets no NATS route. Routes are dialled only to peers
 * that proved membership for their own address over Mesh.Ping (node/join/member.ts).
 */
import { describe, expect, it } from 'vitest';
import { useMeshHarness } from '../harness/vitest.js';
import { daemonMesh, meshAvailable, startMesh } from './helpers.js';
import { happensWithin } from '../support/wait.js';

const BOB = { id: 2002, loginName: 'bob@example.net', displayName: 'Bob' };

/** Subscribe to heartbeats on the namespace's local server for a while; print the first. */
const LISTEN = `
import { connect } from '@nats-io/transport-node';
const nc = await connect({ servers: '127.0.0.1:4222', timeout: 3000 });
const sub = nc.subscribe('helix.v1.node.*.hb');
const timer = setTimeout(() => sub.unsubscribe(), Number(process.argv[1]));
for await (const m of sub) {
  console.log(m.subject + ' ' + new TextDecoder().decode(m.data).slice(0, 200));
  clearTimeout(timer);
  break;
}
await nc.close();
`;

/**
 * Point 8: "a node without the secret cannot route with the mesh's NATS servers". Members dial a
 * route to every tailnet peer with a lower address and present the route password, but never
 * check who answers: route auth is one-sided (the listener checks the dialler). A device that
 * runs a bare nats-server with an open cluster port gets routes and reads the bus.
 *   node0  bob's device (Mesh.Join would refuse it) running a bare nats-server, no helix
 *   node1, node2  members
 */
describe.runIf(meshAvailable)('NATS routes only to servers that prove the mesh secret', () => {
  const mesh = useMeshHarness(
    () =>
      daemonMesh({ nodes: 3, subnet: '100.64.64', node: (i) => (i === 0 ? { user: BOB } : {}) }),
    { tailLines: 30 },
  );

  it('gives a tailnet peer without the secret no route and no bus traffic', async () => {
    const stranger = mesh().info(0).address;
    mesh().exec(0, 'nats-server', [
      ...['-a', '127.0.0.1', '-p', '4222', '-m', '8222'],
      ...['--cluster', `nats://${stranger}:6222`],
    ]);
    await startMesh(mesh(), [1, 2], { timeoutMs: 30_000 });
    await mesh().waitForConvergence({ members: [1, 2], timeoutMs: 40_000, intervalMs: 200 });
    const strangerRoutes = async () =>
      JSON.parse(
        await mesh().netns.httpGet(0, 'http://127.0.0.1:8222/routez', { timeoutMs: 2000 }),
      ) as { num_routes: number; routes?: { ip: string }[] };
    // Give the members' route dialling a few rounds, watching for a route to the stranger.
    await happensWithin(4000, async () => (await strangerRoutes()).num_routes > 0, 500);

    const routez = await strangerRoutes();
    const heard = await mesh().run(
      0,
      process.execPath,
      ['--input-type=module', '-e', LISTEN, '5000'],
      { timeoutMs: 20_000 },
    );
    console.log(
      `[mesh] stranger's nats-server: ${routez.num_routes} routes from ${(routez.routes ?? []).map((r) => r.ip).join(', ') || 'nobody'}; heard: ${heard.stdout.trim() || '(nothing)'}`,
    );
    expect(routez.num_routes).toBe(0);
    expect(heard.stdout.trim()).toBe('');
  }, 90_000);
});
