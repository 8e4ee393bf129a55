/**
 * Speech level and SNR from the segmenter (what many-mics arbitration compares): scripted
 * detector probabilities over synthetic audio of known power, so the numbers are exact.
 */
import { describe, expect, it } from 'vitest';
import { UtteranceSegmenter, type Pcm16, type VadEvent } from '../../node/voice/index.js';
import { scripted } from './scripted-detector.js';

/** `windows` windows of a square wave of amplitude `amp` (full scale 1): power amp². */
function square(windows: number, amp: number): Pcm16 {
  return new Int16Array(windows * 512).map((_, i) => (i % 2 ? 1 : -1) * Math.round(amp * 32767));
}

function concat(...parts: Pcm16[]): Pcm16 {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function utterances(seg: UtteranceSegmenter, pcm: Pcm16) {
  const events: VadEvent[] = [...seg.push(pcm), ...seg.flush()];
  return events.flatMap((e) => (e.type === 'speech-end' ? [e.utterance] : []));
}

const db = (amp: number) => 20 * Math.log10(amp);

describe('speech level and SNR of an utterance', () => {
  it.each([
    // speech amplitude, noise amplitude
    [0.5, 0.01],
    [0.1, 0.01],
    [0.05, 0.02],
    [0.9, 0.001],
  ])('speech %f over noise %f', (speech, noise) => {
    // 20 windows of noise, 30 of speech, 30 of noise (the silence that ends it)
    const probs = [...Array(20).fill(0), ...Array(30).fill(0.9), ...Array(30).fill(0)];
    const pcm = concat(square(20, noise), square(30, speech), square(30, noise));
    const [u] = utterances(new UtteranceSegmenter(scripted(probs), { silenceMs: 500 }), pcm);
    expect(u).toBeDefined();
    expect(u!.level.levelDbfs).toBeCloseTo(db(speech), 0);
    expect(u!.level.noiseDbfs).toBeCloseTo(db(noise), 0);
    expect(u!.level.snrDb).toBeCloseTo(db(speech) - db(noise), 0);
    // decided after 500 ms of silence, at the window where that was reached
    expect(u!.detectedAt).toBeGreaterThan(u!.speechEnd);
  });

  it('speech from the first window: the quietest window of the utterance is the floor', () => {
    const probs = [...Array(10).fill(0.9), ...Array(30).fill(0.1)];
    const pcm = concat(square(10, 0.3), square(30, 0.003));
    const [u] = utterances(new UtteranceSegmenter(scripted(probs), { silenceMs: 300 }), pcm);
    // the closing silence was heard before the end was decided: it is the floor
    expect(u!.level.snrDb).toBeCloseTo(40, 0);
  });

  it('digital silence is floored at -100 dBFS, never -Infinity', () => {
    const probs = [...Array(10).fill(0), ...Array(20).fill(0.9), ...Array(30).fill(0)];
    const pcm = concat(square(10, 0), square(20, 0.1), square(30, 0));
    const [u] = utterances(new UtteranceSegmenter(scripted(probs), { silenceMs: 300 }), pcm);
    expect(u!.level.noiseDbfs).toBe(-100);
    expect(u!.level.snrDb).toBeCloseTo(80, 0);
  });

  it('a louder copy of the same audio has the higher level, the same SNR', () => {
    const probs = [...Array(10).fill(0), ...Array(20).fill(0.9), ...Array(30).fill(0)];
    const quiet = concat(square(10, 0.01), square(20, 0.1), square(30, 0.01));
    const loud = quiet.map((x) => x * 4);
    const [a] = utterances(new UtteranceSegmenter(scripted(probs), { silenceMs: 300 }), quiet);
    const [b] = utterances(new UtteranceSegmenter(scripted(probs), { silenceMs: 300 }), loud);
    expect(b!.level.levelDbfs - a!.level.levelDbfs).toBeCloseTo(12, 0);
    expect(b!.level.snrDb).toBeCloseTo(a!.level.snrDb, 0);
  });

  it('a nearer mic (the same speech, louder, over the same room noise) measures higher by the gain', () => {
    // speech with strong and weak parts; on the far mic (a quarter of the amplitude) the detector
    // no longer calls the weak parts speech, on the near one it does (as Silero does)
    const speech = (gain: number) =>
      concat(...Array.from({ length: 20 }, (_, i) => square(1, gain * (i % 2 ? 0.02 : 0.2))));
    const noise = (n: number) => square(n, 0.001);
    const near = concat(noise(10), speech(1), noise(30));
    const far = concat(noise(10), speech(0.25), noise(30));
    const probs = (weak: number) => [
      ...Array(10).fill(0),
      ...Array.from({ length: 20 }, (_, i) => (i % 2 ? weak : 0.9)),
      ...Array(30).fill(0),
    ];
    const [a] = utterances(new UtteranceSegmenter(scripted(probs(0.9)), { silenceMs: 300 }), near);
    const [b] = utterances(new UtteranceSegmenter(scripted(probs(0.4)), { silenceMs: 300 }), far);
    // 4 times the amplitude: 12 dB, in the level and (the noise being the same) in the SNR
    expect(a!.level.levelDbfs - b!.level.levelDbfs).toBeCloseTo(12, 0);
    expect(a!.level.snrDb - b!.level.snrDb).toBeCloseTo(12, 0);
  });
});
