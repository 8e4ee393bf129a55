/** Streaming checksums of model files (hundreds of MiB: never read whole into memory). */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ModelSpec } from './registry.js';

export interface Digests {
  sha256: string;
  sha1: string;
  bytes: number;
}

/** Hashes fed chunk by chunk (a download hashes while it writes). */
export class DigestStream {
  private readonly sha256: Hash = createHash('sha256');
  private readonly sha1: Hash = createHash('sha1');
  private bytes = 0;

  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.sha1.update(chunk);
    this.bytes += chunk.length;
  }

  get length(): number {
    return this.bytes;
  }

  digest(): Digests {
    return { sha256: this.sha256.digest('hex'), sha1: this.sha1.digest('hex'), bytes: this.bytes };
  }
}

export async function hashFile(file: string, signal?: AbortSignal): Promise<Digests> {
  const digest = new DigestStream();
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal })) {
    digest.update(chunk as Buffer);
  }
  return digest.digest();
}

/** Why the digests do not match the spec, or null when every checksum it holds matches. */
export function checksumProblem(spec: ModelSpec, got: Digests): string | null {
  if (spec.bytes !== undefined && got.bytes !== spec.bytes) {
    return `size ${got.bytes} bytes, expected ${spec.bytes}`;
  }
  if (spec.sha256 && got.sha256 !== spec.sha256) {
    return `sha256 ${got.sha256}, expected ${spec.sha256}`;
  }
  if (spec.sha1 && got.sha1 !== spec.sha1) {
    return `sha1 ${got.sha1}, expected ${spec.sha1}`;
  }
  return null;
}
