/**
 * Many mics, one action ranks mics by SNR, then level: with the real Silero model, one spoken
 * sentence heard by three mics at gains 1, 0.5 and 0.25 over the same room noise (a nearer and a
 * farther mic) must measure 6 dB apart in level and SNR, whatever the detector makes of the
 * quieter copies' weak parts and first windows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadSileroModel,
  SileroVad,
  UtteranceSegmenter,
  type SileroModel,
  type SpeechLevel,
} from '../../node/voice/index.js';
import { hasProgram, speakAll } from '../stt/speech.js';
import { missingReason, sharedFile } from './shared-data.js';

const modelPath = sharedFile('for-tests-silero-v6.2.0-ggml.bin');
const missing = !modelPath
  ? missingReason('for-tests-silero-v6.2.0-ggml.bin')
  : !hasProgram('espeak-ng')
    ? 'espeak-ng is not installed (apt-get install espeak-ng)'
    : null;

/** `speech` at `gain` after `leadS` of room noise, and 1.5 s of it after (uniform, amplitude 0.003). */
function atMic(speech: Int16Array, gain: number, leadS: number): Int16Array {
  let seed = 7;
  const at = Math.round(leadS * 16_000);
  const out = new Int16Array(at + speech.length + 24_000);
  for (let i = 0; i < out.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const noise = ((seed / 0xffffffff) * 2 - 1) * 0.003 * 32767;
    const s = i >= at && i < at + speech.length ? speech[i - at]! * gain : 0;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(noise + s)));
  }
  return out;
}

describe.skipIf(missing !== null)(
  `speech level with Silero${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    let model: SileroModel;
    let speech: Int16Array;
    beforeAll(async () => {
      model = await loadSileroModel(modelPath!);
      speech = (await speakAll([{ text: 'turn on the lights' }], ['en-us'], [175]))[0]!.pcm;
    }, 60_000);

    it.each([0.5, 1.5])(
      'a nearer mic measures 6 dB more in level and SNR (%f s of noise first)',
      (leadS) => {
        const levels: SpeechLevel[] = [1, 0.5, 0.25].map((gain) => {
          const seg = new UtteranceSegmenter(new SileroVad(model), { silenceMs: 500 });
          const ends = [...seg.push(atMic(speech, gain, leadS)), ...seg.flush()].flatMap((e) =>
            e.type === 'speech-end' ? [e.utterance.level] : [],
          );
          expect(ends).toHaveLength(1);
          return ends[0]!;
        });
        const pairs: [SpeechLevel, SpeechLevel][] = [
          [levels[0]!, levels[1]!],
          [levels[1]!, levels[2]!],
        ];
        for (const [near, far] of pairs) {
          expect(near.levelDbfs - far.levelDbfs).toBeCloseTo(6, 0);
          expect(near.snrDb - far.snrDb).toBeCloseTo(6, 0);
          // the same room noise on every mic
          expect(near.noiseDbfs).toBeCloseTo(far.noiseDbfs, 0);
        }
      },
    );
  },
);
