/**
 * The live view of the mesh as a pure state machine: adverts, byes, RTT samples and the clock go
 * in; peer states and transitions come out. No I/O and no timers — the caller passes `nowMs`, so
 * tests drive it with a fake clock.
 *
 *   new ──advert──> alive ──silence ≥ suspect_after──> suspect ──silence ≥ dead_after──> dead
 *                     ^  <──────────────── advert ────────────────────────────────────────┘
 *                     └── bye ──> left ──(forget_after in dead/left)──> forgotten
 */
import type { Config } from '../config/index.js';
import type { Bye, NodeAdvert, PeerState, PeerView } from '../types.js';
import { compareText } from '../order.js';

export type MembershipTiming = Config['membership'];

export type TransitionReason =
  /** an advert from a new node, or a newer one from a suspect/dead/left node */
  | 'advert'
  /** an advert from the same id with a later startedAt: the node restarted */
  | 'restart'
  /** a clean leave (`...bye`) */
  | 'bye'
  /** no advert for long enough */
  | 'silence'
  /** `helix-node remove` (node/removal) */
  | 'removed';

export interface Transition {
  id: string;
  name: string;
  /** 'new' when the node was not in the view before */
  from: PeerState | 'new';
  /** 'forgotten' when the node was dropped from the view */
  to: PeerState | 'forgotten';
  reason: TransitionReason;
  atMs: number;
}

/** What an advert did to the view. */
export type AdvertOutcome =
  | 'joined'
  | 'updated'
  | 'revived'
  | 'restarted'
  /** older incarnation, or a seq not above the last seen one: ignored */
  | 'stale'
  | 'self';

export type TransitionListener = (transition: Transition) => void;

interface Entry {
  advert: NodeAdvert;
  state: PeerState;
  /** local clock when the last accepted advert arrived */
  lastSeenMs: number;
  /** where silence is counted from: lastSeenMs, moved on by time this node itself stood still */
  silentSinceMs: number;
  /** local clock when `state` was entered */
  stateSinceMs: number;
  rttMs: number | null;
}

/** Weight of a new RTT sample in the smoothed RTT (TCP's SRTT uses 1/8; adverts are slower, so faster). */
const RTT_SMOOTHING = 0.25;

export class MembershipView {
  readonly #selfId: string;
  readonly #timing: MembershipTiming;
  readonly #peers = new Map<string, Entry>();
  #self: { advert: NodeAdvert; lastSeenMs: number } | null = null;
  readonly #listeners = new Set<TransitionListener>();

  constructor(options: { selfId: string; timing: MembershipTiming }) {
    this.#selfId = options.selfId;
    this.#timing = options.timing;
  }

  get selfId(): string {
    return this.#selfId;
  }

