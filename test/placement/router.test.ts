import { describe, expect, it } from 'vitest';
import { noRouterLlmMessage, pickRouterPeer, sameModel } from '../../node/placement/router.js';
import type { Capabilities, PeerView } from '../../node/types.js';

const GPU = [{ index: 0, name: 'NVIDIA H100 80GB HBM3', vramTotalMiB: 81_559 }];

function peer(
  id: string,
  opts: {
    gpu?: boolean;
    ollama?: { models: string[]; loaded?: string[] } | null;
    rttMs?: number | null;
    loadPerCore?: number;
    state?: PeerView['state'];
    self?: boolean;
  } = {},
): PeerView {
  const capabilities: Capabilities = {
    mic: null,
    gpu: opts.gpu ? GPU : [],
    docker: null,
    stt: null,
    ollama:
      opts.ollama === undefined || opts.ollama === null
        ? null
        : {
            url: 'http://127.0.0.1:11434',
            models: opts.ollama.models,
            loaded: opts.ollama.loaded ?? [],
          },
    tts: [],
    go: false,
    cpus: 4,
    memTotalMiB: 8192,
  };
  return {
    id,
    name: id,
    state: opts.state ?? 'alive',
    self: opts.self ?? false,
    addresses: ['100.64.0.1'],
    version: '0.1.0',
    capabilities,
    load: { runningAgents: 0, loadAvg1: 0, loadPerCore: opts.loadPerCore ?? 0.1, memFreeMiB: 4096 },
    warmPool: [],
    images: [],
    rttMs: opts.rttMs === undefined ? 5 : opts.rttMs,
    lastSeenMs: 100,
    ports: { rpc: 7700, cluster: 6222 },
  };
}

describe('pickRouterPeer', () => {
  it.each<[string, PeerView[], string | null]>([
    ['no peers', [], null],
    ['no peer with Ollama', [peer('pi'), peer('laptop')], null],
    [
      'GPU with the model loaded beats GPU with it on disk',
      [
        peer('desk', { gpu: true, ollama: { models: ['llama3:latest'] }, rttMs: 1 }),
        peer('tower', {
          gpu: true,
          ollama: { models: ['llama3:latest'], loaded: ['llama3:latest'] },
          rttMs: 40,
        }),
      ],
      'tower',
    ],
    [
      'GPU with the model beats a CPU peer with it loaded',
      [
        peer('laptop', { ollama: { models: ['llama3'], loaded: ['llama3'] }, rttMs: 1 }),
        peer('desk', { gpu: true, ollama: { models: ['llama3:latest'] }, rttMs: 30 }),
      ],
      'desk',
    ],
    [
      'a CPU peer with the model beats a GPU peer without it',
      [
        peer('desk', { gpu: true, ollama: { models: ['mistral:latest'] } }),
        peer('laptop', { ollama: { models: ['llama3:latest'] } }),
      ],
      'laptop',
    ],
    [
      'any Ollama peer when none has the model (it will say what to pull)',
      [peer('pi'), peer('laptop', { ollama: { models: [] } })],
      'laptop',
    ],
    [
      'lowest RTT among equals',
      [
        peer('a', { gpu: true, ollama: { models: ['llama3'] }, rttMs: 20 }),
        peer('b', { gpu: true, ollama: { models: ['llama3'] }, rttMs: 3 }),
      ],
      'b',
    ],
    [
      'self counts as zero RTT',
      [
        peer('a', { gpu: true, ollama: { models: ['llama3'] }, rttMs: 1 }),
        peer('me', { self: true, gpu: true, ollama: { models: ['llama3'] }, rttMs: null }),
      ],
      'me',
    ],
    [
      'lower load among equal RTT',
      [
        peer('a', { gpu: true, ollama: { models: ['llama3'] }, loadPerCore: 0.9 }),
        peer('b', { gpu: true, ollama: { models: ['llama3'] }, loadPerCore: 0.2 }),
      ],
      'b',
    ],
    [
      'unknown RTT after known RTT',
      [
        peer('a', { gpu: true, ollama: { models: ['llama3'] }, rttMs: null }),
        peer('b', { gpu: true, ollama: { models: ['llama3'] }, rttMs: 80 }),
      ],
      'b',
    ],
    [
      'suspect and dead peers are skipped',
      [
        peer('a', {
          gpu: true,
          ollama: { models: ['llama3'], loaded: ['llama3'] },
          state: 'suspect',
        }),
        peer('b', { gpu: true, ollama: { models: ['llama3'] }, state: 'dead' }),
        peer('c', { ollama: { models: [] } }),
      ],
      'c',
    ],
    [
      'another tag is another model',
      [
        peer('a', { gpu: true, ollama: { models: ['llama3:70b'] }, rttMs: 1 }),
        peer('b', { ollama: { models: ['llama3:latest'] }, rttMs: 9 }),
      ],
      'b',
    ],
  ])('%s', (_name, view, expected) => {
    expect(pickRouterPeer(view, 'llama3')?.id ?? null).toBe(expected);
  });

  it('says what to install when there is no router LLM', () => {
    expect(noRouterLlmMessage('llama3')).toContain(
      'no router LLM in the mesh: install Ollama on a GPU machine and run `ollama pull llama3`',
    );
  });

  it.each([
    ['llama3', 'llama3:latest', true],
    ['LLaMA3:latest', 'llama3', true],
    ['llama3:8b', 'llama3', false],
    ['qwen3:8b', 'qwen3:8b', true],
  ])('sameModel(%s, %s) is %s', (a, b, same) => {
    expect(sameModel(a, b)).toBe(same);
  });
});
