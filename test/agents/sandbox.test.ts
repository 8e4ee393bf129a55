import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRunner, DockerRuntime, sandboxSpec } from '../../node/agents/index.js';
import { parseManifest, type LoadedAgent } from '../../node/agentspec/index.js';
import { ensureDockerEngine, removeContainers, removeImages } from '../support/docker.js';
import {
  buildAgents,
  collect,
  CONTAINER_PREFIX,
  IMAGE_PREFIX,
  liveContainers,
  outcome,
} from './helpers.js';
import { waitFor } from '../support/wait.js';

describe('sandbox policy', () => {
  const manifest = (network: string): ReturnType<typeof parseManifest> =>
    parseManifest(
      `name = "x"\ntier = "cold"\nmemory_mb = 48\ncpus = 0.5\npids = 20\nnetwork = "${network}"\n[[intents]]\nname = "go"\n`,
    );

  it.each([
    ['none', 'none'],
    ['egress', 'helix-egress'],
  ])('gives every container the same locks (network = %s -> %s)', (network, mode) => {
    const spec = sandboxSpec(manifest(network), {
      image: 'i',
      name: 'helix-x',
      egressNetwork: 'helix-egress',
    });
    expect(spec.User).toBe('65534:65534');
    expect(spec.HostConfig).toMatchObject({
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      Memory: 48 * 1024 * 1024,
      MemorySwap: 48 * 1024 * 1024,
      NanoCpus: 500_000_000,
      PidsLimit: 20,
      NetworkMode: mode,
      AutoRemove: true,
    });
  });
});

describe('sandbox, proven by an agent that tries to break it', () => {
  let docker: Docker;
  let breaker: LoadedAgent;
  let runner: AgentRunner;
  const prefix = `${CONTAINER_PREFIX}sbx-`;

  const run = async (intent: string, args: Record<string, unknown> = {}, r = runner) => {
    const events = await collect(r.run({ agent: 'sandbox-breaker', intent, args }));
    const name = (events[0] as { container?: string }).container;
    // Whatever happened inside, the container is gone afterwards.
    if (name)
      await waitFor(async () => !(await liveContainers(docker, prefix)).includes(name), {
        timeoutMs: 15_000,
        what: `${name} removed`,
      });
    return outcome(events) as {
      type: string;
      code?: string;
      message?: string;
      text?: string;
      data?: unknown;
    };
  };

  beforeAll(async () => {
    docker = await ensureDockerEngine();
    await removeContainers(docker, prefix);
    breaker = (await buildAgents(docker, ['sandbox-breaker']))[0]!;
    runner = new AgentRunner({
      runtime: new DockerRuntime({ docker }),
      agents: [breaker!],
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: prefix,
      host: 'sandbox-test',
    });
    await runner.start();
  });

  afterAll(async () => {
    await runner?.stop();
    await removeContainers(docker, prefix);
    await removeImages(docker, IMAGE_PREFIX);
  });

  it('runs as nobody with no capabilities and no way to gain privileges', async () => {
    const end = await run('identity');
    expect(end.type).toBe('result');
    expect(end.data).toMatchObject({
      uid: 65534,
      gid: 65534,
      cap_eff: '0000000000000000',
      cap_bnd: '0000000000000000',
      no_new_privs: '1',
    });
  });

  it('cannot write to its root filesystem', async () => {
    const end = await run('write_root');
    expect(end).toMatchObject({ type: 'error', code: 'agent_error' });
    expect(end.message).toMatch(/writing to \/ failed: .*read-only file system/);
  });

  it('cannot open a socket to the outside with network = "none"', async () => {
    const end = await run('open_socket', { address: '1.1.1.1:53' });
    expect(end).toMatchObject({ type: 'error', code: 'agent_error' });
    expect(end.message).toMatch(/opening a socket failed: .*network is unreachable/);
  });

  it('contains a fork bomb with the pids limit', async () => {
    const end = await run('fork_bomb');
    expect(end.type).toBe('error');
    // Either the agent saw fork fail, or the Go runtime died unable to make a thread: both contained.
    if (end.code === 'agent_error') {
      expect(end.message).toMatch(
        /starting process \d+ failed: .*resource temporarily unavailable/,
      );
      const started = Number(/starting process (\d+)/.exec(end.message ?? '')?.[1]);
      expect(started).toBeLessThanOrEqual(16);
    } else {
      expect(end.code).toBe('crashed');
    }
  });

  it('kills an agent that sleeps past its timeout', async () => {
    const end = await run('sleep');
    expect(end).toMatchObject({ type: 'error', code: 'timeout' });
    expect(end.message).toMatch(
      /did not finish within its 3 s timeout \(timeout_s in agent\.toml\) and was killed/,
    );
  });

  it('OOM-kills an agent that allocates past its memory limit, and says so', async () => {
    const end = await run('allocate', { mb: 64 });
    expect(end, JSON.stringify(end)).toMatchObject({ type: 'error', code: 'oom' });
    expect(end.message).toMatch(
      /ran out of memory: it used more than its 16 MB \(memory_mb in agent\.toml\)/,
    );
    // The same agent within its limit is fine: the limit, not the agent, stopped it.
    const small = await run('allocate', { mb: 2 });
    expect(small).toMatchObject({ type: 'result', text: 'allocated 2 MB' });
  });
});
