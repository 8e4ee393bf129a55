/**
 * Follow-ups: a short conversation context per room, shared on the mesh, so the next sentence
 * ("turn them off", "add five minutes") may be heard, and acted on, by another node.
 *
 * After a command runs, the node that acted remembers it for its room (the room of the mic that
 * heard it) and publishes it on `helix.v1.voice.context`; every node keeps the newest context of
 * each room until it expires (voice.context_ttl_s, default 60 s, stamped by the node that acted,
 * so every node forgets it at the same moment).
 *
 * Why the bus and not the mesh-wide settings: settings are persisted, merged per key and
 * re-sent in full to a node that (re)joins; a context lives for a minute, changes with every
 * command and must never outlive a restart or show up in `settings list`. A plain publish costs
 * one message per command; a node that was away for that minute simply has no context (the
 * follow-up is then refused with what to say instead).
 *
 * Wire form: signed.ts's, with `kind: "context"`, which keeps it apart from a heard announcement
 * signed with the same key (their schemas are strict and their kinds differ); it goes on its own
 * subject. Decoding never throws; a rejected message is a drop reason.
 */
import { z } from 'zod';
import type { Bus } from '../bus/index.js';
import { silentLogger, type Logger } from '../log.js';
import { busVoiceChannel, SignedVoiceCodec, type SignedDropReason } from './signed.js';
import { lazySchema } from '../types.js';

export const CONTEXT_SUBJECT = 'helix.v1.voice.context';
export const CONTEXT_PROTOCOL_VERSION = 1;
export const DEFAULT_CONTEXT_TTL_MS = 60_000;
/** How long a question waits for its answer ("off", "thirteen"), at most; the ttl when shorter. */
export const QUESTION_TTL_MS = 30_000;
const MAX_BYTES = 8192;

const scalar = lazySchema(() => z.union([z.string().max(256), z.number().finite(), z.boolean()]));
const scalars = lazySchema(() =>
  z.record(z.string().max(64), scalar).refine((r) => Object.keys(r).length <= 32, {
    message: 'at most 32 entries',
  }),
);

export const ConversationContextSchema = lazySchema(() =>
  z.strictObject({
    /** the room the command was heard in; "" for a node without a room */
    room: z.string().max(64),
    /** the node that acted (id and name) */
    node: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
    name: z.string().min(1).max(256),
    traceId: z.string().max(64),
    /** what was said */
    transcript: z.string().max(500),
    agent: z.string().max(64),
    intent: z.string().max(64),
    args: scalars,
    /** the scalar fields of the agent's result data (a timer's id, label, seconds) */
    result: scalars.optional(),
    /**
     * Set when the node asked instead of acting ("Did you want the kitchen lights on or off?"):
     * the meanings it asked between; the answer picks one (followup.ts). agent, intent and args are
     * then the first choice's, and nothing has run.
     */
    question: z
      .strictObject({
        text: z.string().max(300),
        choices: z
          .array(
            z.strictObject({
              agent: z.string().max(64),
              intent: z.string().max(64),
              args: scalars,
            }),
          )
          .min(1)
          .max(4),
      })
      .optional(),
    /** when it was remembered, and when every node forgets it (epoch ms, the acting node's clock) */
    at: z.number().finite(),
    expiresAt: z.number().finite(),
  }),
);
export type ConversationContext = z.infer<typeof ConversationContextSchema>;

/** What the pipeline hands to remember(): the store stamps the times. */
export type ContextEntry = Omit<ConversationContext, 'at' | 'expiresAt'>;

const BodySchema = lazySchema(() =>
  z.strictObject({
    v: z.literal(CONTEXT_PROTOCOL_VERSION),
    kind: z.literal('context'),
    meshId: z.string().min(1),
    context: ConversationContextSchema,
  }),
);

export type ContextDropReason = SignedDropReason;

/** Signs and checks contexts with the mesh's voice key (signed.ts). */
export class ContextCodec {
  readonly #signed: SignedVoiceCodec;

  constructor(options: { meshId: string; secret: Uint8Array }) {
    this.#signed = new SignedVoiceCodec(options, MAX_BYTES);
  }

  encode(context: ConversationContext): Uint8Array {
    return this.#signed.seal({
      v: CONTEXT_PROTOCOL_VERSION,
      kind: 'context',
      meshId: this.#signed.meshId,
      context,
    });
  }

  decode(bytes: Uint8Array): { ok: ConversationContext } | { drop: ContextDropReason } {
    const opened = this.#signed.open(bytes, BodySchema);
    return 'drop' in opened ? opened : { ok: opened.ok.context };
  }
}

/** Where contexts go and come from. */
export interface ContextChannel {
  publish(context: ConversationContext): void;
  /** every context another node published; returns the unsubscribe */
  subscribe(listener: (context: ConversationContext) => void): () => void;
}

