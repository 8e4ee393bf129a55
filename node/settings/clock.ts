/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014): wall-clock ms plus a
 * logical counter plus the node id. It never goes backwards, even when the wall clock does, and
 * after a node has seen a write it stamps its own next write later than it, so "last writer
 * wins" follows causality between nodes whose clocks disagree. Pure: the wall clock is injected.
 */

export interface Hlc {
  /** wall-clock ms (the largest seen, which may be ahead of this node's own clock) */
  wall: number;
  /** orders events within one wall ms */
  logical: number;
  /** the node that made the stamp: the last tie-breaker, and the writer of a setting */
  node: string;
}

/** -1, 0 or 1: by wall ms, then logical counter, then node id (code-unit order). */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return 0;
}

export function formatHlc(c: Hlc): string {
  return `${new Date(c.wall).toISOString()}+${c.logical}@${c.node}`;
}

export class HybridClock {
  #wall = 0;
  #logical = 0;

  constructor(
    readonly node: string,
    private readonly physical: () => number = Date.now,
  ) {}

  /** A stamp for a local event, later than every stamp this clock has made or observed. */
  now(): Hlc {
    const pt = this.physical();
    if (pt > this.#wall) {
      this.#wall = pt;
      this.#logical = 0;
    } else {
      this.#logical += 1;
    }
    return { wall: this.#wall, logical: this.#logical, node: this.node };
  }

  /**
   * Take a remote stamp into account (a received write, or the newest stamp in the state read
   * from disk), so the next `now()` is later than it.
   */
  observe(remote: Hlc): void {
    // The receive rule of the paper: the result is later than both the local and the remote stamp.
    const previous = this.#wall;
    const wall = Math.max(previous, remote.wall, this.physical());
    if (wall === previous && wall === remote.wall) {
      this.#logical = Math.max(this.#logical, remote.logical) + 1;
    } else if (wall === previous) {
      this.#logical += 1;
    } else if (wall === remote.wall) {
      this.#logical = remote.logical + 1;
    } else {
      this.#logical = 0;
    }
    this.#wall = wall;
  }

  /** The latest stamp made or observed (without advancing). */
  peek(): Hlc {
    return { wall: this.#wall, logical: this.#logical, node: this.node };
  }
}
