/**
 * Who gets into the mesh on a tailnet (issue 2, point 8), on real daemons:
 *   node0, node1  members (alice's devices)
 *   node2         alice's device holding the mesh id with a wrong secret (a stale or forged mesh.json)
 *   node3         bob's device: refused while untagged, admitted once tagged tag:helix
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useMeshHarness } from '../harness/vitest.js';
import { daemonMesh, logEntries, meshAvailable, routeHosts, startMesh } from './helpers.js';
import { happensWithin } from '../support/wait.js';

const BOB = { id: 2002, loginName: 'bob@example.net', displayName: 'Bob' };
const MEMBERS = [0, 1];
const INTRUDER = 2;
const STRANGER = 3;

describe.skipIf(!meshAvailable)('mesh access on a tailnet', () => {
  const mesh = useMeshHarness(
    () =>
      daemonMesh({
        nodes: 4,
        subnet: '100.64.62',
        // nats-server's own lines (route authorization errors) are logged at debug
        logLevel: 'debug',
        node: (i) => (i === STRANGER ? { user: BOB } : {}),
      }),
    { tailLines: 40 },
  );

  it('never lists a node with the mesh id but a wrong secret, and gives it no route', async () => {
    await startMesh(mesh(), [0], { timeoutMs: 30_000 });
    const real = JSON.parse(
      readFileSync(path.join(mesh().info(0).stateDir, 'mesh.json'), 'utf8'),
    ) as { meshId: string; secret: string };
    const forged = {
      meshId: real.meshId,
      secret: randomBytes(32).toString('base64'),
      joinedAt: new Date().toISOString(),
      via: 'created',
    };
    writeFileSync(path.join(mesh().info(INTRUDER).stateDir, 'mesh.json'), JSON.stringify(forged), {
      mode: 0o600,
    });
    mesh().startNode(1);
    mesh().startNode(INTRUDER);
    await mesh().waitForConvergence({ members: MEMBERS, timeoutMs: 40_000, intervalMs: 200 });
    const intruderView = await mesh().waitForStatus(INTRUDER, { timeoutMs: 30_000 });
    expect((intruderView.self as { meshId?: string }).meshId).toBe(real.meshId);
    const intruderId = intruderView.self.id;
    const intruderAddress = mesh().info(INTRUDER).address;

    // The intruder never even dials the members: its member gate asks each to prove the secret
    // over Mesh.Ping first, which fails both ways (the members refuse its call proof, and they
    // cannot sign its challenge under its secret), so no route password is sent. Give it a few
    // gate cycles (retry every 3 s), watching for a member to list it, then sample every view
    // for a while.
    await happensWithin(
      4000,
      async () => {
        const views = await mesh().views(MEMBERS);
        return MEMBERS.some((i) => views.get(i)!.nodes.some((n) => n.id === intruderId));
      },
      500,
    );
    const deadline = Date.now() + 5000;
    let samples = 0;
    while (Date.now() < deadline) {
      const views = await mesh().views([...MEMBERS, INTRUDER]);
      for (const i of MEMBERS) {
        const v = views.get(i)!;
        expect(v.nodes.map((n) => n.id)).not.toContain(intruderId);
        expect(v.nodes.map((n) => n.name)).not.toContain('node2');
        expect(routeHosts(v)).not.toContain(intruderAddress);
      }
      const own = views.get(INTRUDER)!;
      expect(own.nodes.map((n) => n.name)).toEqual(['node2']);
      expect(routeHosts(own)).toEqual([]);
      samples++;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(samples).toBeGreaterThan(3);
    // Its adverts never reach the members at all (not even to be dropped as forged).
    for (const i of MEMBERS) {
      const drops = (await mesh().status(i)) as { drops?: Record<string, number> };
      expect(drops.drops?.forged ?? 0).toBe(0);
    }
    await mesh().stopNode(INTRUDER);
  }, 90_000);

  it("refuses a tailnet join from another owner's untagged device: exit 77 and a message naming the fix", async () => {
    mesh().startNode(STRANGER);
    const exit = await mesh().exited(STRANGER, { timeoutMs: 30_000 });
    expect(exit).toEqual({ code: 77, signal: null });
    const log = mesh().log(STRANGER);
    console.log(
      `[mesh] refused join, as the node prints it: ${log.split('\n').find((l) => l.startsWith('helix-node:'))}`,
    );
    expect(log).toMatch(
      /^helix-node: no member admitted this node: .*belongs to tailnet user 2002/m,
    );
    expect(log).toMatch(/tag:helix/);
    expect(log).toMatch(/helix-node invite/);
    expect(existsSync(path.join(mesh().info(STRANGER).stateDir, 'mesh.json'))).toBe(false);
    const refusedBy = MEMBERS.filter((i) =>
      logEntries(mesh(), i).some((e) => e.msg === 'join refused' && e.name === 'node3'),
    );
    expect(refusedBy.length).toBeGreaterThan(0);
    for (const i of MEMBERS)
      expect(mesh().stateIn(await mesh().status(i), STRANGER)).toBe('absent');
  }, 60_000);

  it('admits the same device once it carries an allowed tag', async () => {
    mesh().setTailnet(STRANGER, { tags: ['tag:helix'] });
    mesh().startNode(STRANGER);
    await mesh().waitForConvergence({
      members: [...MEMBERS, STRANGER],
      timeoutMs: 40_000,
      intervalMs: 200,
    });
    const admitted = MEMBERS.flatMap((i) =>
      logEntries(mesh(), i).filter(
        (e) => e.msg === 'admitted node to the mesh' && e.name === 'node3',
      ),
    );
    expect(admitted.map((e) => e.detail)).toEqual(['tag tag:helix']);
  }, 60_000);
});
