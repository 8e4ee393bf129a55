/**
 * Before a run, the host makes sure it holds the agent's image for its own platform (DESIGN.md
 * §6): already in the engine → nothing to do; else fetch it from an alive peer that offers that
 * platform's image (nearest first); else build it if this node has Go; else have a peer with Go
 * build it for this node's platform and fetch it from there (Go cross-compiles); else say why it
 * cannot. Each step is said as progress, which ends up in the run's trace ("built for
 * linux/arm64 on laptop, 1.1 s"). Concurrent runs of one image share one fetch or build.
 */
import { AgentCompileError, DEFAULT_IMAGE_PREFIX, imageTag } from '../agents/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { imageBuilders, peersSharingImage } from '../placement/index.js';
import { samePlatform, type Platform } from '../platform.js';
import { peerTarget, type RpcClients } from '../rpc/index.js';
import type { PeerView } from '../types.js';
import { AgentBuildFailedError, ImageUnavailableError } from './errors.js';
import { fetchImage } from './fetch.js';
import type { HostedAgent, ImageEngine, ImageProvisioner, MirrorPuller } from './types.js';
import { untilAborted } from '../async.js';

/**
 * The progress lines that say where a run's image came from ("built for linux/arm64 on laptop,
 * 1.1 s", "fetched helix-agent-lights:…-linux-arm64 from laptop (1.7 MB, 0.4 s)", "pulled … through
 * the registry mirror (sha256:…)"): a trace keeps
 * them with its run hop.
 */
export const IMAGE_PROVENANCE =
  /^(built for \S+ (on \S+|here), |fetched \S+ from |pulled \S+ through the registry mirror)/;

export interface PeerImageProvisionerOptions {
  engine: ImageEngine & { removeImage?(tag: string): Promise<unknown> };
  /** the platform this node runs agents as (the runtime's) */
  platform: (signal?: AbortSignal) => Promise<Platform>;
  view: () => readonly PeerView[];
  clients: RpcClients;
  imagePrefix?: string;
  /**
   * builds the image here for this node's platform (node/agents' buildImage), resolving to how
   * long it took; leave out when this node has no Go
   */
  build?: (
    agent: HostedAgent,
    opts: { signal: AbortSignal; onProgress: (line: string) => void },
  ) => Promise<{ buildMs: number }>;
  /**
   * pulls through this node's registry mirror when a peer offers the image for this node's
   * platform (tried first; the ImageStore.Fetch transfer below stays the fallback)
   */
  mirror?: MirrorPuller;
  /** peers tried before giving up on fetching (default 3) */
  maxPeers?: number;
  fetchTimeoutMs?: number;
  tmpDir?: string;
  log?: Logger;
}

/**
 * How long a confirmed image is taken as present without asking the engine again. An image
 * evicted in that window makes the container start fail, which the run reports as retryable.
 */
const PRESENT_TTL_MS = 30_000;

export class PeerImageProvisioner implements ImageProvisioner {
  private readonly inFlight = new Map<string, Promise<void>>();
  /** tag -> when the engine last confirmed it; spares warm runs an engine call each */
  private readonly present = new Map<string, number>();
  private readonly log: Logger;

  constructor(private readonly opts: PeerImageProvisionerOptions) {
    this.log = (opts.log ?? silentLogger).child({ component: 'images' });
  }

  /** The tag of the agent's image for this node's platform. */
  async tag(agent: HostedAgent, signal?: AbortSignal): Promise<string> {
    return imageTag(
      agent.manifest.name,
      agent.hash,
      await this.opts.platform(signal),
      this.opts.imagePrefix ?? DEFAULT_IMAGE_PREFIX,
    );
  }

  /**
   * The image tag to run, after making sure it is here: fits AgentRunnerOptions.resolveImage, so
   * the runner fetches or builds too when it runs a task that did not come through AgentHost.Run.
   */
  async resolveImage(agent: HostedAgent, signal?: AbortSignal): Promise<string> {
    await this.ensure(agent, {
      signal: signal ?? AbortSignal.timeout(this.opts.fetchTimeoutMs ?? 300_000),
    });
    return this.tag(agent, signal);
  }

  async has(agent: HostedAgent, signal?: AbortSignal): Promise<boolean> {
    const tag = await this.tag(agent, signal);
    const seen = this.present.get(tag);
    if (seen !== undefined && Date.now() - seen < PRESENT_TTL_MS) return true;
    const here = await this.opts.engine.has(tag, signal);
    if (here) this.present.set(tag, Date.now());
    else this.present.delete(tag);
    return here;
  }

  async ensure(
    agent: HostedAgent,
    opts: { signal: AbortSignal; onProgress?: (message: string) => void },
  ): Promise<void> {
    const platform = await this.opts.platform(opts.signal);
    const tag = await this.tag(agent, opts.signal);
    const seen = this.present.get(tag);
    if (seen !== undefined && Date.now() - seen < PRESENT_TTL_MS) return;
    let pending = this.inFlight.get(tag);
    if (!pending) {
      // Not tied to the first caller's signal: a second run may still want the image.
      pending = this.provide(agent, tag, platform, opts.onProgress ?? (() => undefined)).finally(
        () => this.inFlight.delete(tag),
      );
      this.inFlight.set(tag, pending);
    }
    return untilAborted(pending, opts.signal);
  }

