/**
 * A warm container whose task hit a limit is retired, on a real Docker engine: the sandbox
 * breaker (run warm) fills its pids limit with children it leaves running, or opens files until
 * refused and keeps them, and answers as if all were well; the container's cgroup (pids.events,
 * its processes' open files) gives it away and the next run gets a fresh container.
 * Its own image and container names (helix-test-warmlim-), so it touches nothing of other tests.
 */
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRunner, DockerRuntime } from '../../node/agents/index.js';
import type { LoadedAgent } from '../../node/agentspec/index.js';
import { ensureDockerEngine, removeContainers, removeImages } from '../support/docker.js';
import { waitFor } from '../support/wait.js';
import { buildAgents, collect, liveContainers, outcome } from './helpers.js';

const PREFIX = 'helix-test-warmlim-';

describe('warm containers on a real engine', () => {
  let docker: Docker;
  let breaker: LoadedAgent;

  beforeAll(async () => {
    docker = await ensureDockerEngine();
    await removeContainers(docker, PREFIX);
    breaker = (await buildAgents(docker, ['sandbox-breaker'], PREFIX))[0]!;
  });

  afterAll(async () => {
    await removeContainers(docker, PREFIX);
    await removeImages(docker, PREFIX);
  });

  it.each([
    ['fork_hold', /^holding \d+ processes$/],
    ['fd_hold', /^holding \d+ files$/],
  ])(
    'retires one after %s, its damage hidden behind a result: the next run gets a fresh container',
    async (intent, text) => {
      const warm = new AgentRunner({
        runtime: new DockerRuntime({ docker }),
        agents: [{ ...breaker, manifest: { ...breaker.manifest, tier: 'warm' } }],
        imagePrefix: PREFIX,
        containerPrefix: PREFIX,
        host: 'warm-limits-test',
        warmPoolSize: 1,
      });
      try {
        await warm.start();
        const bomb = await collect(warm.run({ agent: 'sandbox-breaker', intent, args: {} }));
        const after = await collect(
          warm.run({ agent: 'sandbox-breaker', intent: 'identity', args: {} }),
        );
        // The agent hides the damage behind a result; the container's cgroup gives it away.
        expect(outcome(bomb)).toMatchObject({ type: 'result', text: expect.stringMatching(text) });
        expect(outcome(after)).toMatchObject({ type: 'result' });
        expect(bomb[0]).toMatchObject({ type: 'accepted', warm: true });
        expect(after[0]).toMatchObject({ type: 'accepted', warm: true });
        const bombed = (bomb[0] as { container: string }).container;
        expect((after[0] as { container: string }).container).not.toBe(bombed);
        await waitFor(async () => !(await liveContainers(docker, PREFIX)).includes(bombed), {
          timeoutMs: 15_000,
          what: `${bombed} removed`,
        });
      } finally {
        await warm.stop();
      }
    },
    60_000,
  );
});
