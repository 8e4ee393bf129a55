/**
 * Settings replication over core NATS (no JetStream: see DESIGN.md §3).
 *
 * - `helix.v1.settings.delta`: every local write is published at once (the fast path: one
 *   publish, one hop through the cluster).
 * - `helix.v1.settings.digest`: each node publishes a digest of its whole state on start and
 *   every `digestIntervalMs`. A node whose own digest differs answers with its full state, in
 *   chunks, on `helix.v1.settings.state.<asker>`; the asker merges it and, if it held writes the
 *   answerer lacked, its next digest makes the answerer ask in turn. Digests differ only when
 *   states do, so a settled mesh sends one small digest per node per interval and nothing else.
 *
 * This one mechanism covers a node that starts late, one that restarts, a delta lost while a
 * link was down and a healed partition: once every pair of nodes has exchanged a digest (one
 * interval after the routes are back), every node holds the merge of all writes. A 1-node mesh
 * publishes its digest to nobody.
 *
 * Every message is signed (see codec.ts); unsigned and wrongly signed ones are dropped, counted
 * by reason and logged at debug with the subject and sender (never a value).
 */
import type { Bus, Subscription } from '../bus/index.js';
import { describeError, StateError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  SETTINGS_PROTOCOL_VERSION,
  SettingsCodec,
  stateDigest,
  type DropReason,
  type MessageKind,
  type SettingsMessage,
} from './codec.js';
import type { SettingEntry } from './merge.js';
import type { SettingsChange, SettingsStore } from './store.js';

export const SETTINGS_SUBJECT_PREFIX = 'helix.v1.settings';
export const DELTA_SUBJECT = `${SETTINGS_SUBJECT_PREFIX}.delta`;
export const DIGEST_SUBJECT = `${SETTINGS_SUBJECT_PREFIX}.digest`;
export const stateSubject = (nodeId: string): string =>
  `${SETTINGS_SUBJECT_PREFIX}.state.${nodeId}`;

export interface SettingsReplicatorOptions {
  bus: Bus;
  store: SettingsStore;
  meshId: string;
  secret: Uint8Array;
  logger: Logger;
  /** how often this node publishes its digest (default 1000 ms) */
  digestIntervalMs?: number;
  /**
   * at most one full state to one asker per this interval (default: half the digest interval),
   * so a node asked by many digests at once answers each asker once
   */
  answerGapMs?: number;
  /** largest message sent or accepted (default 896 KiB, room for a found home of ~2000 lights; nats-server's default limit is 1 MiB) */
  maxMessageBytes?: number;
}

export interface ReplicationStats {
  deltasSent: number;
  digestsSent: number;
  statesSent: number;
  writesMerged: number;
  drops: Record<DropReason, number>;
}

const DROP_WARNING_GAP_MS = 60_000;

