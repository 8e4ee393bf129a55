/**
 * When to re-assert this node's interest (pure, no timers). nats-server 2.9 can lose a route's
 * interest without the set of routes changing: the route is up, but a peer's heartbeats never
 * reach us (seen once in the e2e lab: mic-a and stt-b routed, neither heard the other for 50 s).
 * More routed servers than alive peers for `afterMs` means some routed peer is unheard; the
 * daemon then re-asserts interest, and again at most every `afterMs` while it lasts. A peer that
 * goes quiet for real (paused, cut off) loses its route within ~4 s and its aliveness at 3 s, so
 * the two counts part only briefly.
 */
export class UnheardPeersCheck {
  #since: number | null = null;
  #last = -Infinity;

  constructor(private readonly afterMs = 4000) {}

  /** Called with the current counts; true when interest should be re-asserted now. */
  observe(routedServers: number, alivePeers: number, nowMs: number): boolean {
    if (routedServers <= alivePeers) {
      this.#since = null;
      return false;
    }
    this.#since ??= nowMs;
    if (nowMs - this.#since < this.afterMs || nowMs - this.#last < this.afterMs) return false;
    this.#last = nowMs;
    return true;
  }
}
