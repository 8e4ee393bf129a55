/**
 * "I heard it": every node whose mic hears an utterance announces it on `helix.v1.voice.heard`,
 * and waits a short window after its end of speech for the others' announcements before the
 * rule of arbitration.ts says whether it acts (DESIGN: many mics, one action).
 *
 * Wire form: signed.ts's, with `kind: "heard"`. Decoding never throws: a rejected message is a
 * drop reason, and announcements of utterances that ended long ago (a replay) are dropped as
 * stale.
 *
 * The bus sits behind HeardChannel (busHeardChannel over NATS; tests may use memory).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Bus } from '../bus/index.js';
import { silentLogger, type Logger } from '../log.js';
import type { PeerView } from '../types.js';
import {
  ARBITRATION_DEFAULTS,
  arbitrate,
  compareHeard,
  decidedEarly,
  describeHeard,
  sameUtterance,
  type HeardUtterance,
  type Verdict,
} from './arbitration.js';
import { busVoiceChannel, SignedVoiceCodec, type SignedDropReason } from './signed.js';
import { lazySchema } from '../types.js';

export const HEARD_SUBJECT = 'helix.v1.voice.heard';
export const HEARD_PROTOCOL_VERSION = 1;
const MAX_BYTES = 4096;
/** announcements of utterances that ended longer ago than this are replays (or a stuck clock) */
const STALE_MS = 30_000;

const id = lazySchema(() => z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/));
const HeardBodySchema = lazySchema(() =>
  z.strictObject({
    v: z.literal(HEARD_PROTOCOL_VERSION),
    kind: z.literal('heard'),
    meshId: z.string().min(1),
    node: id,
    name: z.string().min(1).max(256),
    room: z.string().min(1).max(256).optional(),
    utteranceId: id,
    startAt: z.number().finite(),
    endAt: z.number().finite(),
    levelDbfs: z.number().min(-200).max(20),
    snrDb: z.number().min(-200).max(300),
  }),
);
type HeardBody = z.infer<typeof HeardBodySchema>;

export type HeardDropReason = SignedDropReason;

/** Signs and checks announcements with the mesh's voice key (signed.ts). */
export class HeardCodec {
  readonly #signed: SignedVoiceCodec;

  constructor(options: { meshId: string; secret: Uint8Array }) {
    this.#signed = new SignedVoiceCodec(options, MAX_BYTES);
  }

  encode(h: HeardUtterance): Uint8Array {
    const body: HeardBody = {
      v: HEARD_PROTOCOL_VERSION,
      kind: 'heard',
      meshId: this.#signed.meshId,
      node: h.node,
      name: h.name,
      ...(h.room ? { room: h.room } : {}),
      utteranceId: h.utteranceId,
      startAt: Math.round(h.startAt),
      endAt: Math.round(h.endAt),
      levelDbfs: tenth(h.levelDbfs),
      snrDb: tenth(h.snrDb),
    };
    return this.#signed.seal(body);
  }

  decode(bytes: Uint8Array): { ok: HeardUtterance } | { drop: HeardDropReason } {
    const opened = this.#signed.open(bytes, HeardBodySchema);
    if ('drop' in opened) return opened;
    const { v: _v, kind: _k, meshId: _m, ...heard } = opened.ok;
    return { ok: heard };
  }
}

/** Where announcements go and come from. */
export interface HeardChannel {
  announce(h: HeardUtterance): void;
  /** every announcement of another node; returns the unsubscribe */
  subscribe(listener: (h: HeardUtterance) => void): () => void;
}

/** HeardChannel over the mesh bus, signed with the mesh's voice key. Never throws on send. */
export function busHeardChannel(
  bus: Bus,
  opts: { meshId: string; secret: Uint8Array; selfId: string; logger?: Logger },
): HeardChannel {
  const channel = busVoiceChannel(bus, HEARD_SUBJECT, new HeardCodec(opts), {
    selfId: opts.selfId,
    logger: opts.logger,
    what: 'an utterance announcement',
  });
  return { announce: channel.publish, subscribe: channel.subscribe };
}

/** Why a command was given up before it ran: another mic's better hearing arrived late. */
export class YieldedError extends Error {
  constructor(readonly better: HeardUtterance) {
    super(
      `yielded to ${better.name}, whose mic heard it better (its announcement came after the window)`,
    );
    this.name = 'YieldedError';
  }
}

/** What arbitrate() adds to the rule's verdict: how long this node waited, and whether alone. */
export interface ArbitrationResult extends Verdict {
  waitedMs: number;
  /** no other node with a mic was alive: nothing was waited for */
  alone: boolean;
  /**
   * What ended the wait: no other mic alive (`alone`), every alive mic announced or a better
   * hearing arrived (`early`), or the window ran out (`window`).
   */
  decidedBy: 'alone' | 'early' | 'window';
}

export interface ArbiterOptions {
  channel: HeardChannel;
  selfId: string;
  selfName: string;
  /** the room this node's mic is in, when known */
  room?: () => string | undefined;
  /** the live view (membership): alive peers with a mic are the ones worth waiting for */
  view: () => readonly PeerView[];
  windowMs?: number;
  skewMs?: number;
  logger?: Logger;
  /** wall clock, epoch ms (tests) */
  now?: () => number;
}

