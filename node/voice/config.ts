/** Maps the [voice] config section onto the VAD's options and model path. Pure. */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { SegmenterOptions } from './vad.js';

export const SILERO_MODEL_FILE = 'ggml-silero-v6.2.0.bin';

export function segmenterOptionsFromConfig(
  voice: Pick<Config['voice'], 'silence_ms' | 'preroll_ms' | 'vad_threshold'>,
): SegmenterOptions {
  return {
    silenceMs: voice.silence_ms,
    prerollMs: voice.preroll_ms,
    threshold: voice.vad_threshold,
  };
}

/** voice.vad_model, or the file `helix-node models pull silero-vad` puts in the state directory. */
export function vadModelPath(voice: Pick<Config['voice'], 'vad_model'>, stateDir: string): string {
  return voice.vad_model || join(stateDir, 'models', SILERO_MODEL_FILE);
}
