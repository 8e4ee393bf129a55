/**
 * The one audio type from capture to the STT engine: 16 kHz mono signed 16-bit PCM. arecord
 * gives it, the segmenter keeps it, the gRPC AudioChunk carries its bytes and pocketsphinx reads
 * them; nothing converts it on the way. It changes form only at an edge:
 * - in: a decoded WAV (float, any rate) becomes Pcm16 once, in readWavFile;
 * - wire: pcm16Bytes (a view, no copy) and pcm16FromBytes (one copy, for alignment);
 * - engines that compute in floats (Whisper, the Silero VAD window) call int16ToFloat themselves.
 */

/** 16 kHz mono signed 16-bit samples, the only rate between capture and the engine. */
export type Pcm16 = Int16Array;

export const PCM16_RATE = 16_000;

/** Float [-1, 1] -> Int16, clipped (an input edge: decoded or resampled audio). */
export function floatToInt16(pcm: Float32Array): Pcm16 {
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = floatSampleToInt16(pcm[i]!);
  return out;
}

/** Int16 -> Float [-1, 1) (the edge of an engine that computes in floats). Exact: s / 32768. */
export function int16ToFloat(pcm: Pcm16): Float32Array {
  const out = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = pcm[i]! / 32768;
  return out;
}

export function floatSampleToInt16(v: number): number {
  const s = Math.round(v * 32768);
  return s > 32767 ? 32767 : s < -32768 ? -32768 : s;
}

/** The samples' little-endian bytes, as a view (no copy): the wire and pocketsphinx's raw input. */
export function pcm16Bytes(pcm: Pcm16): Buffer {
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

/** Little-endian 16-bit bytes -> samples (copied: the Buffer may be pooled or unaligned). */
export function pcm16FromBytes(bytes: Uint8Array): Pcm16 {
  const out = new Int16Array(bytes.length >> 1);
  Buffer.from(out.buffer).set(bytes.subarray(0, out.length * 2));
  return out;
}
