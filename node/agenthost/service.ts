/**
 * The daemon side of agents (DESIGN.md §6): loads the agents (the repository's agents/ and
 * config agents.dirs), keeps the image registry, registers the AgentHost and ImageStore gRPC
 * services, offers agents their host calls, serves this node's control routes for agents, and —
 * when the node has Docker — builds or fetches the warm agents' images and starts their pools in
 * the background (progress in the log), so the node joins the mesh without waiting for `go build`.
 *
 * Call startAgentServices before rpc.start(): gRPC services cannot be added to a running server.
 */
import path from 'node:path';
import {
  AgentRunner,
  DEFAULT_IMAGE_PREFIX,
  Registry,
  buildImage,
  createRuntime,
  imageTag,
  loadAgents,
  type AgentRuntime,
  type BuiltImage,
  type HttpFetchOptions,
} from '../agents/index.js';
import type { ConfigTree, LoadedAgent } from '../agentspec/index.js';
import type { Bus } from '../bus/index.js';
import type { Config } from '../config/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { OllamaHttpClient, type OllamaApi } from '../router/index.js';
import {
  AgentHostService,
  ImageStoreService,
  LlmService,
  type RpcClients,
  type RpcServer,
} from '../rpc/index.js';
import { probeGo } from '../capabilities/index.js';
import { sameImageHash } from '../placement/index.js';
import type { Platform } from '../platform.js';
import type { PeerView } from '../types.js';
import { runnerExecutor } from './adapter.js';
import { createHostCalls, type LightSwitch } from './calls.js';
import { imageStoreService } from './imagestore.js';
import { PeerImageProvisioner } from './provision.js';
import { startNodeMirror } from './mirror.js';
import { agentHostService } from './server.js';
import type { HostedAgent, ImageProvisioner, RemoteRunEvent } from './types.js';

/** What a build is given: where its progress goes, and when to stop. */
interface BuildProgress {
  signal: AbortSignal;
  onProgress: (line: string) => void;
}
import { AgentCatalog } from './catalog.js';
import { llmService } from './llm.js';
import { agentDirs } from './locate.js';
import { Notifier, type NotifyListener } from './notify.js';
import { checkRun, runIntent, type RunCheck } from './intent.js';
import { explainedEngine, recordHeld, warmUp } from './warmup.js';
import type { AgentAdvert, RunIntentRequest } from './catalog-types.js';

/** What each service of the node is built from; the daemon hands the same one to each. */
export interface ServiceContext {
  config: Config;
  stateDir: string;
  identity: { id: string; name: string };
  /** the node's gRPC server, not started yet: services add theirs to it */
  rpc: RpcServer;
  clients: RpcClients;
  /** the live view of the mesh (membership), this node included */
  view: () => readonly PeerView[];
  /** the mesh bus; null: this node only (agents' notify and llm.generate stay local) */
  bus: Bus | null;
  logger: Logger;
}

export interface AgentServicesComponents extends ServiceContext {
  /**
   * the tree arguments are checked against and agents' context is read from, as it is now
   * (the daemon lays the mesh settings over helix.toml); default: config
   */
  liveConfig?: () => ConfigTree;
  /** containers and images; default: createRuntime (Docker at config capabilities.docker_socket) */
  runtime?: AgentRuntime;
  /** default: the repository's agents/ and config agents.dirs */
  agentDirs?: string[];
  /** image repositories start with this (default "helix-agent-"; tests "helix-test-…") */
  imagePrefix?: string;
  /** container names start with this (default "helix-") */
  containerPrefix?: string;
  /** bridge network for egress agents (default "helix-egress"); for the default runtime */
  egressNetwork?: string;
  /** http.fetch policy (default: public addresses only) */
  egress?: HttpFetchOptions;
  /** this node's Ollama (default: config router.ollama_url) */
  ollama?: OllamaApi;
  /** the warm pool changed (the next heartbeat carries it anyway) */
  onAdvertChange?: () => void;
  /** switches lights for home.call_service (the daemon's, over its home backends); absent: refused */
  lights?: LightSwitch;
}

/** The agent services as the control socket sees them. */
export interface AgentControl {
  catalog: AgentCatalog;
  /** the entry check of `helix-node run` against this node's manifests */
  checkRun: (req: RunIntentRequest) => RunCheck;
  runIntent: (
    req: RunIntentRequest,
    opts: { signal: AbortSignal },
  ) => AsyncIterable<RemoteRunEvent>;
}