/** The part of an utterance this node announces (the rest comes from the arbiter). */
export interface OwnHearing {
  startAt: number;
  endAt: number;
  levelDbfs: number;
  snrDb: number;
}

/**
 * Announces this node's utterances and decides, with the other nodes' announcements, whether
 * it acts. Keeps the others' announcements of the last 30 s.
 */
export class Arbiter {
  private readonly received: HeardUtterance[] = [];
  private readonly waiting = new Set<{ check: () => void; final: () => void }>();
  private readonly watching = new Set<(h: HeardUtterance) => void>();
  private unsubscribe: (() => void) | null = null;
  private readonly log: Logger;
  private readonly now: () => number;
  readonly windowMs: number;
  readonly skewMs: number;

  constructor(private readonly opts: ArbiterOptions) {
    this.log = (opts.logger ?? silentLogger).child({ component: 'arbiter' });
    this.now = opts.now ?? Date.now;
    this.windowMs = Math.min(150, opts.windowMs ?? ARBITRATION_DEFAULTS.windowMs);
    this.skewMs = opts.skewMs ?? ARBITRATION_DEFAULTS.skewMs;
  }

  start(): void {
    this.unsubscribe ??= this.opts.channel.subscribe((h) => this.onHeard(h));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const w of [...this.waiting]) w.final();
  }

  /**
   * Announces `own` and resolves, at most windowMs after the call, with whether this node acts.
   * Resolves at once when no other node with a mic is alive, when a better hearing has already
   * arrived, or when every alive node with a mic has announced.
   */
  async arbitrate(hearing: OwnHearing, signal?: AbortSignal): Promise<ArbitrationResult> {
    const began = performance.now();
    const room = this.opts.room?.();
    const own: HeardUtterance = {
      node: this.opts.selfId,
      name: this.opts.selfName,
      ...(room ? { room } : {}),
      utteranceId: randomBytes(6).toString('hex'),
      ...hearing,
    };
    const micPeers = this.opts
      .view()
      .filter(
        (p) =>
          !p.self &&
          p.id !== this.opts.selfId &&
          p.state === 'alive' &&
          p.capabilities.mic !== null,
      )
      .map((p) => p.id);
    this.opts.channel.announce(own);
    let decidedBy: ArbitrationResult['decidedBy'] = 'early';
    const result = (v: Verdict): ArbitrationResult => ({
      ...v,
      waitedMs: Math.round(performance.now() - began),
      alone: micPeers.length === 0,
      decidedBy,
    });
    if (micPeers.length === 0) {
      decidedBy = 'alone';
      return result(arbitrate(own, this.received, this.skewMs));
    }

    const early = () => decidedEarly(own, this.received, micPeers, this.skewMs);
    let verdict = early();
    if (!verdict) {
      verdict = await new Promise<Verdict>((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          this.waiting.delete(waiter);
          signal?.removeEventListener('abort', final);
          const decided = early();
          if (!decided) decidedBy = 'window';
          resolve(decided ?? arbitrate(own, this.received, this.skewMs));
        };
        const final = () => finish();
        const check = () => {
          if (early()) finish();
        };
        const timer = setTimeout(final, this.windowMs);
        const waiter = { check, final };
        this.waiting.add(waiter);
        signal?.addEventListener('abort', final, { once: true });
      });
    }
    const r = result(verdict);
    this.log.debug(
      {
        won: r.won,
        winner: r.winner.name,
        heard: r.heard.map(describeHeard),
        waitedMs: r.waitedMs,
      },
      r.won ? 'this mic heard it best; acting' : `${r.winner.name} heard it better; yielding`,
    );
    return r;
  }

  /**
   * After a win: `onBetter` is called (once) if a better hearing of the same utterance arrives
   * later, from a node too busy to announce within the window. Until the command runs, the
   * winner can still yield to it, so a slow node that heard it best is not acted on twice.
   * Returns the stop function (call it once the command runs).
   */
  watchForBetter(own: HeardUtterance, onBetter: (better: HeardUtterance) => void): () => void {
    const watcher = (h: HeardUtterance) => {
      if (!sameUtterance(own, h, this.skewMs) || compareHeard(h, own) >= 0) return;
      this.watching.delete(watcher);
      onBetter(h);
    };
    // one may have arrived between the verdict and this call
    const already = this.received.find(
      (h) => sameUtterance(own, h, this.skewMs) && compareHeard(h, own) < 0,
    );
    if (already) {
      onBetter(already);
      return () => undefined;
    }
    this.watching.add(watcher);
    return () => this.watching.delete(watcher);
  }

  private onHeard(h: HeardUtterance): void {
    const now = this.now();
    if (Math.abs(now - h.endAt) > STALE_MS) {
      this.log.debug({ node: h.name }, 'dropped a stale utterance announcement');
      return;
    }
    while (this.received.length > 0 && now - this.received[0]!.endAt > STALE_MS)
      this.received.shift();
    if (this.received.length >= 256) this.received.shift();
    this.received.push(h);
    for (const w of [...this.waiting]) w.check();
    for (const w of [...this.watching]) w(h);
  }
}

function tenth(x: number): number {
  return Math.round(x * 10) / 10;
}
