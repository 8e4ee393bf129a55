/**
 * Plain-object dependencies for Pipeline unit tests: no speech engine, no gRPC, no NATS, no
 * Docker. Each fake records what it was asked; `plainPipeline` wires them with a one-node view
 * (pi-kitchen, no STT, no Ollama) that a case widens with `view`.
 */
import type { FastMatch, FastMatcher, Intent } from '../../../node/agentspec/index.js';
import type { RemoteRunEvent } from '../../../node/agenthost/index.js';
import { hostOnlyCapabilities } from '../../../node/capabilities/index.js';
import {
  Pipeline,
  type PipelineDeps,
  type PipelineEvent,
  type RunIntent,
  type Trace,
} from '../../../node/pipeline/index.js';
import type { SttEngine, Transcript } from '../../../node/transcribe/index.js';
import type { Capabilities, PeerView } from '../../../node/types.js';

export const SELF_ID = 'id-pi-kitchen';
export const SELF = 'pi-kitchen';
export const ROUTER_MODEL = 'qwen2.5:3b';

/** A peer in the view: a name plus only the capabilities the case is about. */
export function peer(
  name: string,
  p: {
    self?: boolean;
    stt?: boolean;
    /** Ollama with the router model loaded (on a GPU) */
    router?: boolean;
    caps?: Partial<Capabilities>;
    rttMs?: number;
    state?: PeerView['state'];
  } = {},
): PeerView {
  const self = p.self ?? false;
  return {
    id: `id-${name}`,
    name,
    state: p.state ?? 'alive',
    self,
    addresses: ['100.64.0.1'],
    version: '0.1.0',
    capabilities: hostOnlyCapabilities(
      { cpus: 4, memTotalMiB: 8192 },
      {
        ...(p.stt ? { stt: { engine: 'whisper', model: 'base.en' } } : {}),
        ...(p.router
          ? {
              gpu: [{ index: 0, name: 'RTX 4060', vramTotalMiB: 8192 }],
              ollama: {
                url: 'http://127.0.0.1:11434',
                models: [ROUTER_MODEL],
                loaded: [ROUTER_MODEL],
              },
            }
          : {}),
        ...p.caps,
      },
    ),
    load: { runningAgents: 0, loadAvg1: 0, loadPerCore: 0, memFreeMiB: 4096 },
    warmPool: [],
    images: [],
    rttMs: self ? 0 : (p.rttMs ?? 1),
    lastSeenMs: 0,
    ports: { rpc: 7700, cluster: 7422 },
  };
}

export function transcript(text: string, extra: Partial<Transcript> = {}): Transcript {
  return { text, segments: [], language: 'en', confidence: 0.9, ...extra };
}

/** An STT engine answering with `answer` (a transcript, or a function of the call's signal). */
export function sttEngine(
  answer: Transcript | ((signal: AbortSignal | undefined) => Promise<Transcript>),
  name = 'whisper',
): SttEngine & { heard: number[] } {
  const heard: number[] = [];
  return {
    name,
    model: 'base.en',
    heard,
    async transcribe(pcm, opts) {
      heard.push(pcm.length);
      return typeof answer === 'function' ? answer(opts?.signal) : answer;
    },
    close: async () => {},
  };
}

/** A fast matcher over a table of exact sentences. */
export function matcher(table: Record<string, FastMatch>): FastMatcher & { asked: string[] } {
  const asked: string[] = [];
  return {
    phraseCount: Object.keys(table).length,
    asked,
    match(text) {
      asked.push(text);
      return table[text] ?? null;
    },
  };
}

/** runIntent that records each intent and plays `events` (or what `script` yields for it). */
export function runScript(
  events:
    RemoteRunEvent[] | ((intent: Intent, signal?: AbortSignal) => AsyncIterable<RemoteRunEvent>),
): RunIntent & { ran: Intent[] } {
  const ran: Intent[] = [];
  const run = (intent: Intent, opts: { signal?: AbortSignal }) => {
    ran.push(intent);
    if (typeof events === 'function') return events(intent, opts.signal);
    return (async function* () {
      yield* events;
    })();
  };
  return Object.assign(run, { ran });
}

/** Placed on laptop (warm), accepted, one progress line, then `text`. */
export function ranOn(text: string, host = 'laptop'): RemoteRunEvent[] {
  return [
    {
      type: 'placed',
      node: host,
      nodeId: `id-${host}`,
      warm: true,
      reason: 'warm there',
      attempt: 1,
    },
    { type: 'accepted', hostNode: `id-${host}`, hostName: host, warm: true },
    { type: 'progress', message: 'working' },
    { type: 'result', text, data: null, hostName: host },
  ];
}

export interface PlainPipeline {
  pipeline: Pipeline;
  deps: PipelineDeps;
  /** what publishTrace was given */
  published: Trace[];
}

export function plainPipeline(over: Partial<PipelineDeps> = {}): PlainPipeline {
  const published: Trace[] = [];
  const deps: PipelineDeps = {
    selfId: SELF_ID,
    view: () => [peer(SELF, { self: true })],
    stt: null,
    transcribeRemote: null,
    fastMatcher: null,
    routeRemote: null,
    localLlmRouter: null,
    routerModel: ROUTER_MODEL,
    runIntent: runScript(ranOn('Done.')),
    publishTrace: (t) => published.push(t),
    ...over,
  };
  return { pipeline: new Pipeline(deps), deps, published };
}

/** Collects onEvent calls. */
export function events(): { onEvent: (e: PipelineEvent) => void; seen: PipelineEvent[] } {
  const seen: PipelineEvent[] = [];
  return { onEvent: (e) => seen.push(e), seen };
}
