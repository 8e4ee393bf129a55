/**
 * LAN discovery without Tailscale: DNS-SD over multicast DNS (RFC 6762/6763) with the
 * multicast-dns package on a socket of our own. Each node announces its peer id (the node's own
 * Ed25519 identity, so the id found here is the id it advertises on the bus), its mesh address and
 * ports, answers queries for the helix service, and asks for it every `intervalMs`.
 *
 * The socket binds the mDNS group address 224.0.0.251:5353, never 0.0.0.0 (issue 2, point 8;
 * @libp2p/mdns, used before, let multicast-dns bind every interface). Linux delivers group
 * traffic to a socket bound to the group address, and SO_REUSEADDR lets several nodes (and
 * avahi-daemon) share the port. Group membership and outgoing multicast use the interface that
 * holds the mesh address only, so packets go out from the mesh address and nothing else. Such a
 * socket gets no unicast, which mDNS here never asks for (no QU questions).
 */
import dgram from 'node:dgram';
import { isIPv4 } from 'node:net';
import type { NodeKey } from '../identity/node-key.js';
import type makeMdns from 'multicast-dns';
import { ConfigError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import {
  announcementRecords,
  asksForService,
  candidatesFromRecords,
  serviceQuestions,
  type MdnsCandidate,
} from './mdns-records.js';

export type { MdnsCandidate } from './mdns-records.js';

/**
 * A service name of our own rather than libp2p's `_p2p._udp.local`, so IPFS and other libp2p
 * programs on the same LAN do not turn up as mesh candidates (and do not see us).
 */
export const HELIX_MDNS_SERVICE = '_helix-mesh._udp.local';

export const MDNS_GROUP = '224.0.0.251';
export const MDNS_PORT = 5353;

// RFC 6762 §6: a record is multicast on an interface at most once per second.
const MIN_ANSWER_GAP_MS = 1000;
const START_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 2000;

export interface MdnsOptions {
  /** the node's Ed25519 key (identity/node-key.ts); its peer id is announced */
  privateKey: NodeKey;
  /** IPv4 mesh address of this host: announced, and the interface mDNS joins; never 0.0.0.0 */
  listenAddress: string;
  onPeer(candidate: MdnsCandidate): void;
  logger?: Logger;
  /** mDNS service name; tests use their own so parallel runs stay apart */
  serviceTag?: string;
  /** how often to query the LAN (default 10 s) */
  intervalMs?: number;
  /** more to announce: node name and ports, so peers can dial before the first advert */
  announce?: { name?: string; clusterPort?: number; rpcPort?: number };
}

export interface MdnsHandle {
  /** the announced peer id; null when mDNS could not start */
  readonly peerId: string | null;
  stop(): Promise<void>;
}

/**
 * Start announcing and listening. Failure to start (no multicast, the address not on this host,
 * port 5353 held exclusively) is logged and yields a handle that does nothing: a node without
 * mDNS still has Tailscale and static peers.
 */
export async function startMdns(opts: MdnsOptions): Promise<MdnsHandle> {
  const log = opts.logger ?? silentLogger;
  const address = opts.listenAddress;
  if (!isIPv4(address) || address === '0.0.0.0') {
    throw new ConfigError(
      'mesh.address',
      address,
      'an IPv4 address of this host; mDNS never listens on 0.0.0.0',
    );
  }
  const service = opts.serviceTag ?? HELIX_MDNS_SERVICE;
  const selfPeerId = opts.privateKey.peerId;
  const records = announcementRecords(service, {
    peerId: selfPeerId,
    address,
    ...opts.announce,
  });

  // Loaded here, not at import: a node with mDNS discovery off never loads it (issue 12).
  const { default: makeMdnsNow } = await import('multicast-dns');
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  // multicast: false — memberships are ours to set (below), on the mesh interface only
  const mdns = makeMdnsNow({ socket, bind: MDNS_GROUP, port: MDNS_PORT, multicast: false });
  let started = false;
  // always listened for: multicast-dns may emit one bind failure twice, and an unheard 'error' throws
  mdns.on('error', (err) => {
    if (started) log.warn({ err: describeError(err), address }, 'mDNS socket error');
  });
  const destroy = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_TIMEOUT_MS);
      mdns.destroy(() => {
        clearTimeout(timer);
        resolve();
      });
    });

  try {
    await ready(mdns, AbortSignal.timeout(START_TIMEOUT_MS));
    try {
      socket.addMembership(MDNS_GROUP, address);
      socket.setMulticastInterface(address);
    } catch (err) {
      throw new Error(
        `cannot join ${MDNS_GROUP} on ${address}: is it an address of an interface of this host that is up?`,
        { cause: err },
      );
    }
    socket.setMulticastTTL(255);
    // other nodes on this host (and tests) hear us through the loopback copy
    socket.setMulticastLoopback(true);
  } catch (err) {
    await destroy();
    log.error(
      { err: describeError(err), address },
      'mDNS discovery could not start; LAN peers will not be found automatically (static peers still work)',
    );
    return { peerId: null, stop: async () => {} };
  }

  let stopped = false;
  let lastAnswerAt = 0;
  let answerTimer: NodeJS.Timeout | null = null;
  const sent = (what: string) => (err: Error | null) => {
    if (err && !stopped) log.debug({ err: describeError(err), address }, `mDNS ${what} failed`);
  };
  const answer = () => {
    if (stopped || answerTimer) return;
    const wait = lastAnswerAt + MIN_ANSWER_GAP_MS - Date.now();
    if (wait > 0) {
      answerTimer = setTimeout(() => {
        answerTimer = null;
        answer();
      }, wait);
      answerTimer.unref();
      return;
    }
    lastAnswerAt = Date.now();
    mdns.respond({ answers: records }, sent('answer'));
  };
  const query = () => {
    if (!stopped) mdns.query({ questions: serviceQuestions(service) }, sent('query'));
  };

  mdns.on('query', (packet, rinfo) => {
    // our own query comes back through the loopback
    if (rinfo.address === address) return;
    if (asksForService(packet.questions, service)) answer();
  });
  mdns.on('response', (packet, rinfo) => {
    try {
      const found = candidatesFromRecords(
        [...(packet.answers ?? []), ...(packet.additionals ?? [])],
        {
          service,
          sender: rinfo.address,
          selfPeerId,
        },
      );
      for (const candidate of found) opts.onPeer(candidate);
    } catch (err) {
      log.warn({ err: describeError(err) }, 'mDNS peer handling failed');
    }
  });
  // undecodable packets from other programs on the LAN are routine
  mdns.on('warning', (err) => log.debug({ err: describeError(err) }, 'mDNS packet ignored'));

  started = true;
  // announce at once, and ask who is there
  answer();
  query();
  const queryTimer = setInterval(query, opts.intervalMs ?? 10_000);
  queryTimer.unref();
  log.info(
    { address, group: `${MDNS_GROUP}:${MDNS_PORT}`, peerId: selfPeerId },
    'mDNS discovery started',
  );

  return {
    peerId: selfPeerId,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(queryTimer);
      if (answerTimer) clearTimeout(answerTimer);
      await destroy();
    },
  };
}

function ready(mdns: makeMdns.MulticastDNS, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      mdns.off('ready', onReady);
      mdns.off('error', done);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onAbort = () => done(new Error(`mDNS socket did not bind within ${START_TIMEOUT_MS} ms`));
    mdns.once('ready', onReady);
    mdns.once('error', done);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The first IPv4 among a peer's multiaddrs, preferring one that is not loopback. (From the libp2p
 * days of this module; kept for callers that hold multiaddr components.)
 */
export function pickIPv4(addrs: { name: string; value?: string }[][]): string | null {
  const ips = addrs.flatMap((components) =>
    components
      .filter((c) => c.name === 'ip4' && c.value && c.value !== '0.0.0.0')
      .map((c) => c.value as string),
  );
  return ips.find((ip) => !ip.startsWith('127.')) ?? ips[0] ?? null;
}
