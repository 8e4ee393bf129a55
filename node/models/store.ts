/**
 * `helix-node models list | check`: what is in <stateDir>/models (plus the configured stt.model
 * and voice.vad_model when they live elsewhere), matched against the registry.
 */
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isGgmlHeader } from '../capabilities/index.js';
import { checksumProblem, hashFile } from './checksum.js';
import { humanBytes, KNOWN_MODELS, type ModelKind, type ModelSpec } from './registry.js';

export interface ModelEntry {
  /** the registry name, or the file name for files the registry does not know */
  name: string;
  kind: ModelKind | 'unknown';
  file: string;
  /** where it is (or would be, once pulled) */
  path: string;
  installed: boolean;
  sizeBytes: number | null;
  /** "142 MiB" */
  size: string;
  known: boolean;
  /** it is the configured stt.model or voice.vad_model */
  inUse: boolean;
  description: string;
}

export interface ModelCheckResult {
  name: string;
  path: string;
  ok: boolean;
  /** "sha256 verified", "no checksum known; ggml header ok", or what is wrong */
  detail: string;
  fix?: string;
}

export interface StoreOptions {
  /** <stateDir>/models */
  dir: string;
  /** configured model files (stt.model, voice.vad_model), absolute; empty strings are ignored */
  inUse?: readonly string[];
  known?: readonly ModelSpec[];
}

/** Every known model (installed or not) and every other model file found. */
export async function listModels(opts: StoreOptions): Promise<ModelEntry[]> {
  const known = opts.known ?? KNOWN_MODELS;
  const inUse = new Set((opts.inUse ?? []).filter(Boolean).map((p) => path.resolve(p)));
  const files = await modelFiles(opts.dir);
  const entries: ModelEntry[] = [];
  const seen = new Set<string>();
  for (const spec of known) {
    const file = path.join(opts.dir, spec.file);
    const size = await fileSize(file);
    seen.add(path.resolve(file));
    entries.push({
      name: spec.name,
      kind: spec.kind,
      file: spec.file,
      path: file,
      installed: size !== null,
      sizeBytes: size,
      size: size !== null ? humanBytes(size) : spec.approxSize,
      known: true,
      inUse: inUse.has(path.resolve(file)),
      description: spec.description,
    });
  }
  const extra = [...files.map((f) => path.join(opts.dir, f)), ...inUse];
  for (const file of extra) {
    const abs = path.resolve(file);
    if (seen.has(abs)) continue;
    seen.add(abs);
    const size = await fileSize(abs);
    const spec = known.find((k) => k.file === path.basename(abs));
    entries.push({
      name: spec?.name ?? path.basename(abs),
      kind: spec?.kind ?? 'unknown',
      file: path.basename(abs),
      path: abs,
      installed: size !== null,
      sizeBytes: size,
      size: size !== null ? humanBytes(size) : '-',
      known: spec !== undefined,
      inUse: inUse.has(abs),
      description: spec?.description ?? 'not in the registry',
    });
  }
  return entries;
}

/**
 * Verifies installed model files: known ones against their checksums, others by their ggml header.
 * `only` limits it to one model name or file.
 */
export async function checkModels(
  opts: StoreOptions & { only?: string; signal?: AbortSignal },
): Promise<ModelCheckResult[]> {
  const known = opts.known ?? KNOWN_MODELS;
  const entries = (await listModels(opts)).filter(
    (e) => e.installed && (!opts.only || e.name === opts.only || e.file === opts.only),
  );
  const results: ModelCheckResult[] = [];
  for (const e of entries) {
    const spec = known.find((k) => k.file === e.file);
    results.push(await checkOne(e, spec, opts.signal));
  }
  return results;
}

async function checkOne(
  e: ModelEntry,
  spec: ModelSpec | undefined,
  signal?: AbortSignal,
): Promise<ModelCheckResult> {
  const base = { name: e.name, path: e.path };
  try {
    if (spec && (spec.sha256 || spec.sha1)) {
      const got = await hashFile(e.path, signal);
      const problem = checksumProblem(spec, got);
      if (problem === null) {
        return { ...base, ok: true, detail: spec.sha256 ? 'sha256 verified' : 'sha1 verified' };
      }
      return {
        ...base,
        ok: false,
        detail: `corrupt or not the published file: ${problem}`,
        fix: `run \`helix-node models pull ${spec.name} --force\` to replace it`,
      };
    }
    const head = new Uint8Array(4);
    const handle = await open(e.path, 'r');
    try {
      await handle.read(head, 0, 4, 0);
    } finally {
      await handle.close();
    }
    return isGgmlHeader(head)
      ? { ...base, ok: true, detail: 'no checksum known; ggml header ok' }
      : {
          ...base,
          ok: false,
          detail: 'not a ggml (whisper.cpp) model file',
          fix: 'remove it, or point stt.model at a ggml model (`helix-node models pull base.en`)',
        };
  } catch (err) {
    signal?.throwIfAborted();
    return {
      ...base,
      ok: false,
      detail: `cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      fix: 'check its permissions',
    };
  }
}

async function modelFiles(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names.filter((n) => n.endsWith('.bin')).sort();
  } catch {
    return [];
  }
}

async function fileSize(file: string): Promise<number | null> {
  try {
    const s = await stat(file);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}
