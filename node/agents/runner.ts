/**
 * Runs intents on this node: checks the request against the manifest, then hands the task to an
 * idle warm container (warm agents) or to a fresh sandboxed container that is removed afterwards
 * (cold agents, or warm ones with no pool). Every run is an async iterable of events that starts
 * with `accepted` and ends with exactly one `result` or `error`; aborting the signal kills it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describeError } from '../errors.js';
import { redactValue, silentLogger, type Logger } from '../log.js';
import { RunStats } from './run-stats.js';
import type { WarmPoolEntry } from '../types.js';
import {
  pickContext,
  currentConfig,
  type ConfigSource,
  AGENT_PROTOCOL_VERSION,
  MAX_LINE_BYTES,
  type TaskMessage,
  runError,
  type LoadedAgent,
  type RunEvent,
  type RunRequest,
} from '../agentspec/index.js';
import type { HostCalls } from './calls.js';
import { AgentContainer, type ContainerDeps } from './container.js';
import { AgentCompileError } from './errors.js';
import type { AgentIoLimits } from './limits.js';
import { PoolUnavailableError, WarmPool } from './pool.js';
import { DEFAULT_IMAGE_PREFIX, imageTag } from './recipe.js';
import type { ImageUsage, Registry } from './registry.js';
import type { ContainerRuntime } from './runtime.js';
import { delay } from '../async.js';

export interface AgentRunnerOptions {
  /** where containers run (DockerRuntime first) */
  runtime: ContainerRuntime;
  agents: LoadedAgent[];
  /** the effects this node offers agents (mqtt.publish, http.fetch, llm.generate, mesh.status, notify) */
  handlers?: Partial<HostCalls>;
  /** this node's name: in `accepted` and in every task's context.host */
  host?: string;
  /** helix.toml as parsed (Config), or the daemon's current tree: the keys manifests list in `context` */
  config?: ConfigSource;
  /** warm containers per warm agent (default config agents.warm_pool_size, else 1) */
  warmPoolSize?: number;
  imagePrefix?: string;
  /** container names start with this (default "helix-"; tests "helix-test-") */
  containerPrefix?: string;
  maxLineBytes?: number;
  /** what one agent container may cost the host (default AGENT_IO_LIMITS, node/agents/limits.ts) */
  ioLimits?: Partial<AgentIoLimits>;
  readyTimeoutMs?: number;
  /** run bookkeeping (successes, failures, in use); usually the node's Registry */
  registry?: ImageUsage & Partial<Pick<Registry, 'record'>>;
  /**
   * The image to run for an agent. Default: `<prefix><name>:<hash>` when the engine has it.
   * The daemon plugs in "fetch from a peer, else build" here.
   */
  resolveImage?: (agent: LoadedAgent, signal?: AbortSignal) => Promise<string>;
  /** called when the warm pool's state changes (for the advert) */
  onPoolChange?: () => void;
  log?: Logger;
}

/** A cold container outlives its task's deadline by at most this before the runtime kills it. */
const COLD_KILL_SLACK_MS = 2000;

export class ImageMissingError extends Error {
  override name = 'ImageMissingError';
}

/** error codes of runs that did not get to run the agent: not the image's failure */
const NOT_RUN = ['cancelled', 'unavailable', 'image_missing', 'build_failed'];

export class AgentRunner {
  readonly pool: WarmPool;
  /** runs, failures and median duration per agent since start (the dashboard's Agents page) */
  readonly stats = new RunStats();
  private readonly agents = new Map<string, LoadedAgent>();
  private readonly deps: ContainerDeps;
  private readonly log: Logger;
  private readonly host: string;
  private readonly prefix: string;
  private readonly poolSize: number;
  private readonly active = new Map<string, number>();
  private readonly cleanups = new Set<Promise<unknown>>();
  private readonly knownImages = new Map<string, string>();
  private stopped = false;

  constructor(private readonly opts: AgentRunnerOptions) {
    for (const a of opts.agents) this.agents.set(a.manifest.name, a);
    this.log = opts.log ?? silentLogger;
    this.host = opts.host ?? 'localhost';
    this.prefix = opts.containerPrefix ?? 'helix-';
    const configured = (
      currentConfig(opts.config).agents as { warm_pool_size?: number } | undefined
    )?.warm_pool_size;
    this.poolSize = opts.warmPoolSize ?? configured ?? 1;
    this.deps = {
      runtime: opts.runtime,
      handlers: opts.handlers ?? {},
      log: this.log,
      maxLineBytes: opts.maxLineBytes ?? MAX_LINE_BYTES,
      ioLimits: opts.ioLimits,
    };
    this.pool = new WarmPool({
      deps: this.deps,
      size: this.poolSize,
      containerPrefix: this.prefix,
      labels: { 'helix.node': this.host },
      readyTimeoutMs: opts.readyTimeoutMs,
      useImage: opts.registry ? (tag) => opts.registry!.acquire(tag) : undefined,
      onChange: opts.onPoolChange,
      log: this.log,
    });
  }

