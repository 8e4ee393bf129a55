/**
 * Many mics, one action: the rule that picks, among the nodes whose mics heard one utterance, the
 * one that acts. Every node that hears an utterance announces it (its speech window in wall-clock
 * time, its speech level and signal-to-noise ratio); announcements whose windows overlap are the
 * same utterance heard by several mics, and the best of them wins: highest SNR, then highest
 * level, then the lowest node id. Every node compares the same announced numbers with the same
 * rule, so every node names the same winner; it is never "first to announce wins" (a fast node is
 * not a near one). Pure: no I/O, no clocks.
 */
import { compareText } from '../order.js';

/** One mic's hearing of one utterance, as announced on the bus. */
export interface HeardUtterance {
  /** node id, and its name for traces and logs */
  node: string;
  name: string;
  room?: string;
  /** unique per node and utterance */
  utteranceId: string;
  /** speech start and end, wall clock (epoch ms) of the announcing node */
  startAt: number;
  endAt: number;
  /** mean speech power (dBFS) and its ratio to the noise floor (dB), from the VAD segmenter */
  levelDbfs: number;
  snrDb: number;
}

export const ARBITRATION_DEFAULTS = {
  /** how long after its own end of speech a node waits for the others' announcements */
  windowMs: 120,
  /** clocks of nodes may differ by this much: windows this close still count as overlapping */
  skewMs: 100,
} as const;

/** Same utterance: the speech windows overlap, allowing `skewMs` of clock difference. */
export function sameUtterance(
  a: Pick<HeardUtterance, 'startAt' | 'endAt'>,
  b: Pick<HeardUtterance, 'startAt' | 'endAt'>,
  skewMs: number = ARBITRATION_DEFAULTS.skewMs,
): boolean {
  return Math.min(a.endAt, b.endAt) - Math.max(a.startAt, b.startAt) + skewMs > 0;
}

/**
 * Orders hearings best first: higher SNR (to 0.1 dB, what travels), then higher level (0.1 dB),
 * then the lower node id (so a full tie still has one winner). Negative: `a` is better.
 */
export function compareHeard(a: HeardUtterance, b: HeardUtterance): number {
  const snr = tenths(b.snrDb) - tenths(a.snrDb);
  if (snr !== 0) return snr;
  const level = tenths(b.levelDbfs) - tenths(a.levelDbfs);
  if (level !== 0) return level;
  return compareText(a.node, b.node);
}

export interface Verdict {
  /** this node acts */
  won: boolean;
  winner: HeardUtterance;
  /** every overlapping hearing, this node's included, best first */
  heard: HeardUtterance[];
}

/**
 * Who acts on `own`, given the announcements of the other nodes (any utterances, any nodes;
 * only those overlapping `own` count, and only one per node: its best overlapping one).
 */
export function arbitrate(
  own: HeardUtterance,
  others: readonly HeardUtterance[],
  skewMs: number = ARBITRATION_DEFAULTS.skewMs,
): Verdict {
  const byNode = new Map<string, HeardUtterance>();
  for (const h of others) {
    if (h.node === own.node || !sameUtterance(own, h, skewMs)) continue;
    const seen = byNode.get(h.node);
    if (!seen || compareHeard(h, seen) < 0) byNode.set(h.node, h);
  }
  const heard = [own, ...byNode.values()].sort(compareHeard);
  const winner = heard[0]!;
  return { won: winner === own, winner, heard };
}

/**
 * Whether the verdict can be given before the window closes: lost as soon as a better hearing
 * arrived (a later one cannot make this node win again); won once every other node that could
 * have heard it (alive, with a mic) has announced an overlapping hearing. With no such node
 * (alone), at once.
 */
export function decidedEarly(
  own: HeardUtterance,
  others: readonly HeardUtterance[],
  micPeers: readonly string[],
  skewMs: number = ARBITRATION_DEFAULTS.skewMs,
): Verdict | null {
  const verdict = arbitrate(own, others, skewMs);
  if (!verdict.won) return verdict;
  const announced = new Set(verdict.heard.map((h) => h.node));
  return micPeers.every((id) => id === own.node || announced.has(id)) ? verdict : null;
}

/** "b -31.2 dBFS, SNR 18.4 dB": how a hearing reads in a trace or a log. */
export function describeHeard(h: HeardUtterance): string {
  return `${h.name}${h.room ? ` (${h.room})` : ''} ${h.levelDbfs.toFixed(1)} dBFS, SNR ${h.snrDb.toFixed(1)} dB`;
}

function tenths(x: number): number {
  return Math.round(x * 10);
}
