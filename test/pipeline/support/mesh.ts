/**
 * A three-node mesh in one process for pipeline tests, every hop real gRPC with mesh auth:
 *   pi-kitchen (127.0.6.x, mic, no STT, no Docker): owns the pipeline
 *   desk       (STT, GPU, Ollama -> a stand-in Ollama): Transcriber + Router services
 *   laptop     (Docker): AgentHost service over an executor that records what it ran
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  type AgentManifest,
  type LoadedAgent,
  type RunEvent,
  type RunRequest,
  compileFastMatcher,
  type SlotValues,
} from '../../../node/agentspec/index.js';
import { loadAgents } from '../../../node/agents/index.js';
import { hostOnlyCapabilities } from '../../../node/capabilities/index.js';
import {
  agentHostService,
  type AgentExecutor,
  type HostedAgent,
} from '../../../node/agenthost/index.js';
import { AgentHostService, RpcClients, RpcServer } from '../../../node/rpc/index.js';
import { LlmRouter, OllamaHttpClient } from '../../../node/router/index.js';
import {
  createRouteRemote,
  createRunIntent,
  Pipeline,
  registerRouter,
  TraceStore,
  type PipelineDeps,
  type Trace,
} from '../../../node/pipeline/index.js';
import {
  createTranscribeRemote,
  registerTranscriber,
  type SttEngine,
  type Transcript,
} from '../../../node/transcribe/index.js';
import type { Capabilities, PeerView } from '../../../node/types.js';
import { floatToInt16, resample, type Pcm16 } from '../../../node/voice/index.js';
import { createSpeaker } from '../../../node/tts/index.js';
import { repoRoot } from '../../voice/shared-data.js';

export const SLOT_VALUES: SlotValues = { 'lights.rooms': ['kitchen', 'living room', 'bedroom'] };

export function fingerprint(pcm: Int16Array): string {
  return createHash('sha256')
    .update(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength))
    .digest('hex');
}

/**
 * An STT engine that knows the utterances the test synthesized: it recognises audio by its exact
 * samples, so a transcript comes back only if every sample crossed the wire intact.
 */
export class DictationEngine implements SttEngine {
  readonly name = 'dictation';
  readonly model = 'test';
  private readonly known = new Map<string, string>();
  heard: number[] = [];

  learn(pcm: Int16Array, text: string): void {
    this.known.set(fingerprint(pcm), text);
  }

  async transcribe(pcm: Pcm16): Promise<Transcript> {
    this.heard.push(pcm.length);
    const text = this.known.get(fingerprint(pcm)) ?? '';
    return {
      text,
      language: 'en',
      confidence: text ? 0.9 : 0,
      segments: text ? [{ start: 0, end: pcm.length / 16000, text }] : [],
    };
  }

  async close(): Promise<void> {}
}

/** espeak-ng speech as 16 kHz mono Int16. */
export async function speech(text: string): Promise<Int16Array> {
  const speaker = await createSpeaker({ engine: 'espeak-ng' });
  const audio = await speaker.synthesize(text);
  const float = new Float32Array(audio.pcm.length);
  for (let i = 0; i < float.length; i++) float[i] = audio.pcm[i]! / 32768;
  return floatToInt16(resample(float, audio.sampleRate, 16000));
}

/** Runs whatever it is asked with the given answer; records each request. */
export class RecordingExecutor implements AgentExecutor {
  readonly runs: RunRequest[] = [];
  answer: (req: RunRequest) => RunEvent[] = (req) => [
    { type: 'result', text: `${req.agent}.${req.intent} ${JSON.stringify(req.args)}`, data: null },
  ];
  private readonly agents = new Map<string, HostedAgent>();

  constructor(agents: readonly LoadedAgent[]) {
    for (const a of agents)
      this.agents.set(a.manifest.name, { manifest: a.manifest, hash: a.hash });
  }

  agent(name: string): HostedAgent | undefined {
    return this.agents.get(name);
  }

  agentNames(): string[] {
    return [...this.agents.keys()];
  }

  async *run(request: RunRequest): AsyncIterable<RunEvent> {
    this.runs.push(request);
    yield {
      type: 'accepted',
      agent: request.agent,
      intent: request.intent,
      taskId: 't1',
      host: 'laptop',
      warm: true,
      container: 'c1',
    };
    for (const e of this.answer(request)) yield e;
  }
}

export function peerView(p: {
  name: string;
  host: string;
  port: number;
  self?: boolean;
  caps?: Partial<Capabilities>;
  warm?: Array<{ agent: string; hash: string }>;
  rttMs?: number;
}): PeerView {
  return {
    id: `id-${p.name}`,
    name: p.name,
    state: 'alive',
    self: p.self ?? false,
    addresses: [p.host],
    version: '0.1.0',
    capabilities: hostOnlyCapabilities({ cpus: 4, memTotalMiB: 8192 }, p.caps),
    load: { runningAgents: 0, loadAvg1: 0, loadPerCore: 0, memFreeMiB: 4096 },
    warmPool: (p.warm ?? []).map((w) => ({
      agent: w.agent,
      image: `helix-agent-${w.agent}:${w.hash.slice(0, 16)}`,
      idle: 1,
      busy: 0,
    })),
    images: [],
    rttMs: p.self ? 0 : (p.rttMs ?? 1),
    lastSeenMs: 0,
    ports: { rpc: p.port, cluster: 0 },
  };
}

