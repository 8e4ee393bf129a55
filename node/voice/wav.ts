/**
 * WAV (RIFF/WAVE) parsing: PCM 8/16/24/32-bit integer and 32/64-bit float, any channel count,
 * WAVE_FORMAT_EXTENSIBLE included. Pure: bytes in, samples out; every malformed input is an
 * InputError that says what is wrong and what to do.
 */
import { InputError } from '../errors.js';
import { floatSampleToInt16, type Pcm16 } from './audio.js';

/** Files larger than this are refused unless the caller raises the limit (about 6 min of 48 kHz stereo 16-bit). */
export const DEFAULT_MAX_WAV_BYTES = 64 * 1024 * 1024;

export type WavSampleFormat = 'int' | 'float';

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  format: WavSampleFormat;
  /** number of sample frames (one sample per channel each) */
  frames: number;
}

export interface DecodedWav extends WavInfo {
  /** one Float32Array per channel, samples in [-1, 1] */
  channelData: Float32Array[];
}

export interface ParseWavOptions {
  /** name used in error messages (a file path) */
  source?: string;
  maxBytes?: number;
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
const MIN_RATE = 4000;
const MAX_RATE = 384_000;
const MAX_CHANNELS = 64;

/** Parses and decodes a WAV file held in memory. */
export function parseWav(bytes: Uint8Array, options: ParseWavOptions = {}): DecodedWav {
  const source = options.source ?? 'WAV data';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_WAV_BYTES;
  const fail = (what: string, fix = 'convert it with `sox IN.wav -r 16000 -c 1 -b 16 OUT.wav`') =>
    new InputError(`${source}: ${what}; ${fix}`);

  if (bytes.byteLength > maxBytes) {
    throw fail(
      `${bytes.byteLength} bytes is over the ${maxBytes}-byte limit for audio input`,
      'trim it to the utterance (e.g. `sox IN.wav OUT.wav trim 0 30`) or raise the limit',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    const what = bytes.byteLength < 12 ? `only ${bytes.byteLength} bytes` : 'no RIFF/WAVE header';
    throw fail(
      `not a WAV file (${what})`,
      'give a .wav file (RIFF/WAVE), or convert it with `sox IN OUT.wav`',
    );
  }

  let fmt: (Omit<WavInfo, 'frames'> & { blockAlign: number }) | undefined;
  let data: Uint8Array | undefined;
  let at = 12;
  while (at + 8 <= bytes.byteLength) {
    const id = tag(at);
    const declared = view.getUint32(at + 4, true);
    const body = at + 8;
    // A chunk (other than data, whose size streaming writers leave open) must fit in the file;
    // checked before the fmt chunk is read, or an extensible header cut short reads past the end.
    if (body + declared > bytes.byteLength && id !== 'data') {
      throw fail(
        `truncated inside the "${id.replace(/[^\x20-\x7e]/g, '?')}" chunk`,
        'record or export it again',
      );
    }
    if (id === 'fmt ') {
      if (declared < 16 || body + 16 > bytes.byteLength)
        throw fail(`fmt chunk of ${declared} bytes is too short`);
      fmt = parseFmt(view, body, declared, fail);
    } else if (id === 'data') {
      // Streaming writers (ffmpeg to a pipe) leave 0xFFFFFFFF: the data runs to the end of the file.
      const size = declared === 0xffffffff ? bytes.byteLength - body : declared;
      if (body + size > bytes.byteLength) {
        throw fail(
          `truncated: the header announces ${size} bytes of audio but only ${bytes.byteLength - body} follow`,
          'the file was cut short (interrupted copy or recording); record or export it again',
        );
      }
      data = bytes.subarray(body, body + size);
      if (fmt) break;
    }
    at = body + declared + (declared & 1);
  }
  if (!fmt) throw fail('no "fmt " chunk (header is incomplete)');
  if (!data) throw fail('no "data" chunk (no audio in the file)');

  const frames = Math.floor(data.byteLength / fmt.blockAlign);
  if (data.byteLength % fmt.blockAlign !== 0 && frames === 0) {
    throw fail(
      `truncated: ${data.byteLength} bytes of audio is less than one ${fmt.blockAlign}-byte frame`,
    );
  }
  const { blockAlign: _blockAlign, ...info } = fmt;
  return { ...info, frames, channelData: decodeSamples(data, frames, fmt) };
}

function parseFmt(
  view: DataView,
  at: number,
  size: number,
  fail: (what: string, fix?: string) => InputError,
): Omit<WavInfo, 'frames'> & { blockAlign: number } {
  let code = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  if (code === FORMAT_EXTENSIBLE) {
    if (size < 40) throw fail('WAVE_FORMAT_EXTENSIBLE header without its sub-format');
    code = view.getUint16(at + 24, true); // first two bytes of the sub-format GUID
  }
  const names: Record<number, string> = {
    2: 'ADPCM',
    6: 'A-law',
    7: 'mu-law',
    0x11: 'IMA ADPCM',
    0x55: 'MP3',
  };
  if (code !== FORMAT_PCM && code !== FORMAT_FLOAT) {
    throw fail(
      `unsupported encoding ${names[code] ?? `0x${code.toString(16)}`} (only PCM integer and float are read)`,
      'convert it to PCM with `sox IN.wav -e signed-integer -b 16 OUT.wav`',
    );
  }
  const format: WavSampleFormat = code === FORMAT_FLOAT ? 'float' : 'int';
  const okBits = format === 'float' ? [32, 64] : [8, 16, 24, 32];
  if (!okBits.includes(bitsPerSample)) {
    throw fail(
      `unsupported ${bitsPerSample}-bit ${format === 'float' ? 'float' : 'integer'} samples`,
    );
  }
  if (channels < 1 || channels > MAX_CHANNELS) throw fail(`unsupported channel count ${channels}`);
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) {
    throw fail(`unsupported sample rate ${sampleRate} Hz (accepted: ${MIN_RATE}-${MAX_RATE} Hz)`);
  }
  if (blockAlign !== channels * (bitsPerSample / 8)) {
    throw fail(
      `inconsistent header: block align ${blockAlign} for ${channels} x ${bitsPerSample}-bit samples`,
    );
  }
  return { sampleRate, channels, bitsPerSample, format, blockAlign };
}

function decodeSamples(
  data: Uint8Array,
  frames: number,
  fmt: { channels: number; bitsPerSample: number; format: WavSampleFormat; blockAlign: number },
): Float32Array[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const { channels, bitsPerSample: bits, format, blockAlign } = fmt;
  const bytes = bits / 8;
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const read = sampleReader(view, bits, format);
  for (let f = 0; f < frames; f++) {
    const base = f * blockAlign;
    for (let c = 0; c < channels; c++) out[c]![f] = read(base + c * bytes);
  }
  return out;
}

function sampleReader(
  view: DataView,
  bits: number,
  format: WavSampleFormat,
): (at: number) => number {
  if (format === 'float') {
    return bits === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true);
  }
  switch (bits) {
    case 8: // unsigned, 128 is silence
      return (at) => (view.getUint8(at) - 128) / 128;
    case 16:
      return (at) => view.getInt16(at, true) / 32768;
    case 24:
      return (at) => {
        const v = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16);
        return v / 8_388_608;
      };
    default:
      return (at) => view.getInt32(at, true) / 2_147_483_648;
  }
}

/** Writes mono or multi-channel PCM (float, or Pcm16 as it is) as a 16-bit WAV (tests, debug capture). */
export function encodeWav16(
  channelData: Float32Array[] | Float32Array | Pcm16,
  sampleRate: number,
): Uint8Array {
  const channels = Array.isArray(channelData) ? channelData : [channelData];
  const frames = channels[0]?.length ?? 0;
  const dataBytes = frames * channels.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const put = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, FORMAT_PCM, true);
  view.setUint16(22, channels.length, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * channels.length * 2, true);
  view.setUint16(32, channels.length * 2, true);
  view.setUint16(34, 16, true);
  put(36, 'data');
  view.setUint32(40, dataBytes, true);
  let at = 44;
  for (let f = 0; f < frames; f++) {
    for (const ch of channels) {
      const v = ch[f]!;
      view.setInt16(at, ch instanceof Int16Array ? v : floatSampleToInt16(v), true);
      at += 2;
    }
  }
  return out;
}
