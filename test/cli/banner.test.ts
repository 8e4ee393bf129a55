/**
 * The lines `join` prints once the node is up (issue 13): what the node is, where to look at it,
 * what it lacks with the fix in a few words, from doctor's own checks (run here with plain-object
 * deps, so the wording they are matched on is doctor's real wording).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bannerLines,
  bannerRecord,
  lacksFrom,
  lacksFromCapabilities,
  startingLine,
  type BannerFacts,
} from '../../node/cli/banner.js';
import { hostOnlyCapabilities, runDoctor, type DoctorDeps } from '../../node/capabilities/index.js';
import { parseConfig } from '../../node/config/index.js';

const ESC = '\u001b';

const facts: BannerFacts = {
  version: '0.1.0',
  name: 'kitchen-pi',
  id: 'BuREMGEX',
  mesh: 'mesh-f0c4f0879178',
  room: 'kitchen',
  platform: 'linux/arm64',
  address: '100.64.170.2',
  ports: { rpc: 7700, cluster: 6222 },
  discovery: ['the tailnet example.ts.net', 'mDNS on the LAN'],
  peers: 2,
  where: [{ label: 'state', value: '/var/lib/helix' }],
  lacks: [
    {
      check: 'docker',
      what: 'no Docker: agents run on other nodes',
      fix: 'apt-get install docker.io',
    },
    { check: 'arecord', what: 'no microphone', fix: 'plug in a microphone' },
  ],
};

/** A machine with nothing optional: no Docker, no tailscale, Ollama down, no mic, no models. */
const bareMachine: DoctorDeps = {
  findOnPath: async (bin) =>
    ['tailscale', 'go'].includes(path.basename(bin)) ? null : `/usr/bin/${bin}`,
  run: async (bin, args) => {
    const cmd = `${path.basename(bin)} ${args.join(' ')}`;
    if (cmd === 'nats-server --version') return { stdout: 'nats-server: v2.10.27\n', stderr: '' };
    if (cmd === 'arecord -l') return { stdout: '', stderr: '' };
    throw new Error(`unexpected command ${cmd}`);
  },
  dockerVersion: async () => {
    throw Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' });
  },
  ollamaModels: async () => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:11434'), {
      code: 'ECONNREFUSED',
    });
  },
  whisperModel: async () => ({ ok: false, problem: 'stt.model is empty' }),
  pocketsphinx: async () => ({ ok: false, problem: 'not installed' }),
  vadModel: async () => ({ ok: false, problem: 'no model file' }),
};

