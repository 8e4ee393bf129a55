import type { TailnetState } from '../discovery/types.js';
import type { PeerView } from '../types.js';

/** What `helix-node status --json` prints. Documented in docs/status-json.md; keep it stable. */
export interface StatusReport {
  schema: 'helix.status/v1';
  self: {
    id: string;
    shortId: string;
    name: string;
    meshId: string;
    version: string;
    address: string;
    startedAt: string;
  };
  tailnet: TailnetState;
  bus: { routes: Array<{ address: string; name: string | null }>; restarts: number };
  /** adverts dropped since start, by reason (malformed, oversized, forged, wrong-mesh, …) */
  drops: Record<string, number>;
  /** room: the node's `nodes.<id>.room` setting, null when none is set */
  nodes: Array<PeerView & { shortId: string; room: string | null }>;
}
