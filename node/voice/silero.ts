/**
 * Silero VAD v6 inference in TypeScript, reading the weights from whisper.cpp's ggml file
 * (models/for-tests-silero-v6.2.0-ggml.bin). The smart-whisper build bundles a whisper.cpp
 * older than 1.7.6, so its VAD API is not there; the network is small enough (about 0.7 M
 * multiply-adds per 32 ms window, ~1-3 % of one core) to run here directly.
 *
 * The forward pass follows whisper.cpp's whisper_vad_build_graph: per 512-sample window,
 * reflect-pad 64 -> STFT as a strided conv with the stored basis (258 x 256, hop 128) ->
 * magnitude (129 bins x 4 frames) -> 4 conv1d+ReLU layers -> first frame -> LSTM cell (128) ->
 * ReLU -> 1x1 conv -> sigmoid. Pure: no I/O (loading the bytes is the caller's business).
 */
import { InputError } from '../errors.js';
import type { SpeechDetector } from './vad.js';

/** Samples per VAD window at 16 kHz (32 ms). */
export const SILERO_WINDOW = 512;
const GGML_MAGIC = 0x67676d6c;

interface ConvLayer {
  weight: Float32Array; // [out][in][k]
  bias: Float32Array;
  inCh: number;
  outCh: number;
  kernel: number;
}

export interface SileroModel {
  type: string;
  version: string;
  window: number;
  stftBasis: Float32Array; // [258][256]
  encoder: ConvLayer[];
  lstmIh: Float32Array; // [4*hidden][input]
  lstmHh: Float32Array; // [4*hidden][hidden]
  lstmBias: Float32Array; // bias_ih + bias_hh
  hidden: number;
  finalWeight: Float32Array;
  finalBias: number;
}

/** Parses a whisper.cpp Silero VAD ggml file. Throws InputError naming what is wrong. */
export function parseSileroModel(bytes: Uint8Array, source = 'VAD model'): SileroModel {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const bad = (what: string): InputError =>
    new InputError(
      `${source} is not a usable Silero VAD ggml file (${what}); get ggml-silero-v6.2.0.bin with \`helix-node models pull silero-vad\``,
    );
  const i32 = (): number => {
    if (at + 4 > bytes.byteLength) throw bad(`truncated at byte ${at}`);
    const v = view.getInt32(at, true);
    at += 4;
    return v;
  };
  const text = (len: number): string => {
    if (len < 0 || len > 256 || at + len > bytes.byteLength) throw bad(`bad string length ${len}`);
    const s = new TextDecoder().decode(bytes.subarray(at, at + len));
    at += len;
    return s;
  };
  if (bytes.byteLength < 8 || view.getUint32(0, true) !== GGML_MAGIC) throw bad('no ggml magic');
  at = 4;
  const type = text(i32());
  if (!type.startsWith('silero')) throw bad(`model type "${type}"`);
  const version = `${i32()}.${i32()}.${i32()}`;
  const window = i32();
  i32(); // context samples: whisper.cpp does not carry context between windows either
  const nLayers = i32();
  if (nLayers !== 4) throw bad(`${nLayers} encoder layers, expected 4`);
  const shapes: { inCh: number; outCh: number; kernel: number }[] = [];
  for (let i = 0; i < nLayers; i++) shapes.push({ inCh: i32(), outCh: i32(), kernel: i32() });
  i32(); // lstm input size
  const hidden = i32();
  i32(); // final conv in
  i32(); // final conv out

  const tensors = new Map<string, Float32Array>();
  while (at < bytes.byteLength) {
    const nDims = i32();
    const nameLen = i32();
    const ttype = i32();
    if (nDims < 0 || nDims > 4) throw bad(`tensor with ${nDims} dims`);
    let n = 1;
    for (let d = 0; d < nDims; d++) n *= i32();
    const name = text(nameLen);
    const size = ttype === 0 ? 4 : ttype === 1 ? 2 : -1;
    if (size < 0) throw bad(`tensor ${name} has type ${ttype}, expected f32 or f16`);
    if (at + n * size > bytes.byteLength) throw bad(`tensor ${name} truncated`);
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      out[k] =
        size === 4 ? view.getFloat32(at + 4 * k, true) : f16(view.getUint16(at + 2 * k, true));
    }
    at += n * size;
    tensors.set(name, out);
  }
  const get = (name: string, len: number): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw bad(`tensor ${name} missing`);
    if (t.length !== len) throw bad(`tensor ${name} has ${t.length} values, expected ${len}`);
    return t;
  };
  const encoder = shapes.map((s, i) => ({
    ...s,
    weight: get(`_model.encoder.${i}.reparam_conv.weight`, s.outCh * s.inCh * s.kernel),
    bias: get(`_model.encoder.${i}.reparam_conv.bias`, s.outCh),
  }));
  const biasIh = get('_model.decoder.rnn.bias_ih', 4 * hidden);
  const biasHh = get('_model.decoder.rnn.bias_hh', 4 * hidden);
  const lstmBias = new Float32Array(4 * hidden);
  for (let i = 0; i < lstmBias.length; i++) lstmBias[i] = biasIh[i]! + biasHh[i]!;
  return {
    type,
    version,
    window,
    stftBasis: get('_model.stft.forward_basis_buffer', 258 * 256),
    encoder,
    lstmIh: get('_model.decoder.rnn.weight_ih', 4 * hidden * encoder[3]!.outCh),
    lstmHh: get('_model.decoder.rnn.weight_hh', 4 * hidden * hidden),
    lstmBias,
    hidden,
    finalWeight: get('_model.decoder.decoder.2.weight', hidden),
    finalBias: get('_model.decoder.decoder.2.bias', 1)[0]!,
  };
}

