/**
 * Least-loaded placement on real daemons: node-a (no Docker) asks; node-b and node-c, each with a
 * private dockerd and the test agent's image, differ only in how many agents they are running.
 * Busy work is real: sleep-again runs pinned with --on, cancelled afterwards with Ctrl-C.
 */
import { describe, expect, it } from 'vitest';
import { RUN_EXIT_CODES } from '../../node/cli/commands/agents.js';
import {
  LiveRun,
  agentMeshAvailable,
  buildOn,
  cliError,
  runAgent,
  runningAgentsOf,
  useAgentMesh,
  waitForView,
} from './helpers.js';

const A = 'node-a';
const B = 'node-b';
const C = 'node-c';
const AGENT = 'sleep-again';
/** Runs kept going on the busy node: placement must see it as clearly busier than one idle peer. */
const BALLAST = 2;

describe.skipIf(!agentMeshAvailable)('least-loaded placement on real daemons', () => {
  const agentMesh = useAgentMesh(
    {
      subnet: '100.64.81',
      nodes: [{ name: A }, { name: B, docker: true }, { name: C, docker: true }],
    },
    { setup: (m) => buildOn(m, [B, C], [AGENT], { viewer: m.index(A) }) },
  );
  const mesh = () => agentMesh().mesh;
  const ia = () => agentMesh().index(A);

  // Both ways round, so a tie broken by node id cannot pass for load-aware placement.
  for (const [busy, idle] of [
    [B, C],
    [C, B],
  ] as const) {
    it(`places a cold run on ${idle} while ${busy} is running agents`, async () => {
      const ballast = Array.from(
        { length: BALLAST },
        () =>
          new LiveRun(mesh(), ia(), AGENT, 'sleep', {
            args: { seconds: 100 },
            extra: ['--on', busy],
          }),
      );
      try {
        for (const run of ballast)
          await run.until((e) => e.type === 'progress' && e.message === 'sleeping', {
            what: `a ballast run sleeping on ${busy}`,
          });
        await waitForView(mesh(), ia(), (view) =>
          runningAgentsOf(view, busy) === BALLAST && runningAgentsOf(view, idle) === 0
            ? true
            : `${busy} runs ${runningAgentsOf(view, busy)}, ${idle} runs ${runningAgentsOf(view, idle)}`,
        );

        const run = await runAgent(mesh(), ia(), AGENT, 'sleep', { args: { seconds: 1 } });
        expect(run.final, run.stderr).toMatchObject({
          type: 'result',
          text: 'slept 1 s',
          hostName: idle,
        });
        expect(run.code).toBe(0);
        expect(run.events[0]).toMatchObject({ type: 'placed', node: idle, attempt: 1 });
        expect(run.events[0]?.type === 'placed' && run.events[0].reason).toMatch(
          /least-loaded Docker node \(0 running/,
        );
      } finally {
        for (const run of ballast) run.kill('SIGINT');
      }
      // Ctrl-C cancels each run; the busy node stops their containers and its load drops.
      for (const run of ballast) {
        const done = await run.done({ timeoutMs: 30_000 });
        expect(done.code, done.stderr).toBe(RUN_EXIT_CODES.cancelled);
        expect(cliError(done.stdout)?.message).toBe(`${AGENT}.sleep was cancelled`);
      }
      await waitForView(mesh(), ia(), (view) =>
        runningAgentsOf(view, busy) === 0
          ? true
          : `${busy} still runs ${runningAgentsOf(view, busy)}`,
      );
      const left = await agentMesh()
        .engine(busy)
        .docker.listContainers({ filters: { label: [`helix.agent=${AGENT}`] } });
      expect(left).toEqual([]);
    }, 90_000);
  }
});
