/**
 * Who creates the mesh when several fresh nodes start together (pure: no I/O, the clock passed in).
 *
 * A node without a mesh learns about the other helix nodes on its tailnet from their bootstrap
 * endpoints (they answer Mesh.Join with "bootstrapping" or "starting") and from their own Join
 * requests to it. Once what it knows has not changed for the settle window, the node with the
 * lowest mesh address among itself and the bootstrapping peers creates the mesh; every other node
 * waits until a member answers. A peer that created or joined a mesh and is still starting blocks
 * every creation: a mesh exists, so the only right move is to wait for it.
 */
import { compareAddresses, compareText } from '../order.js';

/** What a helix node without a running Join service says about itself. */
export type BootstrapPhase =
  /** no mesh yet; looking for one */
  | 'bootstrapping'
  /** created or joined a mesh; its real Join service binds in a moment */
  | 'starting';

/** A helix node's bootstrap endpoint speaking for itself (self-reported, so all observers agree). */
export interface BootstrapAnnouncement {
  nodeId: string;
  /** its own mesh address */
  address: string;
  rpcPort: number;
  phase: BootstrapPhase;
}

export interface BootstrapPeer extends BootstrapAnnouncement {
  /** when it last answered or asked, ms */
  lastSeen: number;
}

export interface BootstrapTimings {
  /** how long the known peers must stay the same before the lowest creates (default 2 s) */
  settleMs: number;
  /** a peer silent this long is forgotten: it stopped or crashed (default 5 s) */
  forgetAfterMs: number;
}

export const DEFAULT_BOOTSTRAP_TIMINGS: BootstrapTimings = { settleMs: 2000, forgetAfterMs: 5000 };

export type BootstrapDecision =
  | { action: 'create'; peers: BootstrapPeer[] }
  | {
      action: 'wait';
      /**
       * settling: what this node knows changed less than settleMs ago;
       * mesh-starting: a peer has a mesh and is about to serve Join (join it then);
       * lower-peer: a bootstrapping peer with a lower address will create the mesh.
       */
      reason: 'settling' | 'mesh-starting' | 'lower-peer';
      /** the peer waited for (mesh-starting, lower-peer) */
      waitingFor?: BootstrapPeer;
      peers: BootstrapPeer[];
    };

const PHASE_RANK: Record<BootstrapPhase, number> = { bootstrapping: 0, starting: 1 };

export class BootstrapView {
  private readonly known = new Map<string, BootstrapPeer>();
  /** when the set of known peers (id, address, phase) last changed */
  private changedAt: number;
  private readonly timings: BootstrapTimings;

  constructor(
    private readonly self: { nodeId: string; address: string },
    now: number,
    timings: Partial<BootstrapTimings> = {},
  ) {
    this.timings = { ...DEFAULT_BOOTSTRAP_TIMINGS, ...timings };
    this.changedAt = now;
  }

  /** A peer answered a Join with its announcement, or asked this node's endpoint. */
  observe(peer: BootstrapAnnouncement, now: number): void {
    if (peer.nodeId === this.self.nodeId) return;
    const before = this.known.get(peer.nodeId);
    // A phase only moves forward: a Join request sent before the peer created the mesh can arrive
    // after its "starting" answer, and must not make it look like a rival again.
    const phase =
      before && PHASE_RANK[before.phase] > PHASE_RANK[peer.phase] ? before.phase : peer.phase;
    if (!before || before.phase !== phase || before.address !== peer.address)
      this.changedAt = Math.max(this.changedAt, now);
    this.known.set(peer.nodeId, { ...peer, phase, lastSeen: Math.max(now, before?.lastSeen ?? 0) });
  }

  /** The peers currently known (silent ones forgotten), lowest address first. */
  peers(now: number): BootstrapPeer[] {
    for (const [id, p] of this.known) {
      if (now - p.lastSeen > this.timings.forgetAfterMs) {
        this.known.delete(id);
        this.changedAt = Math.max(this.changedAt, now);
      }
    }
    return [...this.known.values()].sort(compareNodes);
  }

  decide(now: number): BootstrapDecision {
    const peers = this.peers(now);
    const starting = peers.find((p) => p.phase === 'starting');
    if (starting) return { action: 'wait', reason: 'mesh-starting', waitingFor: starting, peers };
    if (now - this.changedAt < this.timings.settleMs)
      return { action: 'wait', reason: 'settling', peers };
    const lowest = peers.find((p) => p.phase === 'bootstrapping');
    if (lowest && compareNodes(lowest, this.self) < 0)
      return { action: 'wait', reason: 'lower-peer', waitingFor: lowest, peers };
    return { action: 'create', peers };
  }
}

/** Lowest mesh address first (IPv4 by number, before any other form); node id breaks a tie. */
export function compareNodes(
  a: { address: string; nodeId: string },
  b: { address: string; nodeId: string },
): number {
  return compareAddresses(a.address, b.address) || compareText(a.nodeId, b.nodeId);
}
