/**
 * Router.Route over real gRPC with a stand-in Ollama behind it: intents, "not understood", and
 * the router LLM being unavailable (Ollama down, model missing), which the caller must tell apart
 * from a router node it cannot reach.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgents } from '../../node/agents/index.js';
import { createRouteRemote, registerRouter } from '../../node/pipeline/index.js';
import { GrpcStatus, RpcCallError, RpcClients, RpcServer } from '../../node/rpc/index.js';
import { LlmRouter, OllamaHttpClient } from '../../node/router/index.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import { repoRoot } from '../voice/shared-data.js';
import { meshSecret } from './support/net.js';
import { peerView, SLOT_VALUES } from './support/mesh.js';
import path from 'node:path';
import { freePort } from '../support/ports.js';

const HOST = '127.0.6.21';

describe('Router.Route over gRPC', () => {
  const secret = meshSecret();
  let fake: FakeOllama;
  const servers: RpcServer[] = [];
  const clients = new RpcClients({ nodeId: 'id-kitchen', secret });
  const routeRemote = createRouteRemote(clients, { timeoutMs: 5000 });
  const peers: Record<string, ReturnType<typeof peerView>> = {};

  async function routerNode(name: string, ollamaUrl: string, model: string) {
    const manifests = (await loadAgents([path.join(repoRoot, 'agents')])).map((a) => a.manifest);
    const port = await freePort();
    const server = new RpcServer({ addresses: [HOST], port, secret, shutdownTimeoutMs: 300 });
    registerRouter(server, {
      router: new LlmRouter({
        api: new OllamaHttpClient({ url: ollamaUrl, timeoutMs: 3000 }),
        model,
        manifests,
        slotValues: SLOT_VALUES,
        timeoutMs: 3000,
      }),
      model,
      selfName: name,
    });
    await server.start();
    servers.push(server);
    peers[name] = peerView({ name, host: HOST, port });
  }

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [{ name: 'llama3:latest' }] });
    await routerNode('desk', fake.url, 'llama3');
    await routerNode('no-model', fake.url, 'qwen3:8b');
    await routerNode('ollama-down', `http://127.0.0.1:${await freePort()}`, 'llama3');
  });
  afterAll(async () => {
    clients.close();
    await Promise.all(servers.map((s) => s.stop()));
    await fake?.close();
  });

  it('returns the intent the router LLM chose, with its arguments', async () => {
    fake.scriptChat({
      content: JSON.stringify({
        agent: 'timer',
        intent: 'set',
        args: { minutes: 10, label: 'tea' },
        confidence: 0.88,
      }),
    });
    const outcome = await routeRemote(peers.desk!, 'ten minutes for my tea please', {
      traceId: 'r1',
    });
    expect(outcome).toEqual({
      kind: 'intent',
      via: 'llm',
      intent: {
        agent: 'timer',
        intent: 'set',
        args: { minutes: 10, label: 'tea' },
        confidence: expect.closeTo(0.88, 5),
      },
    });
  });

  it('says "not understood" with the reason when the answer fails the agent\'s schema', async () => {
    fake.scriptChat({
      content: JSON.stringify({
        agent: 'lights',
        intent: 'on',
        args: { room: 'garage' },
        confidence: 0.95,
      }),
    });
    const outcome = await routeRemote(peers.desk!, 'garage lights on', { traceId: 'r2' });
    expect(outcome.kind).toBe('not-understood');
    expect(outcome).toMatchObject({ transcript: 'garage lights on' });
  });

  it('reports a missing router model as unavailable, saying what to pull', async () => {
    const outcome = await routeRemote(peers['no-model']!, 'make it cosy', { traceId: 'r3' });
    expect(outcome.kind).toBe('unavailable');
    expect((outcome as { reason: string }).reason).toMatch(/qwen3:8b/);
    expect((outcome as { reason: string }).reason).toMatch(/ollama pull/);
  });

  it('reports Ollama being down on the router node as unavailable, not as the node being unreachable', async () => {
    const outcome = await routeRemote(peers['ollama-down']!, 'make it cosy', { traceId: 'r4' });
    expect(outcome.kind).toBe('unavailable');
    expect((outcome as { reason: string }).reason).toMatch(/not reachable.*ollama serve/);
  });

  it('throws UNAVAILABLE naming the address when the router node itself is gone', async () => {
    const gone = peerView({ name: 'gone', host: HOST, port: await freePort() });
    const err = await routeRemote(gone, 'make it cosy', { traceId: 'r5' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    expect((err as RpcCallError).code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it('refuses callers without the mesh proof', async () => {
    const outsider = new RpcClients({ nodeId: 'outsider' });
    try {
      const err = await createRouteRemote(outsider)(peers.desk!, 'turn on the lights', {
        traceId: 'r6',
      }).catch((e: unknown) => e);
      expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(fake.chatBodies().some((b) => JSON.stringify(b).includes('turn on the lights'))).toBe(
        false,
      );
    } finally {
      outsider.close();
    }
  });
});
