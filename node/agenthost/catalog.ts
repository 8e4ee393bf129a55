/**
 * The agents this node knows and their images: list, inspect, build (with progress) and remove.
 * Behind the control routes of `helix-node agents …`.
 */
import {
  imageTag,
  ImageBusyError,
  IMAGE_SIZE_LIMIT_BYTES,
  type AgentRunStats,
  type BuiltImage,
  type ImageRuntime,
  type Registry,
} from '../agents/index.js';
import type { LoadedAgent } from '../agentspec/index.js';
import { describeError } from '../errors.js';
import { peersSharingImage, sameImageHash } from '../placement/index.js';
import { parsePlatform, type Platform } from '../platform.js';
import type { ImageHeld, PeerView, WarmPoolEntry } from '../types.js';
import { ImageInUseError, UnknownAgentError } from './errors.js';
import type {
  AgentDetail,
  AgentImageInfo,
  AgentList,
  AgentPlatformsHeld,
  AgentSummary,
  BuildEvent,
  RemoveResult,
} from './catalog-types.js';
import { compareNames, compareText } from '../order.js';

export interface CatalogDeps {
  node: string;
  agents: ReadonlyMap<string, LoadedAgent>;
  /** the engine's image store (the node's runtime) */
  images: ImageRuntime;
  registry: Registry;
  imagePrefix: string;
  view: () => readonly PeerView[];
  warmPool: () => WarmPoolEntry[];
  /** runs, failures and p50 of an agent on this node since start */
  runStats?: (agent: string) => AgentRunStats;
  /** builds one agent's image (buildImage with this node's settings) and records it */
  build: (
    agent: LoadedAgent,
    opts: { onProgress: (line: string) => void; signal?: AbortSignal; platform?: Platform },
  ) => Promise<BuiltImage>;
}

export function unknownAgentMessage(name: string, known: Iterable<string>): string {
  const names = [...known].sort();
  return `no agent ${JSON.stringify(name)} on this node; agents: ${names.join(', ') || 'none'} (\`helix-node agents list\` shows them; add one as a folder under agents/ or in a directory named in agents.dirs)`;
}

