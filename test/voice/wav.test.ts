import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../node/errors.js';
import {
  encodeWav16,
  floatToInt16,
  int16ToFloat,
  parseWav,
  readRegularFile,
  readWavFile,
} from '../../node/voice/index.js';
import { missingReason, sharedFile } from './shared-data.js';

/** A WAV with a hand-written header around raw sample bytes. */
function wav(opts: {
  format?: number;
  channels?: number;
  rate?: number;
  bits: number;
  data: number[];
  ext?: boolean;
  declaredData?: number;
}): Uint8Array {
  const { format = 1, channels = 1, rate = 16000, bits, data, ext = false } = opts;
  const fmtSize = ext ? 40 : 16;
  const buf = new Uint8Array(12 + 8 + fmtSize + 8 + data.length);
  const v = new DataView(buf.buffer);
  const tag = (at: number, s: string) => [...s].forEach((c, i) => (buf[at + i] = c.charCodeAt(0)));
  tag(0, 'RIFF');
  v.setUint32(4, buf.length - 8, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, ext ? 0xfffe : format, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, (rate * channels * bits) / 8, true);
  v.setUint16(32, (channels * bits) / 8, true);
  v.setUint16(34, bits, true);
  if (ext) {
    v.setUint16(36, 22, true);
    v.setUint16(38, bits, true);
    v.setUint16(44, format, true); // sub-format GUID starts with the format code
  }
  const d = 20 + fmtSize;
  tag(d, 'data');
  v.setUint32(d + 4, opts.declaredData ?? data.length, true);
  buf.set(data, d + 8);
  return buf;
}

const le16 = (...xs: number[]) => xs.flatMap((x) => [x & 0xff, (x >> 8) & 0xff]);
const le24 = (...xs: number[]) => xs.flatMap((x) => [x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff]);
const le32 = (...xs: number[]) =>
  xs.flatMap((x) => [x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff, (x >>> 24) & 0xff]);
const f32 = (...xs: number[]) => [...new Uint8Array(new Float32Array(xs).buffer)];

