/**
 * LAN discovery without Tailscale: a minimal libp2p node (TCP + noise + yamux, needed so it has
 * a listen address to announce) whose only service is @libp2p/mdns. Its peer id is the node's
 * own Ed25519 identity, so the peer id found here is the same id the node advertises.
 * It never dials anyone: the mesh itself runs over NATS routes and gRPC.
 */
import { isIPv4 } from 'node:net';
import type { PrivateKey } from '@libp2p/interface';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { ConfigError, describeError } from '../errors.js';
import type { PeerCandidate } from '../types.js';

/**
 * A service name of our own rather than libp2p's `_p2p._udp.local`, so IPFS and other libp2p
 * programs on the same LAN do not turn up as mesh candidates (and do not see us).
 */
export const HELIX_MDNS_SERVICE = '_helix-mesh._udp.local';

export type MdnsCandidate = PeerCandidate & { peerId: string };

export interface MdnsOptions {
  /** the node's Ed25519 key (libp2p PrivateKey) */
  privateKey: PrivateKey;
  /** IPv4 the libp2p listener binds and announces; never 0.0.0.0 */
  listenAddress: string;
  onPeer(candidate: MdnsCandidate): void;
  logger?: Logger;
  /** mDNS service name; tests use their own so parallel runs stay apart */
  serviceTag?: string;
  /** how often to query the LAN (libp2p default: 10 s) */
  intervalMs?: number;
}

export interface MdnsHandle {
  /** the announced peer id; null when mDNS could not start */
  readonly peerId: string | null;
  stop(): Promise<void>;
}

/**
 * Start announcing and listening. Failure to start (no multicast, port trouble) is logged and
 * yields a handle that does nothing: a node without mDNS still has Tailscale and static peers.
 */
export async function startMdns(opts: MdnsOptions): Promise<MdnsHandle> {
  const log = opts.logger ?? silentLogger;
  if (!isIPv4(opts.listenAddress) || opts.listenAddress === '0.0.0.0') {
    throw new ConfigError(
      'mesh.address',
      opts.listenAddress,
      'an IPv4 address of this host; mDNS never listens on 0.0.0.0',
    );
  }
  try {
    // Loaded on first use: libp2p is heavy and most commands (status, doctor) never need it.
    const [{ createLibp2p }, { tcp }, { mdns }, { noise }, { yamux }] = await Promise.all([
      import('libp2p'),
      import('@libp2p/tcp'),
      import('@libp2p/mdns'),
      import('@chainsafe/libp2p-noise'),
      import('@chainsafe/libp2p-yamux'),
    ]);
    const node = await createLibp2p({
      privateKey: opts.privateKey,
      addresses: { listen: [`/ip4/${opts.listenAddress}/tcp/0`] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [
        mdns({
          serviceTag: opts.serviceTag ?? HELIX_MDNS_SERVICE,
          interval: opts.intervalMs ?? 10_000,
        }),
      ],
    });
    const selfId = node.peerId.toString();
    node.addEventListener('peer:discovery', (evt) => {
      try {
        const peerId = evt.detail.id.toString();
        if (peerId === selfId) return;
        const address = pickIPv4(evt.detail.multiaddrs.map((ma) => ma.getComponents()));
        if (!address) {
          log.debug({ peer: peerId }, 'mDNS peer without an IPv4 address; ignored');
          return;
        }
        opts.onPeer({ address, source: 'mdns', peerId });
      } catch (err) {
        log.warn({ err: describeError(err) }, 'mDNS peer handling failed');
      }
    });
    log.info({ address: opts.listenAddress, peerId: selfId }, 'mDNS discovery started');
    let stopped = false;
    return {
      peerId: selfId,
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await node.stop();
        } catch (err) {
          log.warn({ err: describeError(err) }, 'mDNS stop failed');
        }
      },
    };
  } catch (err) {
    log.error(
      { err: describeError(err), address: opts.listenAddress },
      'mDNS discovery could not start; LAN peers will not be found automatically (static peers still work)',
    );
    return { peerId: null, stop: async () => {} };
  }
}

/** The first IPv4 among a peer's multiaddrs, preferring one that is not loopback. */
export function pickIPv4(addrs: { name: string; value?: string }[][]): string | null {
  const ips = addrs.flatMap((components) =>
    components
      .filter((c) => c.name === 'ip4' && c.value && c.value !== '0.0.0.0')
      .map((c) => c.value as string),
  );
  return ips.find((ip) => !ip.startsWith('127.')) ?? ips[0] ?? null;
}