  /**
   * Removes this node's leftover agent containers, creates the egress network if an agent needs
   * it, and fills the warm pool. A warm agent whose image is missing is logged and left cold.
   */
  async start(): Promise<void> {
    await this.opts.runtime.removeLeftovers({
      label: ['helix.node', this.host],
      namePrefix: this.prefix,
    });
    // A network that cannot be made (say, Docker's address pools are used up) costs only the
    // egress agents, not every warm pool: they try again when they run.
    if ([...this.agents.values()].some((a) => a.manifest.network === 'egress')) {
      await this.opts.runtime
        .ensureEgressNetwork()
        .catch((err: unknown) =>
          this.log.warn(
            { err: describeError(err) },
            'could not create the egress network; agents with network = "egress" cannot run until it can be',
          ),
        );
    }
    if (this.poolSize <= 0) return;
    const warm: Array<{ agent: LoadedAgent; image: string }> = [];
    for (const agent of this.agents.values()) {
      if (agent.manifest.tier !== 'warm') continue;
      try {
        warm.push({ agent, image: await this.image(agent) });
      } catch (err) {
        this.log.warn(
          { agent: agent.manifest.name, err: describeError(err) },
          'warm agent has no image; it will run cold once it has one',
        );
      }
    }
    await this.pool.start(warm);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.pool.stop();
    await Promise.all([...this.cleanups]);
  }

  list(): LoadedAgent[] {
    return [...this.agents.values()];
  }

  agent(name: string): LoadedAgent | undefined {
    return this.agents.get(name);
  }

  /** Runs per agent right now (the advert's load). */
  running(): Array<{ agent: string; count: number }> {
    return [...this.active.entries()]
      .filter(([, n]) => n > 0)
      .map(([agent, count]) => ({ agent, count }));
  }

  runningCount(): number {
    let n = 0;
    for (const c of this.active.values()) n += c;
    return n;
  }

  poolState(): WarmPoolEntry[] {
    return this.pool.state();
  }

  /**
   * Runs one intent, checked already by the host (AgentHost.Run checks the intent and the
   * arguments against the manifest and helix.toml). Never throws: every failure is the run's
   * final `error` event.
   */
  async *run(req: RunRequest, opts: { signal?: AbortSignal } = {}): AsyncGenerator<RunEvent> {
    const agent = this.agents.get(req.agent);
    if (!agent) {
      yield runError(
        'unknown_agent',
        `this node has no agent "${req.agent}"; it has ${[...this.agents.keys()].sort().join(', ') || 'none'}`,
      );
      return;
    }
    const m = agent.manifest;
    if (this.stopped) {
      yield runError('unavailable', 'this node is shutting down', true);
      return;
    }
    const taskId = randomUUID();
    const deadlineMs = Math.min(Date.now() + m.timeout_s * 1000, req.deadlineMs || Infinity);
    const task: TaskMessage = {
      v: AGENT_PROTOCOL_VERSION,
      type: 'task',
      id: taskId,
      intent: req.intent,
      args: req.args ?? {},
      context: {
        node: req.callerNode || this.host,
        host: this.host,
        trace_id: req.traceId || taskId,
        deadline_ms: deadlineMs,
        // a URL's credentials never go with it: secrets reach an agent only through host calls
        config: redactValue(pickContext(m.context, currentConfig(this.opts.config))),
      },
    };

    this.active.set(m.name, (this.active.get(m.name) ?? 0) + 1);
    const used: { image: string | null } = { image: null };
    let outcome: RunEvent | null = null;
    const startedAt = performance.now();
    try {
      const warm = m.tier === 'warm' && this.poolSize > 0;
      if (warm && !this.pool.serves(m.name)) {
        // The image may have arrived since start (built, or fetched from a peer).
        try {
          await this.pool.add(agent, await this.image(agent, opts.signal));
        } catch (err) {
          this.log.debug({ agent: m.name, err: describeError(err) }, 'no warm pool yet');
        }
      }
      const events =
        warm && this.pool.serves(m.name)
          ? this.runWarm(agent, task, deadlineMs, used, opts.signal)
          : this.runCold(agent, task, deadlineMs, used, opts.signal);
      for await (const event of events) {
        if (event.type === 'result' || event.type === 'error') outcome = event;
        yield event;
      }
    } finally {
      this.active.set(m.name, (this.active.get(m.name) ?? 1) - 1);
      const image = used.image;
      // a run that never started (cancelled, nothing to run it on) says nothing about the agent
      if (outcome && (outcome.type === 'result' || !NOT_RUN.includes(outcome.code)))
        this.stats.record(m.name, performance.now() - startedAt, outcome.type === 'result');
      if (image && outcome) {
        if (outcome.type === 'result') this.opts.registry?.markSuccess(image);
        else if (!NOT_RUN.includes(outcome.code)) this.opts.registry?.markFailure(image);
      }
    }
  }

