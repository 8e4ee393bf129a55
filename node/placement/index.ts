/** Placement: pure functions that pick the transcriber, the router and the agent host from the view. */
export {
  pickAgentHost,
  sameImageHash,
  peersSharingImage,
  imageBuilders,
  imageSource,
  platformOf,
  buildablePlatformsText,
  minBy,
  LOAD_STEP,
  IMAGE_MISSING_COST,
  IMAGE_HASH_DIGITS,
  type AgentPlacementRequest,
  type AgentPlacement,
} from './agents.js';
export { pickTranscriber, type TranscriberPlacement } from './transcriber.js';
export { pickRouterPeer, noRouterLlmMessage, sameModel } from './router.js';
