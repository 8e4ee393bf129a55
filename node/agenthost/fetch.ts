/**
 * The receiving side of ImageStore.Fetch: stream a peer's `docker save` tar into a temporary file
 * while hashing it, check the digest, the size, the platform and the tag the tar carries, and
 * only then `docker load` it; after the load, the image's own config must name the platform
 * asked for (else it is removed again). A mismatch anywhere is an ImageTransferError. With
 * `build`, a peer with Go that lacks the image builds it for the platform first.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { DEFAULT_IMAGE_PREFIX, imageTag } from '../agents/index.js';
import { describeError, fileProblemHint } from '../errors.js';
import {
  serverStream,
  targetKey,
  untilConnected,
  CONNECT_GRACE_MS,
  type RpcClients,
  type RpcTarget,
} from '../rpc/index.js';
import { samePlatform, type Platform } from '../platform.js';
import { ImageTransferError } from './errors.js';
import type { ImageEngine } from './types.js';

export interface FetchImageOptions {
  clients: RpcClients;
  /** the peer that holds the image */
  peer: RpcTarget;
  /** the peer's name, for messages */
  peerName?: string;
  agent: string;
  hash: string;
  /** the platform of the image wanted, e.g. "linux/arm64" */
  platform: Platform;
  /** ask the peer to build the image for `platform` when it lacks it (it has Go) */
  build?: boolean;
  /** this node's engine, where the image is loaded */
  engine: ImageEngine & { removeImage?(tag: string): Promise<unknown> };
  imagePrefix?: string;
  /** refuse larger images (default 256 MiB) */
  maxBytes?: number;
  /** the whole transfer, load included (default 120 s) */
  timeoutMs?: number;
  signal?: AbortSignal;
  tmpDir?: string;
  onProgress?: (receivedBytes: number, totalBytes: number) => void;
}

export interface FetchedImage {
  tag: string;
  digest: string;
  sizeBytes: number;
  /** the peer built it for this fetch: how long that took (ms) */
  builtMs: number | null;
}

export const DEFAULT_MAX_IMAGE_BYTES = 256 * 1024 * 1024;