export class AgentCatalog {
  private building: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: CatalogDeps) {}

  /** The agent, or UnknownAgentError listing the ones there are. */
  agent(name: string): LoadedAgent {
    const agent = this.d.agents.get(name);
    if (!agent) throw new UnknownAgentError(unknownAgentMessage(name, this.d.agents.keys()));
    return agent;
  }

  /** The agent's image tag for `platform` (this node's own when null). */
  tag(agent: LoadedAgent, platform: Platform | null): string | null {
    return platform === null
      ? null
      : imageTag(agent.manifest.name, agent.hash, platform, this.d.imagePrefix);
  }

  async list(): Promise<AgentList> {
    const docker = await this.dockerUp();
    const platform = docker ? await this.platform() : null;
    const agents = [...this.d.agents.values()].sort((a, b) =>
      compareNames(a.manifest.name, b.manifest.name),
    );
    const summaries = await Promise.all(agents.map((a) => this.summary(a, docker, platform)));
    return { node: this.d.node, docker, platform, agents: summaries };
  }

  async inspect(name: string): Promise<AgentDetail> {
    const agent = this.agent(name);
    const docker = await this.dockerUp();
    const platform = docker ? await this.platform() : null;
    return { ...(await this.summary(agent, docker, platform)), manifest: agent.manifest };
  }

  /**
   * Builds the named agent's image, or every agent's, one at a time (builds are serialised:
   * `go build` takes a core), for `platform` (default: this node's own; Go cross-compiles, so
   * any platform agents are built for). Failures are reported as events; the others still build.
   */
  async build(
    name: string | undefined,
    emit: (ev: BuildEvent) => void,
    signal?: AbortSignal,
    platform?: string,
  ): Promise<void> {
    // Bad input is refused before anything else: the message names the platforms.
    const target = platform === undefined ? undefined : parsePlatform(platform);
    const agents = name
      ? [this.agent(name)]
      : [...this.d.agents.values()].sort((a, b) => compareNames(a.manifest.name, b.manifest.name));
    await this.d.images.check(AbortSignal.timeout(5000));
    const run = this.building.then(async () => {
      let built = 0;
      let upToDate = 0;
      let failed = 0;
      for (const agent of agents) {
        const n = agent.manifest.name;
        if (signal?.aborted) break;
        try {
          const image = await this.d.build(agent, {
            signal,
            platform: target,
            onProgress: (message) => emit({ type: 'progress', agent: n, message }),
          });
          if (image.built) built++;
          else upToDate++;
          emit({
            type: 'built',
            agent: n,
            tag: image.tag,
            platform: image.platform,
            sizeBytes: image.sizeBytes,
            built: image.built,
            overLimit: image.sizeBytes >= IMAGE_SIZE_LIMIT_BYTES,
          });
        } catch (err) {
          failed++;
          emit({ type: 'failed', agent: n, message: describeError(err) });
        }
      }
      emit({ type: 'done', built, upToDate, failed });
    });
    this.building = run.catch(() => undefined);
    await run;
  }

  /** Removes every image of the agent from this node (engine and registry). */
  async remove(name: string): Promise<RemoveResult> {
    const agent = this.agent(name);
    await this.d.images.check(AbortSignal.timeout(5000));
    const tags = new Set(
      this.d.registry
        .list()
        .filter((r) => r.agent === name)
        .map((r) => r.tag),
    );
    const repo = `${this.d.imagePrefix}${name}:`;
    for (const t of await this.d.images.agentImageTags(name)) if (t.startsWith(repo)) tags.add(t);
    const busy = [...tags].filter((t) => this.d.registry.inUse(t));
    if (busy.length > 0) {
      throw new ImageInUseError(
        `${busy.join(', ')} ${busy.length === 1 ? 'is' : 'are'} in use by ${name}'s warm containers or a run; set agents.warm_pool_size = 0 in helix.toml and restart helix-node, then remove it`,
      );
    }
    const removed: RemoveResult['removed'] = [];
    for (const tag of [...tags].sort()) {
      const size =
        this.d.registry.get(tag)?.sizeBytes ??
        (await this.d.images.inspectImage(tag))?.sizeBytes ??
        0;
      try {
        if (await this.d.images.removeImage(tag)) removed.push({ tag, sizeBytes: size });
      } catch (err) {
        if (err instanceof ImageBusyError) {
          throw new ImageInUseError(
            `the ${this.d.images.engine} engine keeps ${tag}: a container uses it (${describeError(err)}); try again when ${agent.manifest.name} is idle`,
            { cause: err },
          );
        }
        throw err;
      }
      this.d.registry.forget(tag);
    }
    await this.d.registry.flush();
    return { agent: name, removed, freedBytes: removed.reduce((s, r) => s + r.sizeBytes, 0) };
  }

  private async summary(
    agent: LoadedAgent,
    docker: boolean,
    platform: Platform | null,
  ): Promise<AgentSummary> {
    const m = agent.manifest;
    const tag = this.tag(agent, platform);
    const found =
      docker && tag !== null ? await this.d.images.inspectImage(tag).catch(() => null) : null;
    const record = tag === null ? undefined : this.d.registry.get(tag);
    const image: AgentImageInfo = {
      tag,
      hash: agent.hash,
      platform,
      held: found !== null,
      sizeBytes: found?.sizeBytes ?? record?.sizeBytes ?? null,
      shareable: (record?.successes ?? 0) > 0,
      successes: record?.successes ?? 0,
      failures: record?.failures ?? 0,
      addedAt: record ? new Date(record.addedAt).toISOString() : null,
      lastUsedAt: record ? new Date(record.lastUsedAt).toISOString() : null,
    };
    const pool = this.d.warmPool().filter((e) => e.agent === m.name);
    const warm =
      pool.length > 0
        ? { idle: pool.reduce((s, e) => s + e.idle, 0), busy: pool.reduce((s, e) => s + e.busy, 0) }
        : null;
    const heldBy =
      platform === null
        ? []
        : peersSharingImage(this.d.view(), m.name, agent.hash, platform)
            .map((p) => p.name)
            .sort();
    return {
      name: m.name,
      description: m.description,
      runs: this.d.runStats?.(m.name) ?? { runs: 0, failures: 0, p50Ms: null },
      tier: m.tier,
      idempotent: m.idempotent,
      network: m.network,
      intents: m.intents.map((i) => i.name),
      dir: agent.dir,
      image,
      warm,
      heldBy,
      platforms: this.platformsHeld(agent),
    };
  }

  /**
   * Per node (this one from its registry, peers from their adverts), the platforms it holds this
   * version of the agent's image for.
   */
  private platformsHeld(agent: LoadedAgent): AgentPlatformsHeld[] {
    const name = agent.manifest.name;
    const of = (images: readonly ImageHeld[]) =>
      images
        .filter((i) => i.agent === name && i.platform !== '' && sameImageHash(i.hash, agent.hash))
        .map((i) => ({ platform: i.platform, shareable: i.shareable }))
        .sort((a, b) => compareText(a.platform, b.platform));
    const rows: AgentPlatformsHeld[] = [
      { node: this.d.node, self: true, images: of(this.d.registry.held()) },
    ];
    for (const p of this.d.view()) {
      if (p.self || p.state !== 'alive') continue;
      rows.push({ node: p.name, self: false, images: of(p.images) });
    }
    return rows
      .filter((r) => r.images.length > 0)
      .sort((a, b) => Number(b.self) - Number(a.self) || compareNames(a.node, b.node));
  }

  private async platform(): Promise<Platform | null> {
    try {
      return await this.d.images.platform(AbortSignal.timeout(3000));
    } catch {
      return null;
    }
  }

  private async dockerUp(): Promise<boolean> {
    try {
      await this.d.images.check(AbortSignal.timeout(3000));
      return true;
    } catch {
      return false;
    }
  }
}
