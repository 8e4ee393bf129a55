/**
 * The daemon side of voice, wired in one place: the Transcriber (when this node has an STT
 * engine) and Router gRPC services, router-model pulls for peers, traces on the bus, reply
 * speech, the pipeline, and the mic loop (voice.enabled). The daemon calls startVoiceServices
 * before rpc.start(), its control routes (control/routes) before control.start(), and startListening once the node
 * is up; stop() undoes it all.
 */
import path from 'node:path';
import type { AgentManifest, IntentRequest } from '../agentspec/index.js';
import type { RemoteRunEvent, ServiceContext } from '../agenthost/index.js';
import type { Bus, Subscription } from '../bus/index.js';
import { describeError } from '../errors.js';
import { pullRouterModel, registerModels } from '../models/index.js';
import { LlmRouter, OllamaHttpClient } from '../router/index.js';
import {
  createTranscribeRemote,
  registerTranscriber,
  type SttEngine,
} from '../transcribe/index.js';
import { createSpeaker, speakerOptionsFromConfig, type Speaker } from '../tts/index.js';
import {
  arecordSource,
  loadSileroModel,
  pcmSource,
  readWavFile,
  segmenterOptionsFromConfig,
  SileroVad,
  type AudioSource,
  type Pcm16,
  type SileroModel,
} from '../voice/index.js';
import { Arbiter, busHeardChannel } from './heard.js';
import { busContextChannel, ContextStore } from './context.js';
import { FOLLOWUP_MANIFEST } from './followup.js';
import { captureUtterance, listenToFile, VoiceLoop } from './listen.js';
import { Pipeline, type NodeRoom, type PipelineEvent, type PipelineResult } from './pipeline.js';
import { pipelineRun } from './run.js';
import { registerRouter, createRouteRemote } from './router-service.js';
import { busTracePublisher, collectTraces, TraceStore } from './traces.js';
import { Vocabulary, type VocabularySettings } from './vocabulary.js';

export interface VoiceServicesComponents extends ServiceContext {
  /** traces are published on it */
  bus: Bus;
  /** the agents this node knows (agenthost's AgentServices fits) */
  agents: {
    readonly agents: ReadonlyMap<string, { manifest: AgentManifest; hash: string }>;
    runIntent(
      req: IntentRequest & { traceId?: string },
      opts?: { signal?: AbortSignal },
    ): AsyncIterable<RemoteRunEvent>;
    /** notes agents send this node (a timer that went off): spoken here, in its room */
    onNotify?(listener: (note: { text: string; agent: string; from: string }) => void): () => void;
  };
  /** this node's STT engine (node/stt, per stt.engine), or null when it has none */
  stt: SttEngine | null;
  /** the mic; default arecord on voice.device */
  audioSource?: AudioSource;
  /**
   * the mesh settings (settings.store): their rooms are what the matcher, the grammar and the
   * LLM schema know, rebuilt when they change; absent: helix.toml's [lights.rooms]
   */
  settings?: VocabularySettings | null;
  /**
   * the mesh id and secret: with them, the mic loop announces what it hears on the bus (signed
   * with the mesh's voice key) and acts only when this node's mic heard it best
   */
  mesh?: { meshId: string; secret: Uint8Array };
  /**
   * the room this node is in (settings nodes.<id>.room), for the announcements, commands said
   * without a room and follow-ups; helix.toml node.room when the mesh setting is not there
   */
  room?: () => string | undefined;
}

/** The voice services as the control socket sees them (control/routes/voice.ts). */
export interface VoiceControlDeps {
  pipeline: Pipeline;
  traces: TraceStore;
  selfId: string;
  /** the mic loop; null on nodes without a mic (listen then says so) */
  voice: VoiceLoop | null;
  /**
   * `listen --once --file X.wav`: one command from a WAV file fed through the VAD like the mic
   * (the daemon binds it to its VAD model and pipeline); absent: files are refused
   */
  listenFile?: (
    file: string,
    opts: { signal: AbortSignal; timeoutMs: number; onEvent: (e: PipelineEvent) => void },
  ) => Promise<PipelineResult | null>;
  /**
   * `transcribe FILE.wav`: the speech in the file cut by the same VAD and segmenter settings as
   * `listen` and the mic (not realtime-paced), so `transcribe` predicts what `listen` does; null
   * when the VAD hears no speech. Throws when the VAD model is not there.
   */
  cutFile?: (pcm: Pcm16, signal: AbortSignal) => Promise<Pcm16 | null>;
  /** router.model */
  routerModel: string;
  /** models.pullRouterModel bound to the daemon's view, bus and local Ollama */
  pullRouterModel?: (opts: {
    model: string;
    on?: string;
    signal: AbortSignal;
    onProgress: (p: { status: string; completedBytes?: number; totalBytes?: number }) => void;
  }) => Promise<{ node: string }>;
}

