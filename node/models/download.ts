/**
 * `helix-node models pull`: download one model file with progress, hashing while writing, into
 * `<dir>/<file>.<random>.part`; only a file whose size and checksums match is renamed into place,
 * so a scanner (or the STT engine) never sees a half or corrupt model. Any failure deletes the part.
 * Offline, the first DNS or connect error ends it at once with a message that says what to do.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileProblemHint } from '../errors.js';
import { checksumProblem, DigestStream, hashFile } from './checksum.js';
import { ModelChecksumError, ModelDownloadError, ModelHostUnreachableError } from './errors.js';
import { HUGGING_FACE, modelUrl, type ModelSpec } from './registry.js';

export interface ModelPullProgress {
  model: string;
  receivedBytes: number;
  /** from the spec or Content-Length; null when neither says */
  totalBytes: number | null;
}

export interface PullModelOptions {
  /** <stateDir>/models */
  dir: string;
  /** default https://huggingface.co (`models pull --mirror URL`: a mirror with the same layout) */
  baseUrl?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** until the response headers arrive (default 15 s) */
  connectTimeoutMs?: number;
  /** no bytes for this long ends the download (default 30 s) */
  stallTimeoutMs?: number;
  /** called at most every ~1 % and at the end */
  onProgress?: (p: ModelPullProgress) => void;
  /** download even when a verified copy is present */
  force?: boolean;
}

export interface PulledModel {
  name: string;
  path: string;
  bytes: number;
  sha256: string;
  /** a verified copy was there already; nothing was downloaded */
  alreadyPresent: boolean;
}

// Node's fetch (undici) puts the socket error in `cause`; these mean "no way to the host".
const NO_ROUTE_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'ECONNRESET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

export async function pullModel(spec: ModelSpec, opts: PullModelOptions): Promise<PulledModel> {
  const dest = path.join(opts.dir, spec.file);
  if (!opts.force && (await isFile(dest))) {
    const got = await hashFile(dest, opts.signal);
    if (checksumProblem(spec, got) === null) {
      return {
        name: spec.name,
        path: dest,
        bytes: got.bytes,
        sha256: got.sha256,
        alreadyPresent: true,
      };
    }
  }
  const base = opts.baseUrl ?? HUGGING_FACE;
  const url = modelUrl(spec, base);
  const host = safeHost(url);
  const doFetch = opts.fetch ?? fetch;

  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const connectTimer = setTimeout(
    () => abort.abort(new Error('connect timeout')),
    opts.connectTimeoutMs ?? 15_000,
  );
  let response: Response;
  try {
    response = await doFetch(url, { signal: abort.signal, redirect: 'follow' });
  } catch (err) {
    clearTimeout(connectTimer);
    opts.signal?.removeEventListener('abort', onOuterAbort);
    opts.signal?.throwIfAborted();
    throw unreachable(err, host, spec, opts.dir);
  }
  clearTimeout(connectTimer);

  const part = path.join(opts.dir, `${spec.file}.${randomBytes(4).toString('hex')}.part`);
  try {
    if (!response.ok || !response.body) {
      throw new ModelDownloadError(
        `${url} answered HTTP ${response.status} ${response.statusText}; check the model name, or try again later`,
      );
    }
    const length = Number(response.headers.get('content-length'));
    const total = spec.bytes ?? (Number.isFinite(length) && length > 0 ? length : null);
    await mkdir(opts.dir, { recursive: true });
    const digest = new DigestStream();
    let lastReported = -1;
    const report = (force: boolean) => {
      if (!opts.onProgress) return;
      const step = total
        ? Math.floor((digest.length * 100) / total)
        : Math.floor(digest.length / (1 << 20));
      if (!force && step === lastReported) return;
      lastReported = step;
      opts.onProgress({ model: spec.name, receivedBytes: digest.length, totalBytes: total });
    };
    let stallTimer: NodeJS.Timeout | undefined;
    const stallMs = opts.stallTimeoutMs ?? 30_000;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(
        () => abort.abort(new ModelDownloadError(`no data from ${host} for ${stallMs / 1000} s`)),
        stallMs,
      );
    };
    armStall();
    try {
      await pipeline(
        Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>),
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            armStall();
            digest.update(chunk);
            report(false);
            done(null, chunk);
          },
        }),
        createWriteStream(part, { flags: 'wx' }),
        { signal: abort.signal },
      );
    } catch (err) {
      opts.signal?.throwIfAborted();
      const reason = abort.signal.reason;
      if (reason instanceof ModelDownloadError) throw reason;
      const local = fileProblemHint(err);
      if (local !== null)
        throw new ModelDownloadError(
          `cannot write ${spec.file} in ${opts.dir} after ${digest.length} of ${total ?? 'unknown'} bytes: ${local} (${describe(err)}); nothing was installed`,
          { cause: err },
        );
      throw new ModelDownloadError(
        `download of ${spec.file} from ${host} broke off after ${digest.length} bytes (${describe(err)}); run the pull again`,
        { cause: err },
      );
    } finally {
      clearTimeout(stallTimer);
    }
    report(true);
    const got = digest.digest();
    const problem = checksumProblem(spec, got);
    if (problem !== null) {
      throw new ModelChecksumError(
        `the download of ${spec.file} from ${host}`,
        problem,
        'nothing was installed; run the pull again, and if it fails the same way the file upstream changed — set stt.model to a file you trust',
      );
    }
    await rename(part, dest);
    return {
      name: spec.name,
      path: dest,
      bytes: got.bytes,
      sha256: got.sha256,
      alreadyPresent: false,
    };
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    await rm(part, { force: true });
    // the body may still be open after an early error; don't leave the socket hanging
    if (!response.bodyUsed) await response.body?.cancel().catch(() => undefined);
  }
}

function unreachable(err: unknown, host: string, spec: ModelSpec, dir: string): Error {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (err as { code?: string }).code;
  const detail = code ?? cause?.message ?? describe(err);
  const offline = code === undefined || NO_ROUTE_CODES.has(code) || /timeout/i.test(detail);
  const fix = `on a machine with internet run \`helix-node models pull ${spec.name}\` (or download ${modelUrl(spec)}), copy ${spec.file} into ${dir}, then run \`helix-node models check\``;
  return new ModelHostUnreachableError(
    offline
      ? `cannot reach ${host} (${detail}): this machine looks offline; ${fix}`
      : `cannot download from ${host} (${detail}); ${fix}`,
    { cause: err },
  );
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? err.message;
  }
  return String(err);
}
