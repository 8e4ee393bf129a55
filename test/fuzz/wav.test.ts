/**
 * Fuzzing (issue 11): WAV headers, as `transcribe` reads them. Any bytes give an InputError that
 * says what is wrong, or audio that converts to 16 kHz mono Pcm16; never another kind of throw,
 * and never an allocation sized by what a header claims rather than by the bytes present.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HelixError, InputError } from '../../node/errors.js';
import { floatToInt16 } from '../../node/voice/audio.js';
import { toMono16k } from '../../node/voice/resample.js';
import { encodeWav16, parseWav } from '../../node/voice/wav.js';
import { runs, smallBytes } from './support.js';

/** parseWav, then what readWavFile does with the result. */
function readsSafely(bytes: Uint8Array): void {
  let wav;
  try {
    wav = parseWav(bytes, { source: 'fuzz.wav', maxBytes: 4096 });
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^fuzz\.wav: .+; .+/);
    return;
  }
  // output sized by the data present, not by any size a header claims
  expect(wav.frames * wav.channels * (wav.bitsPerSample / 8)).toBeLessThanOrEqual(bytes.length);
  expect(wav.channelData).toHaveLength(wav.channels);
  for (const ch of wav.channelData) expect(ch.length).toBe(wav.frames);
  let pcm;
  try {
    pcm = floatToInt16(toMono16k(wav));
  } catch (err) {
    expect(err).toBeInstanceOf(HelixError);
    return;
  }
  expect(pcm).toBeInstanceOf(Int16Array);
  expect(pcm.length).toBeLessThanOrEqual(Math.ceil((wav.frames * 16_000) / wav.sampleRate) + 1);
}

/** A header with any field changed: format code, channels, rate, block align, bits, chunk sizes. */
const header = fc.record({
  riffSize: fc.oneof(fc.constant(-1), fc.nat(), fc.constant(0xffffffff)),
  fmtSize: fc.oneof(fc.constantFrom(16, 18, 40, 0, 15, 39, 0xffffffff), fc.nat(64)),
  code: fc.oneof(fc.constantFrom(1, 3, 0xfffe, 2, 6, 7, 0x55), fc.nat(0xffff)),
  channels: fc.oneof(fc.constantFrom(0, 1, 2, 64, 65), fc.nat(0xffff)),
  rate: fc.oneof(
    fc.constantFrom(8000, 16000, 22050, 44100, 48000, 3999, 384_001, 0),
    fc.nat(0xffffffff),
  ),
  bits: fc.oneof(fc.constantFrom(8, 16, 24, 32, 64, 0, 12), fc.nat(0xffff)),
  blockAlign: fc.option(fc.nat(0xffff), { nil: undefined }),
  subFormat: fc.constantFrom(1, 3, 2, 0xfffe),
  dataId: fc.constantFrom('data', 'LIST', 'dat ', 'fmt '),
  dataSize: fc.oneof(fc.constant(-1), fc.constant(0xffffffff), fc.nat(), fc.nat(64)),
  body: fc.uint8Array({ maxLength: 64 }),
  cutAt: fc.option(fc.nat(200), { nil: undefined }),
  dataFirst: fc.boolean(),
});

function build(h: typeof header extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
  const fmtBodyLength = Math.min(h.fmtSize, 40);
  const fmt = new Uint8Array(8 + fmtBodyLength + (fmtBodyLength & 1));
  const fv = new DataView(fmt.buffer);
  fmt.set([0x66, 0x6d, 0x74, 0x20]); // "fmt "
  fv.setUint32(4, h.fmtSize >>> 0, true);
  const put16 = (at: number, v: number) => at + 2 <= fmt.length && fv.setUint16(at, v, true);
  const put32 = (at: number, v: number) => at + 4 <= fmt.length && fv.setUint32(at, v >>> 0, true);
  put16(8, h.code);
  put16(10, h.channels);
  put32(12, h.rate);
  const align = h.blockAlign ?? (h.channels * h.bits) / 8;
  put32(16, h.rate * align);
  put16(20, align);
  put16(22, h.bits);
  put16(32, h.subFormat);
  const data = new Uint8Array(8 + h.body.length);
  data.set([...h.dataId].map((c) => c.charCodeAt(0)));
  new DataView(data.buffer).setUint32(
    4,
    h.dataSize === -1 ? h.body.length : h.dataSize >>> 0,
    true,
  );
  data.set(h.body, 8);
  const chunks = h.dataFirst ? [data, fmt] : [fmt, data];
  const total = 12 + chunks[0]!.length + chunks[1]!.length;
  const out = new Uint8Array(total);
  out.set([0x52, 0x49, 0x46, 0x46]); // RIFF
  new DataView(out.buffer).setUint32(4, h.riffSize === -1 ? total - 8 : h.riffSize >>> 0, true);
  out.set([0x57, 0x41, 0x56, 0x45], 8); // WAVE
  out.set(chunks[0]!, 12);
  out.set(chunks[1]!, 12 + chunks[0]!.length);
  return h.cutAt === undefined ? out : out.subarray(0, h.cutAt);
}

describe('fuzz: WAV parsing', () => {
  it('arbitrary bytes, bare or after a RIFF/WAVE header: an InputError or audio', () => {
    const riff = smallBytes.map((b) => Uint8Array.from([...Buffer.from('RIFF\0\0\0\0WAVE'), ...b]));
    fc.assert(fc.property(fc.oneof(smallBytes, riff), readsSafely), runs());
  });

  it('headers with mutated chunk sizes, formats, rates and bit depths', () => {
    fc.assert(
      fc.property(header, (h) => readsSafely(build(h))),
      runs(),
    );
  });

  it('valid 16-bit files with a byte changed or the end cut off', () => {
    const file = fc
      .record({
        rate: fc.constantFrom(8000, 16000, 44100, 48000),
        samples: fc.array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 24 }),
        at: fc.nat(),
        byte: fc.nat(255),
        cut: fc.nat(),
      })
      .map(({ rate, samples, at, byte, cut }) => {
        const bytes = encodeWav16(Int16Array.from(samples), rate);
        bytes[at % bytes.length] = byte;
        return bytes.subarray(0, bytes.length - (cut % 4 === 0 ? cut % bytes.length : 0));
      });
    fc.assert(fc.property(file, readsSafely), runs());
  });

  it('an extensible fmt chunk cut short is an InputError, not a RangeError (found by fuzzing)', () => {
    const h: Parameters<typeof build>[0] = {
      riffSize: -1,
      fmtSize: 40,
      code: 0xfffe,
      channels: 1,
      rate: 16000,
      bits: 16,
      blockAlign: undefined,
      subFormat: 1,
      dataId: 'data',
      dataSize: -1,
      body: new Uint8Array(),
      cutAt: 36,
      dataFirst: false,
    };
    expect(() => parseWav(build(h))).toThrow(InputError);
  });
});