  /** Subscribe to state transitions; returns the unsubscribe function. */
  onTransition(listener: TransitionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Take in a (validated) advert received at local time `nowMs`. */
  observeAdvert(advert: NodeAdvert, nowMs: number): AdvertOutcome {
    if (advert.id === this.#selfId) {
      if (this.#self && !isNewer(advert, this.#self.advert)) return 'stale';
      this.#self = { advert, lastSeenMs: nowMs };
      return 'self';
    }
    const entry = this.#peers.get(advert.id);
    if (!entry) {
      this.#peers.set(advert.id, {
        advert,
        state: 'alive',
        lastSeenMs: nowMs,
        silentSinceMs: nowMs,
        stateSinceMs: nowMs,
        rttMs: null,
      });
      this.#emit({
        id: advert.id,
        name: advert.name,
        from: 'new',
        to: 'alive',
        reason: 'advert',
        atMs: nowMs,
      });
      return 'joined';
    }
    // Once a node is dead or left its old incarnation is over, so any other startedAt is a
    // restart — even an earlier one (its clock was corrected while it was down).
    const over = entry.state === 'dead' || entry.state === 'left';
    const otherIncarnation = advert.startedAt !== entry.advert.startedAt;
    if (!isNewer(advert, entry.advert) && !(over && otherIncarnation)) return 'stale';

    const restarted = otherIncarnation;
    const from = entry.state;
    entry.advert = advert;
    entry.lastSeenMs = nowMs;
    entry.silentSinceMs = nowMs;
    if (!restarted && from === 'alive') return 'updated';
    // A new incarnation: nothing measured about the old one still holds.
    if (restarted) entry.rttMs = null;
    entry.state = 'alive';
    entry.stateSinceMs = nowMs;
    this.#emit({
      id: advert.id,
      name: advert.name,
      from,
      to: 'alive',
      reason: restarted ? 'restart' : 'advert',
      atMs: nowMs,
    });
    return restarted ? 'restarted' : 'revived';
  }

  /**
   * Take in a (validated) bye. Returns whether it changed the view: a bye from an unknown node,
   * from this node, from an earlier incarnation, or from a node already left does nothing.
   */
  observeBye(bye: Bye, nowMs: number): boolean {
    if (bye.id === this.#selfId) return false;
    const entry = this.#peers.get(bye.id);
    if (!entry || entry.state === 'left') return false;
    // `at` and `startedAt` are both the sender's clock: a bye sent before the current
    // incarnation started belongs to the previous one (a quick restart overtook it).
    if (bye.at < entry.advert.startedAt) return false;
    const from = entry.state;
    entry.state = 'left';
    entry.stateSinceMs = nowMs;
    entry.rttMs = null;
    this.#emit({
      id: bye.id,
      name: entry.advert.name,
      from,
      to: 'left',
      reason: 'bye',
      atMs: nowMs,
    });
    return true;
  }

  /** Record a round-trip sample to a peer (smoothed); ignored for unknown, dead or left peers. */
  recordRtt(id: string, ms: number): void {
    const entry = this.#peers.get(id);
    if (!entry || !Number.isFinite(ms) || ms < 0) return;
    if (entry.state === 'dead' || entry.state === 'left') return;
    entry.rttMs = entry.rttMs === null ? ms : entry.rttMs + RTT_SMOOTHING * (ms - entry.rttMs);
  }

  /**
   * This node stood still for `ms` (its process was stopped, a laptop slept, its event loop was
   * blocked): it heard nothing in that time because it listened to nothing, so no peer is blamed
   * for that silence. Without this a resumed node declared every peer dead on its first tick and
   * alive again a millisecond later, from the adverts that waited in its socket.
   */
  excuseSilence(ms: number): void {
    if (!(ms > 0)) return;
    for (const entry of this.#peers.values()) {
      if (entry.state === 'alive' || entry.state === 'suspect') entry.silentSinceMs += ms;
    }
  }

  /** Drop a removed node from the view at once (its adverts are refused from now on). */
  forget(id: string, nowMs: number): boolean {
    const entry = this.#peers.get(id);
    if (!entry) return false;
    this.#peers.delete(id);
    this.#emit({
      id,
      name: entry.advert.name,
      from: entry.state,
      to: 'forgotten',
      reason: 'removed',
      atMs: nowMs,
    });
    return true;
  }

  /** Advance time: apply silence timeouts and forget old dead/left peers. */
  tick(nowMs: number): Transition[] {
    const transitions: Transition[] = [];
    const { suspect_after_ms, dead_after_ms, forget_after_ms } = this.#timing;
    for (const [id, entry] of this.#peers) {
      const name = entry.advert.name;
      if (entry.state === 'dead' || entry.state === 'left') {
        if (nowMs - entry.stateSinceMs >= forget_after_ms) {
          this.#peers.delete(id);
          transitions.push({
            id,
            name,
            from: entry.state,
            to: 'forgotten',
            reason: 'silence',
            atMs: nowMs,
          });
        }
        continue;
      }
      const silentMs = nowMs - entry.silentSinceMs;
      const target: PeerState =
        silentMs >= dead_after_ms ? 'dead' : silentMs >= suspect_after_ms ? 'suspect' : entry.state;
      if (target === entry.state) continue;
      transitions.push({ id, name, from: entry.state, to: target, reason: 'silence', atMs: nowMs });
      entry.state = target;
      entry.stateSinceMs = nowMs;
      if (target === 'dead') entry.rttMs = null;
    }
    for (const t of transitions) this.#emit(t);
    return transitions;
  }

  /** State of one peer, or undefined when it is not in the view. */
  stateOf(id: string): PeerState | undefined {
    if (id === this.#selfId) return this.#self ? 'alive' : undefined;
    return this.#peers.get(id)?.state;
  }

  /** Ids of peers in the given state (not this node). */
  peersIn(state: PeerState): string[] {
    return [...this.#peers].filter(([, e]) => e.state === state).map(([id]) => id);
  }

  /** This node first (once its own advert has been observed), then peers by name, then id. */
  snapshot(): PeerView[] {
    const peers = [...this.#peers.values()]
      .map((e) => toPeerView(e.advert, e.state, false, e.rttMs, e.lastSeenMs))
      .sort((a, b) => compareText(a.name, b.name) || compareText(a.id, b.id));
    if (!this.#self) return peers;
    // This node reaches itself without the network.
    const self = toPeerView(this.#self.advert, 'alive', true, 0, this.#self.lastSeenMs);
    return [self, ...peers];
  }

  #emit(transition: Transition): void {
    for (const listener of this.#listeners) listener(transition);
  }
}

/** Order adverts of one node: a later incarnation wins, then a higher seq within one. */
function isNewer(candidate: NodeAdvert, current: NodeAdvert): boolean {
  if (candidate.startedAt !== current.startedAt) return candidate.startedAt > current.startedAt;
  return candidate.seq > current.seq;
}

function toPeerView(
  advert: NodeAdvert,
  state: PeerState,
  self: boolean,
  rttMs: number | null,
  lastSeenMs: number,
): PeerView {
  // A copy: callers (status, placement) may hold or change it without touching the view.
  const data = structuredClone(advert);
  return {
    id: data.id,
    name: data.name,
    state,
    self,
    addresses: data.addresses,
    version: data.version,
    capabilities: data.capabilities,
    load: data.load,
    warmPool: data.warmPool,
    images: data.images,
    rttMs,
    lastSeenMs,
    ports: data.ports,
  };
}
