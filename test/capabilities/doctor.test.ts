import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import {
  CommandError,
  realDoctorDeps,
  runDoctor,
  type DoctorCheck,
  type DoctorDeps,
} from '../../node/capabilities/index.js';
import { tailscaleFixtureText } from '../fixtures/tailscale.js';

const statusRunning = tailscaleFixtureText('status-running.json');
const statusNeedsLogin = tailscaleFixtureText('status-needs-login.json');

function errno(code: string): Error {
  return Object.assign(new Error(`connect ${code} /var/run/docker.sock`), { code });
}

/** Every dependency present and healthy; each case breaks one thing. */
function healthy(over: Partial<DoctorDeps> = {}): DoctorDeps {
  return {
    findOnPath: async (bin) => (bin.includes('/') ? bin : `/usr/bin/${bin}`),
    run: async (bin, args) => {
      const cmd = `${path.basename(bin)} ${args.join(' ')}`;
      if (cmd === 'nats-server --version') return { stdout: 'nats-server: v2.10.27\n', stderr: '' };
      if (cmd === 'tailscale status --json') return { stdout: statusRunning, stderr: '' };
      if (cmd === 'arecord -l')
        return {
          stdout: 'card 1: Device [USB PnP Sound Device], device 0: USB Audio [USB Audio]\n',
          stderr: '',
        };
      if (cmd === 'go version') return { stdout: 'go version go1.19.8 linux/amd64\n', stderr: '' };
      throw new Error(`unexpected command ${cmd}`);
    },
    dockerVersion: async () => ({
      version: '20.10.24+dfsg1',
      apiVersion: '1.41',
      platform: 'linux/amd64',
    }),
    ollamaModels: async () => ({ models: ['llama3:latest'], loaded: [] }),
    whisperModel: async (file) => ({ ok: true, model: path.basename(file) }),
    pocketsphinx: async () => ({ ok: true, model: 'en-us' }),
    vadModel: async (file) => ({ ok: true, model: path.basename(file) }),
    ...over,
  };
}

const missing =
  (...names: string[]) =>
  async (bin: string) =>
    names.includes(path.basename(bin)) ? null : `/usr/bin/${bin}`;