/** ContextChannel over the mesh bus, signed with the mesh's voice key. Never throws on send. */
export function busContextChannel(
  bus: Bus,
  opts: { meshId: string; secret: Uint8Array; selfId: string; logger?: Logger },
): ContextChannel {
  return busVoiceChannel(bus, CONTEXT_SUBJECT, new ContextCodec(opts), {
    selfId: opts.selfId,
    logger: opts.logger,
    what: 'a conversation context',
  });
}

/** A context found for a follow-up, and whether it is the room's own or another room's. */
export interface ContextLookup {
  context: ConversationContext;
  /** "room": the follow-up was heard in the context's room; "mesh": the newest of another room */
  from: 'room' | 'mesh';
  ageMs: number;
}

export interface ContextStoreOptions {
  /** voice.context_ttl_s in ms (default 60 000); 0 keeps nothing */
  ttlMs?: number;
  channel?: ContextChannel | null;
  logger?: Logger;
  /** wall clock, epoch ms (tests) */
  now?: () => number;
}

/** The newest context of each room, mesh-wide, until it expires. */
export class ContextStore {
  readonly #byRoom = new Map<string, ConversationContext>();
  readonly #now: () => number;
  readonly #log: Logger;
  #unsubscribe: (() => void) | null = null;
  readonly ttlMs: number;

  constructor(private readonly opts: ContextStoreOptions = {}) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_CONTEXT_TTL_MS;
    this.#now = opts.now ?? Date.now;
    this.#log = (opts.logger ?? silentLogger).child({ component: 'context' });
  }

  /** Receives the other nodes' contexts until stop(). */
  start(): void {
    if (!this.opts.channel || this.#unsubscribe) return;
    this.#unsubscribe = this.opts.channel.subscribe((c) => this.receive(c));
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /**
   * Remembers a command (or a question asked instead, kept QUESTION_TTL_MS at most) for its room
   * and shares it; null when follow-ups are off (ttl 0).
   */
  remember(entry: ContextEntry): ConversationContext | null {
    if (this.ttlMs <= 0) return null;
    const at = this.#now();
    const ttl = entry.question ? Math.min(this.ttlMs, QUESTION_TTL_MS) : this.ttlMs;
    const context: ConversationContext = { ...entry, at, expiresAt: at + ttl };
    this.#byRoom.set(context.room, context);
    this.opts.channel?.publish(context);
    return context;
  }

  /** A context from another node: kept when it is newer than the room's and not expired. */
  receive(context: ConversationContext): boolean {
    if (this.ttlMs <= 0) return false;
    const now = this.#now();
    if (context.expiresAt <= now) return false;
    // a clock far ahead, or a ttl beyond what this node allows, is held to this node's ttl
    const capped = { ...context, expiresAt: Math.min(context.expiresAt, now + this.ttlMs) };
    const held = this.#byRoom.get(context.room);
    // newest wins; two commands of the same millisecond: the larger trace id, on every node alike
    const older =
      held &&
      held.expiresAt > now &&
      (held.at > context.at || (held.at === context.at && held.traceId >= context.traceId));
    if (older) return false;
    this.#byRoom.set(context.room, capped);
    this.#log.debug(
      { room: context.room, from: context.name, intent: `${context.agent}.${context.intent}` },
      'conversation context from the mesh',
    );
    return true;
  }

  /**
   * The context a follow-up heard in `room` refers to: the room's own, else (the person walked
   * over to another room's mic) the newest of any room. Null when none is left.
   */
  lookup(room: string): ContextLookup | null {
    const now = this.#now();
    this.prune(now);
    const own = this.#byRoom.get(room);
    if (own) return { context: own, from: 'room', ageMs: now - own.at };
    let newest: ConversationContext | null = null;
    for (const c of this.#byRoom.values()) if (!newest || c.at > newest.at) newest = c;
    return newest ? { context: newest, from: 'mesh', ageMs: now - newest.at } : null;
  }

  /** The contexts held now, newest first (status, tests). */
  list(): ConversationContext[] {
    this.prune(this.#now());
    return [...this.#byRoom.values()].sort((a, b) => b.at - a.at);
  }

  private prune(now: number): void {
    for (const [room, c] of this.#byRoom) if (c.expiresAt <= now) this.#byRoom.delete(room);
  }
}

/** The scalar fields of an agent's result data, the first 32 (what a context keeps of it). */
export function resultScalars(
  data: unknown,
): Record<string, string | number | boolean> | undefined {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (Object.keys(out).length >= 32 || k.length > 64) break;
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (typeof v === 'boolean') out[k] = v;
    else if (typeof v === 'string' && v.length <= 256) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}
