/**
 * What the agent host needs from the rest of the node, as small interfaces: the agents it can run
 * (node/agents' warm pool and cold runner satisfy AgentExecutor), the engine's image store
 * (ImageEngine, node/agents' runtime), and the events a run streams back to the node that asked.
 */
import type { AgentManifest, RunErrorCode, RunEvent, RunRequest } from '../agentspec/index.js';

/** An agent this host can run: its manifest and the content hash its image is tagged with. */
export interface HostedAgent {
  manifest: AgentManifest;
  hash: string;
}

/**
 * Runs tasks on this node (warm container or cold run). `run` yields `accepted` first, then
 * `progress`, then exactly one `result` or `error`; it stops the container when `signal` aborts.
 */
export interface AgentExecutor {
  agent(name: string): HostedAgent | undefined;
  agentNames(): string[];
  run(request: RunRequest, opts: { signal: AbortSignal }): AsyncIterable<RunEvent>;
}

/** The engine's image store as image transfer needs it: node/agents' runtime provides it. */
export type { ImageEngine } from '../agents/index.js';

/**
 * Pulls an agent image into this node's engine through its OCI registry mirror (node/registry),
 * by digest, and tags it `tag`; rejects when no peer offers it or the pull fails.
 */
export interface MirrorPuller {
  /** "127.0.0.1:<port>", for messages */
  readonly address: string;
  pull(
    agent: string,
    hash: string,
    tag: string,
    signal: AbortSignal,
  ): Promise<{ reference: string; digest: string }>;
}

/** Makes sure this node holds an agent's image before it runs (fetch from a peer, else build). */
export interface ImageProvisioner {
  /** true when the image is here already (nothing to do, no progress said) */
  has(agent: HostedAgent, signal?: AbortSignal): Promise<boolean>;
  ensure(
    agent: HostedAgent,
    opts: { signal: AbortSignal; onProgress?: (message: string) => void },
  ): Promise<void>;
}

/**
 * A run as the node that asked sees it. The stream ends with exactly one `result` or `error`;
 * `placed` and `host_lost` say where it went and why it moved.
 */
export type RemoteRunEvent =
  | { type: 'placed'; node: string; nodeId: string; warm: boolean; reason: string; attempt: number }
  | { type: 'accepted'; hostNode: string; hostName: string; warm: boolean }
  | { type: 'progress'; message: string; percent?: number }
  | { type: 'result'; text: string; data: unknown; hostName: string }
  | { type: 'host_lost'; node: string; nodeId: string; reason: string; retrying: boolean }
  | {
      type: 'error';
      code: RemoteErrorCode | (string & {});
      message: string;
      retryable: boolean;
      node?: string;
    };

/** Error codes a run can end with: the host's (node/agents RunErrorCode) and the caller's own. */
export type RemoteErrorCode =
  | RunErrorCode
  /** no node can host the run (placement's reason is the message) */
  | 'no_host'
  /** the host went away mid-run and the agent is not idempotent (or it happened twice) */
  | 'host_lost'
  /** the host refused the call (authentication, an unknown agent or intent, bad arguments) */
  | 'refused'
  /** a host sent a code this node does not know, or a bug */
  | 'internal';
