/**
 * KNOWN BUGS found by the mesh tests, each asserting the behaviour issue 2 asks for, so each fails
 * until its fix lands. They run only with HXT_KNOWN_BUGS=1:
 *
 *   HXT_KNOWN_BUGS=1 npx vitest run test/mesh/known-bugs.test.ts
 *
 * Move a test into the regular files (and drop the gate) with its fix.
 */
import { describe, it } from 'vitest';
import { useMeshHarness } from '../harness/vitest.js';
import { daemonMesh, meshAvailable } from './helpers.js';

const runKnownBugs = meshAvailable && process.env.HXT_KNOWN_BUGS === '1';

/**
 * "3 nodes converge": three fresh devices on one tailnet started at the same moment (a setup
 * script, a power cut before the first join finished) each find no member, each create a mesh of
 * their own, and stay split forever.
 */
describe.runIf(runKnownBugs)('three fresh nodes started at once', () => {
  const mesh = useMeshHarness(() => daemonMesh({ nodes: 3, subnet: '100.64.65' }), {
    tailLines: 20,
  });

  it('end up in one mesh', async () => {
    for (const i of [0, 1, 2]) mesh().startNode(i);
    for (const i of [0, 1, 2]) await mesh().waitForStatus(i, { timeoutMs: 30_000 });
    const meshIds = await Promise.all(
      [0, 1, 2].map(async (i) => (await mesh().status(i)).self as { meshId?: string }),
    );
    console.log(
      `[mesh] simultaneous first start: mesh ids ${meshIds.map((s) => s.meshId).join(', ')}`,
    );
    await mesh().waitForConvergence({ timeoutMs: 40_000, intervalMs: 200 });
  }, 90_000);
});
