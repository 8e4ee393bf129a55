/**
 * End of speech -> action on the warm path, on the 3-node harness mesh of test/e2e/lab.ts
 * (mic-a: no STT, no Docker; stt-b: pocketsphinx phrase recogniser; docker-c: private dockerd,
 * lights warm, mosquitto on its loopback). Each run feeds an espeak-ng utterance ("turn on/off the
 * kitchen lights", voices and speeds in turn) into mic-a with `helix-node listen --once --file`,
 * paced like a mic through the VAD, and reads mic-a's trace and the MQTT subscriber on docker-c:
 *   stt       Transcriber.Transcribe on stt-b as mic-a sees it: streaming, recognition, transcript back
 *   intent    the fast matcher on mic-a
 *   run       AgentHost.Run on docker-c into the warm container (placement, gRPC, the agent's
 *             mqtt.publish, result back)
 *   reply     on mic-a (printed; no TTS)
 *   action    end of speech (the VAD's end, on mic-a) -> the MQTT message received on docker-c
 *   replied   end of speech -> the reply ready on mic-a
 * Bare baselines in the same run, on the same machine, taken right after each command (the other
 * work on a shared 2-core machine comes and goes; measured apart, the ratios drifted 1.0-2.3x):
 *   engine    the phrase recogniser alone, in this process, on the same utterance (the VAD's cut)
 *   stdio     a task line in and its result line out of a running sandboxed echo container on
 *             docker-c's engine (bench/agents/baseline.ts), no HelixOS in between
 * and the ratios stt / engine and run / stdio (of the p50s, and the p50 of the per-run ratios).
 *
 *   npx tsx bench/e2e/voice-warm.ts [--runs 10] [--stdio-runs 20] [--json] [--keep]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadAgents } from '../../node/agents/index.js';
import type { LoadedAgent } from '../../node/agentspec/index.js';
import { ConfigSchema } from '../../node/config/index.js';
import { captureUtterance, type Trace } from '../../node/pipeline/index.js';
import { PhraseRecogniser } from '../../node/stt/index.js';
import { resolveSlotValues } from '../../node/agentspec/index.js';
import {
  loadSileroModel,
  pcmSource,
  readWavFile,
  segmenterOptionsFromConfig,
  SileroVad,
} from '../../node/voice/index.js';
import { REPO_ROOT } from '../../test/harness/index.js';
import {
  LIGHT_TOPIC,
  SILERO_MODEL,
  STT,
  VoiceLab,
  labUnavailable,
  makeUtterance,
  type Utterance,
} from '../../test/e2e/lab.js';
import { measureBareRoundTrip, percentiles, type Percentiles } from '../agents/baseline.js';

const SUBNET = '100.64.71';
const VOICES = ['en-us', 'en-gb', 'en-us+f3', 'en-gb-scotland'];
const SPEEDS = [160, 185];
const STAGES = ['stt', 'intent', 'run', 'reply'] as const;
type StageName = (typeof STAGES)[number];

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    /** stdio round trips after each command */
    'stdio-runs': { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = Math.max(1, Number(args.runs));
const STDIO_RUNS = Math.max(1, Number(args['stdio-runs']));

interface RunSample {
  utterance: string;
  ok: boolean;
  /** why the run does not count (rejected, wrong action, no message) */
  problem?: string;
  stages?: Record<StageName, number>;
  actionMs?: number;
  repliedMs?: number;
  traceId?: string;
  /** the baselines taken right after this command */
  engineMs: number;
  stdioMs: number[];
}

function log(line: string): void {
  if (!args.json) console.error(line);
}

/** The utterances: alternating on/off, voices and speeds in turn. */
async function utterances(dir: string): Promise<Utterance[]> {
  const out: Utterance[] = [];
  for (let i = 0; i < RUNS; i++) {
    const state = i % 2 === 0 ? 'on' : 'off';
    out.push(
      await makeUtterance(dir, `turn ${state} the kitchen lights`, {
        voice: VOICES[Math.floor(i / 2) % VOICES.length]!,
        speed: SPEEDS[Math.floor(i / (2 * VOICES.length)) % SPEEDS.length]!,
      }),
    );
  }
  return out;
}

/** The bare baselines: stt-b's recogniser in this process, and docker-c's echo image. */
interface Baselines {
  /** ms for the recogniser alone on the VAD's cut of `u` */
  engine(u: Utterance): Promise<number>;
  /** ms per stdio round trip to a running echo container */
  stdio(runs: number): Promise<number[]>;
  close(): Promise<void>;
}

async function baselines(lab: VoiceLab, agents: LoadedAgent[]): Promise<Baselines> {
  const config = ConfigSchema.parse(lab.mesh.configTree(STT));
  const manifests = agents.map((a) => a.manifest);
  const recogniser = await PhraseRecogniser.create({
    manifests,
    slotValues: resolveSlotValues(manifests, config),
  });
  const model = await loadSileroModel(SILERO_MODEL!);
  const echo = agents.find((a) => a.manifest.name === 'echo');
  if (!echo) throw new Error('no echo agent in agents/');
  // the image docker-c's daemon built at start (whatever agents/ holds on disk by now)
  const images = await lab.docker.docker.listImages({ filters: { label: ['helix.agent=echo'] } });
  const tag = images.flatMap((i) => i.RepoTags ?? [])[0];
  if (!tag) throw new Error("docker-c's engine holds no echo image; did its warm-up fail?");
  return {
    async engine(u) {
      const cut = await captureUtterance({
        source: pcmSource((await readWavFile(u.path)).pcm),
        detector: () => new SileroVad(model),
        segmenter: segmenterOptionsFromConfig(config.voice),
      });
      if (!cut) throw new Error(`the VAD found no speech in ${u.path}`);
      const t0 = performance.now();
      await recogniser.transcribe(cut.pcm, { signal: AbortSignal.timeout(30_000) });
      return performance.now() - t0;
    },
    stdio: (runs) =>
      measureBareRoundTrip(lab.docker.docker, tag, echo.manifest, {
        runs,
        warmup: 5,
        name: `helix-bench-e2e-bare-${process.pid}`,
      }),
    close: () => recogniser.close(),
  };
}

async function measure(lab: VoiceLab, list: Utterance[], base: Baselines): Promise<RunSample[]> {
  const samples: RunSample[] = [];
  for (const [i, u] of list.entries()) {
    const label = `${u.text} (${u.voice}, ${u.speed} wpm)`;
    const sample = await measureCommand(lab, u, label);
    const done: RunSample = {
      ...sample,
      engineMs: await base.engine(u),
      stdioMs: await base.stdio(STDIO_RUNS),
    };
    samples.push(done);
    const at = `  run ${i + 1}/${list.length}: ${label}:`;
    if (!done.ok) log(`${at} not counted (${done.problem})`);
    else {
      const s = done.stages!;
      log(
        `${at} action ${done.actionMs!.toFixed(0)} ms after end of speech (stt ${s.stt.toFixed(0)}, intent ${s.intent.toFixed(1)}, run ${s.run.toFixed(0)}, reply ${s.reply.toFixed(1)} ms); engine alone ${done.engineMs.toFixed(0)} ms, stdio p50 ${percentiles(done.stdioMs).p50.toFixed(2)} ms`,
      );
    }
  }
  return samples;
}

/** One command through the mesh: its trace's stages and the MQTT message's arrival. */
async function measureCommand(
  lab: VoiceLab,
  u: Utterance,
  label: string,
): Promise<Omit<RunSample, 'engineMs' | 'stdioMs'>> {
  const want = u.text.includes(' on ') ? 'ON' : 'OFF';
  const from = lab.watch!.messages.length;
  const heard = await lab.listen(u.path);
  const r = heard.result;
  if (!r) return { utterance: label, ok: false, problem: `no result: ${heard.stderr.trim()}` };
  if (!r.ok)
    return {
      utterance: label,
      ok: false,
      problem: `rejected at ${r.failedStage ?? '?'}: ${r.reply}`,
    };
  if (r.transcript !== u.text)
    return {
      utterance: label,
      ok: false,
      problem: `WRONG ACTION: heard "${r.transcript}", replied "${r.reply}"`,
    };
  const message = await lab
    .watch!.next((m) => m.topic === LIGHT_TOPIC, { from, timeoutMs: 5000 })
    .catch(() => null);
  if (!message || (JSON.parse(message.payload) as { state?: string }).state !== want)
    return { utterance: label, ok: false, problem: `MQTT: ${message?.payload ?? 'none'}` };
  const trace: Trace = await lab.trace(r.traceId);
  const hop = (stage: string) => trace.hops.find((h) => h.stage === stage);
  const vad = hop('vad')!;
  const reply = hop('reply')!;
  const speechEnd = vad.startMs + vad.durationMs;
  return {
    utterance: label,
    ok: true,
    stages: Object.fromEntries(STAGES.map((s) => [s, hop(s)?.durationMs ?? NaN])) as Record<
      StageName,
      number
    >,
    // the VAD's end of speech on mic-a's clock; the subscriber's receive time on the same clock
    actionMs: message.atMs - (Date.parse(trace.startedAt) + speechEnd),
    repliedMs: reply.startMs + reply.durationMs - speechEnd,
    traceId: r.traceId,
  };
}

function ms(x: number): string {
  return x < 10 ? x.toFixed(2) : x.toFixed(0);
}

function ratio(x: number): string {
  return `${x.toFixed(x < 10 ? 2 : 0)}x`;
}

function row(
  name: string,
  p: Percentiles,
  base?: { name: string; p: Percentiles; perRun: number[] },
): string {
  const cols = `${name.padEnd(30)} p50 ${ms(p.p50).padStart(6)} ms  p90 ${ms(p.p90).padStart(6)} ms`;
  if (!base) return cols;
  return `${cols}   ${base.name.padEnd(22)} p50 ${ms(base.p.p50).padStart(6)} ms  ratio ${ratio(p.p50 / base.p.p50)} (per run p50 ${ratio(percentiles(base.perRun).p50)})`;
}

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) throw new Error(`cannot run the voice mesh here: ${why}`);
  // the agents as the daemons load them now (the baselines use the same manifests)
  const agents = await loadAgents([path.join(REPO_ROOT, 'agents')]);
  const lab = new VoiceLab({ subnet: SUBNET, keepTemp: args.keep });
  let base: Baselines | null = null;
  try {
    const t0 = Date.now();
    await lab.start({ timeoutMs: 120_000 });
    log(`mesh ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; making ${RUNS} utterances`);
    const list = await utterances(lab.dir);
    base = await baselines(lab, agents);
    // One unmeasured command first: channels, the warm container's first task.
    await lab.listen(list[0]!.path);
    const samples = await measure(lab, list, base);

    const good = samples.filter((s) => s.ok);
    if (good.length === 0) throw new Error('no run reached its action; see the problems above');
    const stage = (s: StageName) => percentiles(good.map((g) => g.stages![s]));
    const engine = percentiles(good.map((g) => g.engineMs));
    const stdioP50 = good.map((g) => percentiles(g.stdioMs).p50);
    const stdio = percentiles(good.flatMap((g) => g.stdioMs));
    const report = {
      runs: samples.length,
      counted: good.length,
      rejected: samples.filter((s) => s.problem?.startsWith('rejected')).length,
      wrongActions: samples.filter((s) => s.problem?.startsWith('WRONG')).length,
      notCounted: samples.filter((s) => !s.ok).map((s) => `${s.utterance}: ${s.problem}`),
      stagesMs: Object.fromEntries(STAGES.map((s) => [s, stage(s)])),
      endOfSpeechToActionMs: percentiles(good.map((g) => g.actionMs!)),
      endOfSpeechToReplyMs: percentiles(good.map((g) => g.repliedMs!)),
      baselines: { engineAloneMs: engine, bareStdioRoundTripMs: stdio },
      ratios: {
        sttOverEngine: stage('stt').p50 / engine.p50,
        runOverStdio: stage('run').p50 / stdio.p50,
      },
      samples,
    };
    if (args.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    console.log(
      `\nvoice warm path on a 3-node harness mesh: ${good.length} of ${samples.length} runs counted (right transcript, right MQTT message); ${report.rejected} rejected, ${report.wrongActions} wrong actions`,
    );
    for (const n of report.notCounted) console.log(`  not counted: ${n}`);
    console.log(
      row('stt on stt-b (seen from mic-a)', stage('stt'), {
        name: 'engine alone',
        p: engine,
        perRun: good.map((g) => g.stages!.stt / g.engineMs),
      }),
    );
    console.log(row('intent on mic-a', stage('intent')));
    console.log(
      row('run on docker-c (warm)', stage('run'), {
        name: 'bare stdio round trip',
        p: stdio,
        perRun: good.map((g, i) => g.stages!.run / stdioP50[i]!),
      }),
    );
    console.log(row('reply on mic-a', stage('reply')));
    console.log(
      row('end of speech -> MQTT action', report.endOfSpeechToActionMs, {
        name: 'engine + stdio',
        p: percentiles(good.map((g, i) => g.engineMs + stdioP50[i]!)),
        perRun: good.map((g, i) => g.actionMs! / (g.engineMs + stdioP50[i]!)),
      }),
    );
    console.log(row('end of speech -> reply', report.endOfSpeechToReplyMs));
    console.log(
      `  baselines taken after each command: engine alone n=${engine.n} (p90 ${ms(engine.p90)} ms), bare stdio n=${stdio.n} (p90 ${ms(stdio.p90)} ms)`,
    );
  } finally {
    await base?.close();
    await lab.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
