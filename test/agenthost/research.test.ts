/**
 * The research agent through the node's own wiring: placed by runIntent, run cold over gRPC,
 * its page fetched under the node's egress policy and summarised by llm.generate on the mesh's
 * Ollama (a stand-in speaking Ollama's wire format). Without any Ollama it says what to install.
 */
import { createServer, type Server } from 'node:http';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteRunEvent } from '../../node/agenthost/index.js';
import { OllamaHttpClient } from '../../node/router/index.js';
import {
  ensureDockerEngine,
  removeContainers,
  removeImages,
  removeNetworks,
} from '../support/docker.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import {
  CONTAINER_PREFIX,
  EGRESS_NETWORK,
  IMAGE_PREFIX,
  collect,
  startTestNode,
  type TestNode,
} from './service-helpers.js';
import { freePort } from '../support/ports.js';

const PAGE_HOST = '127.0.7.3';
const PAGE =
  '<html><head><title>Kettles</title></head><body><p>Green tea: 80 °C, two minutes.</p></body></html>';

describe('research through the node: egress fetch and the mesh LLM', () => {
  let docker: Docker;
  let fake: FakeOllama;
  let pages: Server;
  let pageUrl: string;
  let withLlm: TestNode;
  let withoutLlm: TestNode;

  beforeAll(async () => {
    docker = await ensureDockerEngine();
    await removeContainers(docker, CONTAINER_PREFIX);
    fake = await startFakeOllama({ models: [{ name: 'llama3:latest', loaded: true }] });
    pages = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => pages.listen(port, PAGE_HOST, resolve));
    pageUrl = `http://${PAGE_HOST}:${port}/tea`;
    const common = {
      docker,
      agents: ['research'],
      // The page is on loopback, which the default egress policy refuses.
      extra: { egress: { allowPrivateAddresses: true } },
    };
    withLlm = await startTestNode({
      ...common,
      address: '127.0.7.4',
      port: await freePort(),
      name: 'desk',
      capabilities: {
        gpu: [{ index: 0, name: 'RTX', vramTotalMiB: 8192 }],
        ollama: { url: fake.url, models: ['llama3:latest'], loaded: ['llama3:latest'] },
      },
      extra: {
        ...common.extra,
        ollama: new OllamaHttpClient({ url: fake.url }),
        // Two nodes on one engine: each its own network, or both create one of the same name.
        egressNetwork: `${EGRESS_NETWORK}-desk`,
      },
    });
    withoutLlm = await startTestNode({
      ...common,
      address: '127.0.7.5',
      port: await freePort(),
      name: 'laptop',
      extra: { ...common.extra, egressNetwork: `${EGRESS_NETWORK}-laptop` },
    });
    await Promise.all([withLlm.svc.ready(), withoutLlm.svc.ready()]);
  }, 240_000);

  afterAll(async () => {
    await withLlm?.stop();
    await withoutLlm?.stop();
    await fake?.close();
    pages?.close();
    if (docker) {
      await removeContainers(docker, CONTAINER_PREFIX);
      await removeImages(docker, IMAGE_PREFIX);
      await removeNetworks(docker, EGRESS_NETWORK);
    }
  }, 60_000);

  it('fetches the page through the host and answers with the LLM of the mesh', async () => {
    fake.scriptChat({ content: 'Brew green tea at 80 degrees for two minutes.' });
    const before = fake.chatBodies().length;
    const events: RemoteRunEvent[] = await collect(
      withLlm.svc.runIntent({
        agent: 'research',
        intent: 'ask',
        args: { question: 'How do I brew green tea?', urls: pageUrl },
      }),
    );
    const end = events.at(-1) as Extract<RemoteRunEvent, { type: 'result' }>;
    expect(end).toMatchObject({
      type: 'result',
      text: 'Brew green tea at 80 degrees for two minutes.',
    });
    expect((end.data as { sources: unknown[] }).sources).toEqual([
      { url: pageUrl, title: 'Kettles', status: 200 },
    ]);
    const body = fake.chatBodies()[before]!;
    expect(body.model).toBe('llama3');
    expect(JSON.stringify(body.messages)).toContain('Green tea: 80 °C, two minutes.');
  }, 120_000);

  it('ends with the agent saying there is no LLM in the mesh, and what to install', async () => {
    const events = await collect(
      withoutLlm.svc.runIntent({ agent: 'research', intent: 'ask', args: { question: 'Tea?' } }),
    );
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'agent_error' });
    expect((events.at(-1) as { message: string }).message).toMatch(
      /no LLM in the mesh: no node runs Ollama; install it .*ollama pull llama3/,
    );
  }, 120_000);
});
