/**
 * STT overhead and the warm path split by stage, measured in one run on the same audio:
 *   engine    the STT engine alone (in process, Pcm16 in, as the pipeline gives it)
 *   grpc      the same engine behind Transcriber.Transcribe: 64 ms chunks over gRPC with mesh
 *             proof on loopback (what a mic node without STT pays to use a peer)
 *   pipeline  Pipeline.handleUtterance from end of speech to the agent's result and reply: stt over
 *             gRPC, fast matcher, AgentHost.Run over gRPC to a host whose executor answers at once
 * Engines (node/stt): "null" (default; answers at once, so what is measured is the transport and
 * the pipeline alone), "whisper" (WhisperEngine on --model; default the shared whisper.cpp test
 * model, which runs the whole inference path with no weights: about a second a run on 2 cores, so
 * use --runs 10), "phrase" (the pocketsphinx phrase recogniser over the shipped agents' grammars).
 * In the pipeline the engine's answer is replaced by the known words of the utterance after the
 * engine has run, so later stages run while the engine's cost stays in.
 *
 *   npx tsx bench/pipeline/stt-overhead.ts [--engine null|whisper|phrase] [--model FILE] [--runs 200] [--json]
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadAgents } from '../../node/agents/index.js';
import { type RunEvent, type RunRequest, compileFastMatcher } from '../../node/agentspec/index.js';
import { hostOnlyCapabilities } from '../../node/capabilities/index.js';
import {
  agentHostService,
  type AgentExecutor,
  type HostedAgent,
} from '../../node/agenthost/index.js';
import { createRunIntent, Pipeline, type Trace } from '../../node/pipeline/index.js';
import { AgentHostService, RpcClients, RpcServer } from '../../node/rpc/index.js';
import { PhraseRecogniser, WhisperEngine } from '../../node/stt/index.js';
import {
  createTranscribeRemote,
  registerTranscriber,
  transcribeWith,
  type SttEngine,
} from '../../node/transcribe/index.js';
import { createSpeaker } from '../../node/tts/index.js';
import type { Capabilities, PeerView } from '../../node/types.js';
import { floatToInt16, int16ToFloat, readWavFile, resample } from '../../node/voice/index.js';
import { freePort } from '../../test/support/ports.js';
import { platformOfNodeArch } from '../../node/platform.js';

const HOST = '127.0.6.41';
const PORTS = { transcriber: await freePort(), host: await freePort() };
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const SHARED = path.resolve(ROOT, '../shared/data');

const { values: args } = parseArgs({
  options: {
    engine: { type: 'string', default: 'null' },
    model: { type: 'string', default: path.join(SHARED, 'for-tests-ggml-tiny.en.bin') },
    runs: { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Math.max(3, Number(args.runs));

interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

function percentiles(samples: number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

async function benchEngine(name: string, model: string): Promise<SttEngine> {
  if (name === 'null') return nullEngine;
  if (name === 'whisper') {
    if (!existsSync(model)) throw new Error(`no model at ${model}; pass --model or --engine null`);
    return WhisperEngine.create({ model, threads: 2, language: 'en' });
  }
  if (name === 'phrase') {
    const manifests = (await loadAgents([path.join(ROOT, 'agents')])).map((a) => a.manifest);
    return PhraseRecogniser.create({ manifests, slotValues: { 'lights.rooms': ['kitchen'] } });
  }
  throw new Error(`--engine ${name}: use null, whisper or phrase`);
}

const nullEngine: SttEngine = {
  name: 'null',
  model: 'none',
  transcribe: async () => ({ text: '', language: 'en', confidence: 0, segments: [] }),
  close: async () => undefined,
};

/** Runs the real engine for its cost, then answers with the utterance's known words. */
function knownWords(inner: SttEngine, words: string): SttEngine {
  return {
    name: inner.name,
    model: inner.model,
    async transcribe(pcm, opts) {
      const t = await inner.transcribe(pcm, opts);
      return { ...t, text: words };
    },
    close: () => inner.close(),
  };
}

