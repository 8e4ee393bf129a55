/**
 * `models pull --router`: Ollama pulls the router model on the node that routes — here directly,
 * or from another node over a real two-server NATS mesh. Ollama is the stand-in server.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  LlmPullError,
  pullRouterModel,
  servePullRequests,
  type LlmPullProgress,
} from '../../node/models/index.js';
import { OllamaHttpClient } from '../../node/router/index.js';
import { BusHarness, newSecret } from '../bus/helpers.js';
import { peerView } from '../pipeline/support/mesh.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';

const fakes: FakeOllama[] = [];
async function ollama(opts: Parameters<typeof startFakeOllama>[0]) {
  const f = await startFakeOllama(opts);
  fakes.push(f);
  return f;
}
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

function gpuPeer(name: string, url: string, self = false) {
  return peerView({
    name,
    host: '127.0.6.31',
    port: 1,
    self,
    caps: {
      gpu: [{ index: 0, name: 'H100', vramTotalMiB: 81559 }],
      ollama: { url, models: [], loaded: [] },
    },
  });
}

describe('pulling the router model with Ollama on this node', () => {
  it("reports Ollama's progress and finishes when the model is there", async () => {
    const fake = await ollama({ pullable: [{ name: 'llama3:latest', sizeBytes: 4_000_000 }] });
    const progress: LlmPullProgress[] = [];
    const done = await pullRouterModel({
      model: 'llama3',
      view: [gpuPeer('desk', fake.url, true)],
      bus: null,
      localApi: new OllamaHttpClient({ url: fake.url }),
      pull: { onProgress: (p) => progress.push(p) },
    });
    expect(done).toEqual({ node: 'desk' });
    expect(progress.at(0)?.status).toBe('pulling manifest');
    expect(progress.at(-1)?.status).toBe('success');
    expect(progress.some((p) => p.completedBytes === 4_000_000 && p.totalBytes === 4_000_000)).toBe(
      true,
    );
    const tags = await new OllamaHttpClient({ url: fake.url }).tags();
    expect(tags.models.map((m) => m.name)).toContain('llama3:latest');
  });

  it('fails with a clear message when the machine Ollama runs on is offline', async () => {
    const fake = await ollama({ offline: true });
    const err = await pullRouterModel({
      model: 'llama3',
      view: [gpuPeer('desk', fake.url, true)],
      bus: null,
      localApi: new OllamaHttpClient({ url: fake.url }),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmPullError);
    expect((err as Error).message).toMatch(
      /^Ollama on desk cannot reach its registry to pull llama3 .*that machine is offline/,
    );
  });

  it('says when the registry has no such model', async () => {
    const fake = await ollama({ pullable: [] });
    const err = await pullRouterModel({
      model: 'no-such-model',
      view: [gpuPeer('desk', fake.url, true)],
      bus: null,
      localApi: new OllamaHttpClient({ url: fake.url }),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/found no model named no-such-model/);
  });

  it('says to install Ollama when no node has it', async () => {
    const err = await pullRouterModel({
      model: 'llama3',
      view: [peerView({ name: 'pi', host: '127.0.6.31', port: 1, self: true })],
      bus: null,
      localApi: null,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmPullError);
    expect((err as Error).message).toMatch(
      /no node in the mesh runs Ollama: install it on a GPU machine/,
    );
  });
});

/** Retries while the peer's subscription has not reached this server yet (routes form, interest spreads). */
async function untilTaken<T>(pull: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await pull();
    } catch (err) {
      if (attempt >= 30 || !/did not take the pull request/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('pulling the router model on the GPU peer over the bus', () => {
  const harness = new BusHarness();
  afterAll(() => harness.cleanup());

  it("asks the peer's daemon, which pulls with its Ollama and streams progress back", async () => {
    const secret = newSecret();
    const a = await harness.started('127.0.6.32', secret);
    const b = await harness.started('127.0.6.33', secret, [a.cluster]);
    const busA = await harness.bus(a, 'pi');
    const busB = await harness.bus(b, 'desk');
    const good = await ollama({ pullable: [{ name: 'qwen3:8b', sizeBytes: 5_000_000 }] });
    const desk = { ...gpuPeer('desk', good.url), id: 'id-desk' };
    const serving = servePullRequests({
      bus: busB,
      selfId: desk.id,
      selfName: 'desk',
      api: new OllamaHttpClient({ url: good.url }),
    });
    try {
      const progress: LlmPullProgress[] = [];
      const done = await untilTaken(() =>
        pullRouterModel({
          model: 'qwen3:8b',
          view: [peerView({ name: 'pi', host: '127.0.6.32', port: 1, self: true }), desk],
          bus: busA,
          localApi: null,
          pull: { onProgress: (p) => progress.push(p), idleTimeoutMs: 5000 },
        }),
      );
      expect(done).toEqual({ node: 'desk' });
      expect(progress.map((p) => p.status)).toContain('verifying sha256 digest');
      expect(progress.at(-1)?.status).toBe('success');
      expect(good.requests.filter((r) => r.path === '/api/pull').map((r) => r.body?.model)).toEqual(
        ['qwen3:8b'],
      );

      // the same peer offline: the error crosses the bus with the peer's words
      serving.unsubscribe();
      const offline = await ollama({ offline: true });
      const servingOffline = servePullRequests({
        bus: busB,
        selfId: desk.id,
        selfName: 'desk',
        api: new OllamaHttpClient({ url: offline.url }),
      });
      try {
        const err = await untilTaken(() =>
          pullRouterModel({ model: 'qwen3:8b', view: [desk], bus: busA, localApi: null }),
        ).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LlmPullError);
        expect((err as Error).message).toMatch(/Ollama on desk cannot reach its registry.*offline/);
      } finally {
        servingOffline.unsubscribe();
      }
    } finally {
      serving.unsubscribe();
    }
  });
});