/** Node ids travel as one NATS subject token. */
const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export class SettingsReplicator {
  readonly #bus: Bus;
  readonly #store: SettingsStore;
  readonly #codec: SettingsCodec;
  readonly #log: Logger;
  readonly #selfId: string;
  readonly #digestIntervalMs: number;
  readonly #answerGapMs: number;
  readonly #lastAnswered = new Map<string, number>();
  #subs: Subscription[] = [];
  #timers: NodeJS.Timeout[] = [];
  #offChange: (() => void) | null = null;
  #running = false;
  #ownDigest: string | null = null;
  readonly #lastDropWarning = new Map<DropReason, number>();
  #stats = { deltasSent: 0, digestsSent: 0, statesSent: 0, writesMerged: 0 };

  constructor(options: SettingsReplicatorOptions) {
    this.#selfId = options.store.selfId;
    if (!SUBJECT_TOKEN.test(this.#selfId)) {
      throw new StateError(
        `node id ${JSON.stringify(this.#selfId)} cannot be used in bus subjects; ` +
          'ids are letters, digits, "-" or "_" (the libp2p peer id is); regenerate the node key',
      );
    }
    this.#bus = options.bus;
    this.#store = options.store;
    this.#codec = new SettingsCodec({
      meshId: options.meshId,
      secret: options.secret,
      maxBytes: options.maxMessageBytes,
    });
    this.#log = options.logger.child({ module: 'settings-replication' });
    this.#digestIntervalMs = options.digestIntervalMs ?? 1000;
    this.#answerGapMs = options.answerGapMs ?? Math.floor(this.#digestIntervalMs / 2);
  }

  get running(): boolean {
    return this.#running;
  }

  /** Subscribe, then announce this node's digest (peers answer with what differs). */
  async start(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#running) return;
    this.#running = true;
    this.#subscribe();
    this.#offChange = this.#store.onChange((c) => this.#onStoreChange(c));
    this.#timers = [setInterval(() => this.#publishDigest(), this.#digestIntervalMs)];
    // Interest takes a moment to cross the routes; a second digest soon after the first makes a
    // starting node's catch-up independent of that race without waiting a whole interval.
    this.#publishDigest();
    this.#timers.push(setTimeout(() => this.#publishDigest(), 100));
    for (const t of this.#timers) t.unref();
    this.#log.info(
      { node: this.#selfId, intervalMs: this.#digestIntervalMs },
      'settings replication started',
    );
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    this.#offChange?.();
    this.#offChange = null;
    for (const s of this.#subs) s.unsubscribe();
    this.#subs = [];
    try {
      await this.#bus.flush();
    } catch (err) {
      this.#log.debug({ err: describeError(err) }, 'flush on stop failed');
    }
    this.#log.info({ node: this.#selfId }, 'settings replication stopped');
  }

  /** Announce this node's digest now, out of turn (peers that differ answer with their state). */
  announceDigest(): void {
    if (this.#running) this.#publishDigest();
  }

  /** Sign and check with a new mesh secret from now on (a key rotation, node/removal). */
  setSecret(secret: Uint8Array): void {
    this.#codec.setSecret(secret);
    // a digest under the new key at once, so a peer that rotated first catches up now
    if (this.#running) this.#publishDigest();
  }

  /** Messages dropped so far, by reason. */
  drops(): Record<DropReason, number> {
    return this.#codec.drops();
  }

  stats(): ReplicationStats {
    return { ...this.#stats, drops: this.drops() };
  }

  #subscribe(): void {
    const on = (subject: string, kind: MessageKind) =>
      this.#bus.subscribe(subject, (msg) => this.#onMessage(msg.subject, msg.data, kind));
    this.#subs = [
      on(DELTA_SUBJECT, 'delta'),
      on(DIGEST_SUBJECT, 'digest'),
      on(stateSubject(this.#selfId), 'state'),
    ];
  }

  #onStoreChange(change: SettingsChange): void {
    this.#ownDigest = null;
    if (change.origin !== 'local' || !this.#running) return;
    this.#stats.deltasSent += this.#publishEntries(DELTA_SUBJECT, change.entries, (entries) => ({
      ...this.#header(),
      kind: 'delta',
      entries,
    }));
  }

  #onMessage(subject: string, data: Uint8Array, kind: MessageKind): void {
    if (!this.#running) return;
    const decoded = this.#codec.decode(data, kind);
    if ('drop' in decoded) {
      this.#logDrop(subject, decoded.drop, decoded.claimedFrom);
      return;
    }
    const msg = decoded.ok;
    if (msg.from === this.#selfId) return; // our own, looped back
    if (msg.kind === 'digest') this.#onDigest(msg.from, msg.digest);
    else if (msg.kind === 'state' && msg.to !== this.#selfId)
      this.#codec.countDrop('wrong-subject');
    else this.#merge(msg.from, msg.entries);
  }

  /**
   * A warning names the first drop of each reason per minute (subject, claimed sender, count so
   * far): a bad peer or a wrong secret shows in the log without a flood letting it fill the disk.
   */
  #logDrop(subject: string, reason: DropReason, claimedFrom: string | undefined): void {
    const now = Date.now();
    const fields = { subject, reason, claimedFrom, dropped: this.#codec.drops()[reason] };
    if (now - (this.#lastDropWarning.get(reason) ?? -Infinity) >= DROP_WARNING_GAP_MS) {
      this.#lastDropWarning.set(reason, now);
      this.#log.warn(fields, `settings message dropped (${reason})`);
    } else {
      this.#log.debug(fields, 'settings message dropped');
    }
  }

  #merge(from: string, entries: SettingEntry[]): void {
    const { won, refused } = this.#store.merge(entries);
    this.#stats.writesMerged += won.length;
    if (refused.length > 0) {
      this.#codec.countDrop('invalid-entry', refused.length);
      this.#log.warn(
        { peer: from, keys: refused.map((e) => e.key) },
        'settings writes refused: malformed key',
      );
    }
    if (won.length > 0) {
      this.#log.debug({ peer: from, keys: won.map((e) => e.key) }, 'settings merged');
    }
  }

  #onDigest(from: string, digest: string): void {
    if (!SUBJECT_TOKEN.test(from)) return; // not a token we can answer on
    if (digest === this.#digest()) return;
    const now = Date.now();
    if (now - (this.#lastAnswered.get(from) ?? -Infinity) < this.#answerGapMs) return;
    this.#lastAnswered.set(from, now);
    if (this.#lastAnswered.size > 1024) this.#lastAnswered.clear();
    this.#stats.statesSent += this.#publishEntries(
      stateSubject(from),
      this.#store.entries(),
      (entries, part, parts) => ({
        ...this.#header(),
        kind: 'state',
        to: from,
        part,
        parts,
        entries,
      }),
    );
  }

  #publishDigest(): void {
    if (!this.#running) return;
    this.#send(
      DIGEST_SUBJECT,
      this.#codec.encode({
        ...this.#header(),
        kind: 'digest',
        digest: this.#digest(),
        count: this.#store.state().size,
      }),
    );
    this.#stats.digestsSent += 1;
  }

  /** Publishes entries in chunks within the size limit; returns the number of messages. */
  #publishEntries(
    subject: string,
    entries: readonly SettingEntry[],
    make: (entries: SettingEntry[], part: number, parts: number) => SettingsMessage,
  ): number {
    const { messages, tooLarge } = this.#codec.encodeChunks(entries, make);
    if (tooLarge.length > 0) {
      this.#log.warn(
        { keys: tooLarge.map((e) => e.key), maxBytes: this.#codec.maxBytes },
        'settings writes too large to replicate',
      );
    }
    for (const m of messages) this.#send(subject, m);
    return messages.length;
  }

  #send(subject: string, data: Uint8Array): void {
    try {
      this.#bus.publish(subject, data);
    } catch (err) {
      // the client reconnects by itself; the next digest repairs whatever this loses
      this.#log.debug({ subject, err: describeError(err) }, 'settings message not published');
    }
  }

  /** This node's digest, recomputed only after a change. */
  #digest(): string {
    this.#ownDigest ??= stateDigest(this.#store.state());
    return this.#ownDigest;
  }

  #header(): { v: typeof SETTINGS_PROTOCOL_VERSION; meshId: string; from: string } {
    return { v: SETTINGS_PROTOCOL_VERSION, meshId: this.#codec.meshId, from: this.#selfId };
  }
}
