/**
 * voice: capture, WAV input, resampling, Silero VAD and utterance segmentation, over one audio
 * type (Pcm16: 16 kHz mono 16-bit) from capture to the STT engine.
 */
export {
  PCM16_RATE,
  floatToInt16,
  int16ToFloat,
  pcm16Bytes,
  pcm16FromBytes,
  type Pcm16,
} from './audio.js';
export {
  arecordSource,
  captureArecord,
  pcmSource,
  CAPTURE_RATE,
  type AudioSource,
  type ArecordOptions,
} from './capture.js';
export { readWavFile, readRegularFile, loadSileroModel, type AudioClip } from './file.js';
export { downmix, resample, toMono16k, TARGET_RATE } from './resample.js';
export {
  parseSileroModel,
  SileroVad,
  speechProbabilities,
  SILERO_WINDOW,
  type SileroModel,
} from './silero.js';
export {
  UtteranceSegmenter,
  detectSpeechSegments,
  segmentStream,
  type SpeechDetector,
  type SegmenterOptions,
  type SpeechSegment,
  type Utterance,
  type SpeechLevel,
  type VadEvent,
} from './vad.js';
export {
  parseWav,
  encodeWav16,
  DEFAULT_MAX_WAV_BYTES,
  type DecodedWav,
  type WavInfo,
  type ParseWavOptions,
} from './wav.js';
export { segmenterOptionsFromConfig, vadModelPath, SILERO_MODEL_FILE } from './config.js';
export { listen, listenOnce, type ListenOptions } from './listen.js';
