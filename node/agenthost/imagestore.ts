/**
 * ImageStore.Fetch, the serving side of the peer-to-peer image cache (DESIGN.md §6).
 *
 * Digest: "sha256:<hex>" of the exact `docker save` tar bytes sent, not the image id. The receiver
 * can check it while the bytes arrive and before anything reaches its engine; the image id cannot
 * be checked without loading. As the first chunk must carry the digest, the tar is spooled to a
 * temporary file first (agent images are ~2 MB; DESIGN.md caps them at 10 MB).
 * Only images this node advertises as shareable (at least one successful run) are served.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DEFAULT_IMAGE_PREFIX, imageTag } from '../agents/index.js';
import { describeError, fileProblemHint } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { sameImageHash } from '../placement/index.js';
import {
  GrpcStatus,
  type ImageChunk,
  type ImageRef,
  type ImageStoreServer,
  type ServerWritableStream,
} from '../rpc/index.js';
import type { ImageHeld } from '../types.js';
import type { ImageEngine } from './types.js';

export interface ImageStoreComponents {
  engine: ImageEngine;
  /** the images this node advertises (its registry); only shareable ones are served */
  images: () => readonly ImageHeld[];
  imagePrefix?: string;
  /** where the tar is spooled (default: the OS temp dir) */
  tmpDir?: string;
  /** data bytes per chunk (default 256 KiB; gRPC's default message limit is 4 MiB) */
  chunkBytes?: number;
  log?: Logger;
}

export const DEFAULT_CHUNK_BYTES = 256 * 1024;
const AGENT_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const HASH = /^[0-9a-f]{16,64}$/;

export function imageStoreService(components: ImageStoreComponents): ImageStoreServer {
  const log = (components.log ?? silentLogger).child({ component: 'imagestore' });
  return {
    fetch: (call) => {
      serveFetch(components, call, log).catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'image fetch failed');
        if (!call.cancelled)
          call.emit('error', {
            code: GrpcStatus.INTERNAL,
            details: `sending the image failed: ${describeError(err)}`,
          });
      });
    },
  };
}

async function serveFetch(
  c: ImageStoreComponents,
  call: ServerWritableStream<ImageRef, ImageChunk>,
  log: Logger,
): Promise<void> {
  const { agent, hash } = call.request;
  if (!AGENT_NAME.test(agent) || !HASH.test(hash)) {
    call.emit('error', {
      code: GrpcStatus.INVALID_ARGUMENT,
      details: `bad image reference ${JSON.stringify(`${agent}:${hash}`)}: an agent name and 16-64 hex digits of its content hash`,
    });
    return;
  }
  const held = c.images().find((i) => i.agent === agent && sameImageHash(i.hash, hash));
  const tag = imageTag(agent, hash, c.imagePrefix ?? DEFAULT_IMAGE_PREFIX);
  if (!held?.shareable) {
    const why = held
      ? 'it has not run successfully here yet, so it is not offered to peers'
      : 'this node does not hold it';
    call.emit('error', {
      code: GrpcStatus.NOT_FOUND,
      details: `${tag} is not available here: ${why}`,
    });
    return;
  }
  const abort = new AbortController();
  call.on('cancelled', () => abort.abort(new Error('the receiver cancelled the fetch')));

  const dir = await mkdtemp(path.join(c.tmpDir ?? os.tmpdir(), 'helix-image-out-'));
  try {
    if (!(await c.engine.has(tag, abort.signal))) {
      call.emit('error', {
        code: GrpcStatus.NOT_FOUND,
        details: `${tag} is advertised but no longer in this node's Docker engine`,
      });
      return;
    }
    const file = path.join(dir, 'image.tar');
    const { digest, sizeBytes } = await spool(
      await c.engine.save(tag, abort.signal),
      file,
      abort.signal,
    ).catch((err: unknown) => {
      const hint = fileProblemHint(err);
      if (hint === null) throw err;
      throw new Error(`the sending node cannot write ${file}: ${hint}`, { cause: err });
    });
    log.debug({ tag, digest, sizeBytes }, 'sending image');
    let first = true;
    for await (const data of createReadStream(file, {
      highWaterMark: c.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    })) {
      if (call.cancelled) return;
      const chunk: ImageChunk = { data: data as Buffer };
      if (first) chunk.meta = { image: tag, digest, sizeBytes };
      first = false;
      if (!call.write(chunk)) await once(call, 'drain', { signal: abort.signal });
    }
    if (first) throw new Error(`docker save of ${tag} produced no bytes`);
    call.end();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes the stream to `file`, returning the sha256 and length of exactly those bytes. */
export async function spool(
  source: NodeJS.ReadableStream,
  file: string,
  signal?: AbortSignal,
): Promise<{ digest: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(source, tap, createWriteStream(file), { signal });
  return { digest: `sha256:${hash.digest('hex')}`, sizeBytes };
}
