/**
 * Which configured routes to dial again (pure, no timers). nats-server re-dials a solicited route
 * that drops, unless at that moment it still holds another connection to the same server; when
 * that one drops too (both go stale over one cut link), nothing dials again. Seen in the chaos
 * soak on 2.10.27: after a 5 s partition healed, two peers whose turn it was to dial the healed
 * node never did, and stayed deaf to it for 95 s. A route that stays missing is dialled again by
 * taking it out of the config and putting it back (two reloads); nats-server then tries it every
 * second until it connects, so one re-dial covers a partition of any length.
 */
export class RouteRepair {
  /** host -> since when it has been configured but not routed */
  readonly #missingSince = new Map<string, number>();
  /** host -> when it was last dialled again */
  readonly #redialedAt = new Map<string, number>();

  constructor(
    private readonly afterMs = 2000,
    private readonly againAfterMs = 30_000,
  ) {}

  /**
   * `configured`: hosts this node dials; `routed`: hosts it has a route to (either direction).
   * Returns the hosts to dial again now.
   */
  observe(configured: readonly string[], routed: readonly string[], nowMs: number): string[] {
    const have = new Set(routed);
    const want = new Set(configured);
    for (const host of [...this.#missingSince.keys()]) {
      if (!want.has(host) || have.has(host)) this.#missingSince.delete(host);
    }
    for (const host of [...this.#redialedAt.keys()]) {
      if (!want.has(host) || have.has(host)) this.#redialedAt.delete(host);
    }
    const due: string[] = [];
    for (const host of want) {
      if (have.has(host)) continue;
      const since = this.#missingSince.get(host) ?? nowMs;
      this.#missingSince.set(host, since);
      if (nowMs - since < this.afterMs) continue;
      const last = this.#redialedAt.get(host);
      if (last !== undefined && nowMs - last < this.againAfterMs) continue;
      this.#redialedAt.set(host, nowMs);
      due.push(host);
    }
    return due.sort();
  }
}
