/**
 * rpc: proto-generated types, the node's gRPC server, typed clients to peers, per-call mesh
 * proof, deadlines. Generated code lives in ./gen (run `npm run generate`); import it from here.
 */
export {
  RpcServer,
  listenHosts,
  joinHostPort,
  routeGrpcLogs,
  type RpcServerOptions,
} from './server.js';
export {
  RpcClients,
  peerTarget,
  targetKey,
  DEFAULT_CHANNEL_OPTIONS,
  type RpcClientsOptions,
  type RpcTarget,
} from './clients.js';
export {
  certificateNodeId,
  socketNodeId,
  TLS_SERVER_NAME,
  type RpcTls,
  type ClientTransport,
} from './tls.js';
export {
  callOptions,
  unaryCall,
  serverStream,
  untilConnected,
  CONNECT_GRACE_MS,
  toRpcError,
  isServiceError,
  RpcCallError,
  type CallScope,
} from './calls.js';
export {
  ProofVerifier,
  meshAuthServerInterceptor,
  meshAuthClientInterceptor,
  signCall,
  grpcKey,
  callerNodeId,
  PROOF_HEADERS,
  UNAUTHENTICATED_METHODS,
  DEFAULT_MAX_SKEW_MS,
  type ProofCheck,
  type ProofVerifierOptions,
  type AuthInterceptorOptions,
} from './auth.js';

// grpc-js pieces service implementations need, so other modules depend on rpc, not on grpc-js.
export {
  Metadata,
  status as GrpcStatus,
  type ServiceError,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServerReadableStream,
  type ServerDuplexStream,
  type ClientReadableStream,
  type ClientDuplexStream,
} from '@grpc/grpc-js';

export {
  MeshService,
  MeshClient,
  type MeshServer,
  JoinRequest,
  JoinResponse,
  JoinGrant,
  MeshMember,
  PingRequest,
  PingResponse,
} from './gen/helix/v1/mesh.js';
export {
  AgentHostService,
  AgentHostClient,
  type AgentHostServer,
  RunRequest as WireRunRequest,
  RunEvent as WireRunEvent,
  RunEvent_Accepted,
  RunEvent_Progress,
  RunEvent_Result,
  RunEvent_Error,
} from './gen/helix/v1/agent.js';
export {
  ImageStoreService,
  ImageStoreClient,
  type ImageStoreServer,
  ImageRef,
  ImageMeta,
  ImageChunk,
} from './gen/helix/v1/image.js';
export {
  ImageBlobsService,
  ImageBlobsClient,
  type ImageBlobsServer,
  ResolveRequest,
  BlobRequest,
  BlobDescriptor,
  BlobChunk,
} from './gen/helix/v1/registry.js';
export {
  TranscriberService,
  TranscriberClient,
  type TranscriberServer,
  AudioChunk,
  Transcript as WireTranscript,
  TranscriptSegment,
  TranscriptEvent,
  Interpretation as WireInterpretation,
} from './gen/helix/v1/transcriber.js';
export {
  RouterService,
  RouterClient,
  type RouterServer,
  RouteRequest,
  RouteReply,
  Intent as WireIntent,
  NotUnderstood,
} from './gen/helix/v1/router.js';
export {
  LlmService,
  LlmClient,
  type LlmServer,
  LlmGenerateRequest,
  LlmGenerateReply,
} from './gen/helix/v1/llm.js';
export {
  ModelsService,
  ModelsClient,
  type ModelsServer,
  PullLlmRequest,
  PullLlmProgress,
} from './gen/helix/v1/models.js';
export {
  KeysService,
  KeysClient,
  type KeysServer,
  RotatedRequest,
  RotatedResponse,
  RekeyRequest,
  RekeyResponse,
} from './gen/helix/v1/keys.js';
