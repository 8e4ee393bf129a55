/**
 * The mirror's blob cache: content-addressed files under `<dir>/blobs/sha256/<hex>`, written
 * through a temporary file that is hashed as it is written and renamed into place only when its
 * sha256 is what was asked for. A blob in the cache has therefore been checked once; a file
 * corrupted on disk afterwards is caught by the receiving mirror (and by the engine), not here.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { digestHex, isDigest } from './oci.js';

/** The bytes' sha256 is not the digest they were fetched under. */
export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`digest mismatch: expected ${expected} but the bytes hash to ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

export class BlobStore {
  readonly blobsDir: string;
  readonly tmpDir: string;

  constructor(readonly dir: string) {
    this.blobsDir = path.join(dir, 'blobs', 'sha256');
    this.tmpDir = path.join(dir, 'tmp');
  }

  async open(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    // Partial writes of an earlier process are of no use.
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  path(digest: string): string {
    return path.join(this.blobsDir, digestHex(digest));
  }

  /** The blob's size when the cache holds it, else null. */
  async size(digest: string): Promise<number | null> {
    try {
      return (await stat(this.path(digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  read(digest: string): Promise<Buffer> {
    return readFile(this.path(digest));
  }

  /** A read stream of the blob, or of bytes start..end (inclusive). */
  stream(digest: string, range?: { start: number; end: number }): NodeJS.ReadableStream {
    return createReadStream(this.path(digest), range);
  }

  /** Stores bytes made here (a manifest, an index, a config); returns their digest. */
  async putBytes(bytes: Buffer): Promise<string> {
    const w = this.writer();
    await w.write(bytes);
    return w.commit();
  }

  /** A temporary file that becomes a blob on commit(). */
  writer(): BlobWriter {
    return new BlobWriter(this, path.join(this.tmpDir, randomBytes(8).toString('hex')));
  }

  /** Digests of every blob in the cache. */
  async list(): Promise<string[]> {
    const names = await readdir(this.blobsDir).catch(() => [] as string[]);
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  async remove(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }
}

/** Bytes on their way into the cache: hashed as written; resumable (received says from where). */
export class BlobWriter {
  private out: WriteStream | null = null;
  private hash: Hash = createHash('sha256');
  private error: Error | null = null;
  received = 0;

  constructor(
    private readonly store: BlobStore,
    readonly file: string,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    if (!this.out) {
      this.out = createWriteStream(this.file);
      this.out.on('error', (err) => (this.error ??= err));
    }
    if (this.error) throw this.error;
    this.hash.update(chunk);
    this.received += chunk.length;
    if (!this.out.write(chunk)) await drained(this.out);
    if (this.error) throw this.error;
  }

  /** Starts again from byte 0 (the bytes so far came from a peer that lied). */
  async reset(): Promise<void> {
    await this.close();
    await rm(this.file, { force: true });
    this.hash = createHash('sha256');
    this.received = 0;
    this.error = null;
  }

  /**
   * Renames the file into the cache if its sha256 is `expected` (or whatever it is, when no digest
   * is expected); DigestMismatchError, and nothing kept, otherwise. Returns the digest.
   */
  async commit(expected?: string): Promise<string> {
    if (expected !== undefined && !isDigest(expected))
      throw new Error(`not a sha256 digest: ${JSON.stringify(expected)}`);
    if (!this.out) await this.write(Buffer.alloc(0));
    await this.close();
    if (this.error) throw this.error;
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (expected !== undefined && actual !== expected) {
      await rm(this.file, { force: true });
      throw new DigestMismatchError(expected, actual);
    }
    await rename(this.file, this.store.path(actual));
    return actual;
  }

  /** Drops what was written (after a failure). */
  async discard(): Promise<void> {
    await this.close();
    await rm(this.file, { force: true });
  }

  private async close(): Promise<void> {
    const out = this.out;
    this.out = null;
    if (!out) return;
    out.end();
    if (!out.closed) await once(out, 'close').catch(() => undefined);
  }
}

/** Resolves when the stream takes more, or has closed (after an error, kept by its listener). */
function drained(out: WriteStream): Promise<void> {
  if (out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}