export interface AgentServices {
  /** the agents this node knows, by name */
  readonly agents: ReadonlyMap<string, LoadedAgent>;
  /** what the heartbeat advert carries: warm pool, images held, runs in progress */
  advert(): AgentAdvert;
  /** runs an intent anywhere in the mesh; ends with exactly one result or error */
  runIntent(req: RunIntentRequest, opts?: { signal?: AbortSignal }): AsyncGenerator<RemoteRunEvent>;
  /** what the control routes of `helix-node agents` and `helix-node run` call (control/routes) */
  readonly control: AgentControl;
  /** notes agents sent to this node (a timer went off) */
  onNotify(listener: NotifyListener): () => void;
  /** the registry mirror's "127.0.0.1:<port>", or null when it is off or not listening */
  readonly registryMirror: string | null;
  /** resolves once the warm-up (images, warm pools) has finished or given up */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

/** The engine's build chatter between steps: layer ids and intermediate containers. */
const ENGINE_NOISE = /^(--->|Running in |Removing intermediate container|Successfully built )/;

/** How long stop() waits for a warm-up still building images. */
const STOP_WAIT_MS = 5000;

export async function startAgentServices(c: AgentServicesComponents): Promise<AgentServices> {
  const log = c.logger.child({ component: 'agents' });
  // the identity itself, not a copy: its name follows a rename (`helix-node node rename`)
  const self: { readonly id: string; readonly name: string } = c.identity;
  const dirs = c.agentDirs ?? agentDirs(c.config.agents.dirs);
  const loaded = await loadAgents(dirs, {
    strict: false,
    onProblem: (p) => log.warn({ err: p.message }, 'agent skipped'),
  });
  const agents: ReadonlyMap<string, LoadedAgent> = new Map(loaded.map((a) => [a.manifest.name, a]));
  log.info({ agents: [...agents.keys()], dirs }, 'agents loaded');

  const imagePrefix = c.imagePrefix ?? DEFAULT_IMAGE_PREFIX;
  const runtime =
    c.runtime ??
    createRuntime({
      capabilities: c.config.capabilities,
      platform: c.config.agents.platform,
      egressNetwork: c.egressNetwork,
      log,
    });
  /** the platform this node runs agents as (the engine's own, or agents.platform) */
  const platform = (signal?: AbortSignal) => runtime.platform(signal);
  const registry = await Registry.open({
    stateDir: c.stateDir,
    budgetMb: c.config.agents.image_budget_mb,
    remover: runtime,
    log,
  });
  const tagOf = async (agent: { manifest: { name: string }; hash: string }) =>
    imageTag(agent.manifest.name, agent.hash, await platform(), imagePrefix);

  /** Builds for `o.platform` (default: this node's own) and records the image. */
  const build = async (
    agent: LoadedAgent,
    o: { onProgress: (line: string) => void; signal?: AbortSignal; platform?: Platform },
  ): Promise<BuiltImage> => {
    const image = await buildImage(agent, {
      runtime,
      go: c.config.agents.go,
      imagePrefix,
      platform: o.platform,
      onProgress: (line) => {
        if (!ENGINE_NOISE.test(line)) o.onProgress(line);
      },
      signal: o.signal,
      goCacheDir: path.join(c.stateDir, 'go-cache'),
      log,
    });
    await registry.record({
      agent: image.agent,
      hash: image.hash,
      platform: image.platform,
      tag: image.tag,
      sizeBytes: image.sizeBytes,
    });
    if (image.hash !== agent.hash) {
      o.onProgress(
        `${agent.manifest.name} changed on disk since helix-node started; restart helix-node to run the new version`,
      );
    }
    return image;
  };

  const engine = explainedEngine(runtime);
  // Without Go this node builds nothing: a peer with Go builds for it (ImageStore.Fetch, build).
  const hasGo = await probeGo(c.config.agents.go);
  // The OCI registry mirror: ImageBlobs for peers, loopback HTTP for the engine (docs/registry.md).
  const mirror = await startNodeMirror({
    config: c.config,
    stateDir: c.stateDir,
    runtime,
    registry,
    imagePrefix,
    view: c.view,
    clients: c.clients,
    rpc: c.rpc,
    log: c.logger,
  });
  const provisioner = new PeerImageProvisioner({
    engine: { ...engine, removeImage: (tag) => runtime.removeImage(tag) },
    platform,
    view: c.view,
    clients: c.clients,
    imagePrefix,
    ...(mirror?.puller && { mirror: mirror.puller }),
    ...(hasGo
      ? {
          build: async (hosted: HostedAgent, o: BuildProgress) => {
            const agent = agents.get(hosted.manifest.name);
            if (!agent) throw new Error(`no agent ${hosted.manifest.name} on this node`);
            return await build(agent, o);
          },
        }
      : {}),
    // agenthost's parts name their own component
    log: c.logger,
  });
  // AgentHost asks `has` first: an engine that does not answer means "not here", and ensure()
  // then fails with the reason, as a retryable image_missing the caller places elsewhere.
  const hostImages: ImageProvisioner = {
    has: (agent, signal) => provisioner.has(agent, signal).catch(() => false),
    ensure: (agent, o) => provisioner.ensure(agent, o),
  };

  const notifier = new Notifier({ bus: c.bus, view: c.view, self, log });
  const ollama =
    c.ollama ??
    new OllamaHttpClient({
      url: c.config.router.ollama_url,
      timeoutMs: c.config.router.timeout_ms,
    });
  let runner: AgentRunner | null = null;
  const calls = createHostCalls({
    config: c.config,
    view: c.view,
    clients: c.clients,
    self,
    selfRuns: () => ({
      name: self.name,
      running: runner?.running() ?? [],
      warmPool: runner?.poolState() ?? [],
    }),
    notifier,
    ollama,
    egress: c.egress,
    lights: c.lights,
    log,
  });
  runner = new AgentRunner({
    runtime,
    agents: loaded,
    handlers: calls.handlers,
    host: self.name,
    config: c.liveConfig ?? c.config,
    warmPoolSize: c.config.agents.warm_pool_size,
    imagePrefix,
    containerPrefix: c.containerPrefix,
    registry,
    resolveImage: async (agent, signal) => {
      const tag = await tagOf(agent);
      await provisioner.ensure(agent, {
        signal: signal ?? AbortSignal.timeout(300_000),
        // the engine's own build steps ("Step 3/8 : USER …") are detail; the node's are news
        onProgress: (line) =>
          (/^Step \d+\/\d+ :/.test(line) ? log.debug : log.info).call(
            log,
            { agent: agent.manifest.name },
            line,
          ),
      });
      await recordHeld(runtime, registry, agent, tag, await platform());
      return tag;
    },
    onPoolChange: c.onAdvertChange,
    log,
  });
  const running = runner;

  c.rpc.addService(
    AgentHostService,
    agentHostService({
      executor: runnerExecutor(running),
      images: hostImages,
      self,
      config: c.liveConfig ?? c.config,
      nodeName: (id) => c.view().find((p) => p.id === id)?.name,
      log: c.logger,
    }),
  );
  c.rpc.addService(
    ImageStoreService,
    imageStoreService({
      engine,
      images: () => registry.held(),
      imagePrefix,
      // A peer without Go asks for an image of its platform: built here from the same sources.
      ...(hasGo
        ? {
            build: async (name: string, hash: string, target: Platform, signal: AbortSignal) => {
              const agent = agents.get(name);
              if (!agent || !sameImageHash(agent.hash, hash))
                throw new Error(
                  agent
                    ? `this node has another version of ${name} (${agent.hash.slice(0, 16)})`
                    : `this node has no agent ${name}`,
                );
              const image = await build(agent, {
                signal,
                platform: target,
                onProgress: (line) => log.debug({ agent: name, platform: target }, line),
              });
              if (!sameImageHash(image.hash, hash))
                throw new Error(`${name} changed on disk since this node started`);
              return image.buildMs;
            },
          }
        : {}),
      log: c.logger,
    }),
  );

  notifier.start();
  c.rpc.addService(LlmService, llmService({ router: c.config.router, local: ollama, log }));

  const catalog = new AgentCatalog({
    node: self.name,
    agents,
    images: runtime,
    registry,
    imagePrefix,
    view: c.view,
    warmPool: () => running.poolState(),
    runStats: (agent) => running.stats.of(agent),
    build: async (agent, o) => {
      const image = await build(agent, o);
      // A warm agent built after start gets its pool now rather than at its first run.
      if (
        agent.manifest.tier === 'warm' &&
        image.hash === agent.hash &&
        image.platform === (await platform()) &&
        !running.pool.serves(agent.manifest.name) &&
        c.config.agents.warm_pool_size > 0
      ) {
        void running.pool
          .add(agent, image.tag)
          .catch((err: unknown) =>
            log.warn(
              { agent: agent.manifest.name, err: describeError(err) },
              'warm pool did not start',
            ),
          );
      }
      return image;
    },
  });
  const control: AgentControl = {
    catalog,
    checkRun: (req: RunIntentRequest) => checkRun(agents, req),
    runIntent: (req: RunIntentRequest, o: { signal: AbortSignal }) => handle.runIntent(req, o),
  };

  const warming = warmUp(running, runtime, registry, agents, tagOf, log);

  const handle: AgentServices = {
    agents,
    advert: () => ({
      warmPool: running.poolState().slice(0, 64),
      images: registry.held().slice(0, 256),
      runningAgents: running.runningCount(),
    }),
    runIntent: (req, o = {}) =>
      runIntent(
        {
          agent: (name) => agents.get(name),
          view: c.view,
          clients: c.clients,
          selfId: self.id,
          log: c.logger,
        },
        req,
        o,
      ),
    control,
    registryMirror: mirror?.address ?? null,
    onNotify: (listener) => notifier.onNotify(listener),
    ready: () => warming,
    stop: async () => {
      notifier.stop();
      await running.stop();
      await Promise.race([warming, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
      await calls
        .close()
        .catch((err: unknown) => log.debug({ err: describeError(err) }, 'mqtt close failed'));
      await registry.flush();
      await mirror?.stop();
      log.info('agents stopped');
    },
  };
  return handle;
}
