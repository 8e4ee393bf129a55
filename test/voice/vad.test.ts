import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../node/config/index.js';
import { DependencyMissingError, InputError } from '../../node/errors.js';
import {
  floatToInt16,
  type Pcm16,
  detectSpeechSegments,
  listenOnce,
  loadSileroModel,
  segmenterOptionsFromConfig,
  vadModelPath,
  readWavFile,
  segmentStream,
  pcmSource,
  SileroVad,
  UtteranceSegmenter,
  type SileroModel,
  type VadEvent,
} from '../../node/voice/index.js';
import { missingReason, sharedFile } from './shared-data.js';
import { scripted } from './scripted-detector.js';

/** Windows of 32 ms: `ms` of probability p. */
const run = (ms: number, p: number) => new Array(Math.round(ms / 32)).fill(p) as number[];

/** Audio whose sample value encodes its own index, so utterance bounds can be checked. */
function ramp(windows: number): Pcm16 {
  return floatToInt16(new Float32Array(windows * 512).map((_, i) => i / (windows * 512)));
}

function feed(seg: UtteranceSegmenter, pcm: Pcm16, frame = 160): VadEvent[] {
  const events: VadEvent[] = [];
  for (let at = 0; at < pcm.length; at += frame)
    events.push(...seg.push(pcm.subarray(at, at + frame)));
  return [...events, ...seg.flush()];
}

describe('UtteranceSegmenter', () => {
  it('ends an utterance after silence_ms of silence and keeps the pre-roll', () => {
    const probs = [...run(1024, 0.01), ...run(1024, 0.9), ...run(1024, 0.01)];
    const pcm = ramp(probs.length);
    const events = feed(
      new UtteranceSegmenter(scripted(probs), { silenceMs: 700, prerollMs: 300, postrollMs: 200 }),
      pcm,
    );
    expect(events.map((e) => e.type)).toEqual(['speech-start', 'speech-end']);
    const end = events[1]!;
    if (end.type !== 'speech-end') throw new Error('unreachable');
    const u = end.utterance;
    expect(u.speechStart).toBeCloseTo(1.024 - 0.03, 3);
    expect(u.speechEnd).toBeCloseTo(2.048 + 0.03, 3);
    // pcm starts 300 ms before the first speech window and runs 200 ms past the last
    expect(u.start).toBeCloseTo(1.024 - 0.3, 3);
    expect(u.pcm.length).toBe(Math.round((1.024 + 0.3 + 0.2) * 16000));
    expect(u.pcm[0]).toBeCloseTo(pcm[Math.round((1.024 - 0.3) * 16000)]!, 6);
    expect(end.at).toBeCloseTo(u.speechEnd, 6);
  });

  it('keeps one utterance across pauses shorter than silence_ms', () => {
    const probs = [
      ...run(320, 0),
      ...run(640, 0.9),
      ...run(500, 0.05),
      ...run(640, 0.9),
      ...run(1000, 0),
    ];
    const events = feed(
      new UtteranceSegmenter(scripted(probs), { silenceMs: 700 }),
      ramp(probs.length),
    );
    expect(events.filter((e) => e.type === 'speech-end')).toHaveLength(1);
  });

  it('splits at pauses longer than silence_ms', () => {
    const probs = [
      ...run(320, 0),
      ...run(640, 0.9),
      ...run(800, 0.05),
      ...run(640, 0.9),
      ...run(1000, 0),
    ];
    const events = feed(
      new UtteranceSegmenter(scripted(probs), { silenceMs: 700 }),
      ramp(probs.length),
    );
    expect(events.filter((e) => e.type === 'speech-end')).toHaveLength(2);
  });

  it('does not count probabilities between the two thresholds as silence ending speech', () => {
    const probs = [...run(320, 0), ...run(640, 0.9), ...run(1000, 0.4), ...run(1000, 0)];
    const events = feed(
      new UtteranceSegmenter(scripted(probs), { silenceMs: 700 }),
      ramp(probs.length),
    );
    const ends = events.filter((e) => e.type === 'speech-end');
    expect(ends).toHaveLength(1);
    // the end is where probability first fell below threshold - 0.15: after 10 + 20 + 31 windows
    expect(ends[0]!.type === 'speech-end' && ends[0]!.utterance.speechEnd).toBeCloseTo(
      61 * 0.032 + 0.03,
      3,
    );
  });

  it('discards a blip shorter than min speech', () => {
    const probs = [...run(320, 0), ...run(128, 0.95), ...run(1000, 0)];
    const events = feed(new UtteranceSegmenter(scripted(probs), {}), ramp(probs.length));
    expect(events.map((e) => e.type)).toEqual(['speech-start', 'speech-discarded']);
  });

  it('cuts an utterance that runs past the maximum length', () => {
    const probs = run(5000, 0.9);
    const events = feed(
      new UtteranceSegmenter(scripted(probs), { maxUtteranceMs: 2000 }),
      ramp(probs.length),
    );
    const ends = events.filter((e) => e.type === 'speech-end');
    expect(ends.length).toBeGreaterThanOrEqual(2);
    const first = ends[0]!.type === 'speech-end' ? ends[0]!.utterance : undefined;
    expect(first?.truncated).toBe(true);
    expect(first!.speechEnd - first!.speechStart).toBeCloseTo(2.0 + 0.03, 1);
  });

  it('closes open speech when the stream ends', () => {
    const probs = [...run(320, 0), ...run(1000, 0.9)];
    const events = feed(new UtteranceSegmenter(scripted(probs), {}), ramp(probs.length));
    expect(events.map((e) => e.type)).toEqual(['speech-start', 'speech-end']);
  });

  it('gives the same events whatever the frame size', () => {
    const probs = [
      ...run(320, 0),
      ...run(700, 0.9),
      ...run(900, 0),
      ...run(400, 0.8),
      ...run(900, 0),
    ];
    const pcm = ramp(probs.length);
    const shape = (frame: number) =>
      feed(new UtteranceSegmenter(scripted(probs), {}), pcm, frame).map((e) =>
        e.type === 'speech-end'
          ? [e.type, e.utterance.start, e.utterance.pcm.length]
          : [e.type, e.at],
      );
    expect(shape(100)).toEqual(shape(512));
    expect(shape(4096)).toEqual(shape(512));
  });
});