async function check(name: string, deps: DoctorDeps, config: object = {}): Promise<DoctorCheck> {
  const checks = await runDoctor(
    parseConfig({ stt: { model: '/var/lib/helix/models/ggml-base.en.bin' }, ...config }),
    deps,
  );
  const found = checks.find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} check`);
  return found;
}

describe('runDoctor', () => {
  it('passes every check, without fixes, when everything is there', async () => {
    const checks = await runDoctor(
      parseConfig({ stt: { model: '/models/ggml-base.en.bin' } }),
      healthy(),
    );
    expect(checks.map((c) => c.name)).toEqual([
      'nats-server',
      'docker',
      'tailscale',
      'ollama',
      'arecord',
      'stt-model',
      'vad-model',
      'go',
    ]);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.every((c) => c.fix === undefined)).toBe(true);
    expect(checks.find((c) => c.name === 'nats-server')?.detail).toContain('v2.10.27');
    expect(checks.find((c) => c.name === 'tailscale')?.detail).toContain('desk.tail4e7c2.ts.net');
  });

  it.each<{
    name: string;
    check: string;
    deps: DoctorDeps;
    config?: object;
    fix: string | undefined;
    ok?: boolean;
  }>([
    {
      name: 'nats-server missing',
      check: 'nats-server',
      deps: healthy({ findOnPath: missing('nats-server') }),
      fix: 'apt-get install -y nats-server',
    },
    {
      name: 'nats-server 2.9.10 (loses route interest after a reload)',
      check: 'nats-server',
      deps: healthy({
        run: async (bin, args) => {
          if (path.basename(bin) === 'nats-server' && args[0] === '--version')
            return { stdout: 'nats-server: v2.9.10\n', stderr: '' };
          return healthy().run(bin, args, { timeoutMs: 1000 });
        },
      }),
      fix: 'scripts/install-nats-server.sh',
    },
    {
      name: 'no Docker engine socket',
      check: 'docker',
      deps: healthy({ dockerVersion: async () => Promise.reject(errno('ENOENT')) }),
      fix: 'apt-get install -y docker.io && systemctl start docker',
    },
    {
      name: 'dockerd stopped',
      check: 'docker',
      deps: healthy({ dockerVersion: async () => Promise.reject(errno('ECONNREFUSED')) }),
      fix: 'apt-get install -y docker.io && systemctl start docker',
    },
    {
      name: 'a user outside the docker group',
      check: 'docker',
      deps: healthy({ dockerVersion: async () => Promise.reject(errno('EACCES')) }),
      fix: 'usermod -aG docker "$USER" && newgrp docker',
    },
    {
      name: 'tailscale not installed',
      check: 'tailscale',
      deps: healthy({ findOnPath: missing('tailscale') }),
      fix: 'curl -fsSL https://tailscale.com/install.sh | sh && tailscale up  # other systems: https://tailscale.com/download',
    },
    {
      name: 'tailscaled not running',
      check: 'tailscale',
      deps: healthy({
        run: async () => {
          throw new CommandError(
            'tailscale status --json',
            'exit',
            1,
            '',
            "tailscale status --json exited with 1: failed to connect to local tailscaled; it doesn't appear to be running",
          );
        },
      }),
      fix: 'systemctl enable --now tailscaled && tailscale up',
    },
    {
      name: 'tailscale logged out',
      check: 'tailscale',
      deps: healthy({
        run: async (bin, args) =>
          args[0] === 'status'
            ? { stdout: statusNeedsLogin, stderr: '' }
            : healthy().run(bin, args, { timeoutMs: 1 }),
      }),
      fix: 'tailscale up',
    },
    {
      name: 'tailscale turned off in helix.toml',
      check: 'tailscale',
      deps: healthy({ findOnPath: missing('tailscale') }),
      config: { discovery: { tailscale: false } },
      fix: undefined,
      ok: true,
    },
    {
      name: 'the router model missing',
      check: 'ollama',
      deps: healthy({ ollamaModels: async () => ({ models: ['qwen3:0.6b'], loaded: [] }) }),
      fix: 'ollama pull llama3',
    },
    {
      name: 'a stopped local Ollama',
      check: 'ollama',
      deps: healthy({ ollamaModels: async () => Promise.reject(new Error('fetch failed')) }),
      fix: 'systemctl start ollama',
    },
    {
      name: 'no Ollama at all',
      check: 'ollama',
      deps: healthy({
        ollamaModels: async () => Promise.reject(new Error('fetch failed')),
        findOnPath: missing('ollama'),
      }),
      config: { router: { model: 'qwen3:0.6b' } },
      fix: 'curl -fsSL https://ollama.com/install.sh | sh && ollama pull qwen3:0.6b',
    },
    {
      name: 'an unreachable Ollama on another host (nothing to run here)',
      check: 'ollama',
      deps: healthy({ ollamaModels: async () => Promise.reject(new Error('fetch failed')) }),
      config: { router: { ollama_url: 'http://desk.local:11434' } },
      fix: undefined,
    },
    {
      name: 'arecord missing',
      check: 'arecord',
      deps: healthy({ findOnPath: missing('arecord') }),
      fix: 'apt-get install -y alsa-utils',
    },
    {
      name: 'no microphone while voice is on',
      check: 'arecord',
      deps: healthy({
        run: async (bin, args) =>
          args[0] === '-l'
            ? { stdout: '', stderr: 'no soundcards found...' }
            : healthy().run(bin, args, { timeoutMs: 1 }),
      }),
      config: { voice: { enabled: true } },
      fix: undefined,
    },
    {
      name: 'the whisper model missing',
      check: 'stt-model',
      deps: healthy({ whisperModel: async (f) => ({ ok: false, problem: `${f} does not exist` }) }),
      fix: 'helix-node models pull',
    },
    {
      name: 'pocketsphinx missing for the phrase engine',
      check: 'stt-model',
      deps: healthy({
        pocketsphinx: async () => ({ ok: false, problem: 'no pocketsphinx on PATH' }),
      }),
      config: { stt: { engine: 'phrase' } },
      fix: 'apt-get install -y pocketsphinx pocketsphinx-en-us',
    },
    {
      name: 'the Silero VAD model missing on a node with a mic',
      check: 'vad-model',
      deps: healthy({ vadModel: async (f) => ({ ok: false, problem: `${f} does not exist` }) }),
      config: { voice: { enabled: true } },
      fix: 'helix-node models pull silero-vad',
    },
    {
      name: 'the Silero VAD model missing on a node without one (listen --file needs it)',
      check: 'vad-model',
      deps: healthy({ vadModel: async (f) => ({ ok: false, problem: `${f} does not exist` }) }),
      fix: 'helix-node models pull silero-vad',
      ok: true,
    },
    {
      name: 'go missing',
      check: 'go',
      deps: healthy({ findOnPath: missing('go') }),
      fix: 'apt-get install -y golang-go',
    },
  ])('gives the exact fix for $name', async ({ check: name, deps, config, fix, ok }) => {
    const result = await check(name, deps, config);
    expect(result.ok).toBe(ok ?? false);
    expect(result.fix).toBe(fix);
    expect(result.detail).not.toBe('');
  });

  it('says a machine without a microphone is fine while voice is off', async () => {
    const deps = healthy({
      run: async (bin, args) =>
        args[0] === '-l' ? { stdout: '', stderr: '' } : healthy().run(bin, args, { timeoutMs: 1 }),
    });
    const result = await check('arecord', deps);
    expect(result).toMatchObject({
      ok: true,
      detail: expect.stringContaining('no capture device'),
    });
  });

  it('reports a check that throws as failed instead of failing the whole run', async () => {
    const checks = await runDoctor(
      parseConfig({}),
      healthy({
        dockerVersion: () => {
          throw new TypeError('bug');
        },
      }),
    );
    expect(checks).toHaveLength(8);
    expect(checks.find((c) => c.name === 'docker')?.ok).toBe(false);
  });

  it.skipIf(!existsSync('/usr/sbin/nats-server') && !existsSync('/usr/bin/nats-server'))(
    'finds the real nats-server and its version',
    async () => {
      const checks = await runDoctor(
        parseConfig({ capabilities: { probe_timeout_ms: 5000 } }),
        realDoctorDeps,
      );
      const nats = checks.find((c) => c.name === 'nats-server');
      expect(nats).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^v2\.\d+\.\d+ at \/.*nats-server$/),
      });
      expect(checks.map((c) => c.name)).toEqual([
        'nats-server',
        'docker',
        'tailscale',
        'ollama',
        'arecord',
        'stt-model',
        'vad-model',
        'go',
      ]);
    },
  );

  it('finds the real Silero VAD model in the state directory, or says it is not there', async () => {
    const data = path.resolve(import.meta.dirname, '../../../shared/data');
    const vad = path.join(data, 'for-tests-silero-v6.2.0-ggml.bin');
    const there = await runDoctor(parseConfig({ voice: { vad_model: vad } }), realDoctorDeps);
    expect(there.find((c) => c.name === 'vad-model')).toMatchObject({ ok: true });
    const absent = await runDoctor(parseConfig({ voice: { enabled: true } }), realDoctorDeps, {
      stateDir: '/nonexistent/helix',
    });
    expect(absent.find((c) => c.name === 'vad-model')).toMatchObject({
      ok: false,
      detail: expect.stringContaining(
        '/nonexistent/helix/models/ggml-silero-v6.2.0.bin does not exist',
      ),
      fix: 'helix-node models pull silero-vad',
    });
  });

  it('says the real nats-server is missing when bus.nats_server points nowhere', async () => {
    const checks = await runDoctor(
      parseConfig({ bus: { nats_server: '/nonexistent/nats-server' } }),
      realDoctorDeps,
    );
    expect(checks.find((c) => c.name === 'nats-server')).toMatchObject({
      ok: false,
      fix: 'apt-get install -y nats-server',
    });
  });
});
