/**
 * The caller's side of Transcriber.Transcribe: one utterance streamed in 64 ms chunks (with
 * backpressure), partials handed to `onPartial`, the final transcript returned. A deadline on every
 * call; the signal cancels it; failures are RpcCallErrors naming the peer.
 */
import { once } from 'node:events';
import {
  peerTarget,
  targetKey,
  callOptions,
  GrpcStatus,
  RpcCallError,
  toRpcError,
  type RpcClients,
  type TranscriberClient,
  type TranscriptEvent,
} from '../rpc/index.js';
import type { PeerView } from '../types.js';
import type { Pcm16 } from '../voice/index.js';
import { audioChunks, fromWireTranscript } from './convert.js';
import type { Transcript } from './types.js';

export interface RemoteTranscribeOptions {
  traceId: string;
  language?: string;
  signal?: AbortSignal;
  /** the whole call, audio upload and transcription (default 30 s) */
  timeoutMs?: number;
  onPartial?: (t: Transcript) => void;
  /** "host:port", for messages */
  target?: string;
}

/** Streams one utterance to a Transcriber and resolves with its final transcript. */
export async function transcribeWith(
  client: TranscriberClient,
  samples: Pcm16,
  opts: RemoteTranscribeOptions,
): Promise<Transcript> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const ctx = { target: opts.target, method: 'Transcribe', timeoutMs };
  if (opts.signal?.aborted) {
    throw new RpcCallError(
      GrpcStatus.CANCELLED,
      'Transcribe was cancelled before it started',
      opts.target,
      'Transcribe',
    );
  }
  const { metadata, options } = callOptions(timeoutMs);
  const call = client.transcribe(metadata, options);
  const onAbort = () => call.cancel();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const reading = (async () => {
    let final: Transcript | null = null;
    for await (const event of call as AsyncIterable<TranscriptEvent>) {
      const e = event.event;
      if (e?.$case === 'partial') opts.onPartial?.(fromWireTranscript(e.value));
      else if (e?.$case === 'final') final = fromWireTranscript(e.value);
    }
    return final;
  })();
  // the write loop below may throw first; the read error is reported from there
  reading.catch(() => undefined);

  try {
    for (const chunk of audioChunks(samples, { traceId: opts.traceId, language: opts.language })) {
      if (!call.write(chunk)) {
        // the server is slower than the upload (a Pi over Wi-Fi); wait rather than buffer it all
        await Promise.race([once(call, 'drain'), reading]);
      }
    }
    call.end();
    const final = await reading;
    if (final === null) {
      throw new RpcCallError(
        GrpcStatus.INTERNAL,
        `the transcriber at ${opts.target ?? 'the peer'} ended the call without a transcript`,
        opts.target,
        'Transcribe',
      );
    }
    return final;
  } catch (err) {
    call.cancel();
    const readErr = await reading.then(
      () => null,
      (e: unknown) => e,
    );
    throw toRpcError(readErr ?? err, ctx);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

export type TranscribeRemote = (
  peer: PeerView,
  pcm: Pcm16,
  opts: Omit<RemoteTranscribeOptions, 'target'>,
) => Promise<Transcript>;

/** `transcribeRemote(peer, pcm, { traceId, signal })` over the node's shared gRPC channels. */
export function createTranscribeRemote(
  clients: RpcClients,
  defaults: { timeoutMs?: number } = {},
): TranscribeRemote {
  return (peer, pcm, opts) => {
    const target = targetKey(peerTarget(peer));
    return transcribeWith(clients.transcriber(target), pcm, {
      timeoutMs: defaults.timeoutMs,
      ...opts,
      target,
    });
  };
}
