/**
 * `helix-node listen --once --file X.wav` through the daemon's control route: the file is fed
 * through the real Silero VAD (../shared/data) paced like a mic, and the utterance runs through the
 * pipeline (a local engine that knows the espeak-ng utterance, the real fast matcher, a run that
 * answers at once). The 3-node version of this is test/e2e/voice-mesh.test.ts.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../../node/capabilities/index.js';
import {
  ControlServer,
  controlSocketPath,
  controlStream,
  type CommandStreamLine,
} from '../../node/control/index.js';
import { registerVoiceControlRoutes } from '../../node/control/routes/index.js';
import { silentLogger } from '../../node/log.js';
import {
  captureUtterance,
  listenToFile,
  Pipeline,
  TraceStore,
  type VoiceControlDeps,
} from '../../node/pipeline/index.js';
import { loadAgents } from '../../node/agents/index.js';
import { compileFastMatcher } from '../../node/agentspec/index.js';
import {
  encodeWav16,
  int16ToFloat,
  loadSileroModel,
  pcmSource,
  readWavFile,
  SileroVad,
  type SileroModel,
} from '../../node/voice/index.js';
import { repoRoot, sharedFile } from '../voice/shared-data.js';
import { tempDir } from './support/net.js';
import { DictationEngine, SLOT_VALUES, speech } from './support/mesh.js';

const SILERO = sharedFile('for-tests-silero-v6.2.0-ggml.bin');
const espeak = await findOnPath('espeak-ng');
const TEXT = 'turn on the kitchen lights';

describe.skipIf(!SILERO || !espeak)(
  'listen --once --file (needs espeak-ng and ../shared/data)',
  () => {
    const state = tempDir('listen-file');
    const bare = tempDir('listen-file-bare');
    let control: ControlServer;
    let refusing: ControlServer;
    let model: SileroModel;
    let wav = '';
    let silence = '';
    const traces = new TraceStore();
    const ran: string[] = [];

    async function listen(stateDir: string, body: unknown) {
      const lines: CommandStreamLine[] = [];
      for await (const line of controlStream<CommandStreamLine>(stateDir, '/v1/listen', {
        method: 'POST',
        body,
      }))
        lines.push(line);
      const result = lines.find((l) => l.type === 'result');
      if (result?.type !== 'result') throw new Error('no result line');
      return { lines, result };
    }

    beforeAll(async () => {
      model = await loadSileroModel(SILERO!);
      // The spoken command with a mic's silence around it: 0.3 s before, 1 s after.
      const spoken = await speech(TEXT);
      const padded = new Int16Array(4800 + spoken.length + 16000);
      padded.set(spoken, 4800);
      wav = path.join(state.dir, 'kitchen.wav');
      writeFileSync(wav, encodeWav16(int16ToFloat(padded), 16000));
      silence = path.join(state.dir, 'silence.wav');
      writeFileSync(silence, encodeWav16(new Float32Array(16000), 16000));

      // The engine knows the VAD's cut of the file (the VAD is deterministic), sample for sample.
      const cut = await captureUtterance({
        source: pcmSource((await readWavFile(wav)).pcm),
        detector: () => new SileroVad(model),
      });
      const engine = new DictationEngine();
      engine.learn(cut!.pcm, TEXT);
      const manifests = (await loadAgents([path.join(repoRoot, 'agents')])).map((a) => a.manifest);
      const pipeline = new Pipeline({
        selfId: 'id-kitchen',
        view: () => [],
        stt: engine,
        transcribeRemote: null,
        fastMatcher: compileFastMatcher(manifests, SLOT_VALUES),
        routeRemote: null,
        localLlmRouter: null,
        routerModel: 'llama3',
        runIntent: async function* (intent) {
          ran.push(`${intent.agent}.${intent.intent}`);
          yield {
            type: 'result',
            text: 'Turned on the kitchen lights.',
            data: null,
            hostName: 'laptop',
          };
        },
        traces,
      });
      const listenFile: VoiceControlDeps['listenFile'] = async (file, opts) =>
        listenToFile((await readWavFile(file)).pcm, {
          pipeline,
          detector: () => new SileroVad(model),
          logger: silentLogger,
          ...opts,
        });
      const deps = { pipeline, traces, selfId: 'id-kitchen', voice: null, routerModel: 'llama3' };
      // `transcribe` cuts the file as the daemon does (node/pipeline/service.ts: cutFile)
      const cutFile: VoiceControlDeps['cutFile'] = async (pcm, signal) =>
        (
          await captureUtterance({
            source: pcmSource(pcm),
            detector: () => new SileroVad(model),
            signal,
          })
        )?.pcm ?? null;
      control = new ControlServer(controlSocketPath(state.dir), silentLogger);
      registerVoiceControlRoutes(control, { ...deps, listenFile, cutFile });
      await control.start();
      refusing = new ControlServer(controlSocketPath(bare.dir), silentLogger);
      registerVoiceControlRoutes(refusing, deps);
      await refusing.start();
    });

    afterAll(async () => {
      await control?.stop();
      await refusing?.stop();
      state.remove();
      bare.remove();
    });

    it('takes one command from a WAV file through the VAD, paced like the mic, traced from the VAD on', async () => {
      const { lines, result } = await listen(state.dir, { file: wav });
      expect(result).toMatchObject({
        ok: true,
        transcript: TEXT,
        reply: 'Turned on the kitchen lights.',
      });
      expect(ran).toEqual(['lights.on']);
      const hops = lines.flatMap((l) =>
        l.type === 'event' && l.event.type === 'hop' ? [l.event.hop.stage] : [],
      );
      expect(hops).toEqual(['stt', 'intent', 'run', 'reply']);
      const trace = traces.get(result.traceId)!;
      expect(trace.source).toBe('file');
      expect(trace.hops.map((h) => h.stage)).toEqual(['vad', 'stt', 'intent', 'run', 'reply']);
      expect(trace.hops[0]!.detail).toMatch(/^utterance of \d+ ms from a file, paced like a mic$/);
      // Paced in real time: the VAD cannot see the end of the speech before it has been "spoken".
      expect(trace.hops[0]!.durationMs).toBeGreaterThan(1000);
    });

    it('says it heard no speech when the file holds none', async () => {
      const { result } = await listen(state.dir, { file: silence });
      expect(result).toMatchObject({
        ok: false,
        failedStage: 'vad',
        reply: `I heard no speech in ${silence}.`,
      });
    });

    it('transcribe cuts the file as listen does, so it hears what listen would act on', async () => {
      const lines: CommandStreamLine[] = [];
      for await (const line of controlStream<CommandStreamLine>(state.dir, '/v1/transcribe', {
        method: 'POST',
        body: { path: wav },
      }))
        lines.push(line);
      const result = lines.find((l) => l.type === 'result');
      // the engine knows only the VAD's cut, sample for sample: the whole file would not be heard
      expect(result).toMatchObject({ ok: true, transcript: TEXT, segmentation: 'vad' });

      const silent: CommandStreamLine[] = [];
      for await (const line of controlStream<CommandStreamLine>(state.dir, '/v1/transcribe', {
        method: 'POST',
        body: { path: silence },
      }))
        silent.push(line);
      expect(silent.find((l) => l.type === 'result')).toMatchObject({
        ok: false,
        failedStage: 'vad',
        reply: `I heard no speech in ${silence}.`,
      });
    });

    it('refuses a relative path, and files on a daemon that cannot take them, saying why', async () => {
      await expect(listen(state.dir, { file: 'kitchen.wav' })).rejects.toThrow(
        /give the daemon an absolute path/,
      );
      await expect(listen(bare.dir, { file: wav })).rejects.toThrow(
        /cannot take utterances from files/,
      );
      await expect(listen(bare.dir, {})).rejects.toThrow(/set voice\.enabled = true/);
    });
  },
);