/** Fetches `agent:hash` from `peer` and loads it into `engine`. */
export async function fetchImage(opts: FetchImageOptions): Promise<FetchedImage> {
  const tag = imageTag(
    opts.agent,
    opts.hash,
    opts.platform,
    opts.imagePrefix ?? DEFAULT_IMAGE_PREFIX,
  );
  const from = opts.peerName ?? targetKey(opts.peer);
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const signal = opts.signal
    ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)])
    : AbortSignal.timeout(timeoutMs);
  const fail = (why: string, cause?: unknown) =>
    new ImageTransferError(
      `fetching ${tag} from ${from} failed: ${why}; nothing was loaded`,
      cause === undefined ? undefined : { cause },
    );

  const dir = await mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'helix-image-in-'));
  try {
    const file = path.join(dir, 'image.tar');
    const out = createWriteStream(file);
    // A write that fails (a full disk) must end this fetch, never the node: keep the error.
    let writeError: Error | null = null;
    out.on('error', (err) => (writeError ??= err));
    const hash = createHash('sha256');
    let meta:
      | { image: string; digest: string; sizeBytes: number; platform: string; builtMs: number }
      | undefined;
    let received = 0;
    try {
      const client = opts.clients.imageStore(opts.peer);
      // a peer that is starting is alive in the mesh a moment before its gRPC server listens
      await untilConnected(client, Math.min(timeoutMs, CONNECT_GRACE_MS), signal);
      const chunks = serverStream(
        client.fetch.bind(client),
        {
          agent: opts.agent,
          hash: opts.hash,
          platform: opts.platform,
          build: opts.build ?? false,
        },
        { timeoutMs, signal, target: targetKey(opts.peer) },
      );
      for await (const chunk of chunks) {
        if (!meta) {
          if (!chunk.meta)
            throw fail('the first chunk carries no image description (digest, size)');
          meta = chunk.meta;
          if (meta.image !== tag)
            throw fail(`the peer offered ${JSON.stringify(meta.image)} instead`);
          if (meta.platform !== opts.platform)
            throw fail(
              `the peer offered a ${JSON.stringify(meta.platform)} image, not ${opts.platform}`,
            );
          if (!/^sha256:[0-9a-f]{64}$/.test(meta.digest))
            throw fail(`the digest ${JSON.stringify(meta.digest)} is not "sha256:<64 hex>"`);
          if (meta.sizeBytes > maxBytes)
            throw fail(`it is ${meta.sizeBytes} bytes, over this node's limit of ${maxBytes}`);
        } else if (chunk.meta) {
          throw fail('a later chunk repeats the image description');
        }
        received += chunk.data.length;
        if (received > meta.sizeBytes)
          throw fail(`the peer sent more than the ${meta.sizeBytes} bytes it announced`);
        hash.update(chunk.data);
        if (!out.write(chunk.data)) await drainedOrClosed(out, signal);
        if (writeError) throw writeError;
        opts.onProgress?.(received, meta.sizeBytes);
      }
    } catch (err) {
      if (err instanceof ImageTransferError) throw err;
      throw fail(writeProblem(writeError ?? err, file), err);
    } finally {
      out.end();
      if (!out.closed) await once(out, 'close').catch(() => undefined);
    }
    if (writeError) throw fail(writeProblem(writeError, file), writeError);
    if (!meta) throw fail('the peer sent nothing');
    if (received !== meta.sizeBytes)
      throw fail(`the stream ended after ${received} of ${meta.sizeBytes} bytes`);
    const digest = `sha256:${hash.digest('hex')}`;
    if (digest !== meta.digest)
      throw fail(
        `digest mismatch: the peer announced ${meta.digest} but the bytes hash to ${digest}`,
      );

    const tags = await tarRepoTags(file).catch((err: unknown) => {
      throw fail(`the tar is not a docker save archive (${describeError(err)})`, err);
    });
    const foreign = tags.filter((t) => t !== tag);
    if (tags.length === 0 || foreign.length > 0) {
      throw fail(
        `the archive would tag ${foreign.length ? foreign.join(', ') : 'nothing'}, not just ${tag}`,
      );
    }
    try {
      await opts.engine.load(createReadStream(file), signal);
    } catch (err) {
      throw fail(describeError(err), err);
    }
    const loaded = await opts.engine.imagePlatform(tag, signal);
    if (loaded === null) throw fail(`docker load finished but ${tag} is not in the engine`);
    if (!samePlatform(loaded, opts.platform)) {
      // A tag that lies about its platform must never run: take it out again.
      await opts.engine.removeImage?.(tag).catch(() => undefined);
      throw fail(`the image inside is ${loaded}, not ${opts.platform}; it was removed again`);
    }
    return { tag, digest, sizeBytes: received, builtMs: meta.builtMs || null };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every RepoTag that `docker load` of this archive would create (manifest.json and the legacy `repositories`). */
export async function tarRepoTags(file: string): Promise<string[]> {
  // loaded by the first fetch, not at import (issue 12: a node's start-up on a Pi)
  const { default: tar } = await import('tar-stream');
  const extract = tar.extract();
  const tags: string[] = [];
  let sawManifest = false;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '');
      if (name !== 'manifest.json' && name !== 'repositories') {
        stream.on('end', next);
        stream.resume();
        return;
      }
      const parts: Buffer[] = [];
      stream.on('data', (b: unknown) => parts.push(b as Buffer));
      stream.on('end', () => {
        try {
          const json: unknown = JSON.parse(Buffer.concat(parts).toString('utf8'));
          if (name === 'manifest.json') {
            sawManifest = true;
            for (const entry of json as Array<{ RepoTags?: string[] | null }>)
              tags.push(...(entry.RepoTags ?? []));
          } else {
            for (const [repo, byTag] of Object.entries(
              json as Record<string, Record<string, string>>,
            )) {
              for (const t of Object.keys(byTag)) tags.push(`${repo}:${t}`);
            }
          }
          next();
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  createReadStream(file)
    .on('error', (e) => extract.destroy(e))
    .pipe(extract);
  await done;
  if (!sawManifest) throw new Error('no manifest.json');
  return [...new Set(tags)];
}

/** A failed write of the image file said with what to do (a full disk), else the error itself. */
function writeProblem(err: unknown, file: string): string {
  const hint = fileProblemHint(err);
  return hint === null
    ? describeError(err)
    : `cannot write ${file}: ${hint} (${describeError(err)})`;
}

/** Resolves when the stream can take more, or has closed (after an error); rejects on abort. */
function drainedOrClosed(out: Writable, signal: AbortSignal): Promise<void> {
  if (out.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const finish = (err?: unknown) => {
      out.off('drain', onDone);
      out.off('close', onDone);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDone = () => finish();
    const onAbort = () => finish(signal.reason);
    if (signal.aborted) return onAbort();
    out.on('drain', onDone);
    out.on('close', onDone);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
