/**
 * models: the Whisper/VAD model registry, `helix-node models list | check | pull` for model files
 * in <stateDir>/models, and pulling the router LLM with Ollama on the node that routes.
 */
export {
  KNOWN_MODELS,
  HUGGING_FACE,
  findModel,
  modelsDir,
  modelUrl,
  humanBytes,
  knownNames,
  type ModelKind,
  type ModelSpec,
} from './registry.js';
export { hashFile, checksumProblem, DigestStream, type Digests } from './checksum.js';
export {
  listModels,
  checkModels,
  type ModelEntry,
  type ModelCheckResult,
  type StoreOptions,
} from './store.js';
export {
  pullModel,
  type PullModelOptions,
  type PulledModel,
  type ModelPullProgress,
} from './download.js';
export {
  pullWithOllama,
  pullOnPeer,
  pullRouterModel,
  modelsService,
  registerModels,
  explainPullFailure,
  LlmPullError,
  type LlmPullOptions,
  type LlmPullProgress,
} from './llm-pull.js';
export {
  UnknownModelError,
  ModelChecksumError,
  ModelHostUnreachableError,
  ModelDownloadError,
} from './errors.js';
