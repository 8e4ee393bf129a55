/**
 * `GET /v1/status`: the helix.status/v1 report (docs/status-json.md; keep it stable), built from
 * what the daemon's components know. Pure: the daemon hands in the values.
 */
import type { TailnetState } from '../discovery/types.js';
import type { PeerView } from '../types.js';
import type { StatusReport } from './types.js';

export interface StatusInputs {
  self: { id: string; shortId: string; name: string };
  meshId: string;
  version: string;
  address: string;
  startedAt: number;
  tailnet: TailnetState;
  /** nats-server's routes (/routez), or null when its monitor did not answer */
  routes: ReadonlyArray<{ ip: string; port: number; remote_name?: string }> | null;
  natsRestarts: number;
  drops: Record<string, number>;
  view: readonly PeerView[];
  /** the room a node is in (its `nodes.<id>.room` setting), if any */
  roomOf?: (id: string) => string | undefined;
}

export function statusReport(i: StatusInputs): StatusReport {
  return {
    schema: 'helix.status/v1',
    self: {
      id: i.self.id,
      shortId: i.self.shortId,
      name: i.self.name,
      meshId: i.meshId,
      version: i.version,
      address: i.address,
      startedAt: new Date(i.startedAt).toISOString(),
    },
    tailnet: i.tailnet,
    bus: {
      routes: (i.routes ?? []).map((r) => ({
        address: `${r.ip}:${r.port}`,
        name: r.remote_name ?? null,
      })),
      restarts: i.natsRestarts,
    },
    drops: i.drops,
    nodes: i.view.map((n) => ({ ...n, shortId: n.id.slice(-8), room: i.roomOf?.(n.id) ?? null })),
  };
}
