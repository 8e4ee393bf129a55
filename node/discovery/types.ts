import type { PeerCandidate } from '../types.js';

/** What the Tailscale daemon says about this node: shown by status and doctor. */
export type TailnetState =
  | { kind: 'running'; selfIps: string[]; selfDnsName: string; tailnet?: string }
  | { kind: 'not-running'; backendState: string }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'disabled' };

/** Emits the current set of candidate peers (deduplicated by address) whenever it changes. */
export interface DiscoveryEvents {
  onCandidates(listener: (candidates: PeerCandidate[]) => void): () => void;
}
