/**
 * `models pull --router`: Ollama pulls the router model on the node that routes — here directly,
 * or from another node over gRPC (Models.PullLlm, with the mesh proof). Ollama is the stand-in
 * server.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LlmPullError,
  pullRouterModel,
  registerModels,
  type LlmPullProgress,
} from '../../node/models/index.js';
import { OllamaHttpClient } from '../../node/router/index.js';
import { RpcClients, RpcServer } from '../../node/rpc/index.js';
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
      clients: null,
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
      clients: null,
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
      clients: null,
      localApi: new OllamaHttpClient({ url: fake.url }),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/found no model named no-such-model/);
  });

  it('says to install Ollama when no node has it', async () => {
    const err = await pullRouterModel({
      model: 'llama3',
      view: [peerView({ name: 'pi', host: '127.0.6.31', port: 1, self: true })],
      clients: null,
      localApi: null,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmPullError);
    expect((err as Error).message).toMatch(
      /no node in the mesh runs Ollama: install it on a GPU machine/,
    );
  });
});

/** desk's daemon: a gRPC server on loopback (port 0) serving Models with the given Ollama. */
async function deskDaemon(secret: Uint8Array, ollamaUrl: string) {
  const server = new RpcServer({ addresses: [], port: 0, secret, shutdownTimeoutMs: 500 });
  registerModels(server, { selfName: 'desk', api: new OllamaHttpClient({ url: ollamaUrl }) });
  await server.start();
  return server;
}

describe('pulling the router model on the GPU peer over gRPC', () => {
  it("asks the peer's daemon, which pulls with its Ollama and streams progress back", async () => {
    const secret = new Uint8Array(randomBytes(32));
    const clients = new RpcClients({ nodeId: 'id-pi', secret });
    const good = await ollama({ pullable: [{ name: 'qwen3:8b', sizeBytes: 5_000_000 }] });
    const server = await deskDaemon(secret, good.url);
    try {
      const desk = { ...gpuPeer('desk', good.url), addresses: ['127.0.0.1'] };
      desk.ports = { ...desk.ports, rpc: server.port };
      const progress: LlmPullProgress[] = [];
      const done = await pullRouterModel({
        model: 'qwen3:8b',
        view: [peerView({ name: 'pi', host: '127.0.6.32', port: 1, self: true }), desk],
        clients,
        localApi: null,
        pull: { onProgress: (p) => progress.push(p), idleTimeoutMs: 5000 },
      });
      expect(done).toEqual({ node: 'desk' });
      expect(progress.map((p) => p.status)).toContain('verifying sha256 digest');
      expect(progress.at(-1)?.status).toBe('success');
      expect(
        progress.some((p) => p.completedBytes === 5_000_000 && p.totalBytes === 5_000_000),
      ).toBe(true);
      expect(good.requests.filter((r) => r.path === '/api/pull').map((r) => r.body?.model)).toEqual(
        ['qwen3:8b'],
      );
    } finally {
      await server.stop();
      clients.close();
    }
  });

  it("carries the peer's own words when its Ollama is offline", async () => {
    const secret = new Uint8Array(randomBytes(32));
    const clients = new RpcClients({ nodeId: 'id-pi', secret });
    const offline = await ollama({ offline: true });
    const server = await deskDaemon(secret, offline.url);
    try {
      const desk = { ...gpuPeer('desk', offline.url), addresses: ['127.0.0.1'] };
      desk.ports = { ...desk.ports, rpc: server.port };
      const err = await pullRouterModel({
        model: 'qwen3:8b',
        view: [desk],
        clients,
        localApi: null,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LlmPullError);
      expect((err as Error).message).toMatch(/^Ollama on desk cannot reach its registry.*offline/);
    } finally {
      await server.stop();
      clients.close();
    }
  });

  it('is refused without the mesh secret, and says the peer did not take it', async () => {
    const good = await ollama({ pullable: [{ name: 'qwen3:8b', sizeBytes: 1000 }] });
    const server = await deskDaemon(new Uint8Array(randomBytes(32)), good.url);
    const stranger = new RpcClients({ nodeId: 'id-x', secret: new Uint8Array(randomBytes(32)) });
    try {
      const desk = { ...gpuPeer('desk', good.url), addresses: ['127.0.0.1'] };
      desk.ports = { ...desk.ports, rpc: server.port };
      const err = await pullRouterModel({
        model: 'qwen3:8b',
        view: [desk],
        clients: stranger,
        localApi: null,
      }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/desk did not take the pull request.*refused/);
      expect(good.requests.filter((r) => r.path === '/api/pull')).toEqual([]);
    } finally {
      await server.stop();
      stranger.close();
    }
  });
});
