/**
 * The agents module's public face: the container runtime agents run in and its image store
 * (ContainerRuntime + ImageRuntime; Docker first, picked by createRuntime), loading agents from
 * disk, the sandbox, warm pool and cold runs, image builds and their registry. Manifests,
 * arguments and the protocol's types are agentspec's.
 */
export * from './errors.js';
export { loadAgents, loadAgent } from './loader.js';
export type { LoadAgentsOptions } from './loader.js';
export { buildImage, formatSize, IMAGE_SIZE_LIMIT_BYTES } from './images.js';
export type { BuildOptions, BuiltImage } from './images.js';
export { imageTag, DEFAULT_IMAGE_PREFIX, AGENT_USER } from './recipe.js';
export { sandboxFor } from './sandbox.js';
export type { SandboxOptions } from './sandbox.js';
export type {
  AgentRuntime,
  ContainerRuntime,
  ContainerHandle,
  ContainerExit,
  ContainerUsage,
  ExitCause,
  ImageEngine,
  ImageFile,
  ImageInfo,
  ImageRecipe,
  ImageRuntime,
  SandboxSpec,
} from './runtime.js';
export { createRuntime } from './create-runtime.js';
export type { RuntimeOptions } from './create-runtime.js';
export { DockerRuntime } from './docker/runtime.js';
export type { DockerRuntimeOptions } from './docker/runtime.js';
export { sandboxSpec, sandboxRunFlags, dockerCreateOptions } from './docker/sandbox.js';
export { DockerDemuxer } from './docker/demux.js';
export { dispatchCall } from './calls.js';
export {
  AGENT_IO_LIMITS,
  CallRateLimiter,
  TokenBucket,
  CALL_RATE_LIMITS,
  type AgentIoLimits,
  type RateLimit,
} from './limits.js';
export type { HostCalls, CallContext, CallOutcome } from './calls.js';
export { createMqttPublisher, publishTopicProblem } from './mqtt.js';
export type { MqttPublisher, MqttPublisherOptions } from './mqtt.js';
export { createHttpFetch, EgressRefusedError, interfaceAddresses } from './http-fetch.js';
export {
  checkEgressAddress,
  isPrivateAddress,
  parseAddress,
  IPV4_SPECIAL,
  IPV6_SPECIAL,
} from './egress-policy.js';
export type { AddressPolicyOptions, AddressVerdict } from './egress-policy.js';
export type { HttpFetchOptions } from './http-fetch.js';
export { AgentRunner, ImageMissingError } from './runner.js';
export { RunStats, type AgentRunStats } from './run-stats.js';
export type { AgentRunnerOptions } from './runner.js';
export { WarmPool, PoolUnavailableError } from './pool.js';
export type { WarmPoolOptions, WarmLease } from './pool.js';
export { AgentContainer, exitReason, LIMIT_HIT } from './container.js';
export type { ContainerDeps, ExitInfo, ExitReason } from './container.js';
export { Registry, pickEvictions, REGISTRY_FILE } from './registry.js';
export type { ImageRecord, ImageRemover, ImageUsage, RegistryOptions } from './registry.js';
export { LineSplitter } from './framing.js';
