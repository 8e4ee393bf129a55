/**
 * Discovery: one deduplicated set of candidate peer addresses from every source — Tailscale
 * (polled), mDNS on the LAN, static peers from helix.toml, and addresses learned elsewhere
 * (adverts, invites). Nothing runs until start(); stop() ends every timer and socket.
 */
import os from 'node:os';
import type { PrivateKey } from '@libp2p/interface';
import type { Config } from '../config/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { PeerCandidate } from '../types.js';
import {
  interfaceAddresses,
  parseHostPort,
  resolveMeshAddress,
  type InterfaceTable,
} from './addresses.js';
import { startMdns, type MdnsCandidate, type MdnsHandle, type MdnsOptions } from './mdns.js';
import { parseTailscaleStatus, type TailscaleClient } from './tailscale.js';
import type { DiscoveryEvents, TailnetState } from './types.js';

export type ExtraSource = 'advert' | 'invite';
export type CandidateListener = (candidates: PeerCandidate[]) => void;

export interface DiscoveryOptions {
  config: Config;
  /** null: Tailscale is not used (state "disabled") */
  tailscale: TailscaleClient | null;
  logger?: Logger;
  /** the node's Ed25519 key; mDNS announces its peer id. Without one mDNS uses a throwaway key. */
  privateKey?: PrivateKey;
  /** the mesh address mDNS listens on and announces; default: resolveMeshAddress() after the first poll */
  listenAddress?: string;
  /** default: config.discovery.mdns */
  mdnsEnabled?: boolean;
  /** more addresses that are this node's own (never candidates) */
  selfAddresses?: string[];
  /** mDNS tuning; tests use their own service tag */
  mdns?: {
    serviceTag?: string;
    intervalMs?: number;
    /** forget an mDNS peer not heard for this long */ ttlMs?: number;
  };
  /** interface table (tests); default os.networkInterfaces() at each recompute */
  interfaces?: () => InterfaceTable;
  /** replaceable for tests */
  startMdns?: (opts: MdnsOptions) => Promise<MdnsHandle>;
}

// Priority when several sources name one address: explicit config first, then what peers said
// about themselves (it carries their ports), then discovery proper.
const SOURCE_RANK: Record<PeerCandidate['source'], number> = {
  static: 0,
  advert: 1,
  invite: 2,
  tailscale: 3,
  mdns: 4,
};

// mDNS records carry a 120 s TTL; a peer that stops answering is forgotten after the same time.
const DEFAULT_MDNS_TTL_MS = 120_000;

export class Discovery implements DiscoveryEvents {
  private readonly config: Config;
  private readonly tailscaleClient: TailscaleClient | null;
  private readonly log: Logger;
  private readonly opts: DiscoveryOptions;
  private readonly listeners = new Set<CandidateListener>();

  private state: TailnetState;
  private stateKey = '';
  private selfUserId: number | null = null;
  private selfTags: string[] = [];
  private tailscalePeers: PeerCandidate[] = [];
  private readonly staticPeers: PeerCandidate[];
  private readonly extra = new Map<ExtraSource, PeerCandidate[]>();
  private readonly mdnsPeers = new Map<string, { candidate: MdnsCandidate; seenAt: number }>();
  private current: PeerCandidate[] = [];
  private currentKey = '[]';

  private running = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private inFlight: Promise<TailnetState> | null = null;
  private stopController = new AbortController();
  private mdnsHandle: MdnsHandle | null = null;

  constructor(opts: DiscoveryOptions) {
    this.opts = opts;
    this.config = opts.config;
    this.tailscaleClient = opts.config.discovery.tailscale ? opts.tailscale : null;
    this.log = (opts.logger ?? silentLogger).child({ component: 'discovery' });
    this.state = this.tailscaleClient
      ? { kind: 'unavailable', reason: 'not polled yet' }
      : { kind: 'disabled' };
    this.staticPeers = opts.config.discovery.static_peers.map((spec) => {
      const { host, port } = parseHostPort(spec);
      return {
        address: host,
        source: 'static' as const,
        dial: 'always' as const,
        ...(port ? { clusterPort: port } : {}),
      };
    });
    this.recompute(false);
  }

