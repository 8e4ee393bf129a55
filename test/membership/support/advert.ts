import type { AdvertContent } from '../../../node/membership/index.js';
import { hostOnlyCapabilities } from '../../../node/capabilities/index.js';
import { PROTOCOL_VERSION, type NodeAdvert } from '../../../node/types.js';

export const MESH_ID = 'mesh-test-1';
export const SECRET = new TextEncoder().encode('correct horse battery staple, 32+');

/** What a node would put in its advert, with the given overrides. */
export function advertContent(overrides: Partial<AdvertContent> & { id: string }): AdvertContent {
  return {
    name: overrides.id,
    version: '0.1.0',
    startedAt: 1_000,
    addresses: ['100.64.0.1'],
    ports: { rpc: 7700, cluster: 6222 },
    capabilities: hostOnlyCapabilities({ cpus: 2, memTotalMiB: 4096 }),
    load: { runningAgents: 0, loadAvg1: 0.1, loadPerCore: 0.05, memFreeMiB: 2048 },
    warmPool: [],
    images: [],
    ...overrides,
  };
}

/** A full advert as it travels on the bus. */
export function advert(overrides: Partial<NodeAdvert> & { id: string }): NodeAdvert {
  const { v: _v, meshId, seq, sentAt, ...content } = overrides;
  return {
    ...advertContent(content as Partial<AdvertContent> & { id: string }),
    v: PROTOCOL_VERSION,
    meshId: meshId ?? MESH_ID,
    seq: seq ?? 0,
    sentAt: sentAt ?? 0,
  };
}