/** One Silero VAD stream: feed 512-sample windows in order, get speech probabilities. */
export class SileroVad implements SpeechDetector {
  readonly windowSize = SILERO_WINDOW;
  private readonly h: Float32Array;
  private readonly c: Float32Array;
  private readonly padded = new Float32Array(SILERO_WINDOW + 128);
  private readonly gates: Float32Array;

  constructor(private readonly model: SileroModel) {
    this.h = new Float32Array(model.hidden);
    this.c = new Float32Array(model.hidden);
    this.gates = new Float32Array(4 * model.hidden);
  }

  /** Forgets the LSTM state (start of a new, unrelated stream). */
  reset(): void {
    this.h.fill(0);
    this.c.fill(0);
  }

  /** Speech probability of one 512-sample window of 16 kHz audio in [-1, 1]; shorter input is zero-padded. */
  process(window: Float32Array): number {
    const m = this.model;
    const n = SILERO_WINDOW;
    const p = this.padded;
    // reflect padding of 64 on both sides (no edge repeat, like torch's ReflectionPad1d)
    for (let i = 0; i < n; i++) p[64 + i] = i < window.length ? window[i]! : 0;
    for (let i = 0; i < 64; i++) {
      p[63 - i] = p[65 + i]!;
      p[64 + n + i] = p[64 + n - 2 - i]!;
    }
    // STFT magnitude: 4 frames of 256 samples, hop 128; channels 0..128 real, 129..257 imaginary
    const bins = 129;
    const frames = 4;
    let x: Float32Array = new Float32Array(bins * frames);
    for (let f = 0; f < frames; f++) {
      const off = f * 128;
      for (let b = 0; b < bins; b++) {
        let re = 0;
        let im = 0;
        const rRow = b * 256;
        const iRow = (b + bins) * 256;
        for (let k = 0; k < 256; k++) {
          const s = p[off + k]!;
          re += m.stftBasis[rRow + k]! * s;
          im += m.stftBasis[iRow + k]! * s;
        }
        x[b * frames + f] = Math.sqrt(re * re + im * im);
      }
    }
    let len = frames;
    const strides = [1, 2, 2, 1];
    m.encoder.forEach((layer, i) => {
      const out = conv1dRelu(x, len, layer, strides[i]!);
      x = out.data;
      len = out.len;
    });
    // first time step of the encoder output is the LSTM input
    const input = new Float32Array(m.encoder[3]!.outCh);
    for (let ch = 0; ch < input.length; ch++) input[ch] = x[ch * len]!;
    return this.step(input);
  }

  private step(input: Float32Array): number {
    const m = this.model;
    const H = m.hidden;
    const I = input.length;
    const g = this.gates;
    for (let j = 0; j < 4 * H; j++) {
      let acc = m.lstmBias[j]!;
      const ri = j * I;
      for (let k = 0; k < I; k++) acc += m.lstmIh[ri + k]! * input[k]!;
      const rh = j * H;
      for (let k = 0; k < H; k++) acc += m.lstmHh[rh + k]! * this.h[k]!;
      g[j] = acc;
    }
    let logit = m.finalBias;
    // PyTorch gate order: input, forget, cell, output
    for (let k = 0; k < H; k++) {
      const i = sigmoid(g[k]!);
      const f = sigmoid(g[H + k]!);
      const c = Math.tanh(g[2 * H + k]!);
      const o = sigmoid(g[3 * H + k]!);
      const cell = f * this.c[k]! + i * c;
      this.c[k] = cell;
      const h = o * Math.tanh(cell);
      this.h[k] = h;
      logit += m.finalWeight[k]! * Math.max(0, h);
    }
    return sigmoid(logit);
  }
}

/** Speech probability for every 512-sample window of a whole 16 kHz clip (last one zero-padded). */
export function speechProbabilities(model: SileroModel, pcm: Float32Array): Float32Array {
  const vad = new SileroVad(model);
  const count = Math.ceil(pcm.length / SILERO_WINDOW);
  const probs = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    probs[i] = vad.process(pcm.subarray(i * SILERO_WINDOW, (i + 1) * SILERO_WINDOW));
  }
  return probs;
}

function conv1dRelu(
  x: Float32Array,
  len: number,
  layer: ConvLayer,
  stride: number,
): { data: Float32Array; len: number } {
  const { inCh, outCh, kernel, weight, bias } = layer;
  const pad = (kernel - 1) >> 1;
  const outLen = Math.floor((len + 2 * pad - kernel) / stride) + 1;
  const out = new Float32Array(outCh * outLen);
  for (let o = 0; o < outCh; o++) {
    for (let t = 0; t < outLen; t++) {
      let acc = bias[o]!;
      const start = t * stride - pad;
      for (let i = 0; i < inCh; i++) {
        const wRow = (o * inCh + i) * kernel;
        const xRow = i * len;
        for (let k = 0; k < kernel; k++) {
          const pos = start + k;
          if (pos >= 0 && pos < len) acc += weight[wRow + k]! * x[xRow + pos]!;
        }
      }
      out[o * outLen + t] = acc > 0 ? acc : 0;
    }
  }
  return { data: out, len: outLen };
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

function f16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
