/**
 * Membership over the bus: publishes this node's advert every heartbeat, keeps the view from
 * everyone's adverts and byes, measures RTT with request/reply pings, and says bye on stop.
 * Nothing starts on construction; `start()` / `stop()` follow libp2p's Startable.
 *
 * Subjects: helix.v1.node.<id>.hb (advert), .bye (clean leave), .ping (request/reply).
 */
import { performance } from 'node:perf_hooks';
import type { Bus, Subscription } from '../bus/types.js';
import { StateError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { NodeAdvertSchema, PROTOCOL_VERSION, type NodeAdvert, type PeerView } from '../types.js';
import { AdvertCodec, DEFAULT_MAX_MESSAGE_BYTES, type DropReason } from './codec.js';
import { MembershipView, type MembershipTiming, type Transition } from './view.js';

export const SUBJECT_PREFIX = 'helix.v1.node';
export const heartbeatSubject = (id: string): string => `${SUBJECT_PREFIX}.${id}.hb`;
export const byeSubject = (id: string): string => `${SUBJECT_PREFIX}.${id}.bye`;
export const pingSubject = (id: string): string => `${SUBJECT_PREFIX}.${id}.ping`;

/** What the node supplies each beat; the service adds v, meshId, seq and sentAt. */
export type AdvertContent = Omit<NodeAdvert, 'v' | 'meshId' | 'seq' | 'sentAt'>;

export interface MembershipServiceOptions {
  bus: Bus;
  meshId: string;
  secret: Uint8Array;
  selfId: string;
  config: MembershipTiming;
  /** called every beat, so capabilities and load are fresh */
  advert: () => AdvertContent;
  logger: Logger;
  /** wall clock in ms (default Date.now); the view's timestamps use it */
  clock?: () => number;
  /** how often each alive peer is pinged (default 2000 ms) */
  pingIntervalMs?: number;
  /** a ping unanswered this long is abandoned (default 1000 ms) */
  pingTimeoutMs?: number;
  /** pings outstanding at once, across all peers (default 8) */
  maxPingsInFlight?: number;
  /** how often silence timeouts are applied (default 250 ms) */
  tickMs?: number;
  /** longest stop() waits for the bye to reach the server (default 2000 ms) */
  stopTimeoutMs?: number;
  /** largest advert accepted (default 64 KiB) */
  maxMessageBytes?: number;
}

export type ChangeListener = (transition: Transition) => void;

/** Node ids travel as one NATS subject token. */
const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_PING_ECHO_BYTES = 256;

/** a tick this many intervals late means this process stood still (see #tick) */
const STALL_TICKS = 4;

/** at most one out-of-turn advert per this interval (see #onHeartbeat) */
const EAGER_BEAT_MIN_GAP_MS = 200;

/**
 * How long announceSoon waits after a route connects: the two servers first exchange their
 * subscription interest, and a message published before that is not forwarded over the route.
 */
const ROUTE_INTEREST_MS = 150;

export class MembershipService {
  readonly #opts: Required<Omit<MembershipServiceOptions, 'maxMessageBytes'>>;
  readonly #codec: AdvertCodec;
  #revoked: ReadonlySet<string> = new Set();
  readonly #maxBytes: number;
  readonly #view: MembershipView;
  readonly #log: Logger;
  readonly #listeners = new Set<ChangeListener>();
  readonly #pingsInFlight = new Set<string>();
  readonly #lastPinged = new Map<string, number>();
  #subs: Subscription[] = [];
  #timers: NodeJS.Timeout[] = [];
  #seq = 0;
  #running = false;
  #lastEagerBeat = -Infinity;
  #announceTimer: NodeJS.Timeout | null = null;
  #lastTickMs = 0;
  #stopping: Promise<void> | null = null;

  constructor(options: MembershipServiceOptions) {
    if (!SUBJECT_TOKEN.test(options.selfId)) {
      throw new StateError(
        `node id ${JSON.stringify(options.selfId)} cannot be used in bus subjects; ` +
          'ids are letters, digits, "-" or "_" (the libp2p peer id is); regenerate the node key',
      );
    }
    this.#opts = {
      clock: Date.now,
      pingIntervalMs: 2000,
      pingTimeoutMs: 1000,
      maxPingsInFlight: 8,
      tickMs: 250,
      stopTimeoutMs: 2000,
      ...options,
    };
    this.#log = options.logger.child({ module: 'membership' });
    this.#maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#codec = new AdvertCodec({
      meshId: options.meshId,
      secret: options.secret,
      maxBytes: this.#maxBytes,
    });
    this.#view = new MembershipView({ selfId: options.selfId, timing: options.config });
    this.#view.onTransition((t) => this.#onTransition(t));
  }

  get selfId(): string {
    return this.#opts.selfId;
  }

  get running(): boolean {
    return this.#running;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    if (this.#stopping)
      throw new StateError('membership is stopping; wait for stop() before starting again');
    const { selfId } = this.#opts;
    this.#running = true;
    this.#subscribe();
    this.#beat();
    this.#lastTickMs = this.#opts.clock();
    this.#timers = [
      setInterval(() => this.#beat(), this.#opts.config.heartbeat_ms),
      setInterval(() => this.#tick(), this.#opts.tickMs),
      setInterval(() => this.#pingPeers(), this.#opts.pingIntervalMs),
    ];
    this.#log.info({ node: selfId }, 'membership started');
  }

  /**
   * Advertise this node shortly, out of turn: a route to a peer has just connected, and without
   * this the peer would hear of this node only at its next beat (up to heartbeat_ms later). Calls
   * while one is pending share it. A peer that learns of a new node beats back at once (see
   * #onHeartbeat), so one side's announcement converges both.
   */
  announceSoon(): void {
    if (!this.#running || this.#announceTimer) return;
    this.#announceTimer = setTimeout(() => {
      this.#announceTimer = null;
      if (this.#running) this.#beat();
    }, ROUTE_INTEREST_MS);
  }

  #subscribe(): void {
    const { bus, selfId } = this.#opts;
    this.#subs = [
      bus.subscribe(heartbeatSubject('*'), (msg) => this.#onHeartbeat(msg.subject, msg.data)),
      bus.subscribe(byeSubject('*'), (msg) => this.#onBye(msg.subject, msg.data)),
      bus.subscribe(pingSubject(selfId), (msg) => {
        try {
          msg.respond(msg.data.byteLength <= MAX_PING_ECHO_BYTES ? msg.data : new Uint8Array());
        } catch (err) {
          this.#log.debug({ err: describeError(err) }, 'ping not answered');
        }
      }),
    ];
  }

  /** Announce a clean leave (bye, flushed), then stop listening. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    if (!this.#running) return;
    this.#stopping = this.#stop().finally(() => {
      this.#stopping = null;
    });
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const { bus, selfId, meshId, clock, stopTimeoutMs } = this.#opts;
    this.#running = false;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    if (this.#announceTimer) clearTimeout(this.#announceTimer);
    this.#announceTimer = null;
    try {
      bus.publish(
        byeSubject(selfId),
        this.#codec.encodeBye({ v: PROTOCOL_VERSION, meshId, id: selfId, at: clock() }),
      );
      await withTimeout(bus.flush(), stopTimeoutMs, 'flushing the bye');
    } catch (err) {
      // Peers will see this node go suspect then dead instead; leaving must not fail.
      this.#log.warn({ node: selfId, err: describeError(err) }, 'bye not delivered');
    }
    for (const sub of this.#subs) sub.unsubscribe();
    this.#subs = [];
    this.#log.info({ node: selfId }, 'membership stopped');
  }

  /** The live view: this node first, then peers by name. */
  view(): PeerView[] {
    return this.#view.snapshot();
  }

  /** State transitions (joins, suspect/dead, revivals, restarts, leaves, forgets); returns unsubscribe. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * After `helix-node remove` (node/removal): sign and check adverts with the new secret, drop the
   * removed nodes from the view, and ignore their adverts from now on.
   */
  rekey(secret: Uint8Array, revoked: ReadonlySet<string>): void {
    this.#codec.setSecret(secret);
    this.#revoked = new Set(revoked);
    for (const id of revoked) this.#view.forget(id, this.#opts.clock());
  }

  /** Adverts and byes dropped so far, by reason. */
  drops(): Record<DropReason, number> {
    return this.#codec.drops();
  }

  /**
   * Applies silence timeouts. A tick that comes far later than its interval means this process
   * stood still (SIGSTOP, suspend, a blocked loop): that time is excused (MembershipView
   * .excuseSilence), so peers are judged on the silence this node could have heard.
   */
  #tick(): void {
    const now = this.#opts.clock();
    const gap = now - this.#lastTickMs;
    this.#lastTickMs = now;
    if (gap > STALL_TICKS * this.#opts.tickMs) {
      this.#log.info({ stalledMs: Math.round(gap) }, 'this node stood still; peers are not blamed');
      this.#view.excuseSilence(gap - this.#opts.tickMs);
    }
    this.#view.tick(now);
  }

  #beat(): void {
    const { bus, selfId, meshId, clock } = this.#opts;
    let advert: NodeAdvert;
    try {
      const content = this.#opts.advert();
      const candidate = {
        ...content,
        id: selfId,
        v: PROTOCOL_VERSION,
        meshId,
        seq: this.#seq++,
        sentAt: clock(),
      };
      // Peers would drop an invalid advert as 'schema'; say so here, where it can be fixed.
      const parsed = NodeAdvertSchema.safeParse(candidate);
      if (!parsed.success) throw new Error(`advert fails its schema: ${parsed.error.message}`);
      advert = parsed.data;
    } catch (err) {
      this.#log.warn(
        { node: selfId, err: describeError(err) },
        'advert not built; skipping this beat',
      );
      return;
    }
    this.#view.observeAdvert(advert, clock());
    try {
      const bytes = this.#codec.encodeAdvert(advert);
      if (bytes.byteLength > this.#maxBytes) {
        this.#log.warn(
          { node: selfId, bytes: bytes.byteLength },
          'advert larger than peers accept',
        );
      }
      bus.publish(heartbeatSubject(selfId), bytes);
    } catch (err) {
      // The client reconnects by itself; the next beat tries again.
      this.#log.debug({ node: selfId, err: describeError(err) }, 'heartbeat not published');
    }
  }

  #onHeartbeat(subject: string, data: Uint8Array): void {
    if (!this.#running) return;
    const id = subjectId(subject);
    if (id === this.#opts.selfId) return; // our own advert, looped back
    const decoded = this.#codec.decodeAdvert(data);
    if ('drop' in decoded) {
      this.#log.debug({ subject, reason: decoded.drop }, 'advert dropped');
      return;
    }
    if (this.#revoked.has(decoded.ok.id)) {
      this.#log.debug({ subject }, 'advert dropped: the node was removed from the mesh');
      return;
    }
    if (decoded.ok.id !== id) {
      this.#codec.countDrop('subject-mismatch');
      this.#log.debug(
        { subject, claimed: decoded.ok.id },
        'advert dropped: id differs from subject',
      );
      return;
    }
    const outcome = this.#view.observeAdvert(decoded.ok, this.#opts.clock());
    // A node we had not seen (or that came back) learns about us now, not at our next beat:
    // this takes up to a heartbeat off convergence. Rate-limited so a crowd cannot make us chatty.
    if (outcome === 'joined' || outcome === 'revived' || outcome === 'restarted') {
      const now = this.#opts.clock();
      if (now - this.#lastEagerBeat >= EAGER_BEAT_MIN_GAP_MS) {
        this.#lastEagerBeat = now;
        this.#beat();
      }
    }
  }

  #onBye(subject: string, data: Uint8Array): void {
    if (!this.#running) return;
    const id = subjectId(subject);
    if (id === this.#opts.selfId) return;
    const decoded = this.#codec.decodeBye(data);
    if ('drop' in decoded) {
      this.#log.debug({ subject, reason: decoded.drop }, 'bye dropped');
      return;
    }
    if (decoded.ok.id !== id) {
      this.#codec.countDrop('subject-mismatch');
      return;
    }
    this.#view.observeBye(decoded.ok, this.#opts.clock());
  }

  #pingPeers(): void {
    const { bus, pingTimeoutMs, maxPingsInFlight } = this.#opts;
    // Least recently pinged first, so with more peers than maxPingsInFlight every one gets its turn.
    const alive = this.#view.peersIn('alive');
    const aliveSet = new Set(alive);
    const due = alive.sort(
      (x, y) => (this.#lastPinged.get(x) ?? 0) - (this.#lastPinged.get(y) ?? 0),
    );
    for (const id of this.#lastPinged.keys()) if (!aliveSet.has(id)) this.#lastPinged.delete(id);
    for (const id of due) {
      if (this.#pingsInFlight.size >= maxPingsInFlight) break;
      if (this.#pingsInFlight.has(id)) continue;
      this.#pingsInFlight.add(id);
      this.#lastPinged.set(id, performance.now());
      const started = performance.now();
      bus
        .request(pingSubject(id), new Uint8Array(), { timeoutMs: pingTimeoutMs })
        .then(
          () => {
            if (this.#running) this.#view.recordRtt(id, performance.now() - started);
          },
          (err: unknown) => {
            if (this.#running)
              this.#log.debug({ peer: id, err: describeError(err) }, 'ping failed');
          },
        )
        .finally(() => this.#pingsInFlight.delete(id));
    }
  }

  #onTransition(t: Transition): void {
    const peer = { peer: t.id, name: t.name, from: t.from, to: t.to, reason: t.reason };
    this.#log.info(peer, `peer ${t.name} (${t.id.slice(0, 12)}) is ${t.to}, was ${t.from}`);
    for (const listener of this.#listeners) {
      try {
        listener(t);
      } catch (err) {
        this.#log.error({ ...peer, err: describeError(err) }, 'membership change listener failed');
      }
    }
  }
}

/** `helix.v1.node.<id>.<kind>` → id */
function subjectId(subject: string): string {
  const parts = subject.split('.');
  return parts.length === 5 ? (parts[3] ?? '') : '';
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
