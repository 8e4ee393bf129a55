import type { SpeechDetector } from '../../node/voice/index.js';

/** A detector that plays back scripted probabilities, one per 512-sample window. */
export function scripted(probs: number[]): SpeechDetector {
  let i = 0;
  return {
    windowSize: 512,
    process: () => probs[i++] ?? 0,
    reset: () => {
      i = 0;
    },
  };
}
