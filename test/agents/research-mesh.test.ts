import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRunner, DockerRuntime, createHttpFetch } from '../../node/agents/index.js';
import type { LlmGenerateParams, LoadedAgent, MeshStatus } from '../../node/agentspec/index.js';
import {
  ensureDockerEngine,
  removeContainers,
  removeImages,
  removeNetworks,
} from '../support/docker.js';
import {
  buildAgents,
  collect,
  CONTAINER_PREFIX,
  EGRESS_NETWORK,
  IMAGE_PREFIX,
  outcome,
} from './helpers.js';

const PAGE = `<!doctype html><html><head><title>Kettles &amp; Tea</title><style>body{color:red}</style></head>
<body><script>var secret = "do not read";</script><h1>Brewing</h1><p>Green tea brews best at 80 &deg;C for two minutes.</p></body></html>`;

const MESH: MeshStatus = {
  self: 'laptop',
  nodes: [
    { name: 'pi-kitchen', state: 'alive', roles: ['mic', 'speaker'], running: [], warm: [] },
    {
      name: 'laptop',
      state: 'alive',
      roles: ['mic', 'docker'],
      running: [],
      warm: [
        { agent: 'lights', idle: 1, busy: 0 },
        { agent: 'timer', idle: 1, busy: 0 },
      ],
    },
    {
      name: 'desk',
      state: 'alive',
      roles: ['docker', 'gpu', 'ollama'],
      running: [{ agent: 'research', count: 1 }],
      warm: [],
    },
    { name: 'old-pi', state: 'suspect', roles: [], running: [], warm: [] },
    { name: 'gone', state: 'dead', roles: [], running: [], warm: [] },
  ],
};

describe('research and mesh agents', () => {
  let docker: Docker;
  let agents: LoadedAgent[];
  let server: Server;
  let base: string;
  const prompts: LlmGenerateParams[] = [];
  const prefix = `${CONTAINER_PREFIX}rm-`;

  const runnerWith = (fetchPolicy: Parameters<typeof createHttpFetch>[0], name: string) =>
    new AgentRunner({
      runtime: new DockerRuntime({ docker, egressNetwork: EGRESS_NETWORK }),
      agents,
      host: name,
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: `${prefix}${name}-`,
      handlers: {
        'http.fetch': createHttpFetch(fetchPolicy),
        async 'llm.generate'(params) {
          prompts.push(params);
          return { text: 'Green tea brews best at 80 degrees for two minutes.', model: 'fake' };
        },
        async 'mesh.status'() {
          return MESH;
        },
      },
    });

  beforeAll(async () => {
    docker = await ensureDockerEngine();
    agents = await buildAgents(docker, ['research', 'mesh']);
    server = createServer((req, res) => {
      if (req.url === '/tea') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE);
      } else {
        res.writeHead(404).end('not here');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.close();
    await removeContainers(docker, prefix);
    await removeImages(docker, IMAGE_PREFIX);
    await removeNetworks(docker, EGRESS_NETWORK);
  });

  it('answers a question from a fetched page with its sources, in a cold container on the egress network', async () => {
    // The test page is on loopback, which the default policy refuses; this runner allows it.
    const runner = runnerWith({ allowPrivateAddresses: true }, 'lab');
    await runner.start();
    const since = Math.floor(Date.now() / 1000) - 1;
    const events = await collect(
      runner.run({
        agent: 'research',
        intent: 'ask',
        args: { question: 'How do I brew green tea?', urls: `${base}/tea` },
      }),
    );
    await runner.stop();

    expect(events[0]).toMatchObject({ type: 'accepted', warm: false });
    expect(
      events.filter((e) => e.type === 'progress').map((e) => (e as { message: string }).message),
    ).toEqual([`fetching 1 of 1: ${base}/tea`, 'summarising']);
    const end = outcome(events) as { type: string; text: string; data: { sources: unknown[] } };
    expect(end).toMatchObject({
      type: 'result',
      text: 'Green tea brews best at 80 degrees for two minutes.',
    });
    expect(end.data.sources).toEqual([{ url: `${base}/tea`, title: 'Kettles & Tea', status: 200 }]);

    const prompt = prompts.at(-1)!.prompt;
    expect(prompt).toContain('Question: How do I brew green tea?');
    expect(prompt).toContain('Green tea brews best at 80 °C for two minutes.');
    expect(prompt).not.toContain('do not read');
    expect(prompt).not.toContain('color:red');

    // The container joined the egress network (and nothing else did: tests use their own).
    const joined = await docker.getEvents({
      since,
      until: (Date.now() / 1000 + 0.2).toFixed(3),
      filters: { type: ['network'], event: ['connect'], network: [EGRESS_NETWORK] },
    } as unknown as Parameters<Docker['getEvents']>[0]);
    let text = '';
    for await (const chunk of joined) text += chunk.toString();
    const containers = text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).Actor.Attributes.container as string);
    expect(containers).toHaveLength(1);
  });

  it('is refused pages on the LAN or loopback by the default egress policy, and says why', async () => {
    const runner = runnerWith({}, 'strict');
    const events = await collect(
      runner.run({
        agent: 'research',
        intent: 'ask',
        args: { question: 'Tea?', urls: `${base}/tea` },
      }),
    );
    await runner.stop();
    expect(outcome(events)).toMatchObject({
      type: 'error',
      code: 'agent_error',
      agentCode: 'fetch_failed',
    });
    expect((outcome(events) as { message: string }).message).toMatch(
      /127\.0\.0\.1 resolves to 127\.0\.0\.1, which is not a public address/,
    );
  });

  it.each([
    ['online', '3 devices are online: desk, laptop and pi-kitchen. old-pi is not answering.'],
    ['running', 'On desk, research running; on laptop, lights and timer ready.'],
  ])('says what the mesh looks like (%s)', async (intent, text) => {
    const runner = runnerWith({}, 'meshq');
    await runner.start();
    const events = await collect(runner.run({ agent: 'mesh', intent, args: {} }));
    await runner.stop();
    expect(events[0]).toMatchObject({ type: 'accepted', warm: true });
    expect(outcome(events)).toMatchObject({ type: 'result', text });
  });
});
