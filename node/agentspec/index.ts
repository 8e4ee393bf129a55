/**
 * agentspec: what an agent is and how it is spoken to, with no I/O (DESIGN.md §2). The agent
 * manifest, the one argument validator, the host <-> agent protocol, slot values, and the
 * command language: one phrase parser whose tree compiles to the fast matcher, the recogniser's
 * JSGF grammar, the LLM's JSON schema and sample phrases; one reader of spoken numbers.
 */
export { ManifestError, GrammarError } from './errors.js';
export {
  MANIFEST_FILE,
  HOST_CALLS,
  ArgSchema,
  IntentSchema,
  ManifestSchema,
  parseManifest,
  validateManifest,
  type HostCall,
  type ArgSpec,
  type IntentSpec,
  type AgentManifest,
} from './manifest.js';
export type { IntentRequest, IntentCall, Intent, FastMatch } from './intent.js';
export { IntentCallSchema } from './intent.js';
export {
  allowedValues,
  resolveSlotValues,
  configValue,
  pickContext,
  currentConfig,
  type ArgValue,
  type SlotValues,
  type ConfigTree,
  type ConfigSource,
} from './slots.js';
export {
  validateArgs,
  validateTaskArgs,
  checkArg,
  type ArgsCheck,
  type ValidateArgsOptions,
} from './args.js';
export * from './protocol.js';
export {
  runError,
  type RunRequest,
  type RunErrorCode,
  type RunEvent,
  type RunErrorEvent,
  type LoadedAgent,
} from './run.js';
export { tokenize, normaliseWords, type Token } from './normalise.js';
export { numberToWords, readNumbers, type NumberReading } from './numbers.js';
export {
  parsePhrase,
  slotNames,
  repeatedSlots,
  requiredWords,
  trimPoliteness,
  POLITE_OPENINGS,
  POLITE_CLOSINGS,
  PhraseSyntaxError,
  type PhraseNode,
} from './phrase.js';
export { compileFastMatcher, type FastMatcher, type UnknownValue } from './matcher.js';
export {
  buildPhraseGrammar,
  fnv1a,
  DECOY_SLOT_VALUES,
  DECOY_APPLIANCES,
  DECOY_SENTENCES,
  type PhraseGrammar,
  type PhraseGrammarOptions,
  type PhraseInterpretation,
  type SkippedPhrase,
} from './jsgf.js';
export {
  buildIntentSchema,
  validateIntent,
  NO_AGENT,
  type JsonSchema,
  type ValidationResult,
} from './schema.js';
export { samplePhrases, type PhraseSample, type SampleOptions } from './samples.js';
