/**
 * agenthost: the AgentHost and ImageStore gRPC services of this node, and the client side that
 * places a run on the mesh (runAnywhere) and fetches images from peers (fetchImage).
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
export { PeerImageProvisioner, type PeerImageProvisionerOptions } from './provision.js';
export { runAnywhere, type RunAnywhereOptions } from './run.js';
export { dockerImageEngine } from './engine.js';
export { runnerExecutor } from './adapter.js';
export { peerTarget } from './target.js';
export { ImageTransferError, ImageUnavailableError } from './errors.js';
export type {
  AgentExecutor,
  HostedAgent,
  ImageEngine,
  ImageProvisioner,
  RemoteRunEvent,
  RemoteErrorCode,
} from './types.js';
