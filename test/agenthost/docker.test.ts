/**
 * AgentHost over real gRPC in front of node/agents' AgentRunner on a real Docker engine: a warm
 * echo round trip placed by runAnywhere, and a cancel that removes the running container.
 */
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentRunner,
  DockerRuntime,
  buildImage,
  loadAgent,
  loadAgents,
} from '../../node/agents/index.js';
import type { LoadedAgent } from '../../node/agentspec/index.js';
import {
  agentHostService,
  runAnywhere,
  runnerExecutor,
  type RemoteRunEvent,
} from '../../node/agenthost/index.js';
import { AgentHostService, RpcClients, RpcServer } from '../../node/rpc/index.js';
import { ensureDockerEngine, removeContainers, removeImages } from '../support/docker.js';
import { collect, hostPeer, meshSecret } from './helpers.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const IMAGE_PREFIX = 'helix-test-ahimg-';
const CONTAINER_PREFIX = 'helix-test-ah-';
const ADDRESS = '127.0.5.30';

describe('AgentHost with the agent runner on a real Docker engine', () => {
  let docker: Docker;
  let runner: AgentRunner | undefined;
  let server: RpcServer | undefined;
  let clients: RpcClients | undefined;
  let agents: LoadedAgent[];
  let view: ReturnType<typeof hostPeer>[];

  beforeAll(async () => {
    docker = await ensureDockerEngine();
    await removeContainers(docker, CONTAINER_PREFIX);
    const shipped = await loadAgents([path.resolve('agents')]);
    agents = [
      shipped.find((a) => a.manifest.name === 'echo')!,
      await loadAgent(path.resolve('test/agenthost/agents/sleeper')),
    ];
    for (const a of agents)
      await buildImage(a, { runtime: new DockerRuntime({ docker }), imagePrefix: IMAGE_PREFIX });
    runner = new AgentRunner({
      runtime: new DockerRuntime({ docker }),
      agents,
      host: 'desk',
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: CONTAINER_PREFIX,
      warmPoolSize: 1,
    });
    await runner.start();
    const secret = meshSecret();
    server = new RpcServer({
      addresses: [ADDRESS],
      port: await freePort(),
      secret,
      shutdownTimeoutMs: 500,
    });
    server.addService(
      AgentHostService,
      agentHostService({ executor: runnerExecutor(runner), self: { id: 'id-desk', name: 'desk' } }),
    );
    await server.start();
    clients = new RpcClients({ nodeId: 'id-pi', secret });
    view = [
      hostPeer({
        name: 'pi',
        id: 'id-pi',
        self: true,
        docker: false,
        address: '127.0.5.99',
        port: 1,
      }),
      // the warm pool as the runner reports it for the advert
      {
        ...hostPeer({ name: 'desk', address: ADDRESS, port: server.port }),
        warmPool: runner.poolState(),
      },
    ];
  });

  afterAll(async () => {
    clients?.close();
    await server?.stop();
    await runner?.stop();
    if (docker) {
      await removeContainers(docker, CONTAINER_PREFIX);
      await removeImages(docker, IMAGE_PREFIX);
    }
  });

  const agent = (name: string) => agents.find((a) => a.manifest.name === name)!;

  it('runs echo in a warm container on the host over gRPC', async () => {
    const echo = agent('echo');
    const events = await collect(
      runAnywhere({
        view: () => view,
        clients: clients!,
        manifest: echo.manifest,
        imageHash: echo.hash,
        intent: 'echo',
        args: { text: 'hello mesh' },
        traceId: 'tr-docker',
      }),
    );
    expect(events.map((e) => e.type)).toEqual(['placed', 'accepted', 'progress', 'result']);
    expect(events[0]).toMatchObject({ node: 'desk', warm: true });
    expect(events[1]).toEqual({
      type: 'accepted',
      hostNode: 'id-desk',
      hostName: 'desk',
      warm: true,
    });
    const result = events[3] as Extract<RemoteRunEvent, { type: 'result' }>;
    expect(result.text).toBe('hello mesh');
    expect(result.data).toMatchObject({
      intent: 'echo',
      context: { host: 'desk', trace_id: 'tr-docker' },
    });
  });

  it('cancelling the run removes its container on the host', async () => {
    const sleeper = agent('sleeper');
    const cancel = new AbortController();
    const events: RemoteRunEvent[] = [];
    const done = (async () => {
      for await (const e of runAnywhere({
        view: () => view,
        clients: clients!,
        manifest: sleeper.manifest,
        intent: 'sleep',
        args: {},
        traceId: 't',
        signal: cancel.signal,
      })) {
        events.push(e);
      }
    })();
    await waitFor(() => events.some((e) => e.type === 'progress'), {
      timeoutMs: 20_000,
      what: 'the sleeper to start sleeping',
    });
    const sleeping = await sleeperContainers();
    expect(sleeping).toHaveLength(1);
    cancel.abort();
    await done;
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'cancelled' });
    // it sleeps 600 s unless killed
    await waitFor(async () => (await sleeperContainers()).length === 0, {
      timeoutMs: 20_000,
      what: 'the container to be removed',
    });
  });

  async function sleeperContainers(): Promise<string[]> {
    const list = await docker.listContainers({ all: true });
    return list
      .flatMap((c) => c.Names.map((n) => n.replace(/^\//, '')))
      .filter((n) => n.startsWith(`${CONTAINER_PREFIX}sleeper`));
  }
});
