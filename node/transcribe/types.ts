/**
 * The speech-to-text engine as the transcriber and the pipeline use it. It has the shape of
 * node/stt's SttEngine (Whisper through smart-whisper, the pocketsphinx phrase recogniser), so
 * either plugs in; tests use plain objects.
 */

export interface TranscriptSegment {
  /** seconds from the start of the audio */
  start: number;
  end: number;
  text: string;
}

export interface Transcript {
  /** what was heard; empty when nothing was, or when the engine would rather not guess */
  text: string;
  segments: TranscriptSegment[];
  /** ISO 639-1 */
  language: string;
  /** 0..1 */
  confidence: number;
  /** the engine heard something but rejected it as uncertain (only known where it ran) */
  rejected?: string;
}

export interface SttEngine {
  /** "whisper" or "phrase" */
  readonly name: string;
  readonly model: string;
  /** 16 kHz mono PCM in [-1, 1] */
  transcribe(pcm: Float32Array, opts?: { signal?: AbortSignal }): Promise<Transcript>;
  close(): Promise<void>;
}

/** 16 kHz: the only rate on the wire. */
export const SAMPLE_RATE = 16_000;
/** 64 ms of 16 kHz audio per AudioChunk (DESIGN.md §5 / issue 4 point 3). */
export const CHUNK_SAMPLES = 1024;
export const CHUNK_MS = (CHUNK_SAMPLES * 1000) / SAMPLE_RATE;