export interface TestMesh {
  agents: LoadedAgent[];
  manifests: AgentManifest[];
  engine: DictationEngine;
  executor: RecordingExecutor;
  clients: RpcClients;
  view: PeerView[];
  kitchen: PeerView;
  desk: PeerView;
  laptop: PeerView;
  traces: TraceStore;
  published: Trace[];
  spoken: string[];
  pipeline(over?: Partial<PipelineDeps>): Pipeline;
  stop(): Promise<void>;
}

export async function startMesh(opts: {
  secret: Uint8Array;
  hosts: { kitchen: string; desk: string; laptop: string };
  ports: { kitchen: number; desk: number; laptop: number };
  ollamaUrl: string;
  routerModel?: string;
}): Promise<TestMesh> {
  const routerModel = opts.routerModel ?? 'llama3';
  const agents = await loadAgents([path.join(repoRoot, 'agents')]);
  const manifests = agents.map((a) => a.manifest);
  const engine = new DictationEngine();
  const executor = new RecordingExecutor(agents);

  const desk = new RpcServer({
    addresses: [opts.hosts.desk],
    port: opts.ports.desk,
    secret: opts.secret,
    shutdownTimeoutMs: 500,
  });
  registerTranscriber(desk, { engine, selfName: 'desk' });
  registerRouter(desk, {
    router: new LlmRouter({
      api: new OllamaHttpClient({ url: opts.ollamaUrl, timeoutMs: 5000 }),
      model: routerModel,
      manifests,
      slotValues: SLOT_VALUES,
      timeoutMs: 5000,
    }),
    model: routerModel,
    selfName: 'desk',
  });
  const laptop = new RpcServer({
    addresses: [opts.hosts.laptop],
    port: opts.ports.laptop,
    secret: opts.secret,
    shutdownTimeoutMs: 500,
  });
  laptop.addService(
    AgentHostService,
    agentHostService({ executor, self: { id: 'id-laptop', name: 'laptop' } }),
  );
  await Promise.all([desk.start(), laptop.start()]);

  const clients = new RpcClients({ nodeId: 'id-pi-kitchen', secret: opts.secret });
  const lightsHash = agents.find((a) => a.manifest.name === 'lights')!.hash;
  const kitchenView = peerView({
    name: 'pi-kitchen',
    host: opts.hosts.kitchen,
    port: opts.ports.kitchen,
    self: true,
    caps: { mic: { devices: ['default'] } },
  });
  const deskView = peerView({
    name: 'desk',
    host: opts.hosts.desk,
    port: opts.ports.desk,
    caps: {
      stt: { engine: 'dictation', model: 'test' },
      gpu: [{ index: 0, name: 'H100', vramTotalMiB: 81559 }],
      ollama: {
        url: opts.ollamaUrl,
        models: [`${routerModel}:latest`],
        loaded: [`${routerModel}:latest`],
      },
    },
  });
  const laptopView = peerView({
    name: 'laptop',
    host: opts.hosts.laptop,
    port: opts.ports.laptop,
    caps: { docker: { version: '20.10.24', platform: 'linux/amd64' } },
    warm: [{ agent: 'lights', hash: lightsHash }],
  });
  const view = [kitchenView, deskView, laptopView];
  const traces = new TraceStore(50);
  const published: Trace[] = [];
  const spoken: string[] = [];

  return {
    agents,
    manifests,
    engine,
    executor,
    clients,
    view,
    kitchen: kitchenView,
    desk: deskView,
    laptop: laptopView,
    traces,
    published,
    spoken,
    pipeline(over = {}) {
      const deps: PipelineDeps = {
        selfId: kitchenView.id,
        view: () => view,
        stt: null,
        transcribeRemote: createTranscribeRemote(clients, { timeoutMs: 5000 }),
        fastMatcher: compileFastMatcher(manifests, SLOT_VALUES),
        routeRemote: createRouteRemote(clients, { timeoutMs: 5000 }),
        localLlmRouter: null,
        routerModel,
        runIntent: createRunIntent({
          selfId: kitchenView.id,
          view: () => view,
          clients,
          agent: (name) => agents.find((a) => a.manifest.name === name),
        }),
        speak: async (text) => {
          spoken.push(text);
          return { engine: 'test' };
        },
        publishTrace: (t) => published.push(t),
        traces,
        sttTimeoutMs: 5000,
        routeTimeoutMs: 5000,
        ...over,
      };
      return new Pipeline(deps);
    },
    async stop() {
      clients.close();
      await Promise.all([desk.stop(), laptop.stop()]);
    },
  };
}
