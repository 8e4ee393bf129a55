/**
 * Many mics, one action, on real parts: a real nats-server (ports from the OS), the real Silero
 * VAD on real speech (jfk.wav's first sentence, ../shared/data), three VoiceLoops fed the same
 * sentence as three mics at different distances: the speech at gains 1, 0.4 and 0.15 over the
 * same room noise, started 0, 40 and 80 ms apart, paced like a mic (512 samples every 32 ms).
 * Each announces on helix.v1.voice.heard (signed) and exactly one runs the intent: the nearest,
 * which cannot transcribe itself (its pipeline streams the audio to an STT peer).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  Arbiter,
  busHeardChannel,
  Pipeline,
  VoiceLoop,
  type PipelineResult,
} from '../../node/pipeline/index.js';
import {
  loadSileroModel,
  readWavFile,
  SileroVad,
  type AudioSource,
  type Pcm16,
} from '../../node/voice/index.js';
import type { PeerView } from '../../node/types.js';
import { BusHarness, newSecret } from '../bus/helpers.js';
import { sharedFile } from '../voice/shared-data.js';
import { waitFor } from '../support/wait.js';
import { matcher, peer, runScript, ranOn, sttEngine, transcript } from './support/plain.js';

const JFK = sharedFile('jfk.wav');
const SILERO = sharedFile('for-tests-silero-v6.2.0-ggml.bin');
const SAID = 'turn on the kitchen lights';
const LIGHTS_ON = {
  agent: 'lights',
  intent: 'turn_on',
  args: { room: 'kitchen' },
  confidence: 1 as const,
  phrase: 'turn on [the] {room} lights',
};

/** Speech scaled by `gain` over white noise of `noiseAmp` (its own seed), `leadMs` of noise first. */
function mic(speech: Pcm16, gain: number, noiseAmp: number, seed: number, leadMs: number): Pcm16 {
  const lead = Math.round(leadMs * 16);
  const out = new Int16Array(lead + speech.length);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const noise = ((s / 0x7fffffff) * 2 - 1) * noiseAmp * 32767;
    const x = i >= lead ? speech[i - lead]! * gain : 0;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(x + noise)));
  }
  return out;
}

/** A mic: 512 samples every 32 ms, then it stays open (silent) until aborted. */
function micSource(pcm: Pcm16): AudioSource {
  return {
    async *frames({ signal } = {}) {
      const t0 = performance.now();
      for (let i = 0, at = 0; at < pcm.length; i++, at += 512) {
        const due = t0 + i * 32 - performance.now();
        if (due > 0) await new Promise((r) => setTimeout(r, due));
        if (signal?.aborted) return;
        yield pcm.slice(at, at + 512);
      }
      await new Promise<void>((r) => signal?.addEventListener('abort', () => r(), { once: true }));
    },
  };
}

describe.skipIf(!JFK || !SILERO)(
  'many mics, one action (real nats-server, Silero, jfk.wav)',
  () => {
    const harness = new BusHarness();
    const stops: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const s of stops.splice(0)) await s();
      await harness.cleanup();
    });

    it('three mics hear one sentence: the nearest acts once, the others yield', async () => {
      const model = await loadSileroModel(SILERO!);
      // the first sentence (speech 0.32-2.27 s), then 1.1 s of silence to end it
      const sentence = new Int16Array(Math.round(4 * 16000));
      sentence.set((await readWavFile(JFK!)).pcm.subarray(0, Math.round(2.9 * 16000)));
      const secret = newSecret();
      const server = await harness.started('127.0.1.1', secret);

      const nodes = [
        { name: 'kitchen', gain: 1, offsetMs: 40, stt: false },
        { name: 'hall', gain: 0.4, offsetMs: 0, stt: true },
        { name: 'bedroom', gain: 0.15, offsetMs: 80, stt: true },
      ];
      const view: PeerView[] = nodes.map((n) =>
        peer(n.name, { stt: n.stt, caps: { mic: { devices: ['hw:0'] } } }),
      );
      const results = new Map<string, PipelineResult>();
      const runs = new Map<string, ReturnType<typeof runScript>>();
      const remoteAsked: string[] = [];
      const loops: VoiceLoop[] = [];

      for (const [i, n] of nodes.entries()) {
        const id = `id-${n.name}`;
        const bus = await harness.bus(server, n.name);
        const myView = () => view.map((p) => ({ ...p, self: p.id === id }));
        const arbiter = new Arbiter({
          channel: busHeardChannel(bus, { meshId: 'mesh-test', secret, selfId: id }),
          selfId: id,
          selfName: n.name,
          room: () => n.name,
          view: myView,
        });
        arbiter.start();
        const run = runScript(ranOn('Turned on the kitchen lights.'));
        runs.set(n.name, run);
        const pipeline = new Pipeline({
          selfId: id,
          view: myView,
          stt: n.stt ? sttEngine(transcript(SAID)) : null,
          transcribeRemote: async (p) => {
            remoteAsked.push(`${n.name}->${p.name}`);
            return transcript(SAID);
          },
          fastMatcher: matcher({ [SAID]: LIGHTS_ON }),
          routeRemote: null,
          localLlmRouter: null,
          routerModel: 'llama3',
          runIntent: run,
        });
        const loop = new VoiceLoop({
          source: micSource(mic(sentence, n.gain, 0.003, 17 + i, n.offsetMs)),
          detector: () => new SileroVad(model),
          pipeline,
          arbiter,
          onResult: (r) => results.set(n.name, r),
        });
        loops.push(loop);
        stops.push(
          () => loop.stop(),
          () => arbiter.stop(),
        );
      }
      await new Promise((r) => setTimeout(r, 100)); // subscriptions reach the server
      for (const loop of loops) loop.start();

      await waitFor(() => results.size >= 1, { timeoutMs: 10_000 });
      // the losers decided within the window; give a wrong second action time to show itself
      await new Promise((r) => setTimeout(r, 1000));

      const ran = [...runs].flatMap(([name, r]) => r.ran.map(() => name));
      expect(ran).toEqual(['kitchen']);
      expect([...results.keys()]).toEqual(['kitchen']);
      // it could not transcribe: its pipeline sent the audio to an STT peer
      expect(remoteAsked).toHaveLength(1);
      expect(remoteAsked[0]).toMatch(/^kitchen->(hall|bedroom)$/);

      const trace = results.get('kitchen')!.trace;
      expect(trace.ok).toBe(true);
      expect(trace.heardBy?.map((h) => h.node)).toEqual(['kitchen', 'hall', 'bedroom']);
      expect(trace.heardBy?.[0]).toMatchObject({ won: true, room: 'kitchen' });
      const [k, h, b] = trace.heardBy!;
      expect(k!.snrDb).toBeGreaterThan(h!.snrDb);
      expect(h!.snrDb).toBeGreaterThan(b!.snrDb);
      expect(k!.levelDbfs).toBeGreaterThan(h!.levelDbfs);
      const vad = trace.hops.find((x) => x.stage === 'vad')!;
      expect(vad.detail).toMatch(/heard best of 3 mics/);
      const waited = Number(/decided in (\d+) ms/.exec(vad.detail!)![1]);
      expect(waited).toBeLessThanOrEqual(150);
    }, 20_000);
  },
);
