/** PeerView builders for placement tables: a peer is a name plus only what the case is about. */
import { hostOnlyCapabilities } from '../../node/capabilities/index.js';
import type { ImageHeld, Load, PeerView, WarmPoolEntry } from '../../node/types.js';

export interface PeerSpec {
  name: string;
  id?: string;
  state?: PeerView['state'];
  self?: boolean;
  docker?: boolean;
  /** the platform its engine runs agents as (default linux/amd64) */
  platform?: string;
  /** Go to build agent images (default: true on a Docker peer) */
  go?: boolean;
  stt?: boolean;
  rttMs?: number | null;
  running?: number;
  loadPerCore?: number;
  memFreeMiB?: number;
  /** agent -> idle warm containers (busy 0); "agent@hash" names the image hash */
  warm?: Record<string, number>;
  /** "agent" or "agent@hash", of the peer's platform; "agent@hash@linux/arm64" names another */
  images?: string[];
}

export function peer(spec: PeerSpec): PeerView {
  const capabilities = hostOnlyCapabilities(
    { cpus: 4, memTotalMiB: 8192 },
    {
      docker:
        spec.docker === false
          ? null
          : { version: '20.10.24', platform: spec.platform ?? 'linux/amd64' },
      go: spec.go ?? spec.docker !== false,
      stt: spec.stt ? { engine: 'whisper', model: 'base.en' } : null,
    },
  );
  const load: Load = {
    runningAgents: spec.running ?? 0,
    loadAvg1: (spec.loadPerCore ?? 0) * 4,
    loadPerCore: spec.loadPerCore ?? 0,
    memFreeMiB: spec.memFreeMiB ?? 4096,
  };
  const warmPool: WarmPoolEntry[] = Object.entries(spec.warm ?? {}).map(([key, idle]) => {
    const [agent, hash = 'aaaaaaaaaaaaaaaa'] = key.split('@') as [string, string?];
    return { agent, image: `helix-agent-${agent}:${hash.slice(0, 16)}`, idle, busy: 0 };
  });
  const images: ImageHeld[] = (spec.images ?? []).map((key) => {
    const [agent, hash = 'aaaaaaaaaaaaaaaa', platform = spec.platform ?? 'linux/amd64'] = key.split(
      '@',
    ) as [string, string?, string?];
    return { agent, hash, platform, sizeBytes: 1_500_000, shareable: true };
  });
  return {
    id: spec.id ?? `id-${spec.name}`,
    name: spec.name,
    state: spec.state ?? 'alive',
    self: spec.self ?? false,
    addresses: ['100.64.0.1'],
    version: '0.1.0',
    capabilities,
    load,
    warmPool,
    images,
    rttMs: spec.rttMs === undefined ? 1 : spec.rttMs,
    lastSeenMs: 0,
    ports: { rpc: 7700, cluster: 7422 },
  };
}
