/** stt: speech-to-text engines behind one interface (Whisper, the constrained phrase recogniser). */
export type { SttEngine, Transcript, TranscriptSegment, TranscribeOptions } from './engine.js';
export { jsgfToFsg, fsgStates } from './fsg.js';
export { createSttEngine, type SttDeps } from './create.js';
export { probeStt, type SttProbe } from './probe.js';
export { WhisperEngine, type WhisperOptions } from './whisper.js';
export {
  PhraseRecogniser,
  loadDictionary,
  DEFAULT_MIN_FIT,
  DEFAULT_MIN_MARGIN,
  DEFAULT_MIN_MARGIN_ROOMLESS,
  DEFAULT_MIN_ROOMLESS_LEAD,
  DEFAULT_VARIANTS,
  type DecodeVariant,
  type PhraseRecogniserOptions,
  type PhraseTranscript,
} from './phrase.js';
export {
  decodeWithGrammar,
  grammarDictionary,
  DEFAULT_TOPN,
  withLiveCmn,
  parseHypseg,
  parseNbest,
  DEBIAN_MODEL_DIR,
  type DecodeGrammar,
  type PocketsphinxConfig,
  type PsResult,
  WarmDecoder,
} from './pocketsphinx.js';
