/**
 * llm.generate between nodes over real gRPC (Llm.Generate, signed with the mesh proof): answered
 * by the router peer's Ollama (a stand-in speaking Ollama's wire format) through that peer's
 * daemon.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLlmGenerate, llmService } from '../../node/agenthost/index.js';
import { parseConfig } from '../../node/config/index.js';
import { OllamaHttpClient } from '../../node/router/index.js';
import { LlmService, RpcClients, RpcServer } from '../../node/rpc/index.js';
import type { PeerView } from '../../node/types.js';
import { peer } from '../placement/peers.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import { meshSecret } from './helpers.js';

const router = parseConfig({ router: { model: 'llama3', timeout_ms: 5000 } }).router;
const ADDRESS = '127.0.7.21';

function withOllama(p: PeerView, url: string): PeerView {
  return {
    ...p,
    capabilities: {
      ...p.capabilities,
      gpu: [{ index: 0, name: 'RTX', vramTotalMiB: 8192 }],
      ollama: { url, models: ['llama3:latest'], loaded: ['llama3:latest'] },
    },
  };
}

describe('llm.generate between nodes over gRPC', () => {
  let fake: FakeOllama;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [{ name: 'llama3:latest', loaded: true }] });
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  afterAll(async () => {
    await fake?.close();
  });

  /** pi (no Ollama) sees desk (GPU, Ollama); desk serves its Ollama as Llm.Generate. */
  async function mesh(url = fake.url, callerSecret?: Buffer) {
    const secret = meshSecret();
    const server = new RpcServer({ addresses: [ADDRESS], port: 0, secret, shutdownTimeoutMs: 200 });
    server.addService(LlmService, llmService({ router, local: new OllamaHttpClient({ url }) }));
    await server.start();
    cleanups.push(() => server.stop());
    const clients = new RpcClients({ nodeId: 'id-pi', secret: callerSecret ?? secret });
    cleanups.push(() => clients.close());
    const pi = peer({ name: 'pi', id: 'id-pi', self: true });
    const desk = {
      ...withOllama(peer({ name: 'desk', id: 'id-desk' }), url),
      addresses: [ADDRESS],
      ports: { rpc: server.port, cluster: 7422 },
    };
    return createLlmGenerate({
      router,
      view: () => [pi, desk],
      clients,
      selfId: 'id-pi',
      local: new OllamaHttpClient({ url: 'http://127.0.0.1:9' }),
    });
  }

  it("answers llm.generate with the router peer's Ollama, asked through that peer's daemon", async () => {
    const generate = await mesh();
    fake.scriptChat({ content: '<think>the user wants tea facts</think>Green tea likes 80 °C.' });
    const before = fake.chatBodies().length;
    const answer = await generate(
      { prompt: 'How hot for green tea?', system: 'Answer in one sentence.', max_tokens: 64 },
      { signal: AbortSignal.timeout(10_000) },
    );
    expect(answer.text).toBe('Green tea likes 80 °C.');
    const body = fake.chatBodies()[before]!;
    expect(body.model).toBe('llama3');
    expect(body.messages).toEqual([
      { role: 'system', content: 'Answer in one sentence.' },
      { role: 'user', content: 'How hot for green tea?' },
    ]);
    expect(body.options).toEqual({ num_predict: 64 });
    expect(body.stream).toBe(false);
  });

  it('passes the JSON schema through to the peer as Ollama format', async () => {
    const generate = await mesh();
    fake.scriptChat({ content: '{"ok":true}' });
    const before = fake.chatBodies().length;
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } } };
    await generate({ prompt: 'ok?', json_schema: schema }, { signal: AbortSignal.timeout(10_000) });
    expect(fake.chatBodies()[before]!.format).toEqual(schema);
  });

  it("passes the peer's Ollama failure back to the agent with what to do", async () => {
    const generate = await mesh();
    fake.scriptChat({ status: 404, error: 'model "llama3" not found, try pulling it first' });
    const err = await generate({ prompt: 'hi' }, { signal: AbortSignal.timeout(10_000) }).catch(
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^desk's LLM: .*ollama pull llama3/);
  });

  it('is refused by a peer when the call lacks proof of the mesh secret', async () => {
    const generate = await mesh(fake.url, meshSecret());
    const before = fake.chatBodies().length;
    const err = await generate({ prompt: 'hi' }, { signal: AbortSignal.timeout(10_000) }).catch(
      (e: unknown) => e as Error,
    );
    expect((err as Error).message).toMatch(/^desk's LLM: .*mesh secret/);
    expect(fake.chatBodies()).toHaveLength(before);
  });

  it('says there is no LLM in the mesh, and what to install, when no node runs Ollama', async () => {
    const clients = new RpcClients({ nodeId: 'id-pi', secret: meshSecret() });
    cleanups.push(() => clients.close());
    const generate = createLlmGenerate({
      router,
      view: () => [peer({ name: 'pi', id: 'id-pi', self: true }), peer({ name: 'laptop' })],
      clients,
      selfId: 'id-pi',
      local: new OllamaHttpClient({ url: 'http://127.0.0.1:9' }),
    });
    await expect(generate({ prompt: 'hi' }, { signal: AbortSignal.timeout(5000) })).rejects.toThrow(
      /no LLM in the mesh.*ollama pull llama3/,
    );
  });
});
