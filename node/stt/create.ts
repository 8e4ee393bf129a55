/** Picks and builds the node's STT engine from [stt] in helix.toml. */
import { resolveSlotValues, type AgentManifest } from '../agentspec/index.js';
import type { Config } from '../config/index.js';
import type { SttEngine } from './engine.js';
import { PhraseRecogniser } from './phrase.js';
import type { PocketsphinxConfig } from './pocketsphinx.js';
import { WhisperEngine } from './whisper.js';

export interface SttDeps {
  /** installed agents (the phrase engine's grammar comes from the warm ones) */
  manifests?: readonly AgentManifest[];
  /** the whole config, for enum_from tables such as lights.rooms */
  config?: Pick<Config, 'lights'> & Record<string, unknown>;
  pocketsphinx?: PocketsphinxConfig;
}

/** The configured engine, or null for engine = "none". Throws DependencyMissingError with the fix. */
export async function createSttEngine(
  stt: Config['stt'],
  deps: SttDeps = {},
): Promise<SttEngine | null> {
  switch (stt.engine) {
    case 'none':
      return null;
    case 'phrase': {
      const recogniser = await PhraseRecogniser.create({
        manifests: deps.manifests ?? [],
        slotValues: deps.config ? resolveSlotValues(deps.manifests ?? [], deps.config) : {},
        pocketsphinx: deps.pocketsphinx,
        optionalEnumSlots: stt.roomless,
      });
      // the decoders load their model now, not with the first utterance; a decoder that cannot
      // start says why when that utterance comes
      recogniser.warm().catch(() => undefined);
      return recogniser;
    }
    case 'whisper':
      return WhisperEngine.create({
        model: stt.model,
        threads: stt.threads,
        language: stt.language,
      });
  }
}
