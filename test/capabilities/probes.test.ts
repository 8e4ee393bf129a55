import { getEventListeners } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import {
  probeCapabilities,
  probeDocker,
  probeGo,
  probeGpu,
  probeMic,
  probeOllama,
  probeStt,
  probeTts,
} from '../../node/capabilities/index.js';
import { CapabilitiesSchema } from '../../node/types.js';
import { freePort } from '../support/ports.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedData = path.resolve(root, '..', 'shared', 'data');
const ggmlModel = path.join(sharedData, 'for-tests-ggml-tiny.en.bin');
const ggufModel = path.join(sharedData, 'llama-2-tiny-random.gguf');
const nvidiaQueryCsv = path.join(sharedData, 'nvidia-smi', 'nvidia-smi-query.csv');

const HOST = '127.0.2.10';
const OLLAMA_PORT = await freePort(HOST);
const OLLAMA_OLD_PORT = await freePort(HOST);
const SILENT_PORT = await freePort(HOST);
const UNUSED_PORT = await freePort(HOST); // nothing listens here
const timeoutMs = 1500;

let dir: string;
let binDir: string;
const servers: http.Server[] = [];

/** an executable in the test's own bin dir (a stand-in for a system tool) */
function tool(name: string, body: string): string {
  const file = path.join(binDir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function listen(
  server: http.Server,
  where: { path: string } | { host: string; port: number },
): Promise<void> {
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => resolve());
  });
}

const DOCKER_VERSION = {
  Platform: { Name: '' },
  Components: [
    {
      Name: 'Engine',
      Version: '20.10.24+dfsg1',
      Details: { ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' },
    },
  ],
  Version: '20.10.24+dfsg1',
  ApiVersion: '1.41',
  MinAPIVersion: '1.12',
  GitCommit: '5d6db84',
  GoVersion: 'go1.19.8',
  Os: 'linux',
  Arch: 'amd64',
  KernelVersion: '6.1.0-26-amd64',
  BuildTime: '2023-05-18T08:38:34.000000000+00:00',
};

/** Speaks the Docker engine API's /_ping and /version on a unix socket, like dockerd. */
function dockerEngine(): http.Server {
  return http.createServer((req, res) => {
    const route = (req.url ?? '').replace(/^\/v\d+\.\d+/, '');
    const headers = {
      'Api-Version': '1.41',
      'Docker-Experimental': 'false',
      Ostype: 'linux',
      Server: 'Docker/20.10.24+dfsg1 (linux)',
    };
    if (req.method === 'GET' && route === '/_ping') {
      res.writeHead(200, {
        ...headers,
        'Content-Type': 'text/plain; charset=utf-8',
        'Cache-Control': 'no-cache, no-store, must-revalidate',
      });
      return res.end('OK');
    }
    if (req.method === 'GET' && route === '/version') {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(DOCKER_VERSION));
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: 'page not found' }));
  });
}

/** Speaks Ollama's /api/tags and (unless `old`) /api/ps. */
function ollama(old = false): http.Server {
  return http.createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/api/tags') {
      return json(200, {
        models: [
          {
            name: 'llama3:latest',
            model: 'llama3:latest',
            modified_at: '2025-05-02T10:23:51+02:00',
            size: 4661224676,
            digest: '365c0bd3',
            details: { format: 'gguf', family: 'llama' },
          },
          {
            name: 'qwen3:0.6b',
            model: 'qwen3:0.6b',
            modified_at: '2025-06-01T08:00:00Z',
            size: 522653767,
            digest: 'abc',
            details: { format: 'gguf', family: 'qwen3' },
          },
        ],
      });
    }
    if (req.url === '/api/ps' && !old) {
      return json(200, {
        models: [
          {
            name: 'qwen3:0.6b',
            model: 'qwen3:0.6b',
            size: 1,
            digest: 'abc',
            expires_at: '2025-06-01T08:30:00+02:00',
            size_vram: 1,
          },
        ],
      });
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('404 page not found');
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'helix-probes-'));
  binDir = path.join(dir, 'bin');
  mkdirSync(binDir);
  await listen(dockerEngine(), { path: path.join(dir, 'docker.sock') });
  // accepts connections but never answers: a hung engine
  await listen(
    http.createServer(() => {}),
    { path: path.join(dir, 'hung.sock') },
  );
  await listen(ollama(), { host: HOST, port: OLLAMA_PORT });
  await listen(ollama(true), { host: HOST, port: OLLAMA_OLD_PORT });
  await listen(
    http.createServer(() => {}),
    { host: HOST, port: SILENT_PORT },
  );
});

afterAll(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
});

