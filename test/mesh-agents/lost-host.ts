/**
 * A host lost mid-run, on real daemons (DESIGN.md §4): node-a (no Docker) starts two long runs
 * that placement puts on node-b (node-c is kept busy), then node-b is lost. The idempotent agent
 * is placed again once, on node-c, and succeeds; the other one ends with an error naming node-b.
 * Neither is dropped silently. Each test file picks how node-b is lost.
 */
import { describe, expect, it } from 'vitest';
import type { RemoteRunEvent } from '../../node/agenthost/index.js';
import { RUN_EXIT_CODES } from '../../node/cli/commands/agents.js';
import {
  LiveRun,
  agentMeshAvailable,
  buildOn,
  runningAgentsOf,
  useAgentMesh,
  waitForView,
  type AgentMesh,
} from './helpers.js';

export const A = 'node-a';
export const B = 'node-b';
export const C = 'node-c';
/** Long enough that node-b is lost mid-sleep, short enough to run once more on node-c. */
const SLEEP_S = 10;
/** Runs kept going on node-c so that placement prefers node-b for the runs under test. */
const BALLAST = 2;

/** "placed:node-b", "accepted:node-b", "host_lost:node-b", "result:node-c", … */
function trail(events: RemoteRunEvent[]): string[] {
  return events.flatMap((e) => {
    switch (e.type) {
      case 'progress':
        return [];
      case 'placed':
      case 'host_lost':
        return [`${e.type}:${e.node}`];
      case 'accepted':
        return [`accepted:${e.hostName}`];
      case 'result':
        return [`result:${e.hostName}`];
      case 'error':
        return [`error:${e.code}:${e.node ?? '-'}`];
    }
  });
}

export interface HostLostCase {
  /** how node-b is lost, for the test's name */
  how: string;
  subnet: string;
  /** loses node-b (the runs under test are sleeping there) */
  lose: (m: AgentMesh) => void;
  /** what node-a says about the loss (the host_lost event's reason) */
  reason: RegExp;
  testTimeoutMs?: number;
}

export function describeHostLost({
  how,
  subnet,
  lose,
  reason,
  testTimeoutMs = 110_000,
}: HostLostCase): void {
  describe.skipIf(!agentMeshAvailable)(`a host lost mid-run on real daemons (${how})`, () => {
    const agentMesh = useAgentMesh(
      { subnet, nodes: [{ name: A }, { name: B, docker: true }, { name: C, docker: true }] },
      {
        setup: (m) => buildOn(m, [B, C], ['sleep-again', 'sleep-once'], { viewer: m.index(A) }),
      },
    );
    const mesh = () => agentMesh().mesh;
    const ia = () => agentMesh().index(A);

    it(
      `places the idempotent run again on node-c and ends the other with an error naming node-b (${how})`,
      async () => {
        // node-c busy, node-b idle: both runs under test go to node-b.
        const ballast = Array.from(
          { length: BALLAST },
          () =>
            new LiveRun(mesh(), ia(), 'sleep-again', 'sleep', {
              args: { seconds: 100 },
              extra: ['--on', C],
            }),
        );
        try {
          for (const run of ballast)
            await run.until((e) => e.type === 'progress' && e.message === 'sleeping', {
              what: 'a ballast run sleeping on node-c',
            });
          await waitForView(mesh(), ia(), (view) =>
            runningAgentsOf(view, C) === BALLAST
              ? true
              : `${C} runs ${runningAgentsOf(view, C)} agents`,
          );

          const again = new LiveRun(mesh(), ia(), 'sleep-again', 'sleep', {
            args: { seconds: SLEEP_S },
          });
          const once = new LiveRun(mesh(), ia(), 'sleep-once', 'sleep', {
            args: { seconds: SLEEP_S },
          });
          for (const run of [again, once]) {
            const placed = await run.until((e) => e.type === 'placed', { what: 'the placement' });
            expect(placed).toMatchObject({ node: B, attempt: 1 });
            await run.until((e) => e.type === 'progress' && e.message === 'sleeping', {
              what: 'the agent sleeping on node-b',
            });
          }

          lose(agentMesh());

          const idem = await again.done({ timeoutMs: 60_000 });
          expect(trail(idem.events), idem.stderr).toEqual([
            `placed:${B}`,
            `accepted:${B}`,
            `host_lost:${B}`,
            `placed:${C}`,
            `accepted:${C}`,
            `result:${C}`,
          ]);
          const gone = idem.events.find((e) => e.type === 'host_lost');
          expect(gone).toMatchObject({ retrying: true });
          expect(gone?.type === 'host_lost' && gone.reason).toMatch(reason);
          expect(idem.final).toMatchObject({ text: `slept ${SLEEP_S} s` });
          expect(idem.code).toBe(0);

          const lost = await once.done({ timeoutMs: 60_000 });
          expect(trail(lost.events), lost.stderr).toEqual([
            `placed:${B}`,
            `accepted:${B}`,
            `host_lost:${B}`,
            `error:host_lost:${B}`,
          ]);
          expect(lost.events.find((e) => e.type === 'host_lost')).toMatchObject({
            retrying: false,
          });
          const message = lost.final?.type === 'error' ? lost.final.message : '';
          expect(message).toMatch(/^lost node-b while it ran sleep-once\.sleep \(/);
          expect(message).toContain('sleep-once is not idempotent, so it was not run again');
          expect(lost.code).toBe(RUN_EXIT_CODES.host_lost);
        } finally {
          for (const run of ballast) run.kill('SIGINT');
        }
        for (const run of ballast) await run.done({ timeoutMs: 30_000 });
      },
      testTimeoutMs,
    );
  });
}
