/**
 * Where traces live: a bounded in-memory ring on each node (its own commands, and the ones it
 * heard peers publish, so `helix-node trace ID` works from any node while the trace is recent),
 * and the bus subject they travel on. Nothing is written to disk.
 */
import type { Bus, Subscription } from '../bus/index.js';
import { silentLogger, type Logger } from '../log.js';
import { TRACE_SUBJECT_PREFIX, TraceSchema, traceSubject, type Trace } from './trace.js';

export const DEFAULT_TRACE_CAPACITY = 200;

/** The newest `capacity` traces, by id. */
export class TraceStore {
  private readonly byId = new Map<string, Trace>();
  private readonly listeners = new Set<(trace: Trace) => void>();

  constructor(readonly capacity: number = DEFAULT_TRACE_CAPACITY) {}

  add(trace: Trace): void {
    // re-adding moves it to the newest end
    this.byId.delete(trace.traceId);
    this.byId.set(trace.traceId, trace);
    while (this.byId.size > this.capacity) {
      const oldest = this.byId.keys().next().value as string;
      this.byId.delete(oldest);
    }
    for (const listener of this.listeners) listener(trace);
  }

  /** Every trace added from now on (own and peers'), for the event stream; returns unsubscribe. */
  onAdd(listener: (trace: Trace) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** By full id, or by a unique prefix of at least 4 characters (what people type). */
  get(idOrPrefix: string): Trace | undefined {
    const exact = this.byId.get(idOrPrefix);
    if (exact || idOrPrefix.length < 4) return exact;
    const hits = [...this.byId.values()].filter((t) => t.traceId.startsWith(idOrPrefix));
    return hits.length === 1 ? hits[0] : undefined;
  }

  /** The newest trace; `ownerId` limits it to commands that node owned. */
  last(ownerId?: string): Trace | undefined {
    const all = [...this.byId.values()];
    for (let i = all.length - 1; i >= 0; i--) {
      const t = all[i]!;
      if (ownerId === undefined || t.ownerId === ownerId) return t;
    }
    return undefined;
  }

  /** Newest first. */
  list(limit = this.capacity): Trace[] {
    return [...this.byId.values()].reverse().slice(0, limit);
  }

  get size(): number {
    return this.byId.size;
  }
}

/** Publishes a trace on helix.v1.trace.<id>. Never throws: a trace must not fail a command. */
export function busTracePublisher(bus: Bus, logger: Logger = silentLogger): (trace: Trace) => void {
  return (trace) => {
    try {
      bus.publish(traceSubject(trace.traceId), new TextEncoder().encode(JSON.stringify(trace)));
    } catch (err) {
      logger.debug({ traceId: trace.traceId, err: String(err) }, 'could not publish trace');
    }
  };
}

/**
 * Keeps the traces peers publish in `store` (validated at the edge; malformed ones dropped).
 * `selfId`'s own traces are skipped: the pipeline adds those directly.
 */
export function collectTraces(
  bus: Bus,
  store: TraceStore,
  opts: { selfId?: string; logger?: Logger } = {},
): Subscription {
  const log = opts.logger ?? silentLogger;
  return bus.subscribe(`${TRACE_SUBJECT_PREFIX}.*`, (msg) => {
    try {
      const parsed = TraceSchema.safeParse(JSON.parse(new TextDecoder().decode(msg.data)));
      if (!parsed.success) {
        log.debug({ subject: msg.subject }, 'dropped a malformed trace');
        return;
      }
      if (parsed.data.ownerId === opts.selfId) return;
      if (msg.subject !== traceSubject(parsed.data.traceId)) return;
      store.add(parsed.data);
    } catch {
      log.debug({ subject: msg.subject }, 'dropped a trace that is not JSON');
    }
  });
}
