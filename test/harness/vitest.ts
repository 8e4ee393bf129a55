/**
 * Vitest wiring for MeshHarness: start in beforeAll, print every node's log when a test fails,
 * clean up in afterAll (the harness also cleans up on process exit and on SIGINT/SIGTERM).
 *
 *   const mesh = useMeshHarness(() => new MeshHarness({ nodes: 3 }));
 *   it('…', async () => { mesh().startNode(0); … });
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { MeshHarness } from './mesh.js';

export function useMeshHarness(
  make: () => MeshHarness,
  opts: { tailLines?: number } = {},
): () => MeshHarness {
  let harness: MeshHarness | null = null;
  beforeAll(async () => {
    harness = make();
    await harness.start();
  });
  afterEach((ctx) => {
    if (harness && ctx.task.result?.state === 'fail')
      harness.printLogs({ tailLines: opts.tailLines });
  });
  afterAll(async () => {
    await harness?.cleanup();
  });
  return () => {
    if (!harness)
      throw new Error('the mesh harness is not started (useMeshHarness registers beforeAll)');
    return harness;
  };
}
