/**
 * The built-in discovery sources, in start order, each switched by its own config key. A new
 * source is one file implementing DiscoverySource, a line here and its key in
 * config/schema.ts (DiscoverySection); `Discovery` does not change. Tests and callers can also
 * pass more sources through DiscoveryOptions.sources.
 */
import type { NodeKey } from '../identity/node-key.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { advertSource, inviteSource } from './learned-source.js';
import type { MdnsHandle, MdnsOptions } from './mdns.js';
import { MdnsSource } from './mdns-source.js';
import type { DiscoverySource } from './source.js';
import { staticSource } from './static-source.js';
import type { TailscaleClient } from './tailscale.js';
import { TailscaleSource } from './tailscale-source.js';

/** What the built-in sources are made from. */
export interface SourceDeps {
  config: Config;
  logger: Logger;
  /** null: Tailscale is not used (state "disabled") */
  tailscale: TailscaleClient | null;
  /** the node's Ed25519 key; mDNS announces its peer id. Without one mDNS uses a throwaway key. */
  privateKey?: NodeKey;
  /** the mesh address mDNS listens on and announces; default: the mesh address at its start */
  listenAddress?: string;
  /** default: config.discovery.mdns */
  mdnsEnabled?: boolean;
  /** mDNS tuning; tests use their own service tag */
  mdns?: {
    serviceTag?: string;
    intervalMs?: number;
    /** forget an mDNS peer not heard for this long */ ttlMs?: number;
  };
  /** replaceable for tests */
  startMdns?: (opts: MdnsOptions) => Promise<MdnsHandle>;
}

type SourceFactory = (deps: SourceDeps) => DiscoverySource | null;

// Tailscale first: its first poll decides the mesh address mDNS listens on. It stays in the list
// when switched off, to report the tailnet state "disabled".
const BUILT_IN: SourceFactory[] = [
  (d) => new TailscaleSource(d.config, d.tailscale, d.logger),
  (d) => staticSource(d.config),
  () => advertSource(),
  () => inviteSource(),
  (d) =>
    (d.mdnsEnabled ?? d.config.discovery.mdns)
      ? new MdnsSource({
          ...d.mdns,
          ...(d.privateKey ? { privateKey: d.privateKey } : {}),
          ...(d.listenAddress ? { listenAddress: d.listenAddress } : {}),
          ...(d.startMdns ? { startMdns: d.startMdns } : {}),
        })
      : null,
];

export function builtInSources(deps: SourceDeps): DiscoverySource[] {
  return BUILT_IN.map((make) => make(deps)).filter((s): s is DiscoverySource => s !== null);
}