describe('Silero VAD on real speech', () => {
  const modelPath = sharedFile('for-tests-silero-v6.2.0-ggml.bin');
  const jfkPath = sharedFile('jfk.wav');
  const skip = !modelPath || !jfkPath;
  const why = !modelPath
    ? missingReason('for-tests-silero-v6.2.0-ggml.bin')
    : missingReason('jfk.wav');
  let model: SileroModel;
  let pcm: Pcm16;
  beforeAll(async () => {
    if (skip) return;
    model = await loadSileroModel(modelPath);
    pcm = (await readWavFile(jfkPath)).pcm;
  });

  // Silero's segments for jfk.wav (../shared/data/README.md)
  const reference = [
    { start: 0.32, end: 2.27 },
    { start: 3.27, end: 4.41 },
    { start: 5.38, end: 7.68 },
    { start: 8.16, end: 10.62 },
  ];

  it.skipIf(skip)(
    `finds jfk.wav's speech segments within 150 ms of the Silero reference${skip ? ` (skipped: ${why})` : ''}`,
    () => {
      const segments = detectSpeechSegments(pcm, new SileroVad(model));
      expect(segments).toHaveLength(reference.length);
      segments.forEach((s, i) => {
        expect(Math.abs(s.start - reference[i]!.start)).toBeLessThanOrEqual(0.15);
        expect(Math.abs(s.end - reference[i]!.end)).toBeLessThanOrEqual(0.15);
      });
    },
  );

  it.skipIf(skip)(
    'splits jfk.wav into utterances at pauses of 0.7 s, each with its pre-roll',
    async () => {
      const seg = new UtteranceSegmenter(new SileroVad(model), { silenceMs: 700, prerollMs: 300 });
      const events: VadEvent[] = [];
      for await (const e of segmentStream(pcmSource(pcm, { frameSamples: 1024 }).frames(), seg))
        events.push(e);
      const utterances = events.flatMap((e) => (e.type === 'speech-end' ? [e.utterance] : []));
      // the 0.48 s pause between "...can do for you," and "ask what..." does not end the utterance
      // the file ends 0.35 s after the last word with a short noise, so the last utterance runs
      // to the end of the file (11.0 s) rather than closing at 10.62 s
      const expected = [
        [0.32, 2.27],
        [3.27, 4.41],
        [5.38, 11.0],
      ];
      expect(utterances).toHaveLength(expected.length);
      utterances.forEach((u, i) => {
        expect(Math.abs(u.speechStart - expected[i]![0]!)).toBeLessThanOrEqual(0.15);
        expect(Math.abs(u.speechEnd - expected[i]![1]!)).toBeLessThanOrEqual(0.15);
      });
      for (const u of utterances)
        expect(u.speechStart - u.start).toBeGreaterThanOrEqual(0.3 - 0.03 - 1e-9);
    },
  );

  it.skipIf(skip)('listens for one utterance from a source and stops there', async () => {
    const u = await listenOnce({
      source: pcmSource(pcm),
      detector: new SileroVad(model),
      prerollMs: 300,
    });
    expect(u).not.toBeNull();
    expect(Math.abs(u!.speechStart - 0.32)).toBeLessThanOrEqual(0.15);
    expect(Math.abs(u!.speechEnd - 2.27)).toBeLessThanOrEqual(0.15);
    expect(u!.pcm.length).toBe(Math.round((u!.speechEnd - 0.03 + 0.2 - u!.start) * 16000));
  });

  it.skipIf(skip)('hears no speech in silence and low noise', () => {
    const noise = floatToInt16(
      new Float32Array(16000 * 3).map(() => (Math.random() - 0.5) * 0.002),
    );
    expect(detectSpeechSegments(noise, new SileroVad(model))).toEqual([]);
  });
});

describe('voice config', () => {
  it('takes the VAD model from voice.vad_model, else the state directory', () => {
    expect(vadModelPath({ vad_model: '/opt/vad.bin' }, '/var/lib/helix')).toBe('/opt/vad.bin');
    expect(vadModelPath({ vad_model: '' }, '/var/lib/helix')).toBe(
      '/var/lib/helix/models/ggml-silero-v6.2.0.bin',
    );
  });

  it('maps silence_ms, preroll_ms and vad_threshold onto the segmenter', () => {
    const { voice } = parseConfig({ voice: { silence_ms: 900, preroll_ms: 250 } });
    expect(segmenterOptionsFromConfig(voice)).toEqual({
      silenceMs: 900,
      prerollMs: 250,
      threshold: 0.5,
    });
  });
});

describe('loadSileroModel', () => {
  it('says where to get a missing model', async () => {
    const err = await loadSileroModel('/nonexistent/ggml-silero.bin').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyMissingError);
    expect((err as Error).message).toMatch(
      /\/nonexistent\/ggml-silero\.bin.*helix-node models pull silero-vad/,
    );
  });

  it('refuses a file that is not a Silero ggml model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'helix-vad-'));
    try {
      await writeFile(join(dir, 'bad.bin'), 'not a model');
      await expect(loadSileroModel(join(dir, 'bad.bin'))).rejects.toBeInstanceOf(InputError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
