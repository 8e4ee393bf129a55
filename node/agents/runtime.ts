/**
 * The container runtime agents run in, as the warm pool, the runner and the protocol see it:
 * create a sandboxed container from a SandboxSpec, talk to it over its stdio (the JSON-lines
 * protocol's bytes), learn why it exited. Its image store, as the image builder, the catalog, the
 * warm-up and image transfer between nodes see it (ImageRuntime): build from a recipe, inspect,
 * list, remove, save and load. Docker (./docker/) is the first implementation, chosen in
 * ./create-runtime.ts; a Kubernetes/K3s or containerd one plugs in here without touching
 * placement, the pool, the agent host or the protocol. Pure: types only.
 */
import type { Readable, Writable } from 'node:stream';
import type { Platform } from '../platform.js';

/** The sandbox every agent container gets (DESIGN.md §6), whatever the engine. */
export interface SandboxSpec {
  /** container name; starts with the runner's prefix ("helix-") */
  name: string;
  image: string;
  /**
   * the platform the node runs agents as ("linux/arm64"): the engine refuses to create the
   * container from an image of another platform
   */
  platform?: Platform;
  /** uid:gid the agent runs as (never root) */
  user: string;
  labels: Record<string, string>;
  /** hard memory limit, no swap beyond it */
  memoryBytes: number;
  cpus: number;
  pids: number;
  /** open files per process */
  openFiles: number;
  /** "egress": the engine's agent egress network (internet, not other agents); "none": no network */
  network: 'none' | 'egress';
  readOnlyRoot: boolean;
  dropAllCapabilities: boolean;
  noNewPrivileges: boolean;
  /** the runtime kills the container after this long (exit cause "timeout"); none when absent */
  timeoutMs?: number;
}

/**
 * Why a container exited: on its own with status 0 ("normal") or another status ("crash"),
 * killed by the engine for using more memory than its limit ("oom"), killed by the runtime at
 * its timeout or by kill("timeout") ("timeout"), or by kill("killed") from the host ("killed").
 */
export type ExitCause = 'normal' | 'crash' | 'oom' | 'timeout' | 'killed';

export interface ContainerExit {
  cause: ExitCause;
  /** the process's exit status, when the engine said */
  statusCode: number | null;
  /** what the engine said about it, if anything */
  detail: string;
}

/**
 * What a live container uses now against its limits, as the engine counts it; a field is null
 * when the engine does not say.
 */
export interface ContainerUsage {
  /** processes and threads in the container (the pids limit counts both) */
  pids: number | null;
  pidsLimit: number | null;
  /** how often a fork or clone was refused at the pids limit, over the container's life */
  pidsLimitHits: number | null;
  /** memory charged to the container, less page cache it can drop */
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
  /** processes the kernel killed for memory while the container lived on */
  oomKills: number | null;
  /** the most files any one of its processes holds open (the limit is per process) */
  openFiles: number | null;
}

/** A started container. */
export interface ContainerHandle {
  readonly id: string;
  readonly name: string;
  /** host -> agent bytes; ending it closes the agent's stdin */
  readonly stdin: Writable;
  /** agent -> host protocol bytes */
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** settles once when the process is gone; never rejects */
  readonly exit: Promise<ContainerExit>;
  /** Stops the process now; the exit reports `cause`. */
  kill(cause: 'timeout' | 'killed'): Promise<void>;
  /** Removes the container (after kill/exit) and waits until it is gone, bounded. */
  remove(): Promise<void>;
  /**
   * What it uses now against its limits (the warm pool asks after each task); null, or absent,
   * when the engine cannot say. Must be quick: it stands between a warm task and the next.
   */
  usage?(): Promise<ContainerUsage | null>;
}

export interface ContainerRuntime {
  /** the engine's name, for messages ("Docker") */
  readonly engine: string;
  /**
   * Creates, attaches and starts a container; its stdio is wired before it starts. Refuses
   * (ImagePlatformError) an image of another platform than platform() or spec.platform.
   */
  start(spec: SandboxSpec): Promise<ContainerHandle>;
  /** The platform this runtime runs agents as (see ImageRuntime.platform). */
  platform(signal?: AbortSignal): Promise<Platform>;
  /** The image's size when the engine holds `tag`, else null. */
  findImage(tag: string): Promise<{ sizeBytes: number } | null>;
  /** Makes the network agents with network = "egress" join; throws a message that says the fix. */
  ensureEgressNetwork(forAgent?: string): Promise<void>;
  /** Removes containers left by an earlier process of this node: this label and name prefix. */
  removeLeftovers(opts: { label: [string, string]; namePrefix: string }): Promise<void>;
}

/** One file of an image's build context. */
export interface ImageFile {
  /** path inside the context, e.g. "Dockerfile", "agent" */
  name: string;
  mode: number;
  content: Buffer | string;
}

/**
 * What an agent image is built from (recipe.ts): a context whose root holds the Dockerfile and
 * the static binary, tagged and labelled. Engines that do not read Dockerfiles build the same
 * image from the same files.
 */
export interface ImageRecipe {
  /** the agent's name, for messages */
  agent: string;
  /** e.g. "helix-agent-echo:3fa9c2d41b7e0a55-linux-arm64" */
  tag: string;
  /** what the binary was compiled for; the image's config says so */
  platform: Platform;
  labels: Record<string, string>;
  files: ImageFile[];
}

export interface ImageInfo {
  /** the engine's image id, "sha256:..." */
  id: string;
  sizeBytes: number;
  /** the image config's os/architecture/variant, e.g. "linux/arm/v7" */
  platform: Platform;
}

/** The engine's image store, as far as image transfer between nodes needs it (ImageStore). */
export interface ImageEngine {
  has(tag: string, signal?: AbortSignal): Promise<boolean>;
  /** The platform the image's config names ("linux/arm64"), or null when the engine lacks it. */
  imagePlatform(tag: string, signal?: AbortSignal): Promise<Platform | null>;
  /** `docker save` of one image: a tar stream. */
  save(tag: string, signal?: AbortSignal): Promise<NodeJS.ReadableStream>;
  /** `docker load` of a tar stream; rejects with the engine's message when it refuses. */
  load(tar: NodeJS.ReadableStream, signal?: AbortSignal): Promise<void>;
}

/** The engine's image store: what building, listing, removing and transferring images need. */
export interface ImageRuntime extends ImageEngine {
  /** the engine's name, for messages ("Docker") */
  readonly engine: string;
  /** DependencyMissingError (with the fix) when the engine does not answer (default bound 5 s). */
  check(signal?: AbortSignal): Promise<void>;
  /**
   * The platform this node runs agents as: the engine's own ("linux/amd64" from its version and
   * info), or the one configured (agents.platform) for an engine that runs another platform
   * under emulation.
   */
  platform(signal?: AbortSignal): Promise<Platform>;
  /** The image's id, size and platform, or null when the engine does not hold `tag`. */
  inspectImage(tag: string): Promise<ImageInfo | null>;
  /** Tags of the agent images the engine holds: every agent's, or one agent's. */
  agentImageTags(agent?: string): Promise<string[]>;
  /** Builds and tags the recipe's image, saying the engine's output line by line; ImageBuildError. */
  build(
    recipe: ImageRecipe,
    opts: { onProgress?: (line: string) => void; signal?: AbortSignal },
  ): Promise<void>;
  /**
   * Removes the image; false when the engine did not hold it (that counts as removed).
   * ImageBusyError when a container still uses it.
   */
  removeImage(tag: string): Promise<boolean>;
}

/** Containers and their images on one engine: what the agent host is given. */
export type AgentRuntime = ContainerRuntime & ImageRuntime;
