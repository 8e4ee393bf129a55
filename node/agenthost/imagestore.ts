/**
 * ImageStore.Fetch, the serving side of the peer-to-peer image cache (DESIGN.md §6).
 *
 * Digest: "sha256:<hex>" of the exact `docker save` tar bytes sent, not the image id. The receiver
 * can check it while the bytes arrive and before anything reaches its engine; the image id cannot
 * be checked without loading. As the first chunk must carry the digest, the tar is spooled to a
 * temporary file first (agent images are ~2 MB; DESIGN.md caps them at 10 MB).
 * Only images this node advertises as shareable (at least one successful run) are served, and
 * images of another platform than the one asked for never are. A request with `build` set is
 * served from this node's own build when it lacks the image: a node with Go builds the agent's
 * sources of that hash for the platform asked for (Go cross-compiles), for a node without Go.
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
import { parsePlatform, samePlatform, type Platform } from '../platform.js';
import type { ImageHeld } from '../types.js';
import type { ImageEngine } from './types.js';

export interface ImageStoreComponents {
  engine: ImageEngine;
  /**
   * builds the agent's image for `platform` from this node's sources when their content hash is
   * `hash` (node/agents' buildImage); absent when this node has no Go. Resolves to how long the
   * build took (0: the image was there already); rejects with the reason it cannot.
   */
  build?: (agent: string, hash: string, platform: Platform, signal: AbortSignal) => Promise<number>;
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
  const { agent, hash, build } = call.request;
  if (!AGENT_NAME.test(agent) || !HASH.test(hash)) {
    call.emit('error', {
      code: GrpcStatus.INVALID_ARGUMENT,
      details: `bad image reference ${JSON.stringify(`${agent}:${hash}`)}: an agent name and 16-64 hex digits of its content hash`,
    });
    return;
  }
  let platform: Platform;
  try {
    platform = parsePlatform(call.request.platform);
  } catch (err) {
    call.emit('error', {
      code: GrpcStatus.INVALID_ARGUMENT,
      details: `bad image platform: ${describeError(err)}${call.request.platform === '' ? ' (the asking node runs an older helix-node: update it)' : ''}`,
    });
    return;
  }
  const abort = new AbortController();
  call.on('cancelled', () => abort.abort(new Error('the receiver cancelled the fetch')));
  const held = c
    .images()
    .find((i) => i.agent === agent && i.platform === platform && sameImageHash(i.hash, hash));
  const tag = imageTag(agent, hash, platform, c.imagePrefix ?? DEFAULT_IMAGE_PREFIX);
  let builtMs = 0;
  if (!held?.shareable) {
    if (build && c.build) {
      try {
        builtMs = await c.build(agent, hash, platform, abort.signal);
      } catch (err) {
        call.emit('error', {
          code: GrpcStatus.FAILED_PRECONDITION,
          details: `${tag} could not be built here: ${describeError(err)}`,
        });
        return;
      }
      log.info({ tag, platform, builtMs }, 'image built for a peer');
    } else {
      const why = held
        ? 'it has not run successfully here yet, so it is not offered to peers'
        : build
          ? 'this node does not hold it and has no Go toolchain to build it'
          : 'this node does not hold it';
      call.emit('error', {
        code: GrpcStatus.NOT_FOUND,
        details: `${tag} is not available here: ${why}`,
      });
      return;
    }
  }

  const dir = await mkdtemp(path.join(c.tmpDir ?? os.tmpdir(), 'helix-image-out-'));
  try {
    const inEngine = await c.engine.imagePlatform(tag, abort.signal);
    if (inEngine === null || !samePlatform(inEngine, platform)) {
      call.emit('error', {
        code: GrpcStatus.NOT_FOUND,
        details:
          inEngine === null
            ? `${tag} is advertised but no longer in this node's Docker engine`
            : `${tag} in this node's engine is a ${inEngine} image, not ${platform}; it is not sent`,
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
      if (first) chunk.meta = { image: tag, digest, sizeBytes, platform, builtMs };
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
