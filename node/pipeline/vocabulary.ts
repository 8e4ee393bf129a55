/**
 * What the voice services can hear and route, kept in step with the mesh settings (issue 9,
 * "Speech follows the house"): the fast matcher, the phrase recogniser's grammar and the LLM
 * router's schema are all built from one set of slot values, resolved by agentspec's
 * resolveSlotValues over helix.toml with the mesh settings laid over it (settings'
 * overlayMeshSettings: the mesh's rooms become `lights.rooms`). A burst of room changes (a
 * `rooms` edit, a peer's full state arriving) is debounced into one rebuild.
 */
import {
  compileFastMatcher,
  resolveSlotValues,
  type AgentManifest,
  type FastMatch,
  type FastMatcher,
  type SlotValues,
} from '../agentspec/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import {
  affectsVocabulary,
  overlayMeshSettings,
  type MeshSettings,
  type SettingsChangeListener,
} from '../settings/index.js';

/** Something that takes new slot values (the phrase recogniser, the LLM router). */
export interface SlotValuesUser {
  setSlotValues?(slotValues: SlotValues): void;
}

/** The part of the settings store the vocabulary reads. */
export interface VocabularySettings {
  settings(): Pick<MeshSettings, 'rooms' | 'found' | 'lights' | 'mqtt'>;
  onChange(listener: SettingsChangeListener): () => void;
}

export interface VocabularyOptions {
  manifests: readonly AgentManifest[];
  /** helix.toml (or any config tree): what enum_from paths resolve against under the overlay */
  config: Record<string, unknown>;
  /** the mesh settings; absent: helix.toml alone, never rebuilt */
  settings?: VocabularySettings | null;
  /** told the new slot values on every rebuild (STT engine, LLM router) */
  users?: readonly (SlotValuesUser | null | undefined)[];
  /** wait this long after a change for more before rebuilding (default 100 ms) */
  debounceMs?: number;
  logger?: Logger;
  /** a rebuild finished (tests, benchmarks) */
  onRebuild?: (info: { ms: number; slotValues: SlotValues }) => void;
}

/** The current slot values and fast matcher; `matcher` delegates to whichever is current. */
export class Vocabulary {
  #slotValues: SlotValues;
  #matcher: FastMatcher;
  #timer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;
  #rebuilds = 0;
  readonly #opts: VocabularyOptions;
  readonly #log: Logger;

  constructor(opts: VocabularyOptions) {
    this.#opts = opts;
    this.#log = opts.logger ?? silentLogger;
    this.#slotValues = this.#resolve();
    this.#matcher = compileFastMatcher(opts.manifests, this.#slotValues);
    const current = (): FastMatcher => this.#matcher;
    this.matcher = {
      match: (text: string): FastMatch | null => current().match(text),
      unknownValue: (text: string) => current().unknownValue?.(text) ?? null,
      get phraseCount(): number {
        return current().phraseCount;
      },
    };
    for (const user of opts.users ?? []) user?.setSlotValues?.(this.#slotValues);
  }

  /** Follows the settings' room keys until stop(). */
  start(): void {
    const settings = this.#opts.settings;
    if (!settings || this.#unsubscribe) return;
    this.#unsubscribe = settings.onChange((change) => {
      if (affectsVocabulary(change.keys)) this.schedule();
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  get slotValues(): SlotValues {
    return this.#slotValues;
  }

  /** How many rebuilds ran since construction (tests). */
  get rebuilds(): number {
    return this.#rebuilds;
  }

  /** A matcher that always asks the current one (hand it to the pipeline once). */
  readonly matcher: FastMatcher;

  /** Rebuild after debounceMs unless another change comes first. */
  schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.rebuild();
    }, this.#opts.debounceMs ?? 100);
    this.#timer.unref?.();
  }

  /** Resolve the slot values again and swap the matcher, the grammar and the schema now. */
  rebuild(): void {
    const started = performance.now();
    try {
      const slotValues = this.#resolve();
      const matcher = compileFastMatcher(this.#opts.manifests, slotValues);
      for (const user of this.#opts.users ?? []) user?.setSlotValues?.(slotValues);
      this.#slotValues = slotValues;
      this.#matcher = matcher;
      this.#rebuilds++;
      const ms = performance.now() - started;
      this.#log.info(
        {
          ms: Math.round(ms * 10) / 10,
          phrases: matcher.phraseCount,
          slots: countValues(slotValues),
        },
        'speech vocabulary rebuilt from the mesh settings',
      );
      this.#opts.onRebuild?.({ ms, slotValues });
    } catch (err) {
      this.#log.error(
        { err: describeError(err) },
        'speech vocabulary rebuild failed; kept the old one',
      );
    }
  }

  #resolve(): SlotValues {
    const settings = this.#opts.settings;
    const tree = settings
      ? overlayMeshSettings(this.#opts.config, settings.settings())
      : this.#opts.config;
    return resolveSlotValues(this.#opts.manifests, tree);
  }
}

function countValues(slotValues: SlotValues): Record<string, number> {
  return Object.fromEntries(Object.entries(slotValues).map(([k, v]) => [k, v.length]));
}
