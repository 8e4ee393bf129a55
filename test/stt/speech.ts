/**
 * Spoken test utterances made with espeak-ng (several voices and speeds), read back through the
 * project's own WAV reader and resampler (espeak writes 22.05 kHz). Shared by the phrase test
 * and bench/stt/phrases.ts.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readWavFile, type Pcm16 } from '../../node/voice/index.js';

const run = promisify(execFile);

/** espeak-ng voices: US and British male, a US female variant, Scottish */
export const TEST_VOICES = ['en-us', 'en-gb', 'en-us+f3', 'en-gb-scotland'];
/** words per minute: slow and brisk */
export const TEST_SPEEDS = [140, 185];

export function hasProgram(bin: string, args = ['--version']): boolean {
  try {
    execFileSync(bin, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch (err) {
    // pocketsphinx_batch without arguments prints usage and exits non-zero: present
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export interface SpokenUtterance<T> {
  item: T;
  text: string;
  voice: string;
  speed: number;
  pitch: number;
  pcm: Pcm16;
}

/** Speaks every text with every voice and speed; temp files are removed before returning. */
export async function speakAll<T extends { text: string }>(
  items: readonly T[],
  voices: readonly string[] = TEST_VOICES,
  speeds: readonly number[] = TEST_SPEEDS,
  /** espeak-ng pitches (0-99, its default 50), taken in turn utterance by utterance */
  pitches: readonly number[] = [50],
): Promise<SpokenUtterance<T>[]> {
  const dir = await mkdtemp(join(tmpdir(), 'helix-speech-'));
  try {
    const jobs = items.flatMap((item) =>
      voices.flatMap((voice) => speeds.map((speed) => ({ item, voice, speed }))),
    );
    const out: SpokenUtterance<T>[] = new Array(jobs.length);
    let next = 0;
    // two at a time: the machines have two cores
    const worker = async () => {
      while (next < jobs.length) {
        const i = next++;
        const { item, voice, speed } = jobs[i]!;
        const pitch = pitches[i % pitches.length]!;
        const file = join(dir, `${i}.wav`);
        await run(
          'espeak-ng',
          ['-v', voice, '-s', String(speed), '-p', String(pitch), '-w', file, item.text],
          { timeout: 30_000 },
        );
        out[i] = {
          item,
          text: item.text,
          voice,
          speed,
          pitch,
          pcm: (await readWavFile(file)).pcm,
        };
      }
    };
    await Promise.all([worker(), worker()]);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
