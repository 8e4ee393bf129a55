/** Maps the [voice] config section onto the VAD's options and model path. Pure. */
import type { Config } from '../config/index.js';
import type { SegmenterOptions } from './vad.js';

export { SILERO_MODEL_FILE, vadModelPath } from '../config/index.js';

export function segmenterOptionsFromConfig(
  voice: Pick<Config['voice'], 'silence_ms' | 'preroll_ms' | 'vad_threshold'>,
): SegmenterOptions {
  return {
    silenceMs: voice.silence_ms,
    prerollMs: voice.preroll_ms,
    threshold: voice.vad_threshold,
  };
}
