import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRunner, DockerRuntime, buildImage, loadAgents } from '../../node/agents/index.js';
import { ensureDockerEngine, startDockerd, type PrivateDockerd } from '../support/docker.js';
import { collect, IMAGE_PREFIX, outcome, SHIPPED_DIR } from './helpers.js';

describe('a private Docker engine beside the shared one', () => {
  let engine: PrivateDockerd;
  beforeAll(async () => {
    await ensureDockerEngine();
    engine = await startDockerd(await mkdtemp(path.join(os.tmpdir(), 'helix-test-dkd-')));
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('keeps its own images, and runs agents with the full sandbox', async () => {
    const shared = await ensureDockerEngine();
    const [echo] = (await loadAgents([SHIPPED_DIR])).filter((a) => a.manifest.name === 'echo');
    const image = await buildImage(echo!, {
      runtime: new DockerRuntime({ docker: engine.docker }),
      imagePrefix: `${IMAGE_PREFIX}private-`,
    });
    expect(
      await new DockerRuntime({ docker: engine.docker }).inspectImage(image.tag),
    ).not.toBeNull();
    expect(await new DockerRuntime({ docker: shared }).inspectImage(image.tag)).toBeNull();

    const runner = new AgentRunner({
      runtime: new DockerRuntime({ docker: engine.docker }),
      agents: [echo!],
      imagePrefix: `${IMAGE_PREFIX}private-`,
      containerPrefix: 'helix-test-private-',
      warmPoolSize: 0,
    });
    const events = await collect(
      runner.run({ agent: 'echo', intent: 'echo', args: { text: 'private' } }),
    );
    await runner.stop();
    expect(outcome(events)).toMatchObject({ type: 'result', text: 'private' });
  });
});