  private async provide(
    agent: HostedAgent,
    tag: string,
    platform: Platform,
    say: (m: string) => void,
  ): Promise<void> {
    const signal = AbortSignal.timeout(this.opts.fetchTimeoutMs ?? 300_000);
    if (await this.opts.engine.has(tag, signal)) {
      this.present.set(tag, Date.now());
      return;
    }
    const name = agent.manifest.name;
    const holders = peersSharingImage(this.opts.view(), name, agent.hash, platform)
      .sort(byDistance)
      .slice(0, this.opts.maxPeers ?? 3);
    const failures: string[] = [];
    if (holders.length > 0 && this.opts.mirror) {
      const mirror = this.opts.mirror;
      say(`pulling image ${tag} through the registry mirror ${mirror.address}`);
      try {
        const got = await mirror.pull(name, agent.hash, tag, signal);
        const pulled = await this.opts.engine.imagePlatform(tag, signal);
        if (pulled === null || !samePlatform(pulled, platform)) {
          await this.opts.engine.removeImage?.(tag).catch(() => undefined);
          throw new Error(
            `the engine pulled a ${pulled ?? 'missing'} image, not ${platform}; it was removed again`,
          );
        }
        this.log.info(
          { tag, reference: got.reference },
          'image pulled through the registry mirror',
        );
        say(`pulled ${tag} through the registry mirror (${got.digest.slice(0, 19)})`);
        this.present.set(tag, Date.now());
        return;
      } catch (err) {
        this.log.warn({ tag, err: describeError(err) }, 'pull through the registry mirror failed');
        failures.push(`registry mirror: ${describeError(err)}`);
      }
    }
    const fetchFrom = async (peer: PeerView, build: boolean): Promise<boolean> => {
      say(
        build
          ? `asking ${peer.name} (it has Go) to build ${tag} for ${platform}`
          : `fetching image ${tag} from ${peer.name}`,
      );
      const started = performance.now();
      try {
        const got = await fetchImage({
          clients: this.opts.clients,
          peer: peerTarget(peer),
          peerName: peer.name,
          agent: name,
          hash: agent.hash,
          platform,
          build,
          engine: this.opts.engine,
          imagePrefix: this.opts.imagePrefix,
          timeoutMs: this.opts.fetchTimeoutMs,
          tmpDir: this.opts.tmpDir,
          signal,
        });
        // the transfer alone: a build on request is said on its own line
        const seconds = ((performance.now() - started - (got.builtMs ?? 0)) / 1000).toFixed(1);
        this.log.info(
          { tag, from: peer.name, sizeBytes: got.sizeBytes, builtMs: got.builtMs },
          got.builtMs === null ? 'image fetched from a peer' : 'image built by a peer and fetched',
        );
        if (got.builtMs !== null)
          say(`built for ${platform} on ${peer.name}, ${(got.builtMs / 1000).toFixed(1)} s`);
        say(
          `fetched ${tag} from ${peer.name} (${(got.sizeBytes / 1e6).toFixed(1)} MB, ${seconds} s)`,
        );
        this.present.set(tag, Date.now());
        return true;
      } catch (err) {
        this.log.warn({ tag, from: peer.name, err: describeError(err) }, 'image fetch failed');
        failures.push(`${peer.name}: ${describeError(err)}`);
        return false;
      }
    };
    for (const peer of holders) if (await fetchFrom(peer, false)) return;
    const fetchSummary =
      holders.length === 0
        ? `no alive peer offers its ${platform} image`
        : `fetching failed (${failures.join('; ')})`;
    if (!this.opts.build) {
      // No Go here: a peer with Go builds it for this node's platform (Go cross-compiles).
      const builders = nearest(imageBuilders(this.opts.view()).filter((p) => !p.self)).slice(
        0,
        this.opts.maxPeers ?? 3,
      );
      const fetchFailures = failures.length;
      for (const peer of builders) if (await fetchFrom(peer, true)) return;
      const buildSummary =
        builders.length === 0
          ? 'no alive peer has Go and Docker to build it'
          : `no peer with Go could build it (${failures.slice(fetchFailures).join('; ')})`;
      throw new ImageUnavailableError(
        `this node lacks ${tag} and cannot get it: ${fetchSummary}, it has no Go toolchain to build it, and ${buildSummary}; install golang-go here (\`apt-get install golang-go\`) or on a Docker node of the mesh`,
      );
    }
    say(`building image ${tag} (${fetchSummary})`);
    try {
      const { buildMs } = await this.opts.build(agent, { signal, onProgress: say });
      if (buildMs > 0) say(`built for ${platform} here, ${(buildMs / 1000).toFixed(1)} s`);
    } catch (err) {
      if (err instanceof AgentCompileError)
        throw new AgentBuildFailedError(
          `${err.message}; fix ${name}'s source and run it again (no other node would build it either)`,
          { cause: err },
        );
      throw new ImageUnavailableError(
        `this node lacks ${tag}: ${fetchSummary}, and building it failed: ${describeError(err)}`,
        { cause: err },
      );
    }
  }
}

/** Nearest first (RTT), then the least loaded, then by id. */
function byDistance(a: PeerView, b: PeerView): number {
  return (
    (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity) ||
    a.load.loadPerCore - b.load.loadPerCore ||
    (a.id < b.id ? -1 : 1)
  );
}

function nearest(peers: PeerView[]): PeerView[] {
  return [...peers].sort(byDistance);
}