describe('probeDocker', () => {
  it('reports the engine version from a socket speaking the engine API', async () => {
    expect(await probeDocker({ socketPath: path.join(dir, 'docker.sock'), timeoutMs })).toEqual({
      version: '20.10.24+dfsg1',
      apiVersion: '1.41',
      platform: 'linux/amd64',
    });
  });

  it("reports agents.platform instead of the engine's own for an engine that emulates it", async () => {
    expect(
      await probeDocker({
        socketPath: path.join(dir, 'docker.sock'),
        timeoutMs,
        platform: 'linux/arm64',
      }),
    ).toMatchObject({ version: '20.10.24+dfsg1', platform: 'linux/arm64' });
  });

  it.each([
    { name: 'no socket', socket: 'missing.sock' },
    { name: 'an engine that never answers', socket: 'hung.sock' },
  ])('says not capable for $name', async ({ socket }) => {
    expect(await probeDocker({ socketPath: path.join(dir, socket), timeoutMs: 300 })).toBeNull();
  });
});

describe('probeOllama', () => {
  it('lists the models held and loaded', async () => {
    const url = `http://${HOST}:${OLLAMA_PORT}`;
    expect(await probeOllama({ url, timeoutMs })).toEqual({
      url,
      models: ['llama3:latest', 'qwen3:0.6b'],
      loaded: ['qwen3:0.6b'],
    });
  });

  it('reports nothing loaded for a server without /api/ps', async () => {
    const url = `http://${HOST}:${OLLAMA_OLD_PORT}/`;
    expect(await probeOllama({ url, timeoutMs })).toMatchObject({
      models: ['llama3:latest', 'qwen3:0.6b'],
      loaded: [],
    });
  });

  it.each([
    { name: 'nothing listening', url: `http://${HOST}:${UNUSED_PORT}` },
    { name: 'a server that never answers', url: `http://${HOST}:${SILENT_PORT}` },
    { name: 'a server that is not Ollama', url: `http://${HOST}:${OLLAMA_PORT}/not-ollama/` },
  ])('says not capable for $name', async ({ url }) => {
    expect(await probeOllama({ url, timeoutMs: 300 })).toBeNull();
  });
});

describe('probeMic', () => {
  it('lists capture devices from arecord -l', async () => {
    const arecord = tool(
      'arecord-usb',
      `[ "$1" = "-l" ] || exit 1
cat <<'EOF'
**** List of CAPTURE Hardware Devices ****
card 2: Device [USB PnP Sound Device], device 0: USB Audio [USB Audio]
  Subdevices: 1/1
  Subdevice #0: subdevice #0
EOF`,
    );
    expect(await probeMic({ arecord, timeoutMs })).toEqual({
      devices: ['hw:2,0 USB PnP Sound Device'],
    });
  });

  it('says no mic when there is no sound card', async () => {
    const arecord = tool(
      'arecord-none',
      `echo "arecord: device_list:274: no soundcards found..." >&2`,
    );
    expect(await probeMic({ arecord, timeoutMs })).toBeNull();
  });

  it('says no mic when arecord is missing', async () => {
    expect(await probeMic({ arecord: path.join(binDir, 'no-arecord'), timeoutMs })).toBeNull();
  });
});

describe('probeGpu', () => {
  it.skipIf(!existsSync(nvidiaQueryCsv))('reads GPUs from nvidia-smi’s query output', async () => {
    const nvidiaSmi = tool(
      'nvidia-smi',
      `case "$1" in --query-gpu=index,name,uuid,memory.total,*) exec cat "${nvidiaQueryCsv}";; esac; exit 6`,
    );
    expect(await probeGpu({ nvidiaSmi, timeoutMs })).toEqual([
      {
        index: 0,
        name: 'NVIDIA H100 80GB HBM3',
        uuid: 'GPU-333ebd5e-a6a7-95dd-e517-241d319d6652',
        vramTotalMiB: 81559,
        vramFreeMiB: 81079,
        driver: '580.159.04',
      },
    ]);
  });

  it.each([
    { name: 'nvidia-smi is missing', body: null },
    {
      name: 'the driver is not loaded',
      body: `echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." ; exit 9`,
    },
    { name: 'nvidia-smi hangs', body: 'exec sleep 30' },
  ])('says no GPU when $name', async ({ name, body }) => {
    const nvidiaSmi =
      body === null
        ? path.join(binDir, 'no-nvidia-smi')
        : tool(`nvidia-smi-${name.replace(/\W+/g, '-')}`, body);
    expect(await probeGpu({ nvidiaSmi, timeoutMs: 300 })).toEqual([]);
  });
});

