import { describe, expect, it } from 'vitest';
import { downmix, resample } from '../../node/voice/index.js';

function sine(freq: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  return new Float32Array(Math.round(rate * seconds)).map(
    (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate),
  );
}

/** RMS of the middle of a signal (away from the filter's edge effects). */
function rms(x: Float32Array): number {
  const mid = x.subarray(Math.floor(x.length * 0.1), Math.floor(x.length * 0.9));
  return Math.sqrt(mid.reduce((a, v) => a + v * v, 0) / mid.length);
}

/** Dominant frequency from upward zero crossings. */
function frequency(x: Float32Array, rate: number): number {
  const mid = x.subarray(Math.floor(x.length * 0.1), Math.floor(x.length * 0.9));
  let crossings = 0;
  for (let i = 1; i < mid.length; i++) if (mid[i - 1]! < 0 && mid[i]! >= 0) crossings++;
  return (crossings * rate) / mid.length;
}

describe('resample', () => {
  it.each([
    { from: 48000, to: 16000 },
    { from: 44100, to: 16000 },
    { from: 22050, to: 16000 },
    { from: 11025, to: 16000 },
    { from: 8000, to: 16000 },
    { from: 32000, to: 16000 },
  ])('keeps a 1 kHz tone intact from $from Hz to $to Hz', ({ from, to }) => {
    const out = resample(sine(1000, from, 0.5), from, to);
    expect(out.length).toBe(Math.floor((Math.round(from * 0.5) * to) / from));
    expect(rms(out)).toBeCloseTo(0.5 / Math.SQRT2, 2);
    expect(frequency(out, to)).toBeGreaterThan(990);
    expect(frequency(out, to)).toBeLessThan(1010);
  });

  it.each([
    { tone: 12000, from: 48000 },
    { tone: 10000, from: 44100 },
    { tone: 9000, from: 22050 },
  ])(
    'removes a $tone Hz tone above the new Nyquist frequency instead of aliasing it ($from Hz)',
    ({ tone, from }) => {
      // nearest-sample or linear decimation would fold this into the speech band at near full level
      const out = resample(sine(tone, from, 0.5), from, 16000);
      expect(rms(out)).toBeLessThan(0.005);
    },
  );

  it('passes speech-band content (3.4 kHz) nearly unchanged', () => {
    expect(rms(resample(sine(3400, 48000, 0.5), 48000, 16000))).toBeCloseTo(0.5 / Math.SQRT2, 2);
  });

  it('returns the input when the rates match', () => {
    const x = sine(440, 16000, 0.1);
    expect(resample(x, 16000, 16000)).toBe(x);
  });

  it('refuses a non-integer rate', () => {
    expect(() => resample(new Float32Array(10), 44100.5, 16000)).toThrow(
      /rates must be positive integers/,
    );
  });
});

describe('downmix', () => {
  it('averages channels', () => {
    const out = downmix([new Float32Array([1, 0.5]), new Float32Array([0, -0.5])]);
    expect([...out]).toEqual([0.5, 0]);
  });
});
