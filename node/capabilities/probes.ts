/**
 * One probe per capability. Every probe is bounded by a timeout (and the caller's signal) and
 * answers "not capable" (null, [] or false) on any failure: a probe never throws.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../errors.js';
import type { Config } from '../config/index.js';
import type { Capabilities, Gpu } from '../types.js';
import { enginePlatform } from '../platform.js';
import { findOnPath, runCommand, withDeadline } from './exec.js';
import {
  NVIDIA_SMI_ARGS,
  isGgmlHeader,
  parseArecordList,
  parseNvidiaSmiQuery,
  parseOllamaPs,
  parseOllamaTags,
} from './parse.js';
import { getJson, HttpStatusError } from '../http-json.js';

export interface ProbeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** environment for PATH lookups and children (tests) */
  env?: NodeJS.ProcessEnv;
}

/** ALSA capture devices from `arecord -l`; null without arecord or without a capture device. */
export async function probeMic(
  opts: ProbeOptions & { arecord?: string },
): Promise<Capabilities['mic']> {
  try {
    const { stdout } = await runCommand(opts.arecord ?? 'arecord', ['-l'], opts);
    const devices = parseArecordList(stdout).slice(0, 32);
    return devices.length > 0 ? { devices } : null;
  } catch {
    return null;
  }
}

/** NVIDIA GPUs from nvidia-smi; [] without the tool or a GPU. */
export async function probeGpu(opts: ProbeOptions & { nvidiaSmi: string }): Promise<Gpu[]> {
  try {
    const { stdout } = await runCommand(opts.nvidiaSmi, NVIDIA_SMI_ARGS, opts);
    return parseNvidiaSmiQuery(stdout)
      .slice(0, 16)
      .map((g) => ({
        index: g.index,
        name: g.name,
        ...(g.uuid ? { uuid: g.uuid } : {}),
        vramTotalMiB: g.memoryTotalMiB,
        ...(g.memoryFreeMiB !== undefined ? { vramFreeMiB: g.memoryFreeMiB } : {}),
        ...(g.driverVersion ? { driver: g.driverVersion } : {}),
      }));
  } catch {
    return [];
  }
}

export interface DockerEngineInfo {
  version: string;
  apiVersion?: string;
  /** the platform the engine runs natively ("linux/amd64"), from its Arch (and uname for arm) */
  platform: string;
}

/** Ping the engine, then ask its version. Throws (with the socket error's code) when unreachable. */
export async function dockerEngineVersion(
  socketPath: string,
  opts: ProbeOptions,
): Promise<DockerEngineInfo> {
  // Loaded here, not at import (issue 12: a node without Docker should not pay for dockerode);
  // no socket, no engine: ENOENT as the engine's own client would say it, without loading it.
  await stat(socketPath);
  const { default: Docker } = await import('dockerode');
  // dockerode 4 accepts { abortSignal } on ping/version; @types/dockerode does not say so yet
  const docker = new Docker({ socketPath, timeout: opts.timeoutMs }) as unknown as {
    ping(o: { abortSignal: AbortSignal }): Promise<unknown>;
    version(o: {
      abortSignal: AbortSignal;
    }): Promise<{ Version?: unknown; ApiVersion?: unknown; Arch?: unknown }>;
    info(o: { abortSignal: AbortSignal }): Promise<{ Architecture?: unknown }>;
  };
  return withDeadline(
    async (abortSignal) => {
      await docker.ping({ abortSignal });
      const v = await docker.version({ abortSignal });
      if (typeof v.Version !== 'string' || v.Version === '') {
        throw new Error('the engine answered /version without a Version');
      }
      const arch = typeof v.Arch === 'string' ? v.Arch : '';
      // arm's variant (v6, v7) is in the machine name only: /info's Architecture.
      const machine = arch === 'arm' ? (await docker.info({ abortSignal })).Architecture : '';
      return {
        version: v.Version,
        ...(typeof v.ApiVersion === 'string' ? { apiVersion: v.ApiVersion } : {}),
        platform: arch ? enginePlatform(arch, typeof machine === 'string' ? machine : '') : '',
      };
    },
    opts.timeoutMs,
    opts.signal,
  );
}

/**
 * The engine's version and the platform this node runs agents as: `platform` (config
 * agents.platform, for an engine that runs another platform under emulation) or the engine's own.
 */
export async function probeDocker(
  opts: ProbeOptions & { socketPath: string; platform?: string },
): Promise<Capabilities['docker']> {
  try {
    const info = await dockerEngineVersion(opts.socketPath, opts);
    return opts.platform ? { ...info, platform: opts.platform } : info;
  } catch {
    return null;
  }
}

/** The models an Ollama server holds and the ones loaded now. Throws when unreachable. */
export async function ollamaModels(
  url: string,
  opts: ProbeOptions,
): Promise<{ models: string[]; loaded: string[] }> {
  return withDeadline(
    async (signal) => {
      const get = async (route: string): Promise<unknown> => {
        try {
          return await getJson(new URL(route, url.endsWith('/') ? url : `${url}/`), {
            signal,
            headers: { accept: 'application/json' },
          });
        } catch (err) {
          if (err instanceof HttpStatusError)
            throw new Error(`${route} answered HTTP ${err.status}`);
          throw err;
        }
      };
      const models = parseOllamaTags(await get('api/tags'));
      // /api/ps arrived in Ollama 0.1.38; an older server simply reports nothing loaded
      const loaded = await get('api/ps').then(parseOllamaPs, () => []);
      return { models, loaded };
    },
    opts.timeoutMs,
    opts.signal,
  );
}