class InstantExecutor implements AgentExecutor {
  private readonly agents = new Map<string, HostedAgent>();
  constructor(list: Array<{ manifest: HostedAgent['manifest']; hash: string }>) {
    for (const a of list) this.agents.set(a.manifest.name, a);
  }
  agent(name: string) {
    return this.agents.get(name);
  }
  agentNames() {
    return [...this.agents.keys()];
  }
  async *run(req: RunRequest): AsyncIterable<RunEvent> {
    yield {
      type: 'accepted',
      agent: req.agent,
      intent: req.intent,
      taskId: 't',
      host: 'host',
      warm: true,
      container: 'c',
    };
    yield { type: 'result', text: 'Kitchen lights on.', data: null };
  }
}

function peer(
  name: string,
  self: boolean,
  port: number,
  caps: Partial<Capabilities>,
  warm: PeerView['warmPool'] = [],
): PeerView {
  return {
    id: `id-${name}`,
    name,
    state: 'alive',
    self,
    addresses: [HOST],
    version: 'bench',
    capabilities: hostOnlyCapabilities({ cpus: 2, memTotalMiB: 4096 }, caps),
    load: { runningAgents: 0, loadAvg1: 0, loadPerCore: 0, memFreeMiB: 2048 },
    warmPool: warm,
    images: [],
    rttMs: self ? 0 : 0.2,
    lastSeenMs: 0,
    ports: { rpc: port, cluster: 0 },
  };
}

