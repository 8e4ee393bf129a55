/**
 * Before a run, the host makes sure it holds the agent's image (DESIGN.md §6): already in the
 * engine → nothing to do; else fetch it from an alive peer that offers it (nearest first); else
 * build it if this node has Go; else say why it cannot. Concurrent runs of one image share one
 * fetch or build.
 */
import { AgentCompileError, DEFAULT_IMAGE_PREFIX, imageTag } from '../agents/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { peersSharingImage } from '../placement/index.js';
import { peerTarget, type RpcClients } from '../rpc/index.js';
import type { PeerView } from '../types.js';
import { AgentBuildFailedError, ImageUnavailableError } from './errors.js';
import { fetchImage } from './fetch.js';
import type { HostedAgent, ImageEngine, ImageProvisioner, MirrorPuller } from './types.js';
import { untilAborted } from '../async.js';

export interface PeerImageProvisionerOptions {
  engine: ImageEngine;
  view: () => readonly PeerView[];
  clients: RpcClients;
  imagePrefix?: string;
  /** builds the image here (node/agents' buildImage); leave out when this node has no Go */
  build?: (
    agent: HostedAgent,
    opts: { signal: AbortSignal; onProgress: (line: string) => void },
  ) => Promise<void>;
  /**
   * pulls through this node's registry mirror when a peer offers the image (tried first; the
   * ImageStore.Fetch transfer below stays the fallback)
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

  private tag(agent: HostedAgent): string {
    return imageTag(agent.manifest.name, agent.hash, this.opts.imagePrefix ?? DEFAULT_IMAGE_PREFIX);
  }

  /**
   * The image tag to run, after making sure it is here: fits AgentRunnerOptions.resolveImage, so
   * the runner fetches or builds too when it runs a task that did not come through AgentHost.Run.
   */
  async resolveImage(agent: HostedAgent, signal?: AbortSignal): Promise<string> {
    await this.ensure(agent, {
      signal: signal ?? AbortSignal.timeout(this.opts.fetchTimeoutMs ?? 300_000),
    });
    return this.tag(agent);
  }

  async has(agent: HostedAgent, signal?: AbortSignal): Promise<boolean> {
    const tag = this.tag(agent);
    const seen = this.present.get(tag);
    if (seen !== undefined && Date.now() - seen < PRESENT_TTL_MS) return true;
    const here = await this.opts.engine.has(tag, signal);
    if (here) this.present.set(tag, Date.now());
    else this.present.delete(tag);
    return here;
  }

  ensure(
    agent: HostedAgent,
    opts: { signal: AbortSignal; onProgress?: (message: string) => void },
  ): Promise<void> {
    const tag = this.tag(agent);
    const seen = this.present.get(tag);
    if (seen !== undefined && Date.now() - seen < PRESENT_TTL_MS) return Promise.resolve();
    let pending = this.inFlight.get(tag);
    if (!pending) {
      // Not tied to the first caller's signal: a second run may still want the image.
      pending = this.provide(agent, tag, opts.onProgress ?? (() => undefined)).finally(() =>
        this.inFlight.delete(tag),
      );
      this.inFlight.set(tag, pending);
    }
    return untilAborted(pending, opts.signal);
  }

  private async provide(agent: HostedAgent, tag: string, say: (m: string) => void): Promise<void> {
    const signal = AbortSignal.timeout(this.opts.fetchTimeoutMs ?? 300_000);
    if (await this.opts.engine.has(tag, signal)) {
      this.present.set(tag, Date.now());
      return;
    }
    const name = agent.manifest.name;
    const holders = peersSharingImage(this.opts.view(), name, agent.hash)
      .sort(
        (a, b) =>
          (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity) ||
          a.load.loadPerCore - b.load.loadPerCore ||
          (a.id < b.id ? -1 : 1),
      )
      .slice(0, this.opts.maxPeers ?? 3);
    const failures: string[] = [];
    if (holders.length > 0 && this.opts.mirror) {
      const mirror = this.opts.mirror;
      say(`pulling image ${tag} through the registry mirror ${mirror.address}`);
      try {
        const got = await mirror.pull(name, agent.hash, tag, signal);
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
    for (const peer of holders) {
      say(`fetching image ${tag} from ${peer.name}`);
      try {
        const got = await fetchImage({
          clients: this.opts.clients,
          peer: peerTarget(peer),
          peerName: peer.name,
          agent: name,
          hash: agent.hash,
          engine: this.opts.engine,
          imagePrefix: this.opts.imagePrefix,
          timeoutMs: this.opts.fetchTimeoutMs,
          tmpDir: this.opts.tmpDir,
          signal,
        });
        this.log.info(
          { tag, from: peer.name, sizeBytes: got.sizeBytes },
          'image fetched from a peer',
        );
        say(`fetched ${tag} from ${peer.name} (${(got.sizeBytes / 1e6).toFixed(1)} MB)`);
        this.present.set(tag, Date.now());
        return;
      } catch (err) {
        this.log.warn({ tag, from: peer.name, err: describeError(err) }, 'image fetch failed');
        failures.push(`${peer.name}: ${describeError(err)}`);
      }
    }
    const fetchSummary =
      holders.length === 0 ? 'no alive peer offers it' : `fetching failed (${failures.join('; ')})`;
    if (!this.opts.build) {
      throw new ImageUnavailableError(
        `this node lacks ${tag} and cannot get it: ${fetchSummary}, and it has no Go toolchain to build it; install golang-go here (\`apt-get install golang-go\`) or run ${name} once on a node that can build it`,
      );
    }
    say(`building image ${tag} (${fetchSummary})`);
    try {
      await this.opts.build(agent, { signal, onProgress: say });
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
