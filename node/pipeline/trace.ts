/**
 * The trace of one command: every hop the pipeline made (node, stage, start, duration, detail),
 * like Home Assistant's pipeline run object. One trace id per command; the owning node (where the
 * utterance or text entered) records it, keeps it in its TraceStore and publishes it on
 * `helix.v1.trace.<traceId>`. Pure: no I/O.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { IntentCallSchema } from '../agentspec/index.js';
import { lazySchema } from '../types.js';

/** Stages, named for what they do. */
export const STAGES = ['vad', 'stt', 'intent', 'run', 'reply'] as const;
export type Stage = (typeof STAGES)[number];

export type TraceSource = 'mic' | 'file' | 'text';

const shortText = lazySchema(() => z.string().max(2000));

export const TraceHopSchema = lazySchema(() =>
  z.object({
    /** name of the node the stage ran on */
    node: z.string().max(256),
    stage: z.enum(STAGES),
    /** ms after the trace started */
    startMs: z.number(),
    durationMs: z.number().min(0),
    ok: z.boolean(),
    detail: shortText.optional(),
  }),
);
export type TraceHop = z.infer<typeof TraceHopSchema>;

/** One mic that heard a spoken command (many mics, one action): its node and how well. */
export const TraceHeardSchema = lazySchema(() =>
  z.object({
    node: z.string().max(256),
    room: z.string().max(256).optional(),
    levelDbfs: z.number(),
    snrDb: z.number(),
    /** this one acted */
    won: z.boolean(),
  }),
);
export type TraceHeard = z.infer<typeof TraceHeardSchema>;

/** The room a command acted on, and where that room came from. */
export const TraceRoomSchema = lazySchema(() =>
  z.object({
    name: z.string().max(256),
    /**
     * said: named in the command; mic: none was said, the room of the mic that heard it (the node
     * that acted); context: a follow-up, the room of the command it follows
     */
    from: z.enum(['said', 'mic', 'context']),
    detail: shortText.optional(),
  }),
);
export type TraceRoom = z.infer<typeof TraceRoomSchema>;

/** A follow-up: the earlier command (another trace, maybe another node's) it resolved against. */
export const TraceContextSchema = lazySchema(() =>
  z.object({
    room: z.string().max(256),
    node: z.string().max(256),
    traceId: z.string().max(64),
    intent: z.string().max(256),
    ageMs: z.number().min(0),
    /** room: the follow-up was heard in that room; mesh: the newest context of another room */
    from: z.enum(['room', 'mesh']),
  }),
);
export type TraceContext = z.infer<typeof TraceContextSchema>;

export const TraceIntentSchema = lazySchema(() =>
  IntentCallSchema.extend({
    confidence: z.number(),
    via: z.enum(['fast', 'llm']),
  }),
);

/** What `helix.v1.trace.<id>` carries and `helix-node trace --json` prints. */
export const TraceSchema = lazySchema(() =>
  z.object({
    schema: z.literal('helix.trace/v1'),
    traceId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    /** the node that owned the command */
    owner: z.string().max(256),
    ownerId: z.string().max(256),
    source: z.enum(['mic', 'file', 'text']),
    /** ISO time of the first hop's start */
    startedAt: z.string(),
    transcript: shortText.optional(),
    intent: TraceIntentSchema.optional(),
    reply: shortText,
    ok: z.boolean(),
    failedStage: z.enum(STAGES).optional(),
    totalMs: z.number().min(0),
    hops: z.array(TraceHopSchema).max(64),
    /** every mic that heard the command, best first (the first acted); absent: one mic, no bus */
    heardBy: z.array(TraceHeardSchema).max(32).optional(),
    /** the room the command acted on and where it came from (commands that take a room) */
    room: TraceRoomSchema.optional(),
    /** the earlier command a follow-up resolved against */
    context: TraceContextSchema.optional(),
  }),
);
export type Trace = z.infer<typeof TraceSchema>;
export type TraceIntent = z.infer<typeof TraceIntentSchema>;

export const TRACE_SUBJECT_PREFIX = 'helix.v1.trace';

export function traceSubject(traceId: string): string {
  return `${TRACE_SUBJECT_PREFIX}.${traceId}`;
}

/** 16 hex characters: short enough to type after `helix-node trace`, unique enough for a home. */
export function newTraceId(): string {
  return randomBytes(8).toString('hex');
}

/** Records hops as the pipeline makes them. Times are monotonic (performance.now()). */
export class TraceRecorder {
  readonly hops: TraceHop[] = [];
  /** the intent, once the intent stage found one (kept when a later stage fails) */
  intent?: TraceIntent;
  /** the mics that heard the command (set by the pipeline from the arbitration) */
  heardBy?: TraceHeard[];
  /** the room the command acted on (set by the pipeline's intent stage) */
  room?: TraceRoom;
  /** the earlier command a follow-up resolved against */
  context?: TraceContext;
  /** epoch ms of the trace start */
  readonly startedAtEpoch: number;
  private readonly startedAt: number;

  constructor(
    readonly traceId: string,
    readonly owner: { id: string; name: string },
    readonly source: TraceSource,
    /** the trace starts earlier than now (the VAD hop began at speech start) */
    startedAgoMs = 0,
  ) {
    this.startedAt = performance.now() - startedAgoMs;
    this.startedAtEpoch = Date.now() - startedAgoMs;
  }

  /** ms since the trace started */
  now(): number {
    return performance.now() - this.startedAt;
  }

  /** Adds a hop that started at `startMs` (trace time) and ends now. */
  record(stage: Stage, node: string, startMs: number, ok: boolean, detail?: string): TraceHop {
    const hop: TraceHop = {
      node,
      stage,
      startMs: round(startMs),
      durationMs: round(Math.max(0, this.now() - startMs)),
      ok,
      ...(detail ? { detail: detail.slice(0, 2000) } : {}),
    };
    this.hops.push(hop);
    return hop;
  }

  /** Adds a hop with explicit times (e.g. the VAD's, measured before the trace existed). */
  add(hop: TraceHop): void {
    this.hops.push({ ...hop, startMs: round(hop.startMs), durationMs: round(hop.durationMs) });
  }

  finish(outcome: {
    transcript?: string;
    intent?: TraceIntent;
    reply: string;
    ok: boolean;
    failedStage?: Stage;
  }): Trace {
    return {
      schema: 'helix.trace/v1',
      traceId: this.traceId,
      owner: this.owner.name,
      ownerId: this.owner.id,
      source: this.source,
      startedAt: new Date(this.startedAtEpoch).toISOString(),
      ...(outcome.transcript !== undefined
        ? { transcript: outcome.transcript.slice(0, 2000) }
        : {}),
      ...(outcome.intent ? { intent: outcome.intent } : {}),
      reply: outcome.reply.slice(0, 2000),
      ok: outcome.ok,
      ...(outcome.failedStage ? { failedStage: outcome.failedStage } : {}),
      totalMs: round(this.now()),
      hops: this.hops.slice(0, 64),
      ...(this.heardBy ? { heardBy: this.heardBy.slice(0, 32) } : {}),
      ...(this.room ? { room: this.room } : {}),
      ...(this.context ? { context: this.context } : {}),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
