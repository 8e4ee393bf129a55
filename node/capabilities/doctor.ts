/**
 * `helix-node doctor`: every outside dependency checked, each with what was found and, when
 * something is missing, the exact command that fixes it on Debian/Ubuntu.
 */
import { z } from 'zod';
import { defaultStateDir, vadModelPath, type Config } from '../config/index.js';
import { describeError } from '../errors.js';
import { findOnPath, runCommand, type CommandResult } from './exec.js';
import { losesInterestOnReload, reloadBugWarning } from './nats-version.js';
import { hasOllamaModel, parseArecordList } from './parse.js';
import {
  dockerEngineVersion,
  inspectPocketsphinx,
  inspectVadModel,
  inspectWhisperModel,
  ollamaModels,
  type DockerEngineInfo,
  type ModelCheck,
} from './probes.js';
import { lazySchema } from '../types.js';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** the exact command that fixes it */
  fix?: string;
}

/** The outside world as doctor sees it; tests pass plain objects. */
export interface DoctorDeps {
  findOnPath(bin: string): Promise<string | null>;
  run(bin: string, args: string[], opts: { timeoutMs: number }): Promise<CommandResult>;
  dockerVersion(socketPath: string, opts: { timeoutMs: number }): Promise<DockerEngineInfo>;
  ollamaModels(
    url: string,
    opts: { timeoutMs: number },
  ): Promise<{ models: string[]; loaded: string[] }>;
  whisperModel(file: string): Promise<ModelCheck>;
  pocketsphinx(modelDir: string): Promise<ModelCheck>;
  /** the Silero VAD model file: there and usable */
  vadModel(file: string): Promise<ModelCheck>;
}

export const realDoctorDeps: DoctorDeps = {
  findOnPath: (bin) => findOnPath(bin),
  run: (bin, args, opts) => runCommand(bin, args, opts),
  dockerVersion: (socketPath, opts) => dockerEngineVersion(socketPath, opts),
  ollamaModels: (url, opts) => ollamaModels(url, opts),
  whisperModel: (file) => inspectWhisperModel(file),
  pocketsphinx: (dir) => inspectPocketsphinx(dir),
  vadModel: (file) => inspectVadModel(file),
};

export const FIX = {
  natsServer: 'apt-get install -y nats-server',
  /** Debian 13's nats-server, pinned (the script says what it does on other systems) */
  natsServerUpgrade: 'scripts/install-nats-server.sh',
  docker: 'apt-get install -y docker.io && systemctl start docker',
  dockerGroup: 'usermod -aG docker "$USER" && newgrp docker',
  tailscaleInstall:
    'curl -fsSL https://tailscale.com/install.sh | sh && tailscale up  # other systems: https://tailscale.com/download',
  tailscaled: 'systemctl enable --now tailscaled && tailscale up',
  tailscaleUp: 'tailscale up',
  ollamaInstall: (model: string) =>
    `curl -fsSL https://ollama.com/install.sh | sh && ollama pull ${model}`,
  ollamaStart: 'systemctl start ollama',
  ollamaPull: (model: string) => `ollama pull ${model}`,
  alsa: 'apt-get install -y alsa-utils',
  sttModel: 'helix-node models pull',
  vadModel: 'helix-node models pull silero-vad',
  pocketsphinx: 'apt-get install -y pocketsphinx pocketsphinx-en-us',
  go: 'apt-get install -y golang-go',
} as const;

/** Every check runs at once; each is bounded by capabilities.probe_timeout_ms and never throws. */
export async function runDoctor(
  config: Config,
  deps: DoctorDeps = realDoctorDeps,
  opts: { stateDir?: string } = {},
): Promise<DoctorCheck[]> {
  const timeoutMs = config.capabilities.probe_timeout_ms;
  const checks: [string, () => Promise<DoctorCheck>][] = [
    ['nats-server', () => checkNatsServer(config, deps, timeoutMs)],
    ['docker', () => checkDocker(config, deps, timeoutMs)],
    ['tailscale', () => checkTailscale(config, deps, timeoutMs)],
    ['ollama', () => checkOllama(config, deps, timeoutMs)],
    ['arecord', () => checkArecord(config, deps, timeoutMs)],
    ['stt-model', () => checkSttModel(config, deps)],
    ['vad-model', () => checkVadModel(config, deps, opts.stateDir ?? defaultStateDir())],
    ['go', () => checkGo(config, deps, timeoutMs)],
  ];
  return Promise.all(
    checks.map(([name, check]) =>
      check().catch((err: unknown): DoctorCheck => ({
        name,
        ok: false,
        detail: `check failed: ${describeError(err)}`,
      })),
    ),
  );
}

