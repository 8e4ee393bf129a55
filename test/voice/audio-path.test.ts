/**
 * Audio is one type (Pcm16) from capture to the STT engine: each stage below gets the very
 * samples captured, and the only conversions are at an engine's edge (Whisper's floats) and the
 * wire's bytes.
 */
import { describe, expect, it } from 'vitest';
import { Pipeline, type PipelineDeps } from '../../node/pipeline/index.js';
import { WhisperEngine } from '../../node/stt/index.js';
import { audioChunks } from '../../node/transcribe/index.js';
import type { SttEngine, Transcript } from '../../node/transcribe/index.js';
import type { PeerView } from '../../node/types.js';
import {
  listenOnce,
  pcm16FromBytes,
  pcmSource,
  type Pcm16,
  type SpeechDetector,
} from '../../node/voice/index.js';

/** Captured audio whose every sample differs, as a mic would give it. */
const captured: Pcm16 = new Int16Array(16_000 * 2).map((_, i) => ((i * 7919) % 65_536) - 32_768);

/** Speech from 0.5 s to 1.5 s. */
function scriptedDetector(): SpeechDetector {
  let window = 0;
  return {
    windowSize: 512,
    process: () => (window++ * 512 >= 8_000 && window * 512 <= 24_000 ? 0.9 : 0.01),
    reset: () => (window = 0),
  };
}

/** An engine that keeps what it was given. */
function spyEngine(): SttEngine & { inputs: unknown[] } {
  const inputs: unknown[] = [];
  return {
    name: 'spy',
    model: 'none',
    inputs,
    async transcribe(pcm) {
      inputs.push(pcm);
      return { text: 'ok', segments: [], language: 'en', confidence: 1 } satisfies Transcript;
    },
    async close() {},
  };
}

function pipeline(deps: Partial<PipelineDeps>): Pipeline {
  return new Pipeline({
    selfId: 'self',
    view: () => [],
    stt: null,
    transcribeRemote: null,
    fastMatcher: null,
    routeRemote: null,
    localLlmRouter: null,
    routerModel: 'none',
    runIntent: () => {
      throw new Error('not used');
    },
    ...deps,
  });
}

/** Where `part` starts in `whole`, or -1: the samples arrived unchanged. */
function offsetIn(whole: Pcm16, part: Pcm16): number {
  const at = whole.indexOf(part[0]!);
  return at >= 0 && whole.subarray(at, at + part.length).every((v, i) => v === part[i]) ? at : -1;
}

describe('one audio type from capture to the engine', () => {
  it('the segmenter hands on the captured samples themselves', async () => {
    const u = await listenOnce({ source: pcmSource(captured), detector: scriptedDetector() });
    expect(u?.pcm).toBeInstanceOf(Int16Array);
    expect(u!.pcm.length).toBeGreaterThan(16_000);
    expect(offsetIn(captured, u!.pcm)).toBeGreaterThan(0);
  });

  it('a local engine gets Pcm16 as captured: no conversion on the way', async () => {
    const engine = spyEngine();
    const result = await pipeline({ stt: engine }).transcribe(captured);
    expect(result.ok).toBe(true);
    expect(engine.inputs).toHaveLength(1);
    expect(engine.inputs[0]).toBe(captured);
  });

  it('a remote transcriber is handed Pcm16 as captured; the wire carries its bytes', async () => {
    const sent: unknown[] = [];
    const desk = { id: 'desk', name: 'desk', self: false, capabilities: { stt: {} } };
    const result = await pipeline({
      view: () => [desk as unknown as PeerView],
      transcribeRemote: async (_peer, pcm) => {
        sent.push(pcm);
        return { text: 'ok', segments: [], language: 'en', confidence: 1 };
      },
    }).transcribe(captured, { on: 'desk' });
    expect(result.ok).toBe(true);
    expect(sent[0]).toBe(captured);
    // the wire edge: bytes out, the same samples back
    const bytes = [...audioChunks(captured, { traceId: 't' })].map((c) => c.pcm);
    const back = pcm16FromBytes(Buffer.concat(bytes));
    expect(back.length).toBe(captured.length);
    expect(back.every((v, i) => v === captured[i])).toBe(true);
  });

  it('Whisper converts once, at its edge, to the floats whisper.cpp takes', async () => {
    const seen: unknown[] = [];
    const binding = {
      transcribe: async (pcm: Float32Array) => {
        seen.push(pcm);
        return { result: Promise.resolve([{ from: 0, to: 1000, text: ' ok' }]) };
      },
      free: async () => {},
    };
    // the constructor is private (create() loads the native addon); the binding is a stand-in
    const Engine = WhisperEngine as unknown as new (
      model: string,
      binding: unknown,
      options: object,
    ) => WhisperEngine;
    const engine = new Engine('stand-in.bin', binding, { model: 'stand-in.bin' });
    await engine.transcribe(captured);
    expect(seen[0]).toBeInstanceOf(Float32Array);
    const floats = seen[0] as Float32Array;
    expect(floats.length).toBe(captured.length);
    expect(floats.every((v, i) => v === captured[i]! / 32768)).toBe(true);
  });
});