describe('parseWav', () => {
  it.each([
    { name: '8-bit unsigned', bits: 8, data: [128, 255, 0], expected: [0, 127 / 128, -1] },
    { name: '16-bit signed', bits: 16, data: le16(0, 16384, -32768), expected: [0, 0.5, -1] },
    { name: '24-bit signed', bits: 24, data: le24(0, 0x400000, 0x800000), expected: [0, 0.5, -1] },
    {
      name: '32-bit signed',
      bits: 32,
      data: le32(0, 0x40000000, 0x80000000),
      expected: [0, 0.5, -1],
    },
    {
      name: '32-bit float',
      bits: 32,
      format: 3,
      data: f32(0, 0.25, -0.75),
      expected: [0, 0.25, -0.75],
    },
    {
      name: 'extensible 16-bit',
      bits: 16,
      ext: true,
      data: le16(0, 16384, -32768),
      expected: [0, 0.5, -1],
    },
  ])('decodes $name samples to [-1, 1]', ({ bits, data, expected, format, ext }) => {
    const decoded = parseWav(wav({ bits, data, format, ext }));
    expect(decoded.frames).toBe(expected.length);
    expect([...decoded.channelData[0]!]).toEqual(expected.map((x) => expect.closeTo(x, 5)));
  });

  it('splits interleaved channels', () => {
    const decoded = parseWav(
      wav({ bits: 16, channels: 2, rate: 44100, data: le16(100, -100, 200, -200) }),
    );
    expect(decoded).toMatchObject({ channels: 2, sampleRate: 44100, frames: 2 });
    expect([...decoded.channelData[0]!].map((x) => Math.round(x * 32768))).toEqual([100, 200]);
    expect([...decoded.channelData[1]!].map((x) => Math.round(x * 32768))).toEqual([-100, -200]);
  });

  it.each([
    {
      name: 'not RIFF',
      bytes: new TextEncoder().encode('hello, this is not audio'),
      message: /not a WAV file/,
    },
    { name: 'too short', bytes: new Uint8Array(5), message: /not a WAV file \(only 5 bytes\)/ },
    {
      name: 'truncated data',
      bytes: wav({ bits: 16, data: le16(1, 2), declaredData: 400 }),
      message: /truncated: the header announces 400 bytes of audio but only 4 follow/,
    },
    {
      name: 'ADPCM',
      bytes: wav({ bits: 4, format: 2, data: [0, 0] }),
      message: /unsupported encoding ADPCM/,
    },
    {
      name: '12-bit integer',
      bytes: wav({ bits: 12, data: [0, 0] }),
      message: /unsupported 12-bit integer samples/,
    },
    {
      name: 'absurd sample rate',
      bytes: wav({ bits: 16, rate: 1000, data: le16(0) }),
      message: /unsupported sample rate 1000 Hz/,
    },
  ])('refuses $name with an InputError saying what to do', ({ bytes, message }) => {
    const err = (() => {
      try {
        parseWav(bytes, { source: 'x.wav' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/^x\.wav: .*; .*(sox|record|give)/);
  });

  it('refuses a file over the size limit', () => {
    expect(() =>
      parseWav(wav({ bits: 16, data: le16(...new Array(100).fill(0)) }), { maxBytes: 100 }),
    ).toThrow(/over the 100-byte limit for audio input; trim it/);
  });

  it('round-trips what encodeWav16 writes', () => {
    const pcm = new Float32Array([0, 0.5, -0.5, 0.25]);
    const decoded = parseWav(encodeWav16(pcm, 22050));
    expect(decoded.sampleRate).toBe(22050);
    expect([...decoded.channelData[0]!]).toEqual([0, 0.5, -0.5, 0.25]);
    expect([...int16ToFloat(floatToInt16(pcm))]).toEqual([...pcm]);
  });
});

describe('readWavFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'helix-wav-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says the file does not exist', async () => {
    await expect(readWavFile(join(dir, 'nope.wav'))).rejects.toThrow(
      /cannot read audio file .*nope\.wav: no such file/,
    );
  });

  it('checks the size limit before reading', async () => {
    const path = join(dir, 'big.wav');
    await writeFile(path, encodeWav16(new Float32Array(1000), 16000));
    await expect(readWavFile(path, { maxBytes: 500 })).rejects.toBeInstanceOf(InputError);
  });

  it('converts 44.1 kHz stereo to 16 kHz mono', async () => {
    const path = join(dir, 'stereo.wav');
    const n = 44100;
    const left = new Float32Array(n).map((_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 44100));
    await writeFile(path, encodeWav16([left, left], 44100));
    const clip = await readWavFile(path);
    expect(clip.original).toMatchObject({ sampleRate: 44100, channels: 2, frames: n });
    expect(clip.pcm.length).toBe(16000);
    const mid = clip.pcm.subarray(1000, 15000);
    // Pcm16: full scale is 32768
    const rms = Math.sqrt(mid.reduce((a, x) => a + x * x, 0) / mid.length) / 32768;
    expect(rms).toBeCloseTo(0.5 / Math.SQRT2, 2);
  });

  // issue 11: the size cap read stat's size (0 for devices), so /dev/zero grew the daemon to
  // 24 GB; opening a FIFO held a file thread until a writer came; a directory gave a raw EISDIR.
  it('refuses /dev/zero at once as a character device, saying what to pass', async () => {
    const err = await readWavFile('/dev/zero').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(
      /^\/dev\/zero is a character device, not a regular file; pass a WAV file/,
    );
  });

  it('refuses FIFOs at once, and they hold no file thread', async () => {
    const fifos = await Promise.all(
      [0, 1, 2, 3, 4, 5].map(async (i) => {
        const p = join(dir, `fifo${i}`);
        execFileSync('mkfifo', [p]);
        return p;
      }),
    );
    // More FIFOs than libuv has file threads (4): a blocking open of each would hang them all.
    const errs = await Promise.all(fifos.map((p) => readWavFile(p).catch((e: unknown) => e)));
    for (const [i, err] of errs.entries()) {
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toContain(
        `${fifos[i]} is a FIFO (named pipe), not a regular file`,
      );
    }
    const ok = join(dir, 'after-fifos.wav');
    await writeFile(ok, encodeWav16(new Float32Array(1600), 16000));
    expect((await readWavFile(ok)).pcm.length).toBe(1600);
  }, 5000);

  it('refuses a directory with what it is, not a raw EISDIR', async () => {
    const sub = join(dir, 'clips');
    await mkdir(sub);
    const err = await readWavFile(sub).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/clips is a directory, not a regular file; pass a WAV/);
    expect((err as Error).message).not.toContain('EISDIR');
  });

  it('caps the bytes it reads, not the size the file claims', async () => {
    // /proc files are regular files whose stat size is 0 whatever they hold.
    const err = await readRegularFile('/proc/self/status', {
      maxBytes: 100,
      what: 'a test file',
      instead: 'pass a smaller one',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/more than 100 bytes is over the 100-byte limit/);
    const whole = await readRegularFile('/proc/self/status', {
      maxBytes: 1 << 20,
      what: 'a test file',
      instead: 'pass a smaller one',
    });
    expect(whole.toString()).toMatch(/^Name:/);
  });

  const jfk = sharedFile('jfk.wav');
  it.skipIf(!jfk)(
    `reads jfk.wav as 11 s of 16 kHz mono${jfk ? '' : ` (skipped: ${missingReason('jfk.wav')})`}`,
    async () => {
      const clip = await readWavFile(jfk!);
      expect(clip.original).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16 });
      expect(clip.pcm.length).toBe(176000);
    },
  );
});