async function checkNatsServer(
  config: Config,
  deps: DoctorDeps,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const name = 'nats-server';
  const bin = config.bus.nats_server;
  const found = await deps.findOnPath(bin);
  if (!found)
    return { name, ok: false, detail: `${bin} not found (bus.nats_server)`, fix: FIX.natsServer };
  try {
    const { stdout } = await deps.run(found, ['--version'], { timeoutMs });
    // "nats-server: v2.9.10"
    const version = /v?(\d+\.\d+\.\d+\S*)/.exec(stdout)?.[1];
    const shown = version ? `v${version}` : stdout.trim();
    if (version && losesInterestOnReload(version)) {
      return {
        name,
        ok: false,
        detail: `${shown} at ${found}: ${reloadBugWarning(shown)}`,
        fix: FIX.natsServerUpgrade,
      };
    }
    return { name, ok: true, detail: `${shown} at ${found}` };
  } catch (err) {
    return {
      name,
      ok: false,
      detail: `${found} does not run: ${describeError(err)}`,
      fix: FIX.natsServer,
    };
  }
}

async function checkDocker(
  config: Config,
  deps: DoctorDeps,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const name = 'docker';
  const socket = config.capabilities.docker_socket;
  try {
    const v = await deps.dockerVersion(socket, { timeoutMs });
    return {
      name,
      ok: true,
      detail: `engine ${v.version}${v.apiVersion ? ` (API ${v.apiVersion})` : ''} at ${socket}`,
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') {
      return {
        name,
        ok: false,
        detail: `no permission to use ${socket}; this user is not in the docker group`,
        fix: FIX.dockerGroup,
      };
    }
    const why =
      code === 'ENOENT'
        ? `no engine socket at ${socket}`
        : code === 'ECONNREFUSED'
          ? `nothing answers on ${socket}`
          : describeError(err);
    return {
      name,
      ok: false,
      detail: `Docker engine not reachable: ${why} (agents cannot run on this node)`,
      fix: FIX.docker,
    };
  }
}

const TailscaleStatusHead = lazySchema(() =>
  z.looseObject({
    BackendState: z.string(),
    TailscaleIPs: z.array(z.string()).nullable().optional(),
    Self: z.looseObject({ DNSName: z.string().optional() }).nullable().optional(),
  }),
);

async function checkTailscale(
  config: Config,
  deps: DoctorDeps,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const name = 'tailscale';
  if (!config.discovery.tailscale)
    return { name, ok: true, detail: 'not used (discovery.tailscale = false); LAN discovery only' };
  const bin = config.discovery.tailscale_bin;
  const found = await deps.findOnPath(bin);
  if (!found) {
    return {
      name,
      ok: false,
      detail: `${bin} not found; without it only LAN (mDNS) and static peers are found`,
      fix: FIX.tailscaleInstall,
    };
  }
  let stdout: string;
  try {
    ({ stdout } = await deps.run(found, ['status', '--json'], { timeoutMs }));
  } catch (err) {
    const text = describeError(err);
    if (/doesn't appear to be running|failed to connect to local tailscale/i.test(text)) {
      return { name, ok: false, detail: 'tailscaled is not running', fix: FIX.tailscaled };
    }
    return { name, ok: false, detail: `\`tailscale status\` failed: ${text}`, fix: FIX.tailscaled };
  }
  let head: z.infer<typeof TailscaleStatusHead>;
  try {
    head = TailscaleStatusHead.parse(JSON.parse(stdout));
  } catch {
    return {
      name,
      ok: false,
      detail: `${found} printed an unreadable status; update it (https://tailscale.com/download)`,
    };
  }
  if (head.BackendState !== 'Running') {
    return {
      name,
      ok: false,
      detail: `tailscale is ${head.BackendState}, not Running`,
      fix: FIX.tailscaleUp,
    };
  }
  const dns = head.Self?.DNSName?.replace(/\.$/, '');
  return {
    name,
    ok: true,
    detail: `Running${dns ? ` as ${dns}` : ''} (${(head.TailscaleIPs ?? []).join(', ')})`,
  };
}

