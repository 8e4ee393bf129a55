/**
 * Router: the LLM router over Ollama, and routing a transcript (the fast matcher first; it is
 * compiled from the command language in agentspec).
 */
export type { RouteOutcome } from './types.js';
export { buildSystemPrompt, buildUserMessage } from './prompt.js';
export {
  OllamaHttpClient,
  type OllamaApi,
  type ChatResult,
  type CallOptions,
  type OllamaHttpClientOptions,
} from './ollama.js';
export type { ChatRequest, ShowResponse, PullProgress } from './ollama-wire.js';
export {
  LlmRouter,
  answerText,
  keepAliveValue,
  type LlmRouterOptions,
  type RouteOptions,
} from './llm.js';
export {
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
