/**
 * The mic side with the real Silero VAD (../shared/data) on real speech (jfk.wav), fed through an
 * AudioSource the way arecord feeds it, a little faster than real time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  captureUtterance,
  Pipeline,
  VoiceLoop,
  type PipelineResult,
} from '../../node/pipeline/index.js';
import {
  loadSileroModel,
  readWavFile,
  SileroVad,
  type AudioSource,
  type SileroModel,
} from '../../node/voice/index.js';
import { sharedFile } from '../voice/shared-data.js';
import { DictationEngine } from './support/mesh.js';

const JFK = sharedFile('jfk.wav');
const SILERO = sharedFile('for-tests-silero-v6.2.0-ggml.bin');

/** Frames of 512 samples, one every `everyMs` (a mic delivers one every 32 ms). */
function pacedSource(pcm: Int16Array, everyMs = 2): AudioSource {
  return {
    async *frames({ signal } = {}) {
      for (let at = 0; at < pcm.length; at += 512) {
        if (signal?.aborted) return;
        await new Promise((r) => setTimeout(r, everyMs));
        yield pcm.slice(at, at + 512);
      }
    },
  };
}

function pipelineWith(engine: DictationEngine): Pipeline {
  return new Pipeline({
    selfId: 'id-kitchen',
    view: () => [],
    stt: engine,
    transcribeRemote: null,
    fastMatcher: null,
    routeRemote: null,
    localLlmRouter: null,
    routerModel: 'llama3',
    runIntent: async function* () {
      yield { type: 'error', code: 'internal', message: 'not in this test', retryable: false };
    },
  });
}

describe.skipIf(!JFK || !SILERO)('listening with Silero VAD (needs ../shared/data)', () => {
  let model: SileroModel;
  let jfk: Int16Array;
  const loops: VoiceLoop[] = [];
  afterEach(async () => {
    await Promise.all(loops.splice(0).map((l) => l.stop()));
  });

  async function setup() {
    model ??= await loadSileroModel(SILERO!);
    jfk ??= (await readWavFile(JFK!)).pcm;
  }

  it('captures the first utterance with its pre-roll and stops there', async () => {
    await setup();
    const u = await captureUtterance({
      source: pacedSource(jfk, 0),
      detector: () => new SileroVad(model),
    });
    expect(u).not.toBeNull();
    // Silero's reference puts the first speech at 0.32-2.27 s; 300 ms pre-roll, 200 ms post-roll
    const seconds = u!.pcm.length / 16000;
    expect(seconds).toBeGreaterThan(1.9);
    expect(seconds).toBeLessThan(2.9);
    expect(u!.speechEndAt).toBeGreaterThanOrEqual(u!.speechStartAt);
    expect(u!.truncated).toBe(false);
  });

  it('hears nothing in silence and gives up at the timeout', async () => {
    await setup();
    const u = await captureUtterance({
      source: pacedSource(new Int16Array(16000 * 60), 5),
      detector: () => new SileroVad(model),
      timeoutMs: 300,
    });
    expect(u).toBeNull();
  });

  it('the running loop hands each utterance to the pipeline, traced from the VAD on', async () => {
    await setup();
    const engine = new DictationEngine();
    const results: PipelineResult[] = [];
    const loop = new VoiceLoop({
      source: pacedSource(jfk),
      detector: () => new SileroVad(model),
      pipeline: pipelineWith(engine),
      onResult: (r) => results.push(r),
      retryMs: 60_000,
    });
    loops.push(loop);
    loop.start();
    expect(loop.listening).toBe(true);
    const next = await loop.once({ timeoutMs: 10_000 });
    expect(next).not.toBeNull();
    // the engine knows none of JFK's words: nothing is acted on, and the person is told
    expect(next).toMatchObject({
      ok: false,
      failedStage: 'stt',
      reply: "I didn't hear any words.",
    });
    const hops = next!.trace.hops.map((h) => `${h.stage}@${h.node}`);
    expect(hops).toEqual(['vad@id-kitchen', 'stt@id-kitchen', 'reply@id-kitchen']);
    expect(next!.trace.hops[1]?.detail).toMatch(/it never left this node/);
    expect(next!.trace.source).toBe('mic');
    expect(results).toContain(next);
    expect(engine.heard.length).toBeGreaterThanOrEqual(1);
    await loop.stop();
    expect(loop.listening).toBe(false);
  });
});
