/**
 * What the control routes of the agent services answer (the CLI prints these; `--json` prints
 * them as they are). Runs stream node/agenthost's RemoteRunEvent.
 */
import type { AgentManifest, IntentRequest } from '../agentspec/index.js';
import type { ImageHeld, WarmPoolEntry } from '../types.js';

/** What the heartbeat advert carries about agents. */
export interface AgentAdvert {
  warmPool: WarmPoolEntry[];
  images: ImageHeld[];
  runningAgents: number;
}

/** An agent's image on this node. */
export interface AgentImageInfo {
  /**
   * `<prefix><agent>:<hash16>-<platform>`: the image the loaded sources build for this node's
   * platform; null when Docker does not answer (the platform is the engine's)
   */
  tag: string | null;
  /** the content hash (full) */
  hash: string;
  /** the platform this node runs agents as; null when Docker does not answer */
  platform: string | null;
  /** this node's Docker engine has it */
  held: boolean;
  sizeBytes: number | null;
  /** offered to peers (it ran successfully here at least once) */
  shareable: boolean;
  successes: number;
  failures: number;
  /** ISO times from the registry; null when this node has no record */
  addedAt: string | null;
  lastUsedAt: string | null;
}

export interface AgentSummary {
  name: string;
  description: string;
  /** this node's runs of the agent since it started: count, failures, median ms (last 100) */
  runs: { runs: number; failures: number; p50Ms: number | null };
  tier: 'warm' | 'cold';
  idempotent: boolean;
  network: 'none' | 'egress';
  intents: string[];
  dir: string;
  image: AgentImageInfo;
  /** this node's warm containers of the agent; null when it has no pool for it */
  warm: { idle: number; busy: number } | null;
  /** peers that offer this version of the image for this node's platform */
  heldBy: string[];
  /** per node (this one first), the platforms it holds this version of the image for */
  platforms: AgentPlatformsHeld[];
}

/** One node's images of one agent version, by platform. */
export interface AgentPlatformsHeld {
  node: string;
  self: boolean;
  images: Array<{ platform: string; shareable: boolean }>;
}

export interface AgentList {
  node: string;
  /** this node's Docker engine answers */
  docker: boolean;
  /** the platform this node runs agents as; null when Docker does not answer */
  platform: string | null;
  agents: AgentSummary[];
}

export interface AgentDetail extends AgentSummary {
  manifest: AgentManifest;
}

/** `POST /v1/agents/build` streams these, one per line. */
export type BuildEvent =
  | { type: 'progress'; agent: string; message: string }
  | {
      type: 'built';
      agent: string;
      tag: string;
      platform: string;
      sizeBytes: number;
      /** false: the image was up to date and nothing was built */
      built: boolean;
      /** at or over the 10 MB agents should stay under */
      overLimit: boolean;
    }
  | { type: 'failed'; agent: string; message: string }
  | { type: 'done'; built: number; upToDate: number; failed: number };

export interface RemoveResult {
  agent: string;
  removed: Array<{ tag: string; sizeBytes: number }>;
  freedBytes: number;
}

/** `POST /v1/run` body. */
export interface RunIntentRequest extends IntentRequest {
  /** a node name or id (`--on NODE`) */
  onNode?: string;
  traceId?: string;
}
