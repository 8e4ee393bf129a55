/**
 * The Transcriber gRPC service on STT-capable nodes: one call = one utterance, streamed in as
 * 64 ms AudioChunks of 16 kHz s16le; the local engine runs once the last chunk is in and the
 * final TranscriptEvent goes back (with `partialEveryMs`, partials of the audio so far on the way).
 *
 * The audio stays in memory and is dropped when the call ends; it reaches the disk only when
 * voice.debug_capture_dir is set. One transcription runs at a time per engine (whisper.cpp keeps
 * one model context; two at once only thrash a small CPU); later calls wait their turn within
 * their deadline.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DependencyMissingError, describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import {
  GrpcStatus,
  callerNodeId,
  type AudioChunk,
  type RpcServer,
  type ServerDuplexStream,
  type TranscriberServer,
  type TranscriptEvent,
  TranscriberService,
} from '../rpc/index.js';
import { encodeWav16, pcm16FromBytes, type Pcm16 } from '../voice/index.js';
import { toWireTranscript } from './convert.js';
import { CHUNK_SAMPLES, SAMPLE_RATE, type SttEngine, type Transcript } from './types.js';

export interface TranscribeCallInfo {
  traceId: string;
  /** the calling node's id (from its mesh proof) */
  caller: string | null;
  /** samples in each chunk, in arrival order */
  chunkSamples: number[];
  samples: number;
  /** time the engine took (0 when it never ran) */
  engineMs: number;
  ok: boolean;
  error?: string;
}

export interface TranscriberServiceOptions {
  engine: SttEngine;
  /** this node's name, for messages */
  selfName: string;
  logger?: Logger;
  /** voice.debug_capture_dir: keep each received utterance as <dir>/<time>-<traceId>.wav */
  debugCaptureDir?: string;
  /** longest utterance accepted (default 60 s; the VAD cuts at 30 s) */
  maxUtteranceMs?: number;
  /** emit a partial transcript of the audio so far every this much audio (default 0: only the final) */
  partialEveryMs?: number;
  /** observes every call when it ends (tests, metrics) */
  onCall?: (info: TranscribeCallInfo) => void;
}

type Call = ServerDuplexStream<AudioChunk, TranscriptEvent>;

class CallRefused extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
  }
}

/** A one-at-a-time lane for the engine. */
class EngineLane {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export function transcriberService(opts: TranscriberServiceOptions): TranscriberServer {
  const log = (opts.logger ?? silentLogger).child({ component: 'transcriber' });
  const lane = new EngineLane();
  const maxSamples = Math.round(((opts.maxUtteranceMs ?? 60_000) * SAMPLE_RATE) / 1000);
  const partialSamples = Math.round(((opts.partialEveryMs ?? 0) * SAMPLE_RATE) / 1000);

