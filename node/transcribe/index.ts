/**
 * transcribe: the Transcriber gRPC service (STT-capable nodes) and its client, which streams an
 * utterance in 64 ms chunks to the nearest STT peer.
 */
export {
  SAMPLE_RATE,
  CHUNK_SAMPLES,
  CHUNK_MS,
  type SttEngine,
  type Transcript,
  type TranscriptSegment,
} from './types.js';
export { audioChunks, toWireTranscript, fromWireTranscript } from './convert.js';
export {
  transcriberService,
  registerTranscriber,
  type TranscriberServiceOptions,
  type TranscribeCallInfo,
} from './service.js';
export {
  transcribeWith,
  createTranscribeRemote,
  type TranscribeRemote,
  type RemoteTranscribeOptions,
} from './client.js';
