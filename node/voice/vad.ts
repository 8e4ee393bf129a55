/**
 * Utterance segmentation over a speech detector (Silero VAD in production, plain objects in
 * tests). Streaming: push PCM frames of any size, get speech-start / speech-end events, the
 * latter carrying the utterance's PCM with a pre-roll so first syllables are kept.
 *
 * The state machine is Silero's get_speech_timestamps, made incremental: speech starts at the
 * first window with p >= threshold; a window with p < threshold - 0.15 marks a possible end,
 * which becomes the end once `silenceMs` of audio has passed without p >= threshold again;
 * speech shorter than `minSpeechMs` is dropped; reported edges are padded by `speechPadMs`.
 * Pure: no I/O.
 */
import type { Pcm16 } from './audio.js';

/** Gives the probability that one window of 16 kHz audio holds speech; keeps state across windows. */
export interface SpeechDetector {
  /** samples per window (512 for Silero at 16 kHz) */
  readonly windowSize: number;
  /** one window in [-1, 1): the segmenter converts each window once, at this edge */
  process(window: Float32Array): number;
  reset(): void;
}

export interface SegmenterOptions {
  sampleRate?: number;
  /** speech when p >= threshold (Silero default 0.5) */
  threshold?: number;
  /** silence when p < negThreshold (default threshold - 0.15) */
  negThreshold?: number;
  /** silence that ends an utterance (voice.silence_ms) */
  silenceMs?: number;
  /** audio kept before the detected start (voice.preroll_ms) */
  prerollMs?: number;
  /** audio kept after the detected end */
  postrollMs?: number;
  /** shorter speech is dropped as a click or cough */
  minSpeechMs?: number;
  /** padding of the reported speech edges (Silero's speech_pad_ms) */
  speechPadMs?: number;
  /** an utterance is cut here even if speech goes on */
  maxUtteranceMs?: number;
}

export interface Utterance {
  /** 16 kHz mono PCM from (speechStart - preroll) to (speechEnd + postroll), as captured */
  pcm: Pcm16;
  /** seconds since the stream started, of pcm[0] */
  start: number;
  /** seconds: padded speech edges */
  speechStart: number;
  speechEnd: number;
  /** cut at maxUtteranceMs rather than ended by silence */
  truncated: boolean;
  /** seconds since the stream started when the end was decided (speechEnd + the silence waited) */
  detectedAt: number;
  /** how well this mic heard it (arbitration between mics compares these) */
  level: SpeechLevel;
}

/**
 * Speech level and signal-to-noise ratio, from the audio the segmenter already has: the power of
 * the utterance's loud windows (the 90th percentile of its windows, so the figure moves with the
 * mic's distance and gain alone: a mean over the windows the detector calls speech takes in more
 * of the weak ones on a nearer mic, and the nearest mic measured no louder than the next) against
 * the noise floor, the median power of the last 3 s of windows between utterances that the
 * detector called silence (p < negThreshold). With no silence heard yet (speech from the first
 * window) the quietest window of the utterance stands in.
 * dBFS: 0 is a full-scale square wave; digital silence is floored at -100.
 */
export interface SpeechLevel {
  levelDbfs: number;
  noiseDbfs: number;
  snrDb: number;
}

export type VadEvent =
  | { type: 'speech-start'; at: number }
  | { type: 'speech-end'; at: number; utterance: Utterance }
  | { type: 'speech-discarded'; at: number; durationMs: number };

export interface SpeechSegment {
  start: number;
  end: number;
}

const DEFAULTS = {
  sampleRate: 16_000,
  threshold: 0.5,
  silenceMs: 700,
  prerollMs: 300,
  postrollMs: 200,
  minSpeechMs: 250,
  speechPadMs: 30,
  maxUtteranceMs: 30_000,
};

/** Streaming utterance segmenter. One instance per audio stream. */
export class UtteranceSegmenter {
  private readonly opts: Required<SegmenterOptions>;
  private readonly window: number;
  /** the window being filled, as the detector takes it and as captured */
  private readonly partial: Float32Array;
  private readonly partial16: Pcm16;
  private partialLength = 0;
  /** absolute sample index of the next window's first sample */
  private position = 0;
  private readonly history = new SampleHistory();
  private triggered = false;
  private speechStart = 0;
  private tempEnd = -1;
  /** power of the latest silent windows between utterances, oldest first (NOISE_WINDOWS at most) */
  private noisePowers: number[] = [];
  /** power of each window of the utterance */
  private speechPowers: number[] = [];