  private async *runWarm(
    agent: LoadedAgent,
    task: TaskMessage,
    deadlineMs: number,
    used: { image: string | null },
    signal?: AbortSignal,
  ): AsyncGenerator<RunEvent> {
    const name = agent.manifest.name;
    let lease;
    try {
      lease = await this.pool.acquire(name, { signal, deadlineMs });
    } catch (err) {
      if (signal?.aborted)
        yield runError(
          'cancelled',
          `the run of ${name} was cancelled while it waited for a warm container`,
        );
      else if (err instanceof PoolUnavailableError)
        yield runError(
          'unavailable',
          `${err.message}; try again, or raise agents.warm_pool_size`,
          true,
        );
      else yield runError('unavailable', describeError(err), true);
      return;
    }
    try {
      used.image = lease.image;
      yield {
        type: 'accepted',
        agent: name,
        intent: task.intent,
        taskId: task.id,
        host: this.host,
        warm: true,
        container: lease.container.name,
      };
      yield* lease.container.runTask(task, { signal, deadlineMs });
    } finally {
      lease.release();
    }
  }

  private async *runCold(
    agent: LoadedAgent,
    task: TaskMessage,
    deadlineMs: number,
    used: { image: string | null },
    signal?: AbortSignal,
  ): AsyncGenerator<RunEvent> {
    const name = agent.manifest.name;
    let image: string;
    try {
      image = await this.image(agent, signal);
    } catch (err) {
      // Source that does not compile fails the same on every node: not worth placing again.
      const compile =
        err instanceof AgentCompileError || (err as Error).cause instanceof AgentCompileError;
      yield compile
        ? runError('build_failed', describeError(err), false)
        : runError('image_missing', describeError(err), true);
      return;
    }
    if (agent.manifest.network === 'egress') {
      try {
        await this.opts.runtime.ensureEgressNetwork(name);
      } catch (err) {
        yield runError('unavailable', describeError(err), true);
        return;
      }
    }
    const containerName = `${this.prefix}${name}-cold-${randomBytes(3).toString('hex')}`;
    used.image = image;
    yield {
      type: 'accepted',
      agent: name,
      intent: task.intent,
      taskId: task.id,
      host: this.host,
      warm: false,
      container: containerName,
    };
    const release = this.opts.registry?.acquire(image);
    let container: AgentContainer;
    try {
      container = await AgentContainer.start(this.deps, agent, image, {
        name: containerName,
        labels: { 'helix.tier': 'cold', 'helix.node': this.host },
        // The runtime's own kill at the deadline, should the task's timer not get to it.
        timeoutMs: Math.max(0, deadlineMs - Date.now()) + COLD_KILL_SLACK_MS,
      });
    } catch (err) {
      release?.();
      yield runError(
        'unavailable',
        `the ${this.opts.runtime.engine} engine could not start ${name}: ${describeError(err)}`,
        true,
      );
      return;
    }
    try {
      yield* container.runTask(task, { signal, deadlineMs });
    } finally {
      // One task per cold container: close its stdin so it exits (and is auto-removed); a
      // container that lingers is killed. Done in the background so the result is not held up.
      container.endInput();
      const cleanup = (async () => {
        const exited = await Promise.race([
          container.exited.then(() => true),
          delay(3000).then(() => false),
        ]);
        if (!exited) await container.stop('stopped');
        release?.();
      })();
      this.cleanups.add(cleanup);
      void cleanup.finally(() => this.cleanups.delete(cleanup));
    }
  }

  private async image(agent: LoadedAgent, signal?: AbortSignal): Promise<string> {
    if (this.opts.resolveImage) return this.opts.resolveImage(agent, signal);
    const platform = await this.opts.runtime.platform(signal);
    const tag = imageTag(
      agent.manifest.name,
      agent.hash,
      platform,
      this.opts.imagePrefix ?? DEFAULT_IMAGE_PREFIX,
    );
    if (this.knownImages.get(agent.manifest.name) === tag) return tag;
    const found = await this.opts.runtime.findImage(tag);
    if (!found) {
      throw new ImageMissingError(
        `the image ${tag} of ${agent.manifest.name} is not on this node; build it with \`helix-node agents build ${agent.manifest.name}\``,
      );
    }
    this.knownImages.set(agent.manifest.name, tag);
    await this.opts.registry?.record?.({
      agent: agent.manifest.name,
      hash: agent.hash,
      platform,
      tag,
      sizeBytes: found.sizeBytes,
    });
    return tag;
  }
}
