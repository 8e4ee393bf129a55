/**
 * Runs as the rest of the node sees them: a request in, an async iterable of events out
 * (the shape of AgentHost.Run's stream in proto/helix/v1/agent.proto).
 */
import type { IntentRequest } from './intent.js';
import type { AgentManifest } from './manifest.js';

export interface RunRequest extends IntentRequest {
  args: Record<string, unknown>;
  traceId?: string;
  /** name of the node that owns the request; the agent's notify calls go there */
  callerNode?: string;
  /** wall-clock deadline (ms since epoch); the manifest's timeout when absent or later */
  deadlineMs?: number;
}

export type RunErrorCode =
  /** no such agent, intent, or arguments that fail the manifest's schema */
  | 'unknown_agent'
  | 'unknown_intent'
  | 'invalid_args'
  /** the agent's image is not on this node (and could not be made) */
  | 'image_missing'
  /** building the agent's image failed: its source does not compile (the compiler's message) */
  | 'build_failed'
  /** the agent answered with an `error` line */
  | 'agent_error'
  /** the agent broke the protocol (bad JSON, too long, unknown type) */
  | 'protocol'
  | 'timeout'
  | 'oom'
  /** the container exited before answering */
  | 'crashed'
  | 'cancelled'
  /** no warm container became idle in time, or Docker refused the container */
  | 'unavailable';

export type RunEvent =
  | {
      type: 'accepted';
      agent: string;
      intent: string;
      taskId: string;
      /** the node running it (the runner's `host` option) */
      host: string;
      warm: boolean;
      container: string;
    }
  | { type: 'progress'; message: string; percent?: number }
  | { type: 'result'; text: string; data: unknown }
  | {
      type: 'error';
      code: RunErrorCode;
      /** for a person: what went wrong and what to do */
      message: string;
      /** placing the run again (elsewhere) may succeed */
      retryable: boolean;
      /** the agent's own code, for code "agent_error" (e.g. "unknown_room") */
      agentCode?: string;
    };

export type RunErrorEvent = Extract<RunEvent, { type: 'error' }>;

/** An agent found on disk: its manifest, folder and the content hash its image is tagged with. */
export interface LoadedAgent {
  manifest: AgentManifest;
  dir: string;
  /** sha256 (hex) over the agent's sources, manifest and the image recipe */
  hash: string;
}

export function runError(code: RunErrorCode, message: string, retryable = false): RunErrorEvent {
  return { type: 'error', code, message, retryable };
}