  return {
    transcribe(call: Call) {
      const abort = new AbortController();
      const info: TranscribeCallInfo = {
        traceId: '',
        caller: callerNodeId(call) ?? null,
        chunkSamples: [],
        samples: 0,
        engineMs: 0,
        ok: false,
      };
      const pieces: Pcm16[] = [];
      let first = true;
      let ended = false;
      let samplesAtLastPartial = 0;
      let partialRunning = false;
      let done = false;

      const finish = (err?: CallRefused | Error) => {
        if (done) return;
        done = true;
        pieces.length = 0;
        if (err) {
          info.error = err.message;
          const code = err instanceof CallRefused ? err.code : GrpcStatus.INTERNAL;
          // grpc-js turns an 'error' event on a server stream into the call's status
          if (!abort.signal.aborted) call.emit('error', { code, details: err.message });
        } else {
          info.ok = true;
          call.end();
        }
        log.debug(
          {
            traceId: info.traceId,
            caller: info.caller,
            chunks: info.chunkSamples.length,
            samples: info.samples,
            engineMs: info.engineMs,
            ok: info.ok,
          },
          'transcribe call ended',
        );
        opts.onCall?.(info);
      };

      const audio = (): Pcm16 => {
        const all = new Int16Array(info.samples);
        let at = 0;
        for (const p of pieces) {
          all.set(p, at);
          at += p.length;
        }
        return all;
      };

      const transcribe = (pcm: Pcm16): Promise<Transcript> =>
        lane.run(async () => {
          abort.signal.throwIfAborted();
          const started = performance.now();
          try {
            return await opts.engine.transcribe(pcm, { signal: abort.signal });
          } finally {
            info.engineMs += performance.now() - started;
          }
        });

      const maybePartial = () => {
        if (partialSamples <= 0 || partialRunning || ended) return;
        if (info.samples - samplesAtLastPartial < partialSamples) return;
        samplesAtLastPartial = info.samples;
        partialRunning = true;
        transcribe(audio())
          .then((t) => {
            if (!ended && !done)
              call.write({ event: { $case: 'partial', value: toWireTranscript(t) } });
          })
          .catch(() => undefined)
          .finally(() => {
            partialRunning = false;
          });
      };

      const onEnd = async () => {
        ended = true;
        const pcm = audio();
        if (opts.debugCaptureDir) await capture(opts.debugCaptureDir, info.traceId, pcm, log);
        try {
          const t = await transcribe(pcm);
          if (done) return;
          call.write({ event: { $case: 'final', value: toWireTranscript(t) } });
          finish();
        } catch (err) {
          if (abort.signal.aborted) return finish(new Error('cancelled by the caller'));
          log.warn({ traceId: info.traceId, err: describeError(err) }, 'transcription failed');
          finish(
            err instanceof DependencyMissingError
              ? new CallRefused(
                  GrpcStatus.FAILED_PRECONDITION,
                  `speech recognition on ${opts.selfName} cannot run: ${err.message}`,
                )
              : new CallRefused(
                  GrpcStatus.INTERNAL,
                  `speech recognition failed on ${opts.selfName}: ${describeError(err)}`,
                ),
          );
        }
      };

      call.on('data', (chunk: AudioChunk) => {
        if (done || ended) return;
        try {
          if (first) {
            first = false;
            info.traceId = chunk.traceId.slice(0, 64);
            if (chunk.sampleRate !== SAMPLE_RATE) {
              throw new CallRefused(
                GrpcStatus.INVALID_ARGUMENT,
                `audio must be ${SAMPLE_RATE} Hz mono s16le; the first chunk said ${chunk.sampleRate} Hz`,
              );
            }
          }
          if (chunk.pcm.length % 2 !== 0) {
            throw new CallRefused(
              GrpcStatus.INVALID_ARGUMENT,
              'a chunk holds an odd number of bytes; samples are 16-bit',
            );
          }
          const samples = chunk.pcm.length >> 1;
          if (samples > CHUNK_SAMPLES) {
            throw new CallRefused(
              GrpcStatus.INVALID_ARGUMENT,
              `a chunk holds ${samples} samples; send at most ${CHUNK_SAMPLES} (64 ms) per chunk`,
            );
          }
          if (info.samples + samples > maxSamples) {
            throw new CallRefused(
              GrpcStatus.INVALID_ARGUMENT,
              `the utterance is longer than ${(maxSamples / SAMPLE_RATE).toFixed(0)} s; split it`,
            );
          }
          info.chunkSamples.push(samples);
          if (samples > 0) {
            pieces.push(pcm16FromBytes(chunk.pcm));
            info.samples += samples;
          }
          if (chunk.end) void onEnd();
          else maybePartial();
        } catch (err) {
          finish(err as Error);
        }
      });
      call.on('end', () => {
        // the caller half-closed without an `end` chunk: transcribe what came
        if (!ended && !done) void onEnd();
      });
      call.on('cancelled', () => {
        abort.abort(new Error('cancelled by the caller'));
        finish(new Error('cancelled by the caller'));
      });
      call.on('error', () => abort.abort(new Error('stream error')));
    },
  };
}

/** Registers the Transcriber service on the node's gRPC server (before rpc.start()). */
export function registerTranscriber(rpc: RpcServer, opts: TranscriberServiceOptions): void {
  rpc.addService(TranscriberService, transcriberService(opts));
}

async function capture(dir: string, traceId: string, pcm: Pcm16, log: Logger): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${traceId.replace(/[^A-Za-z0-9_-]/g, '') || 'untraced'}.wav`;
    await writeFile(path.join(dir, name), encodeWav16(pcm, SAMPLE_RATE));
  } catch (err) {
    log.warn({ dir, err: describeError(err) }, 'could not write the debug capture');
  }
}
