/**
 * mDNS as a discovery source: finds helix nodes on the LAN (see mdns.ts) and forgets a peer not
 * heard for the records' TTL. Symmetric (every node finds every other): only the lower address
 * is dialled.
 */
import { generateNodeKey, type NodeKey } from '../identity/node-key.js';
import { describeError } from '../errors.js';
import type { PeerCandidate } from '../types.js';
import { startMdns, type MdnsCandidate, type MdnsHandle, type MdnsOptions } from './mdns.js';
import { ChangeListeners, type DiscoverySource, type SourceContext } from './source.js';

export const MDNS_RANK = 4;

// mDNS records carry a 120 s TTL; a peer that stops answering is forgotten after the same time.
const DEFAULT_MDNS_TTL_MS = 120_000;

export interface MdnsSourceOptions {
  /** the node's Ed25519 key; mDNS announces its peer id. Without one mDNS uses a throwaway key. */
  privateKey?: NodeKey;
  /** the address mDNS listens on and announces; default: the mesh address when it starts */
  listenAddress?: string;
  /** tests use their own service tag */
  serviceTag?: string;
  intervalMs?: number;
  /** forget an mDNS peer not heard for this long */
  ttlMs?: number;
  /** replaceable for tests */
  startMdns?: (opts: MdnsOptions) => Promise<MdnsHandle>;
}

export class MdnsSource implements DiscoverySource {
  readonly name = 'mdns';
  readonly rank = MDNS_RANK;
  private readonly changes = new ChangeListeners();
  private readonly peers = new Map<string, { candidate: MdnsCandidate; seenAt: number }>();
  private handle: MdnsHandle | null = null;

  constructor(private readonly opts: MdnsSourceOptions = {}) {}

  /** Never throws: a LAN without multicast leaves the other sources working. */
  async start(ctx: SourceContext): Promise<void> {
    const listenAddress = this.opts.listenAddress ?? ctx.meshAddress();
    try {
      const privateKey = this.opts.privateKey ?? generateNodeKey();
      const handle = await (this.opts.startMdns ?? startMdns)({
        privateKey,
        listenAddress,
        logger: ctx.logger,
        ...(this.opts.serviceTag ? { serviceTag: this.opts.serviceTag } : {}),
        ...(this.opts.intervalMs ? { intervalMs: this.opts.intervalMs } : {}),
        onPeer: (candidate) => this.onPeer(candidate, ctx),
      });
      if (ctx.signal.aborted) await handle.stop();
      else this.handle = handle;
    } catch (err) {
      ctx.logger.error(
        { err: describeError(err), address: listenAddress },
        'mDNS discovery disabled',
      );
    }
  }

  async stop(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.stop();
  }

  /** Forget peers not heard for the TTL. */
  async refresh(): Promise<void> {
    const ttl = this.opts.ttlMs ?? DEFAULT_MDNS_TTL_MS;
    const now = Date.now();
    let changed = false;
    for (const [peerId, entry] of this.peers) {
      if (now - entry.seenAt <= ttl) continue;
      this.peers.delete(peerId);
      changed = true;
    }
    if (changed) this.changes.emit();
  }

  candidates(): PeerCandidate[] {
    return [...this.peers.values()].map(({ candidate }) => {
      const { peerId: _peerId, ...rest } = candidate;
      return { ...rest, source: this.name, dial: 'lower-address' };
    });
  }

  onChange(listener: () => void): () => void {
    return this.changes.add(listener);
  }

  /** The peer id mDNS announces, once it runs. */
  peerId(): string | null {
    return this.handle?.peerId ?? null;
  }

  private onPeer(candidate: MdnsCandidate, ctx: SourceContext): void {
    const before = this.peers.get(candidate.peerId);
    this.peers.set(candidate.peerId, { candidate, seenAt: Date.now() });
    if (!before || before.candidate.address !== candidate.address) {
      ctx.logger.debug({ peer: candidate.peerId, address: candidate.address }, 'mDNS found a peer');
      this.changes.emit();
    }
  }
}
