/**
 * A second, independent check on the word that decides an action, made on the audio the decoder
 * aligned to it (pure). "on" and "off" differ in one sound: "off" ends in /f/, a voiceless
 * fricative (weak, noise-like: many zero crossings), "on" in /n/, a voiced nasal (strong, few
 * zero crossings). The decoder's search can trade one for the other when the rest of the
 * sentence fits well; counting fricative frames at the end of the word cannot.
 *
 * Tuned on espeak-ng speech of the benchmark's tuning set only (bench/stt/phrases.ts).
 */

/** Where a word is in the audio (seconds), as the decoder aligned it. */
export interface AlignedWord {
  word: string;
  start: number;
  end: number;
}

/** What the check measured on one deciding word. */
export interface WordCheck {
  /** the word the decoder heard */
  heard: 'on' | 'off';
  /** what the audio after the word's vowel holds; 'unsure' when neither shows clearly */
  measured: 'on' | 'off' | 'unsure';
  /** the frames after the vowel, one letter each: V vowel, N nasal, F fricative, S silence, o other */
  frames: string;
}

const RATE = 16_000;
const FRAME = 160;
/** zero crossings per 10 ms frame from which a weak frame is noise-like (a fricative) */
export const FRICATIVE_CROSSINGS = 26;
/** zero crossings per 10 ms frame up to which a frame is voiced and low (a nasal) */
export const NASAL_CROSSINGS = 14;
/** how far past the aligned end the window reaches: the decoder may give /f/ to the next word */
const TAIL_S = 0.08;

/**
 * Says whether the audio of an aligned "on" or "off" ends in a nasal or a fricative. The vowel is
 * the loudest frame of the word's last two thirds (the decoder's start is loose: it may hold the
 * end of "turn"); after it, each 10 ms frame is a vowel (within 6 dB of it), a nasal (6-20 dB
 * below, few zero crossings), a fricative (12-45 dB below and above the room's noise, many zero
 * crossings), silence or other; the lengths of the nasal and fricative runs decide (judge).
 */
export function checkOnOff(pcm: Int16Array, word: AlignedWord, floorDb?: number): WordCheck {
  const heard = word.word === 'off' ? 'off' : 'on';
  const from = Math.max(0, Math.floor((word.start * RATE) / FRAME));
  const end = Math.min(Math.floor(pcm.length / FRAME), Math.ceil((word.end * RATE) / FRAME));
  const to = Math.min(
    Math.floor(pcm.length / FRAME),
    Math.ceil(((word.end + TAIL_S) * RATE) / FRAME),
  );
  const stats: { db: number; crossings: number }[] = [];
  for (let f = from; f < to; f++) stats.push(frameStats(pcm, f * FRAME));
  const vowelFrom = Math.floor((end - from) / 3);
  let peakAt = -1;
  for (let i = vowelFrom; i < end - from; i++)
    if (peakAt < 0 || stats[i]!.db > stats[peakAt]!.db) peakAt = i;
  if (peakAt < 0) return { heard, measured: 'unsure', frames: '' };
  const peak = stats[peakAt]!.db;
  const low = Math.max(peak - 45, (floorDb ?? noiseFloorDb(pcm)) + 8);
  const frames = stats
    .slice(peakAt + 1)
    .map(({ db, crossings }) =>
      db > peak - 6
        ? 'V'
        : crossings <= NASAL_CROSSINGS && db >= peak - 20
          ? 'N'
          : crossings >= FRICATIVE_CROSSINGS && db <= peak - 12 && db >= low
            ? 'F'
            : db < low
              ? 'S'
              : 'o',
    )
    .join('');
  return { heard, measured: judge(frames), frames };
}

/**
 * "on" holds a nasal of 30-130 ms after the vowel, "off" a fricative of 40 ms or more; the
 * vowel's decay looks nasal for up to 40 ms before an /f/, and the "th" of a following "the"
 * looks fricative for up to 30 ms after an /n/. An /n/ runs on from the vowel: a nasal after 30 ms
 * of silence is the next word's ("off in the kitchen", where an /f/ in room noise measures as
 * silence), so nasal frames count only before the first such gap.
 */
function judge(frames: string): 'on' | 'off' | 'unsure' {
  const gapAt = frames.indexOf('SSS');
  const word = gapAt < 0 ? frames : frames.slice(0, gapAt);
  const fricativeAt = word.indexOf('FFF');
  const before = fricativeAt < 0 ? word : word.slice(0, fricativeAt);
  const nasal = Math.max(0, ...(before.match(/N+/g) ?? []).map((r) => r.length));
  // a fricative may have one weaker frame inside it
  const fricative = Math.max(
    0,
    ...(frames.match(/F(?:o?F)*/g) ?? []).map((r) => r.replace(/o/g, '').length),
  );
  if (nasal >= 5) return 'on';
  if (fricative >= 4) return 'off';
  return nasal >= 3 ? 'on' : 'unsure';
}

/** Level (dB of mean square) and zero crossings of the 10 ms frame starting at sample `at`. */
function frameStats(pcm: Int16Array, at: number): { db: number; crossings: number } {
  let energy = 0;
  let crossings = 0;
  let prev = pcm[at - 1] ?? pcm[at] ?? 0;
  for (let i = at; i < at + FRAME && i < pcm.length; i++) {
    const x = pcm[i]!;
    energy += x * x;
    if (x >= 0 !== prev >= 0) crossings++;
    prev = x;
  }
  return { db: 10 * Math.log10(energy / FRAME + 1), crossings };
}

/** The 10th percentile of the utterance's frame levels: its silence or room noise. */
export function noiseFloorDb(pcm: Int16Array): number {
  const levels: number[] = [];
  for (let at = 0; at + FRAME <= pcm.length; at += FRAME) levels.push(frameStats(pcm, at).db);
  if (levels.length === 0) return 0;
  levels.sort((a, b) => a - b);
  return levels[Math.floor(levels.length * 0.1)]!;
}
