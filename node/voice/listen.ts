/** Utterances from an audio source (the mic or a file): frames -> speech detector -> segmenter. */
import type { AudioSource } from './capture.js';
import {
  segmentStream,
  UtteranceSegmenter,
  type SegmenterOptions,
  type SpeechDetector,
  type Utterance,
  type VadEvent,
} from './vad.js';

export interface ListenOptions extends SegmenterOptions {
  source: AudioSource;
  /** a fresh detector per stream (e.g. new SileroVad(model)) */
  detector: SpeechDetector;
  signal?: AbortSignal;
}

/** speech-start / speech-end (with the utterance) / speech-discarded events until the source ends or the signal aborts. */
export function listen(options: ListenOptions): AsyncGenerator<VadEvent> {
  const { source, detector, signal, ...segmenter } = options;
  detector.reset();
  return segmentStream(source.frames({ signal }), new UtteranceSegmenter(detector, segmenter), {
    signal,
  });
}

/** The first utterance from the source (`helix-node listen --once`), or null if the source ends first. */
export async function listenOnce(options: ListenOptions): Promise<Utterance | null> {
  for await (const event of listen(options)) {
    if (event.type === 'speech-end') return event.utterance;
  }
  return null;
}
