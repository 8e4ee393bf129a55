/**
 * agentsvc: the daemon side of agents — loading them, the registry, the AgentHost and ImageStore
 * services, host calls (MQTT, fetch, LLM, mesh status, notify), warm pools and the control routes
 * behind `helix-node agents …` and `helix-node run`.
 */
export { startAgentServices, type AgentServices, type AgentServicesComponents } from './service.js';
export { checkRun, runIntent, type RunCheck, type RunIntentDeps } from './run.js';
export { AgentCatalog, unknownAgentMessage, type CatalogDeps } from './catalog.js';
export { meshStatus, roles, type SelfRuns } from './mesh-status.js';
export {
  createLlmGenerate,
  serveLlmOnBus,
  llmSubject,
  noLlmMessage,
  type LlmOptions,
} from './llm.js';
export {
  Notifier,
  NotificationSchema,
  notifySubject,
  type Notification,
  type NotifyListener,
  type NotifierOptions,
} from './notify.js';
export { shippedAgentsDir, agentDirs } from './locate.js';
export { UnknownAgentError, ImageInUseError } from './errors.js';
export type {
  AgentAdvert,
  AgentDetail,
  AgentImageInfo,
  AgentList,
  AgentSummary,
  BuildEvent,
  RemoveResult,
  RunIntentRequest,
} from './types.js';
