/**
 * Router: the fast matcher over warm agents' phrase grammars and the LLM router over Ollama.
 */
export type { ArgValue, FastMatch, Intent, RouteOutcome, SlotValues } from './types.js';
export {
  parsePhrase,
  slotNames,
  requiredWords,
  PhraseSyntaxError,
  type PhraseNode,
} from './grammar.js';
export {
  tokenize,
  normaliseWords,
  readNumbers,
  type Token,
  type NumberReading,
} from './normalise.js';
export { compileFastMatcher, type FastMatcher } from './matcher.js';
export {
  buildIntentSchema,
  validateIntent,
  validateArgs,
  checkArg,
  allowedValues,
  resolveSlotValues,
  NO_AGENT,
  type JsonSchema,
  type ValidationResult,
  type ArgsResult,
} from './schema.js';
export { buildSystemPrompt } from './prompt.js';
export { samplePhrases, numberToWords, type PhraseSample, type SampleOptions } from './samples.js';
export {
  OllamaHttpClient,
  type OllamaApi,
  type ChatResult,
  type CallOptions,
  type OllamaHttpClientOptions,
} from './ollama.js';
export type {
  ChatRequest,
  ShowResponse,
  TagsResponse,
  PsResponse,
  PullProgress,
} from './ollama-wire.js';
export {
  LlmRouter,
  answerText,
  keepAliveValue,
  type LlmRouterOptions,
  type RouteOptions,
} from './llm.js';
export { routeTranscript, type RouteTranscriptOptions } from './route.js';
export {
  GrammarError,
  OllamaError,
  OllamaUnreachableError,
  OllamaModelMissingError,
  OllamaBadRequestError,
  OllamaBusyError,
  OllamaTimeoutError,
  OllamaServerError,
  OllamaProtocolError,
  type OllamaFailure,
} from './errors.js';
