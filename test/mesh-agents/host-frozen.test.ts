/**
 * A host frozen mid-run (SIGSTOP of its daemon and nats-server; its container keeps running under
 * dockerd, so the agent wakes and asks for its side effect while the host is stopped). The
 * idempotent run moves once node-b is suspect, before it would be dead, and runs on node-c. When
 * node-b resumes, it finds the agent's `notify` call waiting and refuses it (it stood still, and
 * its caller may have moved the run), and the caller's cancel stops the container. The note, the
 * side effect, reaches node-a exactly once.
 */
import { describe, expect, it } from 'vitest';
import {
  LiveRun,
  agentMeshAvailable,
  buildOn,
  runningAgentsOf,
  useAgentMesh,
  waitForView,
} from './helpers.js';
import { logEntries, secs } from '../mesh/helpers.js';

const A = 'node-a';
const B = 'node-b';
const C = 'node-c';
/** the agent sleeps this long before its side effect: node-b is frozen meanwhile */
const SLEEP_S = 6;
const BALLAST = 2;

describe.skipIf(!agentMeshAvailable)('a host frozen mid-run on real daemons', () => {
  const agentMesh = useAgentMesh(
    {
      subnet: '100.64.107',
      nodes: [{ name: A }, { name: B, docker: true }, { name: C, docker: true }],
    },
    {
      setup: (m) => buildOn(m, [B, C], ['sleep-again', 'note-once'], { viewer: m.index(A) }),
    },
  );
  const mesh = () => agentMesh().mesh;
  const ia = () => agentMesh().index(A);
  const ib = () => agentMesh().index(B);

  it('moves the idempotent run when node-b is suspect and its side effect happens once', async () => {
    // node-c busy, node-b idle: the run under test goes to node-b.
    const ballast = Array.from(
      { length: BALLAST },
      () =>
        new LiveRun(mesh(), ia(), 'sleep-again', 'sleep', {
          args: { seconds: 100 },
          extra: ['--on', C],
        }),
    );
    const text = `note ${Date.now().toString(36)}`;
    const notesOnA = () =>
      logEntries(mesh(), ia()).filter((e) => e.msg === `notify: ${text}`).length;
    let resumed = false;
    try {
      for (const run of ballast)
        await run.until((e) => e.type === 'progress' && e.message === 'sleeping', {
          what: 'a ballast run sleeping on node-c',
        });
      await waitForView(mesh(), ia(), (view) =>
        runningAgentsOf(view, C) === BALLAST ? true : `${C} runs ${runningAgentsOf(view, C)}`,
      );

      const run = new LiveRun(mesh(), ia(), 'note-once', 'note', {
        args: { seconds: SLEEP_S, text },
      });
      expect(await run.until((e) => e.type === 'placed', { what: 'the placement' })).toMatchObject({
        node: B,
        attempt: 1,
      });
      await run.until((e) => e.type === 'progress' && e.message === 'sleeping', {
        what: 'the agent sleeping on node-b',
      });

      const frozenAt = performance.now();
      mesh().pause(ib());
      const lost = await run.until((e) => e.type === 'host_lost', { what: 'node-b to be lost' });
      console.log(
        `[mesh] node-b frozen: the run left it after ${secs(performance.now() - frozenAt)} (dead would be 10 s)`,
      );
      // moved on suspect: before the dead timeout, as the reason says
      expect(lost).toMatchObject({
        node: B,
        retrying: true,
        reason: 'the mesh reports node-b suspect',
      });

      const done = await run.done({ timeoutMs: 60_000 });
      expect(done.final).toMatchObject({ type: 'result', hostName: C });
      expect(done.code).toBe(0);
      console.log(
        `[mesh] the moved run finished on node-c ${secs(performance.now() - frozenAt)} after the freeze`,
      );
      // node-b's agent has woken meanwhile and asked for its note; node-b is still frozen
      await new Promise((r) => setTimeout(r, 1000));
      mesh().resume(ib());
      resumed = true;

      await waitForView(mesh(), ia(), (view) =>
        runningAgentsOf(view, B) === 0 ? true : `${B} still runs ${runningAgentsOf(view, B)}`,
      );
      // the abandoned container is stopped; one note, from node-c, none from node-b's copy
      await new Promise((r) => setTimeout(r, 2000));
      expect(notesOnA()).toBe(1);
      // because node-b refused the waiting call
      await mesh().waitFor(
        () =>
          logEntries(mesh(), ib()).some(
            (e) => typeof e.msg === 'string' && e.msg.startsWith('host call refused'),
          ),
        { timeoutMs: 20_000, intervalMs: 200, what: 'node-b to refuse the abandoned run’s call' },
      );
    } finally {
      if (!resumed) mesh().resume(ib());
      for (const r of ballast) r.kill('SIGINT');
    }
    for (const r of ballast) await r.done({ timeoutMs: 30_000 });
  }, 180_000);
});
