/** Static peers from helix.toml (discovery.static_peers): always count, always dialled, first rank. */
import type { Config } from '../config/index.js';
import { parseHostPort } from './addresses.js';
import { ListSource } from './source.js';

export const STATIC_RANK = 0;

export function staticSource(config: Config): ListSource {
  const peers = config.discovery.static_peers.map((spec) => {
    const { host, port } = parseHostPort(spec);
    return { address: host, ...(port ? { clusterPort: port } : {}) };
  });
  return new ListSource('static', STATIC_RANK, 'always', peers);
}