  /** Poll Tailscale now, start mDNS, then poll every discovery.poll_interval_ms. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.stopController.signal.aborted) this.stopController = new AbortController();
    await this.refresh();
    if (!this.running) return;
    if (this.opts.mdnsEnabled ?? this.config.discovery.mdns) await this.startMdns();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopController.abort();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    const mdns = this.mdnsHandle;
    this.mdnsHandle = null;
    await mdns?.stop();
    await this.inFlight?.catch(() => undefined);
  }

  /**
   * Ask Tailscale once, now (also usable without start(), e.g. before the mesh address is
   * known). Never throws: a failing or missing tailscale becomes the tailnet state.
   */
  refresh(): Promise<TailnetState> {
    this.inFlight ??= this.poll().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  candidates(): PeerCandidate[] {
    return this.current.map((c) => ({ ...c }));
  }

  tailnet(): TailnetState {
    return this.state;
  }

  /** This node's own Tailscale identity (for the join check): owner user id and ACL tags. */
  tailnetSelf(): { userId: number | null; tags: string[] } {
    return { userId: this.selfUserId, tags: [...this.selfTags] };
  }

  /** The peer id mDNS announces, once it runs. */
  mdnsPeerId(): string | null {
    return this.mdnsHandle?.peerId ?? null;
  }

  onCandidates(listener: CandidateListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Replace every candidate learned from one outside source (adverts, invites). */
  setExtraCandidates(
    source: ExtraSource,
    list: readonly (Omit<PeerCandidate, 'source'> & { source?: PeerCandidate['source'] })[],
  ): void {
    this.extra.set(
      source,
      list
        .filter((c) => typeof c.address === 'string' && c.address !== '')
        .map((c) => ({ ...c, source })),
    );
    this.recompute(true);
  }

  private async poll(): Promise<TailnetState> {
    const client = this.tailscaleClient;
    if (client) {
      // bounded by the poll interval as well as the client's own timeout: polls never pile up
      const limit = Math.max(500, Math.min(this.config.discovery.poll_interval_ms, 10_000));
      const deadline = AbortSignal.timeout(limit);
      const signal = AbortSignal.any([this.stopController.signal, deadline]);
      try {
        // raced against the signal too, so even a client that ignores it cannot stall polling
        const status = await Promise.race([client.status(signal), rejectOnAbort(signal)]);
        const parsed = parseTailscaleStatus(status, {
          tag: this.config.discovery.tailscale_tag || undefined,
        });
        this.setState(parsed.state);
        this.selfUserId = parsed.selfUserId;
        this.selfTags = parsed.selfTags;
        this.tailscalePeers = parsed.peers;
      } catch (err) {
        if (this.stopController.signal.aborted) return this.state;
        const reason = deadline.aborted
          ? `tailscale status did not answer within ${limit} ms; is tailscaled stuck? try \`systemctl restart tailscaled\``
          : describeError(err);
        this.setState({ kind: 'unavailable', reason });
        this.tailscalePeers = [];
      }
    }
    this.expireMdns();
    this.recompute(true);
    return this.state;
  }

  private schedule(): void {
    if (!this.running) return;
    this.pollTimer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, this.config.discovery.poll_interval_ms);
    this.pollTimer.unref();
  }

  private async startMdns(): Promise<void> {
    const listenAddress =
      this.opts.listenAddress ?? resolveMeshAddress(this.config, this.state, this.interfaces());
    try {
      let privateKey = this.opts.privateKey;
      if (!privateKey) {
        const { generateKeyPair } = await import('@libp2p/crypto/keys');
        privateKey = await generateKeyPair('Ed25519');
      }
      const handle = await (this.opts.startMdns ?? startMdns)({
        privateKey,
        listenAddress,
        logger: this.log,
        ...(this.opts.mdns?.serviceTag ? { serviceTag: this.opts.mdns.serviceTag } : {}),
        ...(this.opts.mdns?.intervalMs ? { intervalMs: this.opts.mdns.intervalMs } : {}),
        onPeer: (candidate) => this.onMdnsPeer(candidate),
      });
      if (!this.running) await handle.stop();
      else this.mdnsHandle = handle;
    } catch (err) {
      this.log.error(
        { err: describeError(err), address: listenAddress },
        'mDNS discovery disabled',
      );
    }
  }

  private onMdnsPeer(candidate: MdnsCandidate): void {
    const before = this.mdnsPeers.get(candidate.peerId);
    this.mdnsPeers.set(candidate.peerId, { candidate, seenAt: Date.now() });
    if (!before || before.candidate.address !== candidate.address) {
      this.log.debug({ peer: candidate.peerId, address: candidate.address }, 'mDNS found a peer');
      this.recompute(true);
    }
  }

  private expireMdns(): void {
    const ttl = this.opts.mdns?.ttlMs ?? DEFAULT_MDNS_TTL_MS;
    const now = Date.now();
    for (const [peerId, entry] of this.mdnsPeers) {
      if (now - entry.seenAt > ttl) this.mdnsPeers.delete(peerId);
    }
  }

  private setState(next: TailnetState): void {
    this.state = next;
    const key = JSON.stringify(next);
    if (key === this.stateKey) return;
    this.stateKey = key;
    switch (next.kind) {
      case 'running':
        this.log.info(
          { ips: next.selfIps, name: next.selfDnsName, tailnet: next.tailnet },
          'tailnet is up',
        );
        break;
      case 'not-running':
        this.log.warn(
          { backendState: next.backendState },
          'tailscale is not running; run `tailscale up` to use the tailnet',
        );
        break;
      case 'unavailable':
        this.log.warn(
          { reason: next.reason },
          'tailscale is unavailable; discovery continues with mDNS and static peers',
        );
        break;
      case 'disabled':
        break;
    }
  }

  private interfaces(): InterfaceTable {
    return this.opts.interfaces ? this.opts.interfaces() : os.networkInterfaces();
  }

  private ownAddresses(): Set<string> {
    const own = new Set<string>(this.opts.selfAddresses ?? []);
    if (this.opts.listenAddress) own.add(this.opts.listenAddress);
    if (this.config.mesh.address) own.add(this.config.mesh.address);
    if (this.state.kind === 'running') for (const ip of this.state.selfIps) own.add(ip);
    for (const ip of interfaceAddresses(this.interfaces())) own.add(ip);
    return own;
  }

  private recompute(notify: boolean): void {
    const own = this.ownAddresses();
    const all = [
      ...this.staticPeers,
      ...(this.extra.get('advert') ?? []),
      ...(this.extra.get('invite') ?? []),
      ...this.tailscalePeers,
      ...[...this.mdnsPeers.values()].map(({ candidate }) => {
        const { peerId: _peerId, ...rest } = candidate;
        return rest;
      }),
    ].sort((a, b) => SOURCE_RANK[a.source] - SOURCE_RANK[b.source]);

    const byAddress = new Map<string, PeerCandidate>();
    for (const c of all) {
      if (own.has(c.address)) continue;
      const have = byAddress.get(c.address);
      if (!have) {
        byAddress.set(c.address, { ...c });
        continue;
      }
      // the higher-priority source wins; a lower one only fills what it left open
      have.name ??= c.name;
      have.clusterPort ??= c.clusterPort;
      have.rpcPort ??= c.rpcPort;
    }
    const next = [...byAddress.values()].sort((a, b) =>
      a.address.localeCompare(b.address, 'en', { numeric: true }),
    );
    const key = JSON.stringify(next.map(canonical));
    if (key === this.currentKey) return;
    this.current = next;
    this.currentKey = key;
    if (!notify) return;
    this.log.debug(
      { candidates: next.map((c) => `${c.address} (${c.source})`) },
      'candidates changed',
    );
    for (const listener of [...this.listeners]) {
      try {
        listener(this.candidates());
      } catch (err) {
        this.log.warn({ err: describeError(err) }, 'candidate listener failed');
      }
    }
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    const fail = () =>
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

function canonical(c: PeerCandidate): unknown[] {
  return [c.address, c.source, c.name ?? null, c.clusterPort ?? null, c.rpcPort ?? null];
}
