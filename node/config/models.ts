/** Where model files live when helix.toml does not say (pure). */
import { join } from 'node:path';
import type { Config } from './schema.js';

/** The Silero VAD model `helix-node models pull silero-vad` puts in <state_dir>/models. */
export const SILERO_MODEL_FILE = 'ggml-silero-v6.2.0.bin';

/** voice.vad_model, or the file `helix-node models pull silero-vad` puts in the state directory. */
export function vadModelPath(voice: Pick<Config['voice'], 'vad_model'>, stateDir: string): string {
  return voice.vad_model || join(stateDir, 'models', SILERO_MODEL_FILE);
}
