/**
 * The speech-to-text engine as the transcriber and the pipeline use it: node/stt's SttEngine
 * (Whisper through smart-whisper, the pocketsphinx phrase recogniser); tests use plain objects.
 */
export type { SttEngine, Transcript, TranscriptSegment } from '../stt/index.js';

/** 16 kHz: the only rate on the wire. */
export const SAMPLE_RATE = 16_000;
/** 64 ms of 16 kHz audio per AudioChunk (DESIGN.md §5 / issue 4 point 3). */
export const CHUNK_SAMPLES = 1024;
export const CHUNK_MS = (CHUNK_SAMPLES * 1000) / SAMPLE_RATE;