export async function probeOllama(
  opts: ProbeOptions & { url: string },
): Promise<Capabilities['ollama']> {
  try {
    const { models, loaded } = await ollamaModels(opts.url, opts);
    return { url: opts.url, models: models.slice(0, 256), loaded: loaded.slice(0, 64) };
  } catch {
    return null;
  }
}

export type ModelCheck = { ok: true; model: string } | { ok: false; problem: string };

/** A whisper.cpp model: the file exists, is readable and starts with the ggml magic. */
/** A Silero VAD ggml file: there, and one the VAD can load (node/voice/silero.ts reads it). */
export async function inspectVadModel(file: string): Promise<ModelCheck> {
  if (!file) return { ok: false, problem: 'no model configured (voice.vad_model is empty)' };
  try {
    await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      problem: code === 'ENOENT' ? `${file} does not exist` : `${file} is not readable (${code})`,
    };
  }
  // the file's head as the VAD reads it (node/voice/silero.ts): ggml magic, then the model type
  let handle;
  try {
    handle = await open(file, 'r');
    const head = new Uint8Array(64);
    const { bytesRead } = await handle.read(head, 0, 64, 0);
    if (bytesRead < 8 || !isGgmlHeader(head))
      return { ok: false, problem: `${file} is not a ggml (whisper.cpp) model` };
    if (!new TextDecoder('latin1').decode(head.subarray(0, bytesRead)).includes('silero'))
      return { ok: false, problem: `${file} is not a Silero VAD model` };
    return { ok: true, model: path.basename(file) };
  } catch (err) {
    return { ok: false, problem: `${file} could not be read (${describeError(err)})` };
  } finally {
    await handle?.close();
  }
}

export async function inspectWhisperModel(file: string): Promise<ModelCheck> {
  if (!file) return { ok: false, problem: 'no model configured (stt.model is empty)' };
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      problem:
        code === 'ENOENT'
          ? `${file} does not exist`
          : `${file} is not readable (${code ?? 'error'})`,
    };
  }
  try {
    const head = new Uint8Array(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    if (bytesRead < 4 || !isGgmlHeader(head))
      return { ok: false, problem: `${file} is not a ggml (whisper.cpp) model` };
    return { ok: true, model: path.basename(file) };
  } catch (err) {
    return {
      ok: false,
      problem: `${file} could not be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  } finally {
    await handle.close();
  }
}

/** Debian's pocketsphinx-en-us acoustic model, used when stt.model names none. */
export const POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us/en-us';
/** Debian 12 ships pocketsphinx 0.8 (`pocketsphinx_continuous`); 5.x has a single `pocketsphinx`. */
export const POCKETSPHINX_BINARIES = ['pocketsphinx', 'pocketsphinx_continuous'];

/** The phrase recogniser: a pocketsphinx binary and an acoustic model directory (with its mdef). */
export async function inspectPocketsphinx(
  modelDir: string,
  env?: NodeJS.ProcessEnv,
): Promise<ModelCheck> {
  const dir = modelDir || POCKETSPHINX_MODEL_DIR;
  let bin: string | null = null;
  for (const name of POCKETSPHINX_BINARIES) bin ??= await findOnPath(name, env);
  if (!bin) return { ok: false, problem: `no ${POCKETSPHINX_BINARIES.join(' or ')} on PATH` };
  try {
    if (!(await stat(path.join(dir, 'mdef'))).isFile()) throw new Error('mdef is not a file');
  } catch {
    return { ok: false, problem: `no acoustic model in ${dir}` };
  }
  return { ok: true, model: path.basename(dir) };
}

export async function probeStt(
  stt: Config['stt'],
  opts: ProbeOptions,
): Promise<Capabilities['stt']> {
  try {
    const check = await withDeadline(
      async () => {
        if (stt.engine === 'whisper') return inspectWhisperModel(stt.model);
        if (stt.engine === 'phrase') return inspectPocketsphinx(stt.model, opts.env);
        return null;
      },
      opts.timeoutMs,
      opts.signal,
    );
    return check?.ok ? { engine: stt.engine, model: check.model } : null;
  } catch {
    return null;
  }
}

export const TTS_ENGINES = ['espeak-ng', 'piper'] as const;

/** Text-to-speech programs on PATH. */
export async function probeTts(opts: Pick<ProbeOptions, 'env'> = {}): Promise<string[]> {
  const found = await Promise.all(
    TTS_ENGINES.map(async (name): Promise<string | null> =>
      (await findOnPath(name, opts.env)) ? name : null,
    ),
  );
  return found.filter((n): n is string => n !== null);
}

/** Whether the Go toolchain (agents.go) is there to build agent images. */
export async function probeGo(
  goBin: string,
  opts: Pick<ProbeOptions, 'env'> = {},
): Promise<boolean> {
  return (await findOnPath(goBin, opts.env)) !== null;
}