  constructor(
    private readonly detector: SpeechDetector,
    options: SegmenterOptions = {},
  ) {
    const merged = { ...DEFAULTS, ...stripUndefined(options) };
    this.opts = { ...merged, negThreshold: options.negThreshold ?? merged.threshold - 0.15 };
    this.window = detector.windowSize;
    this.partial = new Float32Array(this.window);
    this.partial16 = new Int16Array(this.window);
  }

  /** Feeds PCM frames of any size; returns the events it completed. */
  push(pcm: Pcm16): VadEvent[] {
    const events: VadEvent[] = [];
    let at = 0;
    while (at < pcm.length) {
      const take = Math.min(this.window - this.partialLength, pcm.length - at);
      // the detector's edge: each sample becomes a float once, in the window it is judged in
      for (let i = 0; i < take; i++) this.partial[this.partialLength + i] = pcm[at + i]! / 32768;
      this.partial16.set(pcm.subarray(at, at + take), this.partialLength);
      this.partialLength += take;
      at += take;
      if (this.partialLength === this.window) {
        this.step(this.partial, this.window, events);
        this.partialLength = 0;
      }
    }
    return events;
  }

  /** Ends the stream: processes what is buffered and closes an open utterance. */
  flush(): VadEvent[] {
    const events: VadEvent[] = [];
    if (this.partialLength > 0) {
      const real = this.partialLength;
      this.partial.fill(0, real);
      this.step(this.partial, real, events);
      this.partialLength = 0;
    }
    if (this.triggered) this.close(this.tempEnd >= 0 ? this.tempEnd : this.position, false, events);
    return events;
  }

  /** Forgets everything (a new stream). */
  reset(): void {
    this.detector.reset();
    this.partialLength = 0;
    this.position = 0;
    this.history.clear();
    this.triggered = false;
    this.tempEnd = -1;
    this.noisePowers = [];
    this.speechPowers = [];
  }

  /** `real` is how many of the window's samples are audio (the last window of a stream is padded). */
  private step(window: Float32Array, real: number, events: VadEvent[]): void {
    const o = this.opts;
    const s = this.position;
    const e = s + real;
    this.history.append(this.partial16.subarray(0, real), s);
    const p = this.detector.process(window);
    this.position = e;
    const power = meanPower(this.partial16, real);
    // The room's noise is what the mic hears between utterances, and its median: pauses and word
    // tails inside an utterance, and the first window of speech before the detector is sure of it,
    // carry the speaker's own sound, louder on a nearer mic; counted as noise (a running mean took
    // one such window at 5 %, tens of dB above the noise) they pulled the nearest mic's SNR down to
    // its neighbours' (the arbiter ranks by SNR first).
    if (!this.triggered && p < o.negThreshold) {
      this.noisePowers.push(power);
      if (this.noisePowers.length > NOISE_WINDOWS) this.noisePowers.shift();
    }
    if (this.triggered || p >= o.threshold) {
      this.speechPowers.push(power);
    }

    if (!this.triggered) {
      if (p >= o.threshold) {
        this.triggered = true;
        this.speechStart = s;
        this.tempEnd = -1;
        events.push({
          type: 'speech-start',
          at: this.seconds(Math.max(0, s - this.samples(o.speechPadMs))),
        });
      } else {
        // keep only what a future pre-roll can reach
        this.history.dropBefore(
          e - this.samples(Math.max(o.prerollMs, o.speechPadMs)) - this.window,
        );
      }
      return;
    }
    if (p >= o.threshold) this.tempEnd = -1;
    else if (p < o.negThreshold && this.tempEnd < 0) this.tempEnd = s;

    if (this.tempEnd >= 0 && p < o.negThreshold && e - this.tempEnd >= this.samples(o.silenceMs)) {
      this.close(this.tempEnd, false, events);
    } else if (e - this.speechStart >= this.samples(o.maxUtteranceMs)) {
      this.close(e, true, events);
    }
  }

  private close(speechEnd: number, truncated: boolean, events: VadEvent[]): void {
    const o = this.opts;
    this.triggered = false;
    this.tempEnd = -1;
    const level = this.level();
    this.speechPowers = [];
    const duration = speechEnd - this.speechStart;
    if (duration < this.samples(o.minSpeechMs)) {
      events.push({
        type: 'speech-discarded',
        at: this.seconds(speechEnd),
        durationMs: (duration * 1000) / o.sampleRate,
      });
      return;
    }
    const pad = this.samples(o.speechPadMs);
    const from = Math.max(this.history.start, this.speechStart - this.samples(o.prerollMs));
    const to = Math.min(this.position, speechEnd + this.samples(o.postrollMs));
    const utterance: Utterance = {
      pcm: this.history.slice(from, to),
      start: this.seconds(from),
      speechStart: this.seconds(Math.max(0, this.speechStart - pad)),
      speechEnd: this.seconds(Math.min(this.position, speechEnd + pad)),
      truncated,
      detectedAt: this.seconds(this.position),
      level,
    };
    events.push({ type: 'speech-end', at: utterance.speechEnd, utterance });
  }