describe('probeStt', () => {
  const stt = (over: object) => parseConfig({ stt: over }).stt;

  it.skipIf(!existsSync(ggmlModel))('accepts a readable ggml whisper model', async () => {
    expect(await probeStt(stt({ engine: 'whisper', model: ggmlModel }), { timeoutMs })).toEqual({
      engine: 'whisper',
      model: 'for-tests-ggml-tiny.en.bin',
    });
  });

  it.each([
    { name: 'no model configured', model: '' },
    { name: 'a missing file', model: '/nonexistent/ggml-base.en.bin' },
    { name: 'a GGUF file', model: ggufModel },
    { name: 'a directory', model: sharedData },
  ])('rejects $name', async ({ model }) => {
    expect(await probeStt(stt({ engine: 'whisper', model }), { timeoutMs })).toBeNull();
  });

  it('says nothing for engine none', async () => {
    expect(await probeStt(stt({ engine: 'none' }), { timeoutMs })).toBeNull();
  });

  it('finds the phrase recogniser when a pocketsphinx binary and an acoustic model are there', async () => {
    const modelDir = path.join(dir, 'model', 'en-us');
    mkdirSync(modelDir, { recursive: true });
    writeFileSync(path.join(modelDir, 'mdef'), '0.3\n');
    const phraseBin = path.join(dir, 'phrase-bin');
    mkdirSync(phraseBin);
    writeFileSync(path.join(phraseBin, 'pocketsphinx_continuous'), '#!/bin/sh\n');
    chmodSync(path.join(phraseBin, 'pocketsphinx_continuous'), 0o755);
    const env = { PATH: phraseBin };
    expect(await probeStt(stt({ engine: 'phrase', model: modelDir }), { timeoutMs, env })).toEqual({
      engine: 'phrase',
      model: 'en-us',
    });
    expect(
      await probeStt(stt({ engine: 'phrase', model: path.join(dir, 'model') }), { timeoutMs, env }),
    ).toBeNull();
    expect(
      await probeStt(stt({ engine: 'phrase', model: modelDir }), {
        timeoutMs,
        env: { PATH: binDir },
      }),
    ).toBeNull();
  });
});

describe('probeTts and probeGo', () => {
  it('lists the speech engines on PATH', async () => {
    const ttsBin = path.join(dir, 'tts-bin');
    mkdirSync(ttsBin);
    writeFileSync(path.join(ttsBin, 'piper'), '#!/bin/sh\n');
    chmodSync(path.join(ttsBin, 'piper'), 0o755);
    // present but not executable: not usable
    writeFileSync(path.join(ttsBin, 'espeak-ng'), '');
    expect(await probeTts({ env: { PATH: ttsBin } })).toEqual(['piper']);
    expect(await probeTts({ env: { PATH: '' } })).toEqual([]);
  });

  it('finds go by name on PATH or by path, and not when absent', async () => {
    const go = tool('go', 'echo "go version go1.19.8 linux/amd64"');
    expect(await probeGo('go', { env: { PATH: binDir } })).toBe(true);
    expect(await probeGo(go)).toBe(true);
    expect(await probeGo('go', { env: { PATH: path.join(dir, 'empty') } })).toBe(false);
  });
});

describe('probeCapabilities', () => {
  it('combines every probe into a valid advert section', async () => {
    const config = parseConfig({
      capabilities: {
        docker_socket: path.join(dir, 'docker.sock'),
        nvidia_smi: path.join(binDir, 'no-nvidia-smi'),
        probe_timeout_ms: timeoutMs,
      },
      router: { ollama_url: `http://${HOST}:${OLLAMA_PORT}` },
      stt: { engine: 'whisper', model: existsSync(ggmlModel) ? ggmlModel : '' },
      agents: { go: path.join(binDir, 'go') },
    });
    tool('go', 'exit 0');
    const caps = await probeCapabilities(config, undefined, { PATH: binDir });
    expect(CapabilitiesSchema.parse(caps)).toEqual(caps);
    expect(caps).toMatchObject({
      docker: { version: '20.10.24+dfsg1' },
      ollama: { models: ['llama3:latest', 'qwen3:0.6b'] },
      gpu: [],
      go: true,
      tts: [],
      mic: null,
      cpus: os.availableParallelism(),
    });
    if (existsSync(ggmlModel))
      expect(caps.stt).toEqual({ engine: 'whisper', model: 'for-tests-ggml-tiny.en.bin' });
  });

  // issue 11: execFile removes its listener from the caller's signal only on the child's 'exit',
  // which a command that is not there never emits; the prober's signal lives as long as the node.
  it("adds no lasting listener to the caller's signal, however often it probes", async () => {
    const config = parseConfig({
      capabilities: {
        docker_socket: path.join(dir, 'docker.sock'),
        nvidia_smi: path.join(binDir, 'no-nvidia-smi'),
        probe_timeout_ms: timeoutMs,
      },
      router: { ollama_url: `http://${HOST}:${OLLAMA_PORT}` },
      stt: { engine: 'whisper', model: '' },
      agents: { go: path.join(binDir, 'no-go') },
    });
    const controller = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 30; i++) {
        expect(
          await probeGpu({
            nvidiaSmi: config.capabilities.nvidia_smi,
            timeoutMs,
            signal: controller.signal,
          }),
        ).toEqual([]);
      }
      for (let i = 0; i < 12; i++)
        await probeCapabilities(config, controller.signal, { PATH: binDir });
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('finishes within its bound when the caller aborts', async () => {
    const config = parseConfig({
      capabilities: { docker_socket: path.join(dir, 'hung.sock'), probe_timeout_ms: 60_000 },
      router: { ollama_url: `http://${HOST}:${SILENT_PORT}` },
    });
    const controller = new AbortController();
    const pending = probeCapabilities(config, controller.signal);
    setTimeout(() => controller.abort(), 50);
    const caps = await pending;
    expect(caps.docker).toBeNull();
    expect(caps.ollama).toBeNull();
  });
});
