/**
 * The container runtime agents run in, as the warm pool, the runner and the protocol see it:
 * create a sandboxed container from a SandboxSpec, talk to it over its stdio (the JSON-lines
 * protocol's bytes), learn why it exited. Docker (./docker/) is the first implementation; a
 * Kubernetes/K3s or containerd one plugs in here without touching placement, the pool or the
 * protocol. Pure: types only.
 */
import type { Readable, Writable } from 'node:stream';

/** The sandbox every agent container gets (DESIGN.md §6), whatever the engine. */
export interface SandboxSpec {
  /** container name; starts with the runner's prefix ("helix-") */
  name: string;
  image: string;
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
}

export interface ContainerRuntime {
  /** the engine's name, for messages ("Docker") */
  readonly engine: string;
  /** Creates, attaches and starts a container; its stdio is wired before it starts. */
  start(spec: SandboxSpec): Promise<ContainerHandle>;
  /** The image's size when the engine holds `tag`, else null. */
  findImage(tag: string): Promise<{ sizeBytes: number } | null>;
  /** Makes the network agents with network = "egress" join; throws a message that says the fix. */
  ensureEgressNetwork(forAgent?: string): Promise<void>;
  /** Removes containers left by an earlier process of this node: this label and name prefix. */
  removeLeftovers(opts: { label: [string, string]; namePrefix: string }): Promise<void>;
}
