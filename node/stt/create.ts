/** Picks and builds the node's STT engine from [stt] in helix.toml. */
import type { AgentManifest } from '../agents/manifest.js';
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
    case 'phrase':
      return PhraseRecogniser.create({
        manifests: deps.manifests ?? [],
        slotValues: deps.config ? slotValuesFromConfig(deps.config, deps.manifests ?? []) : {},
        pocketsphinx: deps.pocketsphinx,
      });
    case 'whisper':
      return WhisperEngine.create({
        model: stt.model,
        threads: stt.threads,
        language: stt.language,
      });
  }
}

/** Values for every `enum_from` path the manifests use: the keys of that config table (or its items). */
export function slotValuesFromConfig(
  config: Record<string, unknown>,
  manifests: readonly AgentManifest[],
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of manifests) {
    for (const intent of m.intents) {
      for (const arg of Object.values(intent.args)) {
        if (!arg.enum_from || out[arg.enum_from]) continue;
        const [section, key] = arg.enum_from.split('.') as [string, string];
        const table = (config[section] as Record<string, unknown> | undefined)?.[key];
        if (Array.isArray(table)) out[arg.enum_from] = table.map(String);
        else if (table && typeof table === 'object') out[arg.enum_from] = Object.keys(table);
      }
    }
  }
  return out;
}
