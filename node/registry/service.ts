/**
 * ImageBlobs, the serving side of the mirror between nodes: the index of an agent version and
 * its blobs, only from what this node offers (never relayed from another peer), streamed in
 * chunks from the requested offset.
 */
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import {
  GrpcStatus,
  type BlobChunk,
  type BlobRequest,
  type ImageBlobsServer,
  type ServerWritableStream,
} from '../rpc/index.js';
import { isDigest } from './oci.js';
import type { RegistryMirror } from './mirror.js';

export interface ImageBlobsOptions {
  /** data bytes per chunk (default 256 KiB; gRPC's default message limit is 4 MiB) */
  chunkBytes?: number;
  /**
   * Where a blob's bytes are read from (default: the mirror's cache file). Tests pass a wrapper
   * to slow a transfer down, as a peer on a poor link would.
   */
  open?: (path: string, start: number) => NodeJS.ReadableStream;
  log?: Logger;
}

export const DEFAULT_BLOB_CHUNK_BYTES = 256 * 1024;
const AGENT = /^[a-z][a-z0-9_-]{0,31}$/;
const HASH = /^[0-9a-f]{16,64}$/;

export function imageBlobsService(
  mirror: RegistryMirror,
  opts: ImageBlobsOptions = {},
): ImageBlobsServer {
  const log = (opts.log ?? silentLogger).child({ component: 'registry' });
  return {
    resolve: (call, callback) => {
      const { agent, hash } = call.request;
      if (!AGENT.test(agent) || !HASH.test(hash)) {
        callback({
          code: GrpcStatus.INVALID_ARGUMENT,
          details: `bad image reference ${JSON.stringify(`${agent}:${hash}`)}: an agent name and 16-64 hex digits of its content hash`,
        });
        return;
      }
      mirror.resolveLocal(agent, hash).then(
        (index) =>
          index
            ? callback(null, {
                mediaType: index.mediaType,
                digest: index.digest,
                sizeBytes: index.bytes.length,
              })
            : callback({
                code: GrpcStatus.NOT_FOUND,
                details: `this node does not offer ${agent} ${hash} (not held, or not run successfully yet)`,
              }),
        (err: unknown) =>
          callback({
            code: GrpcStatus.INTERNAL,
            details: `resolving failed: ${describeError(err)}`,
          }),
      );
    },
    fetchBlob: (call) => {
      serveBlob(mirror, call, opts).catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'blob fetch failed');
        if (!call.cancelled)
          call.emit('error', {
            code: GrpcStatus.INTERNAL,
            details: `sending the blob failed: ${describeError(err)}`,
          });
      });
    },
  };
}

async function serveBlob(
  mirror: RegistryMirror,
  call: ServerWritableStream<BlobRequest, BlobChunk>,
  opts: ImageBlobsOptions,
): Promise<void> {
  const { agent, digest, offset } = call.request;
  if (!AGENT.test(agent) || !isDigest(digest)) {
    call.emit('error', {
      code: GrpcStatus.INVALID_ARGUMENT,
      details: `bad blob reference ${JSON.stringify(`${agent}@${digest}`)}: an agent name and "sha256:<64 hex>"`,
    });
    return;
  }
  const blob = await mirror.localBlob(agent, digest);
  if (!blob) {
    call.emit('error', {
      code: GrpcStatus.NOT_FOUND,
      details: `this node offers no blob ${digest} of ${agent}`,
    });
    return;
  }
  if (offset > blob.size) {
    call.emit('error', {
      code: GrpcStatus.OUT_OF_RANGE,
      details: `offset ${offset} is past the blob's ${blob.size} bytes`,
    });
    return;
  }
  const file = mirror.store.path(digest);
  const chunkBytes = opts.chunkBytes ?? DEFAULT_BLOB_CHUNK_BYTES;
  const source = opts.open
    ? opts.open(file, offset)
    : createReadStream(file, { start: offset, highWaterMark: chunkBytes });
  const abort = new AbortController();
  call.on('cancelled', () => {
    abort.abort(new Error('the receiver cancelled the fetch'));
    (source as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  });
  let first = true;
  const descriptor = { mediaType: '', digest, sizeBytes: blob.size };
  for await (const data of source) {
    if (call.cancelled) return;
    const chunk: BlobChunk = { data: data as Buffer };
    if (first) chunk.descriptor = descriptor;
    first = false;
    if (!call.write(chunk)) await once(call, 'drain', { signal: abort.signal });
  }
  if (first) call.write({ descriptor, data: Buffer.alloc(0) });
  call.end();
}
