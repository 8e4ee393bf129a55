/**
 * Discovery: one deduplicated set of candidate peer addresses from every source — the built-in
 * ones (Tailscale, static peers, adverts, invites, mDNS; see sources.ts) and any plug-in passed in
 * `sources`. Each source brings its name, rank and dial policy; Discovery starts, polls and stops
 * them and merges their lists by address. Nothing runs until start(); stop() ends every timer and
 * socket.
 */
import os from 'node:os';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { PeerCandidate } from '../types.js';
import { interfaceAddresses, resolveMeshAddress, type InterfaceTable } from './addresses.js';
import { MdnsSource } from './mdns-source.js';
import { ListSource, type DiscoverySource, type FoundPeer, type SourceContext } from './source.js';
import { builtInSources, type SourceDeps } from './sources.js';
import { TailscaleSource } from './tailscale-source.js';
import type { DiscoveryEvents, TailnetState } from './types.js';
import { compareAddresses } from '../order.js';

export type ExtraSource = 'advert' | 'invite';
export type CandidateListener = (candidates: PeerCandidate[]) => void;

export interface DiscoveryOptions extends Omit<SourceDeps, 'logger'> {
  logger?: Logger;
  /** more addresses that are this node's own (never candidates) */
  selfAddresses?: string[];
  /** interface table (tests); default os.networkInterfaces() at each recompute */
  interfaces?: () => InterfaceTable;
  /** plug-in sources, started after the built-in ones */
  sources?: DiscoverySource[];
}

export class Discovery implements DiscoveryEvents {
  private readonly log: Logger;
  private readonly opts: DiscoveryOptions;
  private readonly listeners = new Set<CandidateListener>();
  private readonly sources: DiscoverySource[];
  private readonly tailscale: TailscaleSource | undefined;

  private current: PeerCandidate[] = [];
  private currentKey = '[]';

  private running = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private inFlight: Promise<TailnetState> | null = null;
  private stopController = new AbortController();

  constructor(opts: DiscoveryOptions) {
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger).child({ component: 'discovery' });
    this.sources = [...builtInSources({ ...opts, logger: this.log }), ...(opts.sources ?? [])];
    this.tailscale = this.sources.find((s) => s instanceof TailscaleSource);
    for (const source of this.sources) source.onChange(() => this.recompute(true));
    this.recompute(false);
  }

  /** Poll every source once (Tailscale decides the mesh address), start them in order, then poll every discovery.poll_interval_ms. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.stopController.signal.aborted) this.stopController = new AbortController();
    await this.refresh();
    const ctx: SourceContext = {
      signal: this.stopController.signal,
      logger: this.log,
      meshAddress: () =>
        this.opts.listenAddress ??
        resolveMeshAddress(this.opts.config, this.tailnet(), this.interfaces()),
    };
    for (const source of this.sources) {
      if (!this.running) return;
      try {
        await source.start(ctx);
      } catch (err) {
        this.log.error(
          { err: describeError(err), source: source.name },
          'discovery source failed to start',
        );
      }
    }
    this.recompute(true);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopController.abort();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    for (const source of [...this.sources].reverse()) {
      await source
        .stop()
        .catch((err: unknown) =>
          this.log.warn(
            { err: describeError(err), source: source.name },
            'discovery source failed to stop',
          ),
        );
    }
    await this.inFlight?.catch(() => undefined);
  }

  /**
   * Poll every source once, now (also usable without start(), e.g. before the mesh address is
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
    return this.tailscale?.tailnet() ?? { kind: 'disabled' };
  }

  /** This node's own Tailscale identity (for the join check): owner user id and ACL tags. */
  tailnetSelf(): { userId: number | null; tags: string[] } {
    return this.tailscale?.tailnetSelf() ?? { userId: null, tags: [] };
  }

  /** The peer id mDNS announces, once it runs. */
  mdnsPeerId(): string | null {
    const mdns = this.sources.find((s) => s instanceof MdnsSource);
    return mdns?.peerId() ?? null;
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
    list: readonly (Omit<FoundPeer, 'source'> & Partial<Pick<PeerCandidate, 'source' | 'dial'>>)[],
  ): void {
    const target = this.sources.find((s) => s instanceof ListSource && s.name === source);
    if (!(target instanceof ListSource)) throw new Error(`no discovery source named ${source}`);
    target.set(list);
  }

  private async poll(): Promise<TailnetState> {
    const signal = this.stopController.signal;
    await Promise.all(
      this.sources.map((source) =>
        source
          .refresh?.(signal)
          .catch((err: unknown) =>
            this.log.warn(
              { err: describeError(err), source: source.name },
              'discovery poll failed',
            ),
          ),
      ),
    );
    this.recompute(true);
    return this.tailnet();
  }

  private schedule(): void {
    if (!this.running) return;
    this.pollTimer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, this.opts.config.discovery.poll_interval_ms);
    this.pollTimer.unref();
  }

  private interfaces(): InterfaceTable {
    return this.opts.interfaces ? this.opts.interfaces() : os.networkInterfaces();
  }

  private ownAddresses(): Set<string> {
    const own = new Set<string>(this.opts.selfAddresses ?? []);
    if (this.opts.listenAddress) own.add(this.opts.listenAddress);
    if (this.opts.config.mesh.address) own.add(this.opts.config.mesh.address);
    for (const source of this.sources) for (const ip of source.selfAddresses?.() ?? []) own.add(ip);
    for (const ip of interfaceAddresses(this.interfaces())) own.add(ip);
    return own;
  }

  private recompute(notify: boolean): void {
    const next = mergeCandidates(this.sources, this.ownAddresses());
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

/**
 * Every source's candidates, one per address (never one of `own`), sorted by address. When
 * several sources name one address the lowest rank wins (ties: the earlier source), and the
 * others only fill the fields it left open.
 */
export function mergeCandidates(
  sources: readonly Pick<DiscoverySource, 'rank' | 'candidates'>[],
  own: ReadonlySet<string>,
): PeerCandidate[] {
  const ranked = [...sources].sort((a, b) => a.rank - b.rank);
  const byAddress = new Map<string, PeerCandidate>();
  for (const source of ranked) {
    for (const c of source.candidates()) {
      if (own.has(c.address)) continue;
      const have = byAddress.get(c.address);
      if (!have) {
        byAddress.set(c.address, { ...c });
        continue;
      }
      have.name ??= c.name;
      have.clusterPort ??= c.clusterPort;
      have.rpcPort ??= c.rpcPort;
    }
  }
  return [...byAddress.values()].sort((a, b) => compareAddresses(a.address, b.address));
}

function canonical(c: PeerCandidate): unknown[] {
  return [c.address, c.source, c.dial, c.name ?? null, c.clusterPort ?? null, c.rpcPort ?? null];
}