async function checkOllama(
  config: Config,
  deps: DoctorDeps,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const name = 'ollama';
  const url = config.router.ollama_url;
  const model = config.router.model;
  let models: string[];
  try {
    ({ models } = await deps.ollamaModels(url, { timeoutMs }));
  } catch (err) {
    const detail = `not reachable at ${url} (${describeError(err)}); this node can still use a peer's router`;
    if (!isLoopbackUrl(url)) return { name, ok: false, detail };
    const installed = await deps.findOnPath('ollama');
    return { name, ok: false, detail, fix: installed ? FIX.ollamaStart : FIX.ollamaInstall(model) };
  }
  if (!hasOllamaModel(models, model)) {
    return {
      name,
      ok: false,
      detail: `reachable at ${url}, but the router model ${model} is missing (has: ${models.join(', ') || 'none'})`,
      fix: FIX.ollamaPull(model),
    };
  }
  return {
    name,
    ok: true,
    detail: `${url} with ${model} (${models.length} model${models.length === 1 ? '' : 's'})`,
  };
}

async function checkArecord(
  config: Config,
  deps: DoctorDeps,
  timeoutMs: number,
): Promise<DoctorCheck> {
  const name = 'arecord';
  const found = await deps.findOnPath('arecord');
  if (!found)
    return { name, ok: false, detail: 'arecord not found; this node cannot listen', fix: FIX.alsa };
  try {
    const { stdout } = await deps.run(found, ['-l'], { timeoutMs });
    const devices = parseArecordList(stdout);
    if (devices.length === 0) {
      return {
        name,
        ok: !config.voice.enabled,
        detail: `${found}; no capture device found (plug in a microphone, then check with \`arecord -l\`)`,
      };
    }
    return { name, ok: true, detail: `${found}; capture devices: ${devices.join('; ')}` };
  } catch (err) {
    return {
      name,
      ok: !config.voice.enabled,
      detail: `${found} could not list devices: ${describeError(err)}`,
    };
  }
}

async function checkSttModel(config: Config, deps: DoctorDeps): Promise<DoctorCheck> {
  const name = 'stt-model';
  const { engine, model } = config.stt;
  if (engine === 'none')
    return {
      name,
      ok: true,
      detail: 'no local speech recognition (stt.engine = none); peers transcribe',
    };
  if (engine === 'phrase') {
    const check = await deps.pocketsphinx(model);
    return check.ok
      ? { name, ok: true, detail: `phrase recogniser (pocketsphinx) with model ${check.model}` }
      : { name, ok: false, detail: `phrase recogniser: ${check.problem}`, fix: FIX.pocketsphinx };
  }
  const check = await deps.whisperModel(model);
  return check.ok
    ? { name, ok: true, detail: `whisper model ${model}` }
    : { name, ok: false, detail: `whisper: ${check.problem}`, fix: FIX.sttModel };
}

/**
 * The Silero VAD model cuts speech from the mic (voice.enabled) and from files (`listen --file`);
 * without it those refuse. A node that does neither passes, with the fix shown.
 */
async function checkVadModel(
  config: Config,
  deps: DoctorDeps,
  stateDir: string,
): Promise<DoctorCheck> {
  const name = 'vad-model';
  const file = vadModelPath(config.voice, stateDir);
  const check = await deps.vadModel(file);
  if (check.ok)
    return {
      name,
      ok: true,
      detail: `Silero VAD ${check.model} (cuts speech for listen and the mic)`,
    };
  return {
    name,
    ok: !config.voice.enabled,
    detail: `Silero VAD: ${check.problem}; ${config.voice.enabled ? 'the mic cannot listen' : '`listen --file` cannot run (voice.enabled is off)'}`,
    fix: FIX.vadModel,
  };
}

async function checkGo(config: Config, deps: DoctorDeps, timeoutMs: number): Promise<DoctorCheck> {
  const name = 'go';
  const found = await deps.findOnPath(config.agents.go);
  if (!found)
    return {
      name,
      ok: false,
      detail: `${config.agents.go} not found; this node cannot build agent images (it can fetch them from peers)`,
      fix: FIX.go,
    };
  try {
    const { stdout } = await deps.run(found, ['version'], { timeoutMs });
    return { name, ok: true, detail: stdout.trim() || found };
  } catch (err) {
    return { name, ok: false, detail: `${found} does not run: ${describeError(err)}`, fix: FIX.go };
  }
}

function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
  } catch {
    return false;
  }
}