  private level(): SpeechLevel {
    const speech = percentile(this.speechPowers, LEVEL_PERCENTILE);
    const noise =
      this.noisePowers.length > 0
        ? percentile(this.noisePowers, 0.5)
        : percentile(this.speechPowers, 0); // the utterance's quietest window
    const levelDbfs = dbfs(speech);
    const noiseDbfs = Math.min(levelDbfs, dbfs(Number.isFinite(noise) ? noise : 0));
    return { levelDbfs, noiseDbfs, snrDb: round1(levelDbfs - noiseDbfs) };
  }

  private samples(ms: number): number {
    return Math.round((ms * this.opts.sampleRate) / 1000);
  }

  private seconds(samples: number): number {
    return samples / this.opts.sampleRate;
  }
}

/** weight of each new silent window in the noise floor (about 20 windows, 0.6 s, of memory) */
/** how many silent windows the noise floor is the median of: about 3 s of 32 ms windows */
const NOISE_WINDOWS = 96;
/** which of an utterance's windows gives its level (see SpeechLevel) */
const LEVEL_PERCENTILE = 0.9;

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
/** floor of the power scale: -100 dBFS */
const MIN_POWER = 1e-10;

/** Mean power of the first `n` samples, full scale = 1 (a full-scale square wave). */
function meanPower(pcm: Pcm16, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = pcm[i]! / 32768;
    sum += x * x;
  }
  return n > 0 ? sum / n : 0;
}

function dbfs(power: number): number {
  return round1(10 * Math.log10(Math.max(MIN_POWER, power)));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * Speech segments of a whole clip, as whisper.cpp's whisper_vad_segments_from_probs reports
 * them: Silero's rules with 100 ms minimum silence, then neighbours closer than 200 ms merged.
 */
export function detectSpeechSegments(
  pcm: Pcm16,
  detector: SpeechDetector,
  options: SegmenterOptions & { mergeGapMs?: number } = {},
): SpeechSegment[] {
  const { mergeGapMs = 200, ...segmenterOptions } = options;
  const pad = (segmenterOptions.speechPadMs ?? DEFAULTS.speechPadMs) / 1000;
  detector.reset();
  const segmenter = new UtteranceSegmenter(detector, {
    silenceMs: 100,
    prerollMs: 0,
    postrollMs: 0,
    ...segmenterOptions,
  });
  const events = [...segmenter.push(pcm), ...segmenter.flush()];
  const merged: SpeechSegment[] = [];
  for (const e of events) {
    if (e.type !== 'speech-end') continue;
    const seg = { start: e.utterance.speechStart, end: e.utterance.speechEnd };
    const last = merged.at(-1);
    // edges are padded: the unpadded gap is the padded one plus both pads
    if (last && seg.start - last.end + 2 * pad < mergeGapMs / 1000) last.end = seg.end;
    else merged.push(seg);
  }
  return merged;
}

/** Runs a frame stream through a segmenter, yielding its events until the stream ends or the signal aborts. */
export async function* segmentStream(
  frames: AsyncIterable<Pcm16>,
  segmenter: UtteranceSegmenter,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<VadEvent> {
  for await (const frame of frames) {
    options.signal?.throwIfAborted();
    yield* segmenter.push(frame);
  }
  options.signal?.throwIfAborted();
  yield* segmenter.flush();
}

/** Audio seen so far, addressed by absolute sample index; grows while an utterance is open. */
class SampleHistory {
  private buf: Pcm16 = new Int16Array(16_000);
  private length = 0;
  /** absolute index of buf[0] */
  start = 0;

  append(samples: Pcm16, at: number): void {
    if (this.length === 0) this.start = at;
    if (this.length + samples.length > this.buf.length) {
      const bigger = new Int16Array(Math.max(this.buf.length * 2, this.length + samples.length));
      bigger.set(this.buf.subarray(0, this.length));
      this.buf = bigger;
    }
    this.buf.set(samples, this.length);
    this.length += samples.length;
  }

  dropBefore(abs: number): void {
    const n = Math.min(this.length, abs - this.start);
    if (n <= 0) return;
    this.buf.copyWithin(0, n, this.length);
    this.length -= n;
    this.start += n;
  }

  slice(from: number, to: number): Pcm16 {
    const a = Math.max(0, from - this.start);
    const b = Math.max(a, Math.min(this.length, to - this.start));
    return this.buf.slice(a, b);
  }

  clear(): void {
    this.length = 0;
    this.start = 0;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
