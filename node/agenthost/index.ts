/**
 * agenthost: the agent side of the daemon over node/agents' container runtime — the AgentHost and
 * ImageStore gRPC services, loading agents and their registry, warm-up, the host calls agents make
 * (MQTT, fetch, LLM, mesh status, notify), and the client side: one runIntent for `helix-node run`
 * and the voice pipeline, placing a run on the mesh (runAnywhere) and fetching images from peers.
 */
export { agentHostService, type AgentHostComponents } from './server.js';
export {
  imageStoreService,
  spool,
  DEFAULT_CHUNK_BYTES,
  type ImageStoreComponents,
} from './imagestore.js';
export {
  fetchImage,
  tarRepoTags,
  DEFAULT_MAX_IMAGE_BYTES,
  type FetchImageOptions,
  type FetchedImage,
} from './fetch.js';
export {
  PeerImageProvisioner,
  IMAGE_PROVENANCE,
  type PeerImageProvisionerOptions,
} from './provision.js';
export { runAnywhere, type RunAnywhereOptions } from './run.js';
export { runnerExecutor } from './adapter.js';
export {
  AgentBuildFailedError,
  ImageTransferError,
  ImageUnavailableError,
  UnknownAgentError,
  ImageInUseError,
} from './errors.js';
export {
  startAgentServices,
  type AgentControl,
  type AgentServices,
  type AgentServicesComponents,
  type ServiceContext,
} from './service.js';
export { checkRun, runIntent, type RunCheck, type RunIntentDeps } from './intent.js';
export { AgentCatalog, unknownAgentMessage, type CatalogDeps } from './catalog.js';
export { meshStatus, roles, type SelfRuns } from './mesh-status.js';
export { createLlmGenerate, llmService, noLlmMessage, type LlmOptions } from './llm.js';
export {
  Notifier,
  NotificationSchema,
  notifySubject,
  type Notification,
  type NotifyListener,
  type NotifierOptions,
} from './notify.js';
export { shippedAgentsDir, agentDirs } from './locate.js';
export type {
  AgentAdvert,
  AgentDetail,
  AgentImageInfo,
  AgentList,
  AgentSummary,
  BuildEvent,
  RemoveResult,
  RunIntentRequest,
} from './catalog-types.js';
export type {
  AgentExecutor,
  HostedAgent,
  ImageEngine,
  ImageProvisioner,
  RemoteRunEvent,
  RemoteErrorCode,
} from './types.js';
