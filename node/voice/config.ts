/** Maps the [voice] config section onto the segmenter's options. Pure. */
import type { Config } from '../config/index.js';
import type { SegmenterOptions } from './vad.js';

export function segmenterOptionsFromConfig(voice: Config['voice']): SegmenterOptions {
  return {
    silenceMs: voice.silence_ms,
    prerollMs: voice.preroll_ms,
    threshold: voice.vad_threshold,
  };
}
