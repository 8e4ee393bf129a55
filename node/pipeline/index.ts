/**
 * pipeline: utterance -> transcript -> intent -> run -> reply, with a trace of every hop; the
 * Router gRPC service; the mic loop; what the voice commands' control routes call (VoiceControlDeps).
 */
export {
  Pipeline,
  type PipelineDeps,
  type PipelineEvent,
  type PipelineResult,
  type TranscriptionResult,
  type CommandOptions,
  type UtteranceOptions,
  type RouteRemote,
  type LocalLlmRouter,
  type RunIntent,
  type Speak,
  type NodeRoom,
} from './pipeline.js';
export {
  STAGES,
  TraceSchema,
  TraceHopSchema,
  TraceRecorder,
  TRACE_SUBJECT_PREFIX,
  traceSubject,
  newTraceId,
  type Stage,
  type Trace,
  type TraceHop,
  type TraceHeard,
  type TraceIntent,
  type TraceSource,
  type TraceRoom,
  type TraceContext,
} from './trace.js';
export {
  ContextCodec,
  ContextStore,
  busContextChannel,
  resultScalars,
  CONTEXT_SUBJECT,
  DEFAULT_CONTEXT_TTL_MS,
  type ContextChannel,
  type ContextDropReason,
  type ContextEntry,
  type ContextLookup,
  type ContextStoreOptions,
  type ConversationContext,
} from './context.js';
export {
  FOLLOWUP_AGENT,
  FOLLOWUP_MANIFEST,
  BRIGHTNESS_STEP,
  describeContext,
  isFollowUp,
  resolveFollowUp,
  type FollowUpKind,
  type FollowUpResolution,
} from './followup.js';
export { TraceStore, DEFAULT_TRACE_CAPACITY, busTracePublisher, collectTraces } from './traces.js';
export { replies, sentence } from './replies.js';
export {
  routerService,
  registerRouter,
  createRouteRemote,
  type RouterServiceOptions,
} from './router-service.js';
export { createRunIntent, pipelineRun, type AgentRun, type RunIntentDeps } from './run.js';
export {
  VoiceLoop,
  captureUtterance,
  listenToFile,
  utterances,
  type VoiceLoopOptions,
  type CaptureOptions,
  type CapturedUtterance,
} from './listen.js';
export {
  arbitrate,
  compareHeard,
  decidedEarly,
  describeHeard,
  sameUtterance,
  ARBITRATION_DEFAULTS,
  type HeardUtterance,
  type Verdict,
} from './arbitration.js';
export {
  Arbiter,
  HeardCodec,
  YieldedError,
  busHeardChannel,
  HEARD_SUBJECT,
  type ArbiterOptions,
  type ArbitrationResult,
  type HeardChannel,
  type HeardDropReason,
  type OwnHearing,
} from './heard.js';
export {
  startVoiceServices,
  type VoiceControlDeps,
  type VoiceServices,
  type VoiceServicesComponents,
} from './service.js';
