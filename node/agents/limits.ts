/**
 * Per-task rate limits on host calls with an effect outside the container (issue 11: one agent
 * sent 3000 notes in 2.7 s). A token bucket per call per task: `burst` calls at once, then
 * `perSecond`. A call over the limit is answered as an error to the agent, saying the limit, and
 * counted; the host logs the count when the task ends.
 */
import type { HostCall } from '../agentspec/index.js';

export interface RateLimit {
  perSecond: number;
  burst: number;
}

/**
 * notify: a person hears or reads each note, so a handful a second is already too many.
 * mqtt.publish: a scene sets every light in the house, one message each, so a larger burst.
 * home.call_service: one call switches up to 64 lights; a room, a scene of rooms, a few a second.
 */
export const CALL_RATE_LIMITS: Partial<Record<HostCall, RateLimit>> = {
  notify: { perSecond: 5, burst: 10 },
  'mqtt.publish': { perSecond: 20, burst: 100 },
  'home.call_service': { perSecond: 10, burst: 30 },
};

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = limit.burst;
    this.last = now();
  }

  /** Takes a token if there is one. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(
      this.limit.burst,
      this.tokens + ((t - this.last) / 1000) * this.limit.perSecond,
    );
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The buckets of one task (or of a container's calls between tasks), and what they refused. */
export class CallRateLimiter {
  private readonly buckets = new Map<HostCall, TokenBucket>();
  /** calls refused for their rate, by method */
  readonly refused: Partial<Record<HostCall, number>> = {};

  constructor(
    private readonly limits: Partial<Record<HostCall, RateLimit>> = CALL_RATE_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** null when the call may go ahead, else the error for the agent. */
  check(method: HostCall): string | null {
    const limit = this.limits[method];
    if (!limit) return null;
    let bucket = this.buckets.get(method);
    if (!bucket) this.buckets.set(method, (bucket = new TokenBucket(limit, this.now)));
    if (bucket.take()) return null;
    const n = (this.refused[method] ?? 0) + 1;
    this.refused[method] = n;
    return `${method} refused: over its limit of ${limit.perSecond} calls a second (bursts of ${limit.burst}) per task; ${n} refused in this task so far; make fewer calls (e.g. one note that sums up)`;
  }

  /** How many calls were refused, all methods together. */
  get refusedTotal(): number {
    return Object.values(this.refused).reduce((a, b) => a + b, 0);
  }
}

/**
 * What one agent container may cost the host in memory (issue 11: an agent that stopped reading
 * its stdin while making calls grew the daemon from 118 MB to 1.15 GB in 20 s; a progress flood
 * passed 52 MB to the CLI).
 */
export interface AgentIoLimits {
  /** host calls of one container being answered at once; more are answered with an error */
  maxOutstandingCalls: number;
  /**
   * bytes of replies waiting for the agent to read them; a reply that finds more than this
   * queued ends the task and the container (the agent is not reading its stdin)
   */
  maxQueuedStdinBytes: number;
  /** how long the agent's stdin may stay undrained before the task and the container end */
  stdinStallMs: number;
  /** progress events passed on per task and second; more are coalesced (the latest kept) */
  progressPerSecond: number;
  /** characters of one progress message passed on; the rest is cut */
  progressMaxChars: number;
  /** bytes of progress messages passed on per task; more are dropped */
  progressMaxBytesPerTask: number;
}

/**
 * 32 calls: the SDK makes one call at a time per goroutine; 32 at once is a fan-out, not a flood.
 * 8 MiB: several 1 MiB http.fetch replies (its cap) unread at once. 10 s: a reader that keeps
 * up drains in milliseconds. Progress: 10 a second is as fast as a person reads; 64 KiB is
 * hundreds of lines.
 */
export const AGENT_IO_LIMITS: AgentIoLimits = {
  maxOutstandingCalls: 32,
  maxQueuedStdinBytes: 8 * 1024 * 1024,
  stdinStallMs: 10_000,
  progressPerSecond: 10,
  progressMaxChars: 240,
  progressMaxBytesPerTask: 64 * 1024,
};

export interface ProgressUpdate {
  message: string;
  percent?: number;
}

/**
 * One task's progress on its way out: at most `progressPerSecond` updates (between them the
 * latest is kept and the rest coalesced), each cut to `progressMaxChars`, and at most
 * `progressMaxBytesPerTask` in all, after which one notice says the rest is not shown.
 */
export class ProgressGate {
  /** updates replaced by a later one before they went out */
  coalesced = 0;
  /** updates dropped past the byte bound */
  dropped = 0;
  private bytes = 0;
  private last = -Infinity;
  private pending: ProgressUpdate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private capped = false;

  constructor(
    private readonly limits: Pick<
      AgentIoLimits,
      'progressPerSecond' | 'progressMaxChars' | 'progressMaxBytesPerTask'
    >,
    private readonly emit: (update: ProgressUpdate) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  offer(update: ProgressUpdate): void {
    if (this.capped) {
      this.dropped++;
      return;
    }
    if (this.pending) this.coalesced++;
    const max = this.limits.progressMaxChars;
    const message =
      update.message.length > max ? `${update.message.slice(0, max - 1)}…` : update.message;
    this.pending =
      update.percent === undefined ? { message } : { message, percent: update.percent };
    const wait = this.last + 1000 / this.limits.progressPerSecond - this.now();
    if (wait <= 0) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), wait);
      this.timer.unref();
    }
  }

  /** Sends the update kept back, if any, now (before the task's result). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const update = this.pending;
    this.pending = null;
    if (!update) return;
    const size = Buffer.byteLength(update.message) + 32;
    if (this.bytes + size > this.limits.progressMaxBytesPerTask) {
      this.capped = true;
      this.dropped++;
      this.emit({
        message: `(further progress not shown: over the ${this.limits.progressMaxBytesPerTask} bytes of progress a task may send)`,
      });
      return;
    }
    this.bytes += size;
    this.last = this.now();
    this.emit(update);
  }

  /** The task ended: nothing more goes out. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
    this.capped = true;
  }
}
