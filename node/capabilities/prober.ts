/**
 * What this node can do (probed, re-probed periodically) and how loaded it is (read on demand).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Config } from '../config/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { Capabilities, Load } from '../types.js';
import { platformOfNodeArch } from '../platform.js';
import {
  probeDocker,
  probeGo,
  probeGpu,
  probeMic,
  probeOllama,
  probeStt,
  probeTts,
  type ProbeOptions,
} from './probes.js';

export function cpuCount(): number {
  return Math.max(1, os.availableParallelism());
}

const MiB = 1024 * 1024;

/** The given host facts with every optional capability absent, then `extra` on top. */
export function hostOnlyCapabilities(
  host: Pick<Capabilities, 'cpus' | 'memTotalMiB' | 'platform'>,
  extra: Partial<Capabilities> = {},
): Capabilities {
  return {
    mic: null,
    gpu: [],
    docker: null,
    stt: null,
    ollama: null,
    tts: [],
    go: false,
    ...host,
    ...extra,
  };
}

/** This host's facts only; every optional capability absent. What a node claims before probing. */
export function baselineCapabilities(): Capabilities {
  return hostOnlyCapabilities({
    cpus: cpuCount(),
    memTotalMiB: Math.round(os.totalmem() / MiB),
    platform: platformOfNodeArch(process.arch),
  });
}

/** Run every probe at once, each bounded by capabilities.probe_timeout_ms. Never throws. */
export async function probeCapabilities(
  config: Config,
  signal?: AbortSignal,
  env?: NodeJS.ProcessEnv,
): Promise<Capabilities> {
  const opts: ProbeOptions = {
    timeoutMs: config.capabilities.probe_timeout_ms,
    ...(signal ? { signal } : {}),
    ...(env ? { env } : {}),
  };
  const [mic, gpu, docker, stt, ollama, tts, go] = await Promise.all([
    probeMic(opts),
    probeGpu({ ...opts, nvidiaSmi: config.capabilities.nvidia_smi }),
    probeDocker({
      ...opts,
      socketPath: config.capabilities.docker_socket,
      platform: config.agents.platform,
    }),
    probeStt(config.stt, opts),
    probeOllama({ ...opts, url: config.router.ollama_url }),
    probeTts(opts),
    probeGo(config.agents.go, opts),
  ]);
  return { ...baselineCapabilities(), mic, gpu, docker, stt, ollama, tts, go };
}

/**
 * Load now: running agents, 1-minute load average (absolute and per core) and free memory —
 * MemAvailable (what can be had without swapping), not MemFree, which excludes the page cache.
 */
export function readLoad(runningAgents: number): Load {
  const loadAvg1 = os.loadavg()[0] ?? 0;
  return {
    runningAgents: Math.max(0, Math.trunc(runningAgents)),
    loadAvg1: round2(loadAvg1),
    loadPerCore: round2(loadAvg1 / cpuCount()),
    memFreeMiB: Math.round(memAvailableBytes() / MiB),
  };
}

function memAvailableBytes(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m?.[1]) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall back below
  }
  return os.freemem();
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

export type CapabilitiesListener = (capabilities: Capabilities) => void;

export interface CapabilityProberOptions {
  config: Config;
  logger?: Logger;
  /** replaceable for tests; default probeCapabilities */
  probe?: (config: Config, signal: AbortSignal) => Promise<Capabilities>;
}

/** Probes at start() and every capabilities.probe_interval_s; tells listeners what changed. */
export class CapabilityProber {
  private readonly config: Config;
  private readonly log: Logger;
  private readonly probe: (config: Config, signal: AbortSignal) => Promise<Capabilities>;
  private readonly listeners = new Set<CapabilitiesListener>();
  private caps: Capabilities = baselineCapabilities();
  private capsKey = JSON.stringify(this.caps);
  private timer: NodeJS.Timeout | null = null;
  private controller = new AbortController();
  private inFlight: Promise<Capabilities> | null = null;
  private running = false;

  constructor(opts: CapabilityProberOptions) {
    this.config = opts.config;
    this.log = (opts.logger ?? silentLogger).child({ component: 'capabilities' });
    this.probe = opts.probe ?? ((config, signal) => probeCapabilities(config, signal));
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.controller.signal.aborted) this.controller = new AbortController();
    await this.probeNow();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.controller.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight?.catch(() => undefined);
  }

  current(): Capabilities {
    return this.caps;
  }

  onChange(listener: CapabilitiesListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Probe once now (e.g. after the user plugged in a microphone); concurrent calls share one run. */
  probeNow(): Promise<Capabilities> {
    this.inFlight ??= this.runProbe().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async runProbe(): Promise<Capabilities> {
    let next: Capabilities;
    try {
      next = await this.probe(this.config, this.controller.signal);
    } catch (err) {
      this.log.warn(
        { err: describeError(err) },
        'capability probe failed; keeping the last result',
      );
      return this.caps;
    }
    if (this.controller.signal.aborted) return this.caps;
    const key = JSON.stringify(next);
    if (key === this.capsKey) return this.caps;
    this.caps = next;
    this.capsKey = key;
    this.log.info({ capabilities: summarize(next) }, 'capabilities changed');
    for (const listener of [...this.listeners]) {
      try {
        listener(next);
      } catch (err) {
        this.log.warn({ err: describeError(err) }, 'capabilities listener failed');
      }
    }
    return next;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.probeNow().finally(() => this.schedule());
    }, this.config.capabilities.probe_interval_s * 1000);
    this.timer.unref();
  }
}

/** One line per capability for the log: what is there, not the whole object. */
function summarize(c: Capabilities): Record<string, unknown> {
  return {
    mic: c.mic?.devices.length ?? 0,
    gpu: c.gpu.map((g) => `${g.name} ${Math.round(g.vramTotalMiB / 1024)} GiB`),
    docker: c.docker?.version ?? null,
    stt: c.stt ? `${c.stt.engine}:${c.stt.model}` : null,
    ollama: c.ollama ? c.ollama.models.length : null,
    tts: c.tts,
    go: c.go,
  };
}