describe('the start banner', () => {
  it('says what the node is, where it is, what it lacks and how to leave', () => {
    const lines = bannerLines({ ...facts, dashboard: 'http://127.0.0.1:7780' }, { color: false });
    expect(lines[0]).toBe(
      'helix-node 0.1.0 is up: kitchen-pi (BuREMGEX) in mesh mesh-f0c4f0879178',
    );
    const text = lines.join('\n');
    expect(text).toContain('  room       kitchen');
    expect(text).toContain('  platform   linux/arm64');
    expect(text).toContain('  address    100.64.170.2 (gRPC 7700, routes 6222)');
    expect(text).toContain(
      '  peers      2 alive; found through the tailnet example.ts.net, mDNS on the LAN',
    );
    expect(text).toContain('  dashboard  http://127.0.0.1:7780');
    expect(text).toContain('  state      /var/lib/helix');
    expect(text).toContain(
      '  lacks      no Docker: agents run on other nodes → apt-get install docker.io',
    );
    expect(text).toContain('             no microphone → plug in a microphone');
    expect(lines.at(-1)).toMatch(/Ctrl-C leaves the mesh/);
    expect(text).not.toContain(ESC);
  });

  it('has a dashboard line only when the facts name one', () => {
    expect(bannerLines(facts, { color: false }).join('\n')).not.toContain('dashboard');
  });

  it('says so when nothing is lacking, and how to find peers when discovery is off', () => {
    const text = bannerLines(
      { ...facts, lacks: [], discovery: [], peers: 0, room: undefined },
      { color: false },
    ).join('\n');
    expect(text).toContain('lacks      nothing');
    expect(text).toContain('none yet; discovery is off');
    expect(text).toContain('room       none yet (helix-node rooms set)');
  });

  it('is coloured only when asked', () => {
    const text = bannerLines(facts, { color: true }).join('\n');
    expect(text).toContain(`${ESC}[1mkitchen-pi${ESC}[0m`);
    expect(text).toContain(`${ESC}[33mno microphone${ESC}[0m`);
    expect(
      startingLine(
        { version: '0.1.0', stateDir: '/s', configPath: null, invite: true },
        { color: false },
      ),
    ).toBe(
      'helix-node 0.1.0 starting (state /s, no helix.toml, defaults); joining with the invite code…',
    );
  });

  it('shows a name or room with control characters as visible text', () => {
    const text = bannerLines(
      { ...facts, name: 'pi\u001b]0;owned\u0007', room: 'hall\u001b[2J' },
      { color: true },
    ).join('\n');
    expect(text).toContain('pi\\u001b]0;owned\\u0007');
    expect(text).toContain('hall\\u001b[2J');
    // eslint-disable-next-line no-control-regex -- removing the banner's own colour codes
    expect(text.replace(/\u001b\[(?:0|1|2|3[1-4])m/g, '')).not.toContain(ESC);
  });

  it('is one record with the same facts for JSON logs', () => {
    expect(bannerRecord({ ...facts, dashboard: 'http://127.0.0.1:7780' })).toEqual({
      version: '0.1.0',
      name: 'kitchen-pi',
      id: 'BuREMGEX',
      mesh: 'mesh-f0c4f0879178',
      room: 'kitchen',
      platform: 'linux/arm64',
      address: '100.64.170.2',
      ports: { rpc: 7700, cluster: 6222 },
      discovery: ['the tailnet example.ts.net', 'mDNS on the LAN'],
      peers: 2,
      dashboard: 'http://127.0.0.1:7780',
      where: { state: '/var/lib/helix' },
      lacks: facts.lacks,
    });
  });
});

describe('what the node lacks, from doctor', () => {
  it('lists each missing part with a fix in a few words', async () => {
    const checks = await runDoctor(parseConfig({}), bareMachine);
    expect(lacksFrom(checks)).toEqual([
      {
        check: 'docker',
        what: 'no Docker: agents run on other nodes',
        fix: 'apt-get install docker.io',
      },
      {
        check: 'tailscale',
        what: 'no tailnet: peers only from the LAN, invites and static peers',
        fix: 'install it: tailscale.com/download',
      },
      { check: 'ollama', what: 'Ollama is not running', fix: 'systemctl start ollama' },
      { check: 'arecord', what: 'no microphone', fix: 'plug in a microphone' },
      {
        check: 'stt-model',
        what: 'no speech-to-text model: peers transcribe',
        fix: 'helix-node models pull',
      },
      {
        check: 'vad-model',
        what: 'no voice-activity model: this node cannot listen',
        fix: 'helix-node models pull silero-vad',
      },
      {
        check: 'go',
        what: 'no Go toolchain: agent images come from peers',
        fix: 'apt-get install -y golang-go',
      },
    ]);
  });

  it('says where to get a part that is not installed at all, in a few words', async () => {
    const checks = await runDoctor(parseConfig({}), {
      ...bareMachine,
      findOnPath: async (bin) =>
        ['tailscale', 'go', 'ollama'].includes(path.basename(bin)) ? null : `/usr/bin/${bin}`,
    });
    expect(lacksFrom(checks).find((l) => l.check === 'ollama')).toEqual({
      check: 'ollama',
      what: 'no Ollama on this node',
      fix: 'install it: ollama.com/download',
    });
  });

  it('lists nothing on a machine that has everything', async () => {
    const checks = await runDoctor(parseConfig({ discovery: { tailscale: false } }), {
      ...bareMachine,
      findOnPath: async (bin) => `/usr/bin/${bin}`,
      run: async (bin, args) => {
        const cmd = `${path.basename(bin)} ${args.join(' ')}`;
        if (cmd === 'nats-server --version')
          return { stdout: 'nats-server: v2.10.27\n', stderr: '' };
        if (cmd === 'arecord -l')
          return {
            stdout: 'card 1: Device [USB Audio], device 0: USB Audio [USB Audio]\n',
            stderr: '',
          };
        if (cmd === 'go version') return { stdout: 'go version go1.22 linux/arm64\n', stderr: '' };
        throw new Error(`unexpected command ${cmd}`);
      },
      dockerVersion: async () => ({ version: '27.1', apiVersion: '1.46', platform: 'linux/arm64' }),
      ollamaModels: async () => ({ models: ['llama3:latest'], loaded: [] }),
      whisperModel: async () => ({ ok: true, model: 'ggml-base.en.bin' }),
      vadModel: async () => ({ ok: true, model: 'ggml-silero-v6.2.0.bin' }),
    });
    expect(lacksFrom(checks)).toEqual([]);
  });
});

describe('what the node lacks, from its own probes (the JSON banner)', () => {
  const config = parseConfig({});
  const host = { cpus: 4, memTotalMiB: 4096 };

  it('lists what the probes did not find, with the same words and short fixes', () => {
    const lacks = lacksFromCapabilities(hostOnlyCapabilities(host), {
      tailnet: { kind: 'not-running' },
      config,
    });
    expect(lacks).toEqual([
      {
        check: 'docker',
        what: 'no Docker: agents run on other nodes',
        fix: 'apt-get install docker.io',
      },
      {
        check: 'tailscale',
        what: 'no tailnet: peers only from the LAN, invites and static peers',
        fix: 'tailscale up',
      },
      { check: 'ollama', what: 'no Ollama on this node', fix: 'install it: ollama.com/download' },
      { check: 'arecord', what: 'no microphone', fix: 'plug in a microphone' },
      {
        check: 'stt-model',
        what: 'no speech-to-text model: peers transcribe',
        fix: 'helix-node models pull',
      },
      {
        check: 'go',
        what: 'no Go toolchain: agent images come from peers',
        fix: 'apt-get install -y golang-go',
      },
    ]);
  });

  it('names a missing router model, and nothing else on a node that has the rest', () => {
    const caps = hostOnlyCapabilities(host, {
      mic: { devices: ['hw:1,0'] },
      docker: { version: '27.1', platform: 'linux/arm64' },
      stt: { engine: 'whisper', model: 'ggml-base.en.bin' },
      ollama: { url: 'http://127.0.0.1:11434', models: ['qwen2.5:3b'], loaded: [] },
      go: true,
    });
    expect(lacksFromCapabilities(caps, { tailnet: { kind: 'disabled' }, config })).toEqual([
      { check: 'ollama', what: 'no router model in Ollama', fix: 'ollama pull llama3' },
    ]);
  });
});
