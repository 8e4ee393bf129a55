/**
 * Host calls that cross nodes over a real nats-server: llm.generate answered by the router peer's
 * Ollama (a stand-in speaking Ollama's wire format) through that peer's daemon, and notify
 * delivered to the node that asked.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManifestSchema } from '../../node/agentspec/index.js';
import {
  createLlmGenerate,
  Notifier,
  serveLlmOnBus,
  type Notification,
} from '../../node/agentsvc/index.js';
import type { Bus } from '../../node/bus/index.js';
import { parseConfig } from '../../node/config/index.js';
import { OllamaHttpClient } from '../../node/router/index.js';
import type { PeerView } from '../../node/types.js';
import { BusHarness, newSecret } from '../bus/helpers.js';
import { peer } from '../placement/peers.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import { until } from './helpers.js';

const router = parseConfig({ router: { model: 'llama3', timeout_ms: 5000 } }).router;
const timerManifest = ManifestSchema.parse({
  name: 'timer',
  tier: 'warm',
  calls: ['notify'],
  intents: [{ name: 'set' }],
});

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

describe('host calls between nodes over the bus', () => {
  const harness = new BusHarness(19400, 19499);
  let busA: Bus;
  let busB: Bus;
  let fake: FakeOllama;
  const subs: Array<{ unsubscribe(): void }> = [];
  const notifiers: Notifier[] = [];

  beforeAll(async () => {
    const node = await harness.started('127.0.7.20', newSecret());
    busA = await harness.bus(node, 'pi');
    busB = await harness.bus(node, 'desk');
    fake = await startFakeOllama({ models: [{ name: 'llama3:latest', loaded: true }] });
  });

  afterEach(() => {
    for (const s of subs.splice(0)) s.unsubscribe();
    for (const n of notifiers.splice(0)) n.stop();
  });

  afterAll(async () => {
    await fake?.close();
    await harness.cleanup();
  });

  /** pi (no Ollama) sees desk (GPU, Ollama); desk serves its Ollama on the bus. */
  function mesh(url = fake.url) {
    const pi = peer({ name: 'pi', id: 'id-pi', self: true });
    const desk = withOllama(peer({ name: 'desk', id: 'id-desk' }), url);
    subs.push(
      serveLlmOnBus({
        router,
        view: () => [
          { ...desk, self: true },
          { ...pi, self: false },
        ],
        bus: busB,
        selfId: 'id-desk',
        local: new OllamaHttpClient({ url }),
      }),
    );
    return createLlmGenerate({
      router,
      view: () => [pi, desk],
      bus: busA,
      selfId: 'id-pi',
      local: new OllamaHttpClient({ url: 'http://127.0.0.1:9' }),
    });
  }

  it("answers llm.generate with the router peer's Ollama, asked through that peer's daemon", async () => {
    const generate = mesh();
    await busB.flush(); // the serving subscription is registered before the request
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

  it("passes the peer's Ollama failure back to the agent with what to do", async () => {
    const generate = mesh();
    await busB.flush(); // the serving subscription is registered before the request
    fake.scriptChat({ status: 404, error: 'model "llama3" not found, try pulling it first' });
    const err = await generate({ prompt: 'hi' }, { signal: AbortSignal.timeout(10_000) }).catch(
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^desk's LLM: .*ollama pull llama3/);
  });

  it('says there is no LLM in the mesh, and what to install, when no node runs Ollama', async () => {
    const generate = createLlmGenerate({
      router,
      view: () => [peer({ name: 'pi', id: 'id-pi', self: true }), peer({ name: 'laptop' })],
      bus: busA,
      selfId: 'id-pi',
      local: new OllamaHttpClient({ url: 'http://127.0.0.1:9' }),
    });
    await expect(generate({ prompt: 'hi' }, { signal: AbortSignal.timeout(5000) })).rejects.toThrow(
      /no LLM in the mesh.*ollama pull llama3/,
    );
  });

  it('delivers notify to the node named in the call, over the bus', async () => {
    const view = () => [
      peer({ name: 'desk', id: 'id-desk', self: true }),
      peer({ name: 'pi', id: 'id-pi' }),
      peer({ name: 'old', id: 'id-old', state: 'dead' }),
    ];
    const desk = new Notifier({ bus: busB, view, self: { id: 'id-desk', name: 'desk' } });
    const pi = new Notifier({
      bus: busA,
      view: () => [],
      self: { id: 'id-pi', name: 'pi' },
    });
    notifiers.push(desk, pi);
    pi.start();
    await busA.flush();
    const got: Notification[] = [];
    pi.onNotify((n) => got.push(n));
    const ctx = { agent: timerManifest, traceId: 'trace-7' };
    await expect(
      desk.handler({ node: 'pi', text: 'The tea timer is done.' }, ctx),
    ).resolves.toEqual({
      node: 'pi',
    });
    await until(() => got.length > 0, 5000, 'the notification on pi');
    expect(got[0]).toMatchObject({
      from: 'desk',
      agent: 'timer',
      text: 'The tea timer is done.',
      traceId: 'trace-7',
    });

    await expect(desk.handler({ node: 'old', text: 'x' }, ctx)).rejects.toThrow(
      /old is dead; the notification was not delivered/,
    );
    await expect(desk.handler({ node: 'attic', text: 'x' }, ctx)).rejects.toThrow(
      /no node "attic" in the mesh \(nodes: desk, old, pi\)/,
    );
  });
});