export interface VoiceServices {
  readonly pipeline: Pipeline;
  readonly traces: TraceStore;
  /** the mic loop, when voice.enabled and the VAD model loaded */
  readonly voice: VoiceLoop | null;
  readonly speaker: Speaker;
  /** what POST /v1/say, /v1/transcribe, /v1/listen, /v1/models/pull-router and GET /v1/trace call */
  readonly control: VoiceControlDeps;
  /** the matcher's, the grammar's and the LLM schema's slot values, following the settings */
  readonly vocabulary: Vocabulary;
  /** the conversation contexts of the mesh's rooms (follow-ups) */
  readonly context: ContextStore;
  /** starts the mic loop (no-op without one); every command's result goes to onResult */
  startListening(onResult?: (r: PipelineResult) => void): void;
  stop(): Promise<void>;
}

export async function startVoiceServices(c: VoiceServicesComponents): Promise<VoiceServices> {
  const log = c.logger.child({ component: 'voice' });
  const { config } = c;
  const manifests = [...c.agents.agents.values()].map((a) => a.manifest);
  const subs: Subscription[] = [];

  // Router: every node serves Router.Route over its own Ollama; placement only sends requests to
  // nodes that advertise Ollama, and one without it answers "unavailable" with what to do.
  const ollama = new OllamaHttpClient({
    url: config.router.ollama_url,
    timeoutMs: config.router.timeout_ms,
  });
  const llm = LlmRouter.fromConfig(config.router, manifests, {}, { logger: log });
  // One set of slot values for the fast matcher, the phrase grammar and the LLM schema: the
  // mesh's rooms over helix.toml, rebuilt (debounced) when a room setting changes.
  // Follow-up phrases ("turn them off") are matched like commands and resolved from the room's
  // context; the LLM is told the context instead, so they stay out of its schema.
  const followUps = config.voice.context_ttl_s > 0;
  const vocabulary = new Vocabulary({
    manifests: followUps ? [...manifests, FOLLOWUP_MANIFEST] : manifests,
    config: config as unknown as Record<string, unknown>,
    settings: c.settings,
    users: [llm, c.stt],
    logger: log,
  });
  vocabulary.start();
  registerRouter(c.rpc, {
    router: llm,
    model: config.router.model,
    selfName: c.identity.name,
    logger: log,
  });
  if (c.stt) {
    registerTranscriber(c.rpc, {
      engine: c.stt,
      selfName: c.identity.name,
      logger: log,
      debugCaptureDir: config.voice.debug_capture_dir,
    });
  }
  registerModels(c.rpc, { selfName: c.identity.name, api: ollama, logger: log });

  const traces = new TraceStore();
  subs.push(collectTraces(c.bus, traces, { selfId: c.identity.id, logger: log }));

  let speaker: Speaker;
  try {
    speaker = await createSpeaker(speakerOptionsFromConfig(config.voice));
  } catch (err) {
    log.warn({ err: describeError(err) }, 'reply speech is off');
    speaker = await createSpeaker({ engine: 'none' });
  }

  // The room of this node: the mesh setting, else helix.toml's node.room.
  const nodeRoom = (): NodeRoom | null => {
    const set = c.room?.();
    if (set) return { name: set, from: 'setting' };
    return config.node.room ? { name: config.node.room, from: 'config' } : null;
  };
  const context = new ContextStore({
    ttlMs: config.voice.context_ttl_s * 1000,
    channel: c.mesh
      ? busContextChannel(c.bus, {
          meshId: c.mesh.meshId,
          secret: c.mesh.secret,
          selfId: c.identity.id,
          logger: log,
        })
      : null,
    logger: log,
  });
  context.start();
  const intentArgs = (agent: string, intent: string): readonly string[] | null => {
    const spec = manifests.find((m) => m.name === agent)?.intents.find((i) => i.name === intent);
    return spec ? Object.keys(spec.args) : null;
  };

  const pipeline = new Pipeline({
    selfId: c.identity.id,
    view: c.view,
    stt: c.stt,
    transcribeRemote: createTranscribeRemote(c.clients),
    fastMatcher: vocabulary.matcher,
    routeRemote: createRouteRemote(c.clients, { timeoutMs: config.router.timeout_ms }),
    localLlmRouter: llm,
    routerModel: config.router.model,
    runIntent: pipelineRun((req, opts) => c.agents.runIntent(req, opts)),
    speak: speaker.engine ? (text, opts) => speaker.speak(text, opts) : null,
    publishTrace: busTracePublisher(c.bus, log),
    traces,
    logger: log,
    language: config.stt.language,
    routeTimeoutMs: config.router.timeout_ms,
    room: nodeRoom,
    context,
    intentArgs,
  });

  // A timer rings where it was set: its agent notifies the node that ran the command (the one
  // whose mic heard it), and that node speaks the note on its own speaker.
  const unnotify = c.agents.onNotify?.((note) => {
    const room = nodeRoom()?.name;
    log.info({ agent: note.agent, room: room ?? null }, `ringing here: ${note.text}`);
    if (!speaker.engine) return;
    speaker
      .speak(note.text, { signal: AbortSignal.timeout(30_000) })
      .catch((err: unknown) =>
        log.warn({ err: describeError(err) }, 'could not speak a notification'),
      );
  });

  let onResult: ((r: PipelineResult) => void) | undefined;
  let voice: VoiceLoop | null = null;
  const vadPath =
    config.voice.vad_model || path.join(c.stateDir, 'models', 'ggml-silero-v6.2.0.bin');
  let arbiter: Arbiter | null = null;
  if (config.voice.enabled) {
    try {
      const model = await loadSileroModel(vadPath);
      if (c.mesh) {
        arbiter = new Arbiter({
          channel: busHeardChannel(c.bus, {
            meshId: c.mesh.meshId,
            secret: c.mesh.secret,
            selfId: c.identity.id,
            logger: log,
          }),
          selfId: c.identity.id,
          selfName: c.identity.name,
          room: () => nodeRoom()?.name,
          view: c.view,
          logger: log,
        });
        arbiter.start();
      }
      voice = new VoiceLoop({
        source: c.audioSource ?? arecordSource({ device: config.voice.device }),
        detector: () => new SileroVad(model),
        segmenter: segmenterOptionsFromConfig(config.voice),
        pipeline,
        logger: log,
        debugCaptureDir: config.voice.debug_capture_dir,
        onResult: (r) => onResult?.(r),
        onError: (err) => log.warn({ err: describeError(err) }, 'the mic is not working'),
        ...(arbiter ? { arbiter } : {}),
      });
    } catch (err) {
      log.warn({ err: describeError(err) }, 'voice.enabled, but this node cannot listen');
    }
  }

  // `listen --once --file` and `transcribe`: loaded on first use, so nodes without a mic need the
  // model only then.
  let vadModel: Promise<SileroModel> | null = null;
  const loadVad = (): Promise<SileroModel> =>
    (vadModel ??= loadSileroModel(vadPath).catch((err: unknown) => {
      vadModel = null;
      throw err;
    }));
  const cutFile: VoiceControlDeps['cutFile'] = async (pcm, signal) => {
    const model = await loadVad();
    const u = await captureUtterance({
      source: pcmSource(pcm),
      detector: () => new SileroVad(model),
      segmenter: segmenterOptionsFromConfig(config.voice),
      signal,
    });
    return u ? u.pcm : null;
  };
  const listenFile: VoiceControlDeps['listenFile'] = async (file, opts) => {
    const model = await loadVad();
    const clip = await readWavFile(file, { signal: opts.signal });
    return listenToFile(clip.pcm, {
      pipeline,
      detector: () => new SileroVad(model),
      segmenter: segmenterOptionsFromConfig(config.voice),
      logger: log,
      ...opts,
    });
  };

  return {
    pipeline,
    traces,
    voice,
    speaker,
    vocabulary,
    context,
    control: {
      pipeline,
      traces,
      selfId: c.identity.id,
      voice,
      listenFile,
      cutFile,
      routerModel: config.router.model,
      pullRouterModel: ({ model, on, signal, onProgress }) =>
        pullRouterModel({
          model,
          on,
          view: c.view(),
          clients: c.clients,
          localApi: ollama,
          pull: { signal, onProgress },
        }),
    },
    startListening(listener) {
      onResult = listener;
      voice?.start();
    },
    async stop() {
      vocabulary.stop();
      context.stop();
      unnotify?.();
      await voice?.stop();
      arbiter?.stop();
      for (const s of subs) s.unsubscribe();
    },
  };
}
