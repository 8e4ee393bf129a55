/**
 * Fresh nodes on one tailnet started at the same moment end in one mesh (issue 2 points 8-9):
 * the node with the lowest address creates it, the others join it through the bootstrap phase
 * (node/join/bootstrap.ts). Before the bootstrap phase, each created its own mesh and they stayed
 * split forever. The daemon bootstraps through node/join/bootstrap.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useMeshHarness } from '../harness/vitest.js';
import { daemonMesh, meshAvailable, secs } from './helpers.js';

const NODES = [0, 1, 2];

function meshFile(stateDir: string): { meshId: string; via: string } {
  return JSON.parse(readFileSync(path.join(stateDir, 'mesh.json'), 'utf8')) as {
    meshId: string;
    via: string;
  };
}

describe.skipIf(!meshAvailable)('fresh nodes started together on one tailnet', () => {
  const mesh = useMeshHarness(() => daemonMesh({ nodes: 3, subnet: '100.64.92' }), {
    tailLines: 60,
  });

  it('end in one mesh: the lowest address creates it, the others join, every view has all three', async () => {
    // Highest address first, so the creator is not simply the first process to run.
    for (const i of [...NODES].reverse()) mesh().startNode(i);
    const started = performance.now();
    const views = await mesh().waitForConvergence({ timeoutMs: 60_000, intervalMs: 200 });
    console.log(
      `[mesh] 3 fresh nodes converged ${secs(performance.now() - started)} after starting together`,
    );

    const files = NODES.map((i) => meshFile(mesh().info(i).stateDir));
    expect(new Set(files.map((f) => f.meshId)).size).toBe(1);
    expect(files.map((f) => f.via === 'created')).toEqual([true, false, false]);
    const ids = NODES.map((i) => views.get(i)!.self.id);
    for (const i of NODES) {
      expect(
        views
          .get(i)!
          .nodes.map((n) => n.id)
          .sort(),
      ).toEqual([...ids].sort());
      expect(views.get(i)!.nodes.every((n) => n.state === 'alive')).toBe(true);
    }
  }, 90_000);
});