interface ReportRow {
  audio: string;
  seconds: number;
  engine: string;
  runs: number;
  engineMs: Percentiles;
  grpcMs: Percentiles;
  pipelineMs: Percentiles;
  stagesP50Ms: Record<string, number>;
  grpcOverheadP50Ms: number;
  pipelineOverheadP50Ms: number;
  grpcRatio: number;
  pipelineRatio: number;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function main() {
  const engine = await benchEngine(args.engine, args.model);
  const speaker = await createSpeaker({ engine: 'espeak-ng' });
  const spoken = await speaker.synthesize('turn on the kitchen lights');
  const command = floatToInt16(resample(int16ToFloat(spoken.pcm), spoken.sampleRate, 16000));
  const jfkPath = path.join(SHARED, 'jfk.wav');
  const audios: Array<{ name: string; pcm: Int16Array; words: string }> = [
    { name: 'command (espeak)', pcm: command, words: 'turn on the kitchen lights' },
  ];
  if (existsSync(jfkPath))
    audios.push({
      name: 'jfk.wav',
      pcm: (await readWavFile(jfkPath)).pcm,
      words: 'turn on the kitchen lights',
    });

  const secret = new Uint8Array(32).fill(7);
  const agents = await loadAgents([path.join(ROOT, 'agents')]);
  const lights = agents.find((a) => a.manifest.name === 'lights')!;
  const transcriberServer = new RpcServer({
    addresses: [HOST],
    port: PORTS.transcriber,
    secret,
    shutdownTimeoutMs: 200,
  });
  let currentWords = '';
  registerTranscriber(transcriberServer, {
    engine: {
      ...knownWords(engine, ''),
      transcribe: async (pcm, o) => ({ ...(await engine.transcribe(pcm, o)), text: currentWords }),
    },
    selfName: 'stt-node',
  });
  const hostServer = new RpcServer({
    addresses: [HOST],
    port: PORTS.host,
    secret,
    shutdownTimeoutMs: 200,
  });
  hostServer.addService(
    AgentHostService,
    agentHostService({
      executor: new InstantExecutor(agents),
      self: { id: 'id-host', name: 'host' },
    }),
  );
  await Promise.all([transcriberServer.start(), hostServer.start()]);
  const clients = new RpcClients({ nodeId: 'id-mic', secret });
  const view = [
    peer('mic', true, 1, {}),
    peer('stt-node', false, PORTS.transcriber, {
      stt: { engine: engine.name, model: engine.model },
    }),
    peer(
      'host',
      false,
      PORTS.host,
      { docker: { version: 'bench', platform: platformOfNodeArch(process.arch) } },
      [
        {
          agent: 'lights',
          image: `helix-agent-lights:${lights.hash.slice(0, 16)}`,
          idle: 1,
          busy: 0,
        },
      ],
    ),
  ];
  const pipeline = new Pipeline({
    selfId: 'id-mic',
    view: () => view,
    stt: null,
    transcribeRemote: createTranscribeRemote(clients),
    fastMatcher: compileFastMatcher(
      agents.map((a) => a.manifest),
      { 'lights.rooms': ['kitchen'] },
    ),
    routeRemote: null,
    localLlmRouter: null,
    routerModel: 'llama3',
    runIntent: createRunIntent({
      selfId: 'id-mic',
      view: () => view,
      clients,
      agent: (n) => agents.find((a) => a.manifest.name === n),
    }),
  });

  const report: ReportRow[] = [];
  try {
    for (const audio of audios) {
      currentWords = audio.words;
      const target = `${HOST}:${PORTS.transcriber}`;
      // warm up every path once (model load, channel, JIT)
      await engine.transcribe(audio.pcm);
      await transcribeWith(clients.transcriber(target), audio.pcm, { traceId: 'warm', target });
      await pipeline.handleUtterance(audio.pcm, { source: 'file' });

      const engineMs: number[] = [];
      const grpcMs: number[] = [];
      const pipelineMs: number[] = [];
      const stages: Record<string, number[]> = {};
      for (let i = 0; i < RUNS; i++) {
        engineMs.push(await time(() => engine.transcribe(audio.pcm)));
        grpcMs.push(
          await time(() =>
            transcribeWith(clients.transcriber(target), audio.pcm, { traceId: `b${i}`, target }),
          ),
        );
        let trace: Trace | undefined;
        pipelineMs.push(
          await time(async () => {
            const now = Date.now();
            const r = await pipeline.handleUtterance(audio.pcm, {
              source: 'mic',
              capture: { speechStartAt: now, speechEndAt: now },
            });
            if (!r.ok) throw new Error(`pipeline failed: ${r.reply}`);
            trace = r.trace;
          }),
        );
        for (const h of trace!.hops) (stages[h.stage] ??= []).push(h.durationMs);
      }
      const e = percentiles(engineMs);
      const g = percentiles(grpcMs);
      const p = percentiles(pipelineMs);
      report.push({
        audio: audio.name,
        seconds: audio.pcm.length / 16000,
        engine: `${engine.name} ${engine.model}`,
        runs: RUNS,
        engineMs: e,
        grpcMs: g,
        pipelineMs: p,
        stagesP50Ms: Object.fromEntries(
          Object.entries(stages).map(([k, v]) => [k, percentiles(v).p50]),
        ),
        grpcOverheadP50Ms: g.p50 - e.p50,
        pipelineOverheadP50Ms: p.p50 - e.p50,
        grpcRatio: g.p50 / Math.max(e.p50, 1e-6),
        pipelineRatio: p.p50 / Math.max(e.p50, 1e-6),
      });
    }
  } finally {
    clients.close();
    await Promise.all([transcriberServer.stop(), hostServer.stop()]);
    await engine.close();
  }

  if (args.json) {
    process.stdout.write(
      JSON.stringify({ bench: 'pipeline/stt-overhead', results: report }, null, 2) + '\n',
    );
    return;
  }
  const f = (x: number) => x.toFixed(1).padStart(8);
  for (const r of report) {
    const row = (name: string, q: Percentiles) =>
      `  ${name.padEnd(10)} p50 ${f(q.p50)} ms  p90 ${f(q.p90)} ms  p99 ${f(q.p99)} ms`;
    process.stdout.write(
      [
        `${r.audio} (${r.seconds.toFixed(1)} s of audio), engine ${r.engine}, ${r.runs} runs`,
        row('engine', r.engineMs),
        row('grpc', r.grpcMs),
        row('pipeline', r.pipelineMs),
        // a ratio to an engine that takes no time says nothing; the milliseconds do
        `  overhead p50: gRPC ${f(r.grpcOverheadP50Ms)} ms${r.engineMs.p50 >= 1 ? ` (x${r.grpcRatio.toFixed(2)})` : ''}, whole pipeline ${f(r.pipelineOverheadP50Ms)} ms${r.engineMs.p50 >= 1 ? ` (x${r.pipelineRatio.toFixed(2)})` : ''}`,
        `  pipeline stages p50 (ms): ${Object.entries(r.stagesP50Ms)
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', ')}`,
        '',
      ].join('\n'),
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
