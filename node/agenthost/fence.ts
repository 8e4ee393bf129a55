/**
 * The host side of moving a run early. A caller moves an idempotent run once its host is suspect
 * (3 s of silence; agenthost/run.ts), while the agent there may still be running: the host may be
 * frozen (SIGSTOP, a sleeping laptop) with its container still going under dockerd, or cut off.
 * So a host lets such a run act (its host calls: MQTT, lights, notes, fetches) only while the
 * caller cannot have given up on it:
 *  - the caller is alive in this node's view (or not in it yet) and was heard within
 *    suspect_after - heartbeat (the
 *    caller counts silence the same way; on a cut link both sides go quiet together), and
 *  - this node did not just stand still for a second or more (after a freeze the adverts that
 *    waited in the socket make the caller look fresh, and the agent's call may be read first).
 * Once refused, a task stays refused: the cancel from the caller stops its container when it
 * arrives. Runs of this node's own requests, and runs that may not move (not idempotent), are
 * never fenced.
 */
import type { PeerView } from '../types.js';

export interface FenceTiming {
  suspect_after_ms: number;
  heartbeat_ms: number;
}

export interface FenceInputs {
  idempotent: boolean;
  /** name or id of the node that owns the request */
  callerNode: string | undefined;
  self: { id: string; name: string };
  view: readonly PeerView[];
  /** wall clock, as the view's lastSeenMs */
  nowMs: number;
  /** how long this process stood still just now (StallWatch) */
  stalledMs: number;
  timing: FenceTiming;
}

/** Never tighter than this, so a loaded machine's ordinary lag refuses nothing. */
const MIN_LIMIT_MS = 1000;

/** Why this run must not act now, or null when it may. */
export function fenceRefusal(i: FenceInputs): string | null {
  if (!i.idempotent || !i.callerNode) return null;
  if (i.callerNode === i.self.name || i.callerNode === i.self.id) return null;
  const silenceLimit = Math.max(MIN_LIMIT_MS, i.timing.suspect_after_ms - i.timing.heartbeat_ms);
  const stallLimit = Math.max(MIN_LIMIT_MS, silenceLimit - 500);
  const moved = `${i.callerNode} may have moved this idempotent run to another node, so it does not act here`;
  if (i.stalledMs >= stallLimit) {
    return `this node stood still for ${(i.stalledMs / 1000).toFixed(1)} s; ${moved}`;
  }
  const caller = i.view.find((p) => p.id === i.callerNode || p.name === i.callerNode);
  // not heard of yet (a request from a node that just joined): nothing says it gave up
  if (!caller) return null;
  if (caller.state !== 'alive') return `${i.callerNode} is ${caller.state} here; ${moved}`;
  const silentMs = i.nowMs - caller.lastSeenMs;
  if (silentMs >= silenceLimit) {
    return `${i.callerNode} has not been heard for ${(silentMs / 1000).toFixed(1)} s; ${moved}`;
  }
  return null;
}

/** How long this process last stood still: a timer that should tick every `tickMs`. */
export class StallWatch {
  #last = performance.now();
  #timer: NodeJS.Timeout | null = null;

  constructor(private readonly tickMs = 250) {}

  start(): void {
    if (this.#timer) return;
    this.#last = performance.now();
    this.#timer = setInterval(() => (this.#last = performance.now()), this.tickMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Time since the last tick beyond its interval: read synchronously, before any timer catches up. */
  stalledMs(): number {
    if (!this.#timer) return 0;
    return Math.max(0, performance.now() - this.#last - this.tickMs);
  }
}

/** Remembers fenced tasks, so a task refused once stays refused (bounded). */
export class FencedTasks {
  readonly #ids = new Set<string>();
  constructor(private readonly max = 1000) {}
  has(id: string): boolean {
    return this.#ids.has(id);
  }
  add(id: string): void {
    this.#ids.add(id);
    if (this.#ids.size > this.max) this.#ids.delete(this.#ids.values().next().value!);
  }
}
