/**
 * ContainerRuntime and ImageRuntime over a Docker engine (dockerode): create with the sandbox,
 * attach (stdin + multiplexed stdout/stderr over one hijacked connection), start; the exit's
 * cause comes from the wait status, our own kills and the engine's "oom" event. The image side
 * is ./images.ts.
 */
import { stat } from 'node:fs/promises';
import { PassThrough, type Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type Docker from 'dockerode';
import { delay } from '../../async.js';
import { describeError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type {
  AgentRuntime,
  ContainerExit,
  ContainerHandle,
  ContainerUsage,
  ImageInfo,
  ImageRecipe,
  SandboxSpec,
} from '../runtime.js';
import { ImagePlatformError } from '../errors.js';
import { enginePlatform, samePlatform, type Platform } from '../../platform.js';
import { DockerDemuxer } from './demux.js';
import {
  agentImageTags,
  buildRecipe,
  checkDocker,
  dockerMissingError,
  inspectImage,
  loadImage,
  removeImage,
  saveImage,
} from './images.js';
import { IptablesEgressFirewall, type EgressFirewall } from './egress-firewall.js';
import { dockerCreateOptions } from './sandbox.js';
import { CGROUP_ROOT, findCgroupDirs, readCgroupUsage, type CgroupDirs } from './cgroup.js';

export interface DockerRuntimeOptions {
  /** the engine client; default: one for `socketPath` */
  docker?: Docker;
  /** the engine's socket (config capabilities.docker_socket; default /var/run/docker.sock) */
  socketPath?: string;
  /** bridge network for agents with network = "egress" (default "helix-egress"), created if missing */
  egressNetwork?: string;
  /**
   * the egress network's firewall (./egress-firewall.ts), installed in the engine's network
   * namespace; default: iptables in this process's namespace (where a node's engine runs)
   */
  egressFirewall?: EgressFirewall;
  /** where this host's cgroups are mounted, for containers' usage (default /sys/fs/cgroup) */
  cgroupRoot?: string;
  /**
   * the platform agents run as (config agents.platform), for an engine that runs another
   * platform under emulation; default: the engine's own (its version's Arch, info's Architecture)
   */
  platform?: Platform;
  log?: Logger;
}

/** How long an exit by SIGKILL that we did not send waits for the engine's late "oom" event. */
const OOM_EVENT_GRACE_MS = 2500;

/**
 * A dockerode client, loaded when the runtime first talks to the engine rather than when this
 * module is imported or the runtime made: a node (or a CLI command) that never reaches an engine
 * never loads dockerode and its dependencies (about 200 ms of a cold start on a small board and
 * some 10 MB of a node's idle memory, issue 12).
 */
function connectDocker(socketPath: string): Docker {
  const DockerClient = createRequire(import.meta.url)('dockerode') as typeof Docker;
  return new DockerClient({ socketPath });
}

export class DockerRuntime implements AgentRuntime {
  readonly engine = 'Docker';
  private client: Docker | null;
  private readonly socketPath: string;
  readonly egressNetwork: string;
  readonly cgroupRoot: string;
  private readonly log: Logger;
  private readonly firewall: EgressFirewall;
  /** the egress network (id) whose firewall is installed, and the install in flight */
  private firewalled: string | null = null;
  private egressLock: Promise<unknown> = Promise.resolve();
  private readonly configuredPlatform: Platform | undefined;
  private nativePlatform: Promise<Platform> | null = null;

  constructor(opts: DockerRuntimeOptions) {
    this.configuredPlatform = opts.platform || undefined;
    this.client = opts.docker ?? null;
    this.socketPath = opts.socketPath ?? '/var/run/docker.sock';
    this.egressNetwork = opts.egressNetwork ?? 'helix-egress';
    this.cgroupRoot = opts.cgroupRoot ?? CGROUP_ROOT;
    this.log = opts.log ?? silentLogger;
    this.firewall = opts.egressFirewall ?? new IptablesEgressFirewall();
  }

  /** The engine client, made (and dockerode loaded) by the first use. */
  get docker(): Docker {
    return (this.client ??= connectDocker(this.socketPath));
  }

  async start(spec: SandboxSpec): Promise<ContainerHandle> {
    // Never an image of another platform: it would fail with "exec format error" at best.
    const platform = spec.platform ?? (await this.platform());
    const image = await inspectImage(this.docker, spec.image);
    if (image && !samePlatform(image.platform, platform)) {
      throw new ImagePlatformError(
        `${spec.image} is a ${image.platform} image and this node runs agents as ${platform}; it was not started (remove it with \`helix-node agents rm\`; the node builds or fetches the ${platform} image itself)`,
      );
    }
    const container = await this.docker.createContainer({
      ...dockerCreateOptions(spec, this.egressNetwork),
      // The engine checks it too (API 1.41): it refuses an image of another platform.
      platform,
    } as Parameters<Docker['createContainer']>[0]);
    try {
      const stream = (await container.attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        hijack: true,
      })) as Duplex;
      // Registered before start, so even an agent that exits at once is seen exiting.
      const waitExit = container
        .wait({ condition: 'next-exit' })
        .then((r: { StatusCode?: number }) => r.StatusCode ?? null)
        .catch(() => null);
      const handle = new DockerContainer(this, spec.name, container.id, stream, waitExit);
      await container.start();
      handle.started(spec.timeoutMs);
      return handle;
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      throw err;
    }
  }

  async findImage(tag: string): Promise<{ sizeBytes: number } | null> {
    const found = await inspectImage(this.docker, tag);
    return found ? { sizeBytes: found.sizeBytes } : null;
  }

  async check(signal?: AbortSignal): Promise<void> {
    // No socket, no engine: said as checkDocker says it, without loading dockerode for it.
    if (!this.client) {
      const missing = await stat(this.socketPath).then(
        () => null,
        (err: unknown) => err,
      );
      if (missing) throw dockerMissingError(this.socketPath, missing);
    }
    return checkDocker(this.docker, signal);
  }

  platform(signal?: AbortSignal): Promise<Platform> {
    signal?.throwIfAborted();
    if (this.configuredPlatform) return Promise.resolve(this.configuredPlatform);
    if (!this.nativePlatform) {
      this.nativePlatform = (async () => {
        const { Arch } = await this.docker.version();
        const machine =
          Arch === 'arm'
            ? ((await this.docker.info()) as { Architecture?: string }).Architecture
            : '';
        return enginePlatform(Arch, machine);
      })();
      // Asked again after a failure (the engine was not up yet).
      this.nativePlatform.catch(() => (this.nativePlatform = null));
    }
    return this.nativePlatform;
  }

  inspectImage(tag: string): Promise<ImageInfo | null> {
    return inspectImage(this.docker, tag);
  }

  agentImageTags(agent?: string): Promise<string[]> {
    return agentImageTags(this.docker, agent);
  }

  build(
    recipe: ImageRecipe,
    opts: { onProgress?: (line: string) => void; signal?: AbortSignal },
  ): Promise<void> {
    return buildRecipe(this.docker, recipe, opts);
  }

  removeImage(tag: string): Promise<boolean> {
    return removeImage(this.docker, tag);
  }

  async has(tag: string, signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    return (await inspectImage(this.docker, tag)) !== null;
  }

  async imagePlatform(tag: string, signal?: AbortSignal): Promise<Platform | null> {
    signal?.throwIfAborted();
    return (await inspectImage(this.docker, tag))?.platform ?? null;
  }

  save(tag: string, signal?: AbortSignal): Promise<NodeJS.ReadableStream> {
    return saveImage(this.docker, tag, signal);
  }

  load(archive: NodeJS.ReadableStream, signal?: AbortSignal): Promise<void> {
    return loadImage(this.docker, archive, signal);
  }

  /**
   * Finds or creates the egress network and makes its firewall hold before any container joins
   * it: without the firewall no egress agent runs (deny by default).
   */
  ensureEgressNetwork(forAgent?: string): Promise<void> {
    // One at a time: two runs starting together must not fill the chain twice.
    const next = this.egressLock.then(() => this.ensureEgressNetworkNow(forAgent));
    this.egressLock = next.catch(() => undefined);
    return next;
  }

  private async ensureEgressNetworkNow(forAgent?: string): Promise<void> {
    const name = this.egressNetwork;
    let id: string;
    try {
      id = (await this.findNetwork(name)) ?? (await this.createEgressNetwork(name));
    } catch (err) {
      throw new Error(
        `cannot create the Docker network ${name}${forAgent ? ` for ${forAgent}'s egress` : ''}: ${describeError(err)}; free Docker address pools (docker network prune) or set default-address-pools in /etc/docker/daemon.json`,
        { cause: err },
      );
    }
    if (this.firewalled === id) return;
    const info = (await this.docker.getNetwork(id).inspect()) as {
      Id: string;
      Options?: Record<string, string>;
    };
    const bridge = info.Options?.['com.docker.network.bridge.name'] ?? `br-${info.Id.slice(0, 12)}`;
    await this.firewall.install(bridge);
    this.firewalled = id;
    this.log.info({ network: name, bridge }, 'egress firewall installed');
  }

  private async findNetwork(name: string): Promise<string | null> {
    const existing = await this.docker.listNetworks({ filters: { name: [name] } });
    return existing.find((n) => n.Name === name)?.Id ?? null;
  }

  private async createEgressNetwork(name: string): Promise<string> {
    try {
      const created = await this.docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        // IPv4 only: the firewall's IPv6 rules drop everything on the bridge.
        EnableIPv6: false,
        // Agents with egress reach the internet, not each other.
        Options: { 'com.docker.network.bridge.enable_icc': 'false' },
        Labels: { 'helix.role': 'agent-egress' },
      });
      this.log.info({ network: name }, 'created the agent egress network');
      return created.id;
    } catch (err) {
      // Made by someone else meanwhile.
      if ((err as { statusCode?: number }).statusCode === 409) {
        const id = await this.findNetwork(name);
        if (id) return id;
      }
      throw err;
    }
  }

  async removeLeftovers(opts: { label: [string, string]; namePrefix: string }): Promise<void> {
    const all = await this.docker.listContainers({
      all: true,
      filters: { label: [`${opts.label[0]}=${opts.label[1]}`] },
    });
    await Promise.all(
      all
        .filter((c) => c.Names.some((n) => n.replace(/^\//, '').startsWith(opts.namePrefix)))
        .map((c) =>
          this.docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
    );
  }

  /** @internal */
  debug(fields: Record<string, unknown>, message: string): void {
    this.log.debug(fields, message);
  }
}

class DockerContainer implements ContainerHandle {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly exit: Promise<ContainerExit>;
  private killCause: 'timeout' | 'killed' | null = null;
  private gone = false;
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  /** its cgroup folders, once found (null: not on this host) */
  private cgroup: CgroupDirs | null | undefined;

  constructor(
    private readonly runtime: DockerRuntime,
    readonly name: string,
    readonly id: string,
    private readonly stream: Duplex,
    waitExit: Promise<number | null>,
  ) {
    // The host pauses stdout while the agent does not read its stdin (container.ts): stop
    // reading the attach stream too, so the agent's bytes wait in its pipe, not in our memory.
    let held = false;
    const demux = new DockerDemuxer(
      (chunk) => {
        if (this.stdout.write(chunk) || held) return;
        held = true;
        stream.pause();
        this.stdout.once('drain', () => {
          held = false;
          stream.resume();
        });
      },
      (chunk) => this.stderr.write(chunk),
    );
    stream.on('data', (chunk: Buffer) => demux.push(chunk));
    // Once the container has exited nothing more is coming: let what is left of the attach
    // stream flow (a paused stream never ends, and the exit waits for its end).
    void waitExit.then(
      () => stream.resume(),
      () => stream.resume(),
    );
    const streamEnded = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    void streamEnded.then(() => {
      this.stdout.end();
      this.stderr.end();
    });
    // A write after the container died must not take the host down.
    stream.on('error', (err) =>
      runtime.debug({ container: name, err: err.message }, 'attach stream error'),
    );
    this.exit = this.watchExit(waitExit, streamEnded);
  }

  get stdin(): Duplex {
    return this.stream;
  }

  started(timeoutMs: number | undefined): void {
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(() => void this.kill('timeout'), timeoutMs);
      this.timer.unref();
    }
  }

  async kill(cause: 'timeout' | 'killed'): Promise<void> {
    if (this.gone) return;
    this.killCause ??= cause;
    try {
      await this.runtime.docker.getContainer(this.id).kill({ signal: 'SIGKILL' });
    } catch {
      // already exiting or removed
    }
  }

  async remove(): Promise<void> {
    const container = this.runtime.docker.getContainer(this.id);
    await container.remove({ force: true }).catch(() => undefined);
    // Removal (AutoRemove's or ours) finishes after the exit; wait for it, bounded.
    await container
      .wait({ condition: 'removed', abortSignal: AbortSignal.timeout(5000) })
      .catch(() => undefined);
  }

  /** From the container's cgroup files on this host (./cgroup.ts); null when they are not here. */
  async usage(): Promise<ContainerUsage | null> {
    if (this.gone) return null;
    this.cgroup ??= await findCgroupDirs(this.id, this.runtime.cgroupRoot);
    return readCgroupUsage(this.id, this.runtime.cgroupRoot, this.cgroup);
  }

  private async watchExit(
    waitExit: Promise<number | null>,
    streamEnded: Promise<void>,
  ): Promise<ContainerExit> {
    // Either signal means the process is gone; give the other a moment to agree.
    await Promise.race([waitExit, streamEnded]);
    const statusCode = await Promise.race([waitExit, delay(3000).then(() => null)]);
    await Promise.race([streamEnded, delay(1000)]);
    this.gone = true;
    clearTimeout(this.timer);
    if (this.killCause) return { cause: this.killCause, statusCode, detail: '' };
    if ((statusCode === 137 || statusCode === null) && (await this.oomKilled())) {
      return { cause: 'oom', statusCode, detail: 'the engine reported an "oom" event' };
    }
    return { cause: statusCode === 0 ? 'normal' : 'crash', statusCode, detail: '' };
  }

  /**
   * Whether the engine saw an "oom" event for this container (auto-removed, so there is no
   * State.OOMKilled to inspect). The engine can hand out the exit before the OOM event (seen
   * under load in CI), so the answer waits up to OOM_EVENT_GRACE_MS for it: a `since` in the
   * past replays what was logged, an `until` in the future keeps the stream open for what comes
   * late, and the first "oom" ends the wait.
   */
  private async oomKilled(): Promise<boolean> {
    try {
      const events = await this.runtime.docker.getEvents({
        since: Math.floor(this.startedAt / 1000) - 1,
        until: ((Date.now() + OOM_EVENT_GRACE_MS) / 1000).toFixed(3),
        filters: { container: [this.id], event: ['oom'] },
        abortSignal: AbortSignal.timeout(OOM_EVENT_GRACE_MS + 2000),
      } as unknown as Parameters<Docker['getEvents']>[0]);
      // Leaving the loop early destroys the stream.
      for await (const chunk of events) {
        if (chunk.toString().includes('"oom"')) return true;
      }
      return false;
    } catch {
      return false;
    }
  }
}
