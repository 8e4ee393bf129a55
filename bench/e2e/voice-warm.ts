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
 * Bare baselines in the same run, on the same machine:
 *   engine    the phrase recogniser alone, in this process, on the same utterances (the same VAD cut)
 *   stdio     a task line in and its result line out of a running sandboxed echo container on
 *             docker-c's engine (bench/agents/baseline.ts), no HelixOS in between
 * and the ratios stt / engine and run / stdio.
 *
 *   npx tsx bench/e2e/voice-warm.ts [--runs 10] [--stdio-runs 200] [--json] [--keep]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildImage, loadAgents } from '../../node/agents/index.js';
import { ConfigSchema } from '../../node/config/index.js';
import { captureUtterance, type Trace } from '../../node/pipeline/index.js';
import { PhraseRecogniser, slotValuesFromConfig } from '../../node/stt/index.js';
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

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    'stdio-runs': { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = Math.max(1, Number(args.runs));

interface RunSample {
  utterance: string;
  ok: boolean;
  /** why the run does not count (rejected, wrong action, no message) */
  problem?: string;
  stages?: Record<(typeof STAGES)[number], number>;
  actionMs?: number;
  repliedMs?: number;
  traceId?: string;
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

async function measureMesh(lab: VoiceLab, list: Utterance[]): Promise<RunSample[]> {
  const samples: RunSample[] = [];
  for (const [i, u] of list.entries()) {
    const label = `${u.text} (${u.voice}, ${u.speed} wpm)`;
    const want = u.text.includes(' on ') ? 'ON' : 'OFF';
    const from = lab.watch!.messages.length;
    const heard = await lab.listen(u.path);
    const r = heard.result;
    const problem = !r
      ? `no result: ${heard.stderr.trim().slice(-300)}`
      : !r.ok
        ? `rejected at ${r.failedStage ?? '?'}: ${r.reply}`
        : r.transcript !== u.text
          ? `WRONG ACTION: heard "${r.transcript}", replied "${r.reply}"`
          : null;
    if (problem || !r) {
      samples.push({ utterance: label, ok: false, problem: problem ?? 'no result' });
      log(`  run ${i + 1}/${list.length}: ${label}: not counted (${problem})`);
      continue;
    }
    const message = await lab
      .watch!.next((m) => m.topic === LIGHT_TOPIC, { from, timeoutMs: 5000 })
      .catch(() => null);
    if (!message || JSON.parse(message.payload).state !== want) {
      samples.push({ utterance: label, ok: false, problem: `MQTT: ${message?.payload ?? 'none'}` });
      log(`  run ${i + 1}/${list.length}: ${label}: not counted (${samples.at(-1)!.problem})`);
      continue;
    }
    const trace: Trace = await lab.trace(r.traceId);
    const hop = (stage: string) => trace.hops.find((h) => h.stage === stage);
    const vad = hop('vad')!;
    const endOfSpeech = Date.parse(trace.startedAt) + vad.startMs + vad.durationMs;
    const reply = hop('reply')!;
    const stages = Object.fromEntries(STAGES.map((s) => [s, hop(s)?.durationMs ?? NaN])) as Record<
      (typeof STAGES)[number],
      number
    >;
    const sample: RunSample = {
      utterance: label,
      ok: true,
      stages,
      actionMs: message.atMs - endOfSpeech,
      repliedMs: reply.startMs + reply.durationMs - (vad.startMs + vad.durationMs),
      traceId: r.traceId,
    };
    samples.push(sample);
    log(
      `  run ${i + 1}/${list.length}: ${label}: action ${sample.actionMs!.toFixed(0)} ms after end of speech (stt ${stages.stt.toFixed(0)}, intent ${stages.intent.toFixed(1)}, run ${stages.run.toFixed(0)}, reply ${stages.reply.toFixed(1)} ms)`,
    );
  }
  return samples;
}

/** The phrase recogniser alone on the VAD's cut of each utterance, with stt-b's grammar. */
async function measureEngine(lab: VoiceLab, list: Utterance[]): Promise<number[]> {
  const config = ConfigSchema.parse(lab.mesh.configTree(STT));
  const manifests = (await loadAgents([path.join(REPO_ROOT, 'agents')])).map((a) => a.manifest);
  const engine = await PhraseRecogniser.create({
    manifests,
    slotValues: slotValuesFromConfig(config as unknown as Record<string, unknown>, manifests),
  });
  const model = await loadSileroModel(SILERO_MODEL!);
  const samples: number[] = [];
  try {
    for (const u of list) {
      const clip = await readWavFile(u.path);
      const cut = await captureUtterance({
        source: pcmSource(clip.pcm),
        detector: () => new SileroVad(model),
        segmenter: segmenterOptionsFromConfig(config.voice),
      });
      if (!cut) throw new Error(`the VAD found no speech in ${u.path}`);
      const t0 = performance.now();
      await engine.transcribe(cut.pcm, { signal: AbortSignal.timeout(30_000) });
      samples.push(performance.now() - t0);
    }
  } finally {
    await engine.close();
  }
  return samples;
}

async function measureStdio(lab: VoiceLab, runs: number): Promise<number[]> {
  const echo = (await loadAgents([path.join(REPO_ROOT, 'agents')])).find(
    (a) => a.manifest.name === 'echo',
  );
  if (!echo) throw new Error('no echo agent in agents/');
  // docker-c's daemon built it already (same prefix and content hash): nothing is built here
  const image = await buildImage(echo, { docker: lab.docker.docker });
  return measureBareRoundTrip(lab.docker.docker, image.tag, echo.manifest, {
    runs,
    name: `helix-bench-e2e-bare-${process.pid}`,
  });
}

function ms(x: number): string {
  return x < 10 ? x.toFixed(2) : x.toFixed(0);
}

function row(name: string, p: Percentiles, base?: { name: string; p: Percentiles }): string {
  const cols = `${name.padEnd(30)} p50 ${ms(p.p50).padStart(6)} ms  p90 ${ms(p.p90).padStart(6)} ms`;
  if (!base) return cols;
  return `${cols}   ${base.name.padEnd(22)} p50 ${ms(base.p.p50).padStart(6)} ms  ratio ${(p.p50 / base.p.p50).toFixed(p.p50 / base.p.p50 < 10 ? 2 : 0)}x`;
}

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) throw new Error(`cannot run the voice mesh here: ${why}`);
  const lab = new VoiceLab({ subnet: SUBNET, keepTemp: args.keep });
  try {
    const t0 = Date.now();
    await lab.start({ timeoutMs: 120_000 });
    log(`mesh ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; making ${RUNS} utterances`);
    const list = await utterances(lab.dir);
    // One unmeasured command first: channels, the warm container's first task.
    await lab.listen(list[0]!.path);
    const mesh = await measureMesh(lab, list);
    log('baselines: the phrase recogniser alone, then the bare container stdio round trip');
    const engine = await measureEngine(lab, list);
    const stdio = await measureStdio(lab, Number(args['stdio-runs']));

    const good = mesh.filter((s) => s.ok);
    if (good.length === 0) throw new Error('no run reached its action; see the problems above');
    const stage = (s: (typeof STAGES)[number]) => percentiles(good.map((g) => g.stages![s]));
    const report = {
      runs: mesh.length,
      counted: good.length,
      notCounted: mesh.filter((s) => !s.ok).map((s) => `${s.utterance}: ${s.problem}`),
      stagesMs: Object.fromEntries(STAGES.map((s) => [s, stage(s)])),
      endOfSpeechToActionMs: percentiles(good.map((g) => g.actionMs!)),
      endOfSpeechToReplyMs: percentiles(good.map((g) => g.repliedMs!)),
      baselines: { engineAloneMs: percentiles(engine), bareStdioRoundTripMs: percentiles(stdio) },
      samples: mesh,
    };
    if (args.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    const engineP = report.baselines.engineAloneMs;
    const stdioP = report.baselines.bareStdioRoundTripMs;
    console.log(
      `\nvoice warm path on a 3-node harness mesh: ${good.length} of ${mesh.length} runs counted (right transcript, right MQTT message); ${mesh.filter((s) => s.problem?.startsWith('rejected')).length} rejected, ${mesh.filter((s) => s.problem?.startsWith('WRONG')).length} wrong actions`,
    );
    for (const n of report.notCounted) console.log(`  not counted: ${n}`);
    console.log(
      row('stt on stt-b (seen from mic-a)', stage('stt'), { name: 'engine alone', p: engineP }),
    );
    console.log(row('intent on mic-a (fast matcher)', stage('intent')));
    console.log(
      row('run on docker-c (warm)', stage('run'), { name: 'bare stdio round trip', p: stdioP }),
    );
    console.log(row('reply on mic-a', stage('reply')));
    console.log(
      row('end of speech -> MQTT action', report.endOfSpeechToActionMs, {
        name: 'engine + stdio',
        p: percentiles(engine.map((e, i) => e + stdio[i % stdio.length]!)),
      }),
    );
    console.log(row('end of speech -> reply', report.endOfSpeechToReplyMs));
    console.log(
      `  baselines measured in this run: engine alone n=${engineP.n} (p90 ${ms(engineP.p90)} ms), bare stdio n=${stdioP.n} (p90 ${ms(stdioP.p90)} ms)`,
    );
  } finally {
    await lab.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
