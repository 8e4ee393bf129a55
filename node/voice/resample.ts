/**
 * Down-mixing and sample-rate conversion to the 16 kHz mono the VAD and STT engines take.
 * Resampling is polyphase windowed-sinc (Kaiser window, beta 8.6, about 80 dB stop-band):
 * for a rate ratio L/M in lowest terms the L phase filters are computed once and each output
 * sample is one dot product. The cut-off sits at 0.92 x the lower Nyquist frequency, so
 * downsampling 44.1/48 kHz to 16 kHz does not alias energy above 8 kHz into speech band.
 * Pure: arrays in, arrays out.
 */
import { InputError } from '../errors.js';
import type { DecodedWav } from './wav.js';

export const TARGET_RATE = 16_000;

/** Zero crossings of the sinc on each side; 16 gives a ~0.08 x Nyquist transition band. */
const HALF_ZEROS = 16;
const KAISER_BETA = 8.6;
const CUTOFF = 0.92;
/** Above this many phases the table would be large; coefficients are then computed per sample. */
const MAX_TABLE_PHASES = 4096;

/** Averages all channels into one. */
export function downmix(channelData: Float32Array[]): Float32Array {
  if (channelData.length === 0) return new Float32Array(0);
  if (channelData.length === 1) return channelData[0]!;
  const frames = channelData[0]!.length;
  const out = new Float32Array(frames);
  const scale = 1 / channelData.length;
  for (const ch of channelData) for (let i = 0; i < frames; i++) out[i]! += ch[i]!;
  for (let i = 0; i < frames; i++) out[i]! *= scale;
  return out;
}

/** Resamples mono PCM from `fromRate` to `toRate` (Hz). Returns the input itself when the rates match. */
export function resample(pcm: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || fromRate <= 0 || toRate <= 0) {
    throw new InputError(
      `cannot resample from ${fromRate} Hz to ${toRate} Hz; rates must be positive integers`,
    );
  }
  if (fromRate === toRate) return pcm;
  const g = gcd(fromRate, toRate);
  const up = toRate / g; // L
  const down = fromRate / g; // M
  // cut-off relative to the input Nyquist frequency
  const cutoff = CUTOFF * Math.min(1, toRate / fromRate);
  // filter half-length in input samples
  const half = Math.ceil(HALF_ZEROS / cutoff);
  const taps = 2 * half;
  const outLength = Math.floor((pcm.length * up) / down);
  const out = new Float32Array(outLength);
  const table = up <= MAX_TABLE_PHASES ? phaseTable(up, half, cutoff) : undefined;
  const coeffs = new Float32Array(taps);

  for (let n = 0; n < outLength; n++) {
    // output n sits at input position n*M/L = base + phase/L
    const pos = n * down;
    const base = Math.floor(pos / up);
    const phase = pos - base * up;
    let h: Float32Array;
    if (table) {
      h = table.subarray(phase * taps, (phase + 1) * taps);
    } else {
      fillCoefficients(coeffs, phase / up, half, cutoff);
      h = coeffs;
    }
    let acc = 0;
    const first = base - half + 1;
    if (first >= 0 && first + taps <= pcm.length) {
      for (let k = 0; k < taps; k++) acc += h[k]! * pcm[first + k]!;
    } else {
      for (let k = 0; k < taps; k++) {
        const i = first + k;
        if (i >= 0 && i < pcm.length) acc += h[k]! * pcm[i]!;
      }
    }
    out[n] = acc;
  }
  return out;
}

/** A decoded WAV as 16 kHz mono Float32 in [-1, 1]. */
export function toMono16k(wav: Pick<DecodedWav, 'channelData' | 'sampleRate'>): Float32Array {
  return resample(downmix(wav.channelData), wav.sampleRate, TARGET_RATE);
}

function phaseTable(up: number, half: number, cutoff: number): Float32Array {
  const taps = 2 * half;
  const table = new Float32Array(up * taps);
  const row = new Float32Array(taps);
  for (let p = 0; p < up; p++) {
    fillCoefficients(row, p / up, half, cutoff);
    table.set(row, p * taps);
  }
  return table;
}

/**
 * Coefficients for an output sample at fractional offset `frac` (0 <= frac < 1) past input
 * sample `base`; tap k weighs input sample base - half + 1 + k. Normalised to unit DC gain.
 */
function fillCoefficients(out: Float32Array, frac: number, half: number, cutoff: number): void {
  let sum = 0;
  for (let k = 0; k < out.length; k++) {
    const t = k - half + 1 - frac; // distance from the output position, in input samples
    const w = kaiser(t / half);
    const v = w * cutoff * sinc(cutoff * t);
    out[k] = v;
    sum += v;
  }
  for (let k = 0; k < out.length; k++) out[k]! /= sum;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

const I0_BETA = besselI0(KAISER_BETA);

function kaiser(x: number): number {
  if (x <= -1 || x >= 1) return 0;
  return besselI0(KAISER_BETA * Math.sqrt(1 - x * x)) / I0_BETA;
}

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
