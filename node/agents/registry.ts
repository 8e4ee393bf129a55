/**
 * The node's local image registry: one record per agent image (hash, size, successes, failures,
 * last use) in <stateDir>/registry.json, written atomically. Images are offered to peers only
 * after a successful run, and the least recently used are removed past the size budget, never
 * one in use. The Docker side sits behind ImageRemover so the bookkeeping is tested on its own.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { StateError, fileProblemHint } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { ImageHeld } from '../types.js';
import { compareNames } from '../order.js';
import { lazySchema } from '../types.js';

export const REGISTRY_FILE = 'registry.json';

const ImageRecordSchema = lazySchema(() =>
  z.object({
    agent: z.string(),
    /** full sha256 content hash (the tag carries its first 16 hex chars) */
    hash: z.string(),
    /** what the image runs on ("linux/arm64"); "" in a record from before platforms */
    platform: z.string().default(''),
    tag: z.string(),
    sizeBytes: z.number().int().min(0),
    successes: z.number().int().min(0),
    failures: z.number().int().min(0),
    /** ms since epoch */
    lastUsedAt: z.number(),
    addedAt: z.number(),
  }),
);
export type ImageRecord = z.infer<typeof ImageRecordSchema>;

const RegistryFileSchema = lazySchema(() =>
  z.object({ v: z.literal(1), images: z.array(ImageRecordSchema) }),
);

/** Removes an image from the engine; one already gone counts as removed (an ImageRuntime is one). */
export interface ImageRemover {
  removeImage(tag: string): Promise<unknown>;
}

/** What the runner and the pool need: use counting and run outcomes. */
export interface ImageUsage {
  /** marks the image in use until the returned function is called */
  acquire(tag: string): () => void;
  markSuccess(tag: string): void;
  markFailure(tag: string): void;
}

export interface RegistryOptions {
  stateDir: string;
  /** config agents.image_budget_mb */
  budgetMb: number;
  remover?: ImageRemover;
  log?: Logger;
  now?: () => number;
}

/**
 * Which records to evict so the total fits `budgetBytes`: least recently used first, skipping
 * images in use and always keeping the most recently used one. Pure.
 */
export function pickEvictions(
  records: ImageRecord[],
  budgetBytes: number,
  inUse: (tag: string) => boolean,
): ImageRecord[] {
  let total = records.reduce((sum, r) => sum + r.sizeBytes, 0);
  if (total <= budgetBytes) return [];
  const byAge = [...records].sort((a, b) => a.lastUsedAt - b.lastUsedAt || a.addedAt - b.addedAt);
  const newest = byAge[byAge.length - 1];
  const out: ImageRecord[] = [];
  for (const r of byAge) {
    if (total <= budgetBytes) break;
    if (r === newest || inUse(r.tag)) continue;
    out.push(r);
    total -= r.sizeBytes;
  }
  return out;
}

export class Registry implements ImageUsage {
  private readonly records = new Map<string, ImageRecord>();
  private readonly uses = new Map<string, number>();
  private readonly file: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private evicting: Promise<ImageRecord[]> | null = null;

  private constructor(private readonly opts: RegistryOptions) {
    this.file = path.join(opts.stateDir, REGISTRY_FILE);
    this.log = opts.log ?? silentLogger;
    this.now = opts.now ?? Date.now;
  }

  /** Reads <stateDir>/registry.json (a missing file is an empty registry; a corrupt one is set aside). */
  static async open(opts: RegistryOptions): Promise<Registry> {
    const registry = new Registry(opts);
    await mkdir(opts.stateDir, { recursive: true });
    let text: string | null = null;
    try {
      text = await readFile(registry.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new StateError(
          `cannot read ${registry.file}: ${(err as Error).message}; check the state directory's permissions`,
          { cause: err },
        );
      }
    }
    if (text !== null) {
      const parsed = safeJson(text);
      const file = RegistryFileSchema.safeParse(parsed);
      if (file.success) {
        for (const r of file.data.images) registry.records.set(r.tag, r);
      } else {
        const aside = `${registry.file}.corrupt-${Date.now()}`;
        await rename(registry.file, aside).catch(() => undefined);
        registry.log.warn(
          { file: registry.file, aside },
          'image registry was unreadable; starting empty',
        );
      }
    }
    return registry;
  }

  /** Adds an image (after a build or a fetch) or updates its size; then evicts past the budget. */
  async record(image: {
    agent: string;
    hash: string;
    platform: string;
    tag: string;
    sizeBytes: number;
  }): Promise<void> {
    const at = this.now();
    const old = this.records.get(image.tag);
    this.records.set(image.tag, {
      agent: image.agent,
      hash: image.hash,
      platform: image.platform,
      tag: image.tag,
      sizeBytes: image.sizeBytes,
      successes: old?.successes ?? 0,
      failures: old?.failures ?? 0,
      lastUsedAt: at,
      addedAt: old?.addedAt ?? at,
    });
    this.save();
    await this.evict();
    await this.flush();
  }

  get(tag: string): ImageRecord | undefined {
    const r = this.records.get(tag);
    return r ? { ...r } : undefined;
  }

  find(agent: string, hash: string, platform: string): ImageRecord | undefined {
    for (const r of this.records.values())
      if (r.agent === agent && r.hash === hash && r.platform === platform) return { ...r };
    return undefined;
  }

  list(): ImageRecord[] {
    return [...this.records.values()]
      .map((r) => ({ ...r }))
      .sort((a, b) => compareNames(a.agent, b.agent) || b.lastUsedAt - a.lastUsedAt);
  }

  totalBytes(): number {
    let sum = 0;
    for (const r of this.records.values()) sum += r.sizeBytes;
    return sum;
  }

  /** What the heartbeat advert says this node holds; shareable only after a successful run. */
  held(): ImageHeld[] {
    return this.list().map((r) => ({
      agent: r.agent,
      hash: r.hash,
      platform: r.platform,
      sizeBytes: r.sizeBytes,
      shareable: r.successes > 0,
    }));
  }

  acquire(tag: string): () => void {
    this.uses.set(tag, (this.uses.get(tag) ?? 0) + 1);
    this.touch(tag);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.uses.get(tag) ?? 1) - 1;
      if (n <= 0) this.uses.delete(tag);
      else this.uses.set(tag, n);
    };
  }

  inUse(tag: string): boolean {
    return (this.uses.get(tag) ?? 0) > 0;
  }

  touch(tag: string): void {
    const r = this.records.get(tag);
    if (!r) return;
    r.lastUsedAt = this.now();
    this.save();
  }

  markSuccess(tag: string): void {
    const r = this.records.get(tag);
    if (!r) return;
    r.successes++;
    r.lastUsedAt = this.now();
    this.save();
  }

  markFailure(tag: string): void {
    const r = this.records.get(tag);
    if (!r) return;
    r.failures++;
    r.lastUsedAt = this.now();
    this.save();
  }

  /** Drops the record of an image that is gone from the engine. */
  forget(tag: string): void {
    if (this.records.delete(tag)) this.save();
  }

  /** Keeps only records whose image the engine still has (someone may have run `docker rmi`). */
  reconcile(presentTags: Iterable<string>): void {
    const present = new Set(presentTags);
    for (const tag of [...this.records.keys()]) if (!present.has(tag)) this.forget(tag);
  }

  /** Removes least recently used images until the total fits the budget; returns what went. */
  async evict(): Promise<ImageRecord[]> {
    while (this.evicting) await this.evicting.catch(() => undefined);
    this.evicting = this.evictNow();
    try {
      return await this.evicting;
    } finally {
      this.evicting = null;
    }
  }

  /** Resolves when every change so far is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async evictNow(): Promise<ImageRecord[]> {
    const budget = this.opts.budgetMb * 1024 * 1024;
    const victims = pickEvictions([...this.records.values()], budget, (tag) => this.inUse(tag));
    const gone: ImageRecord[] = [];
    for (const r of victims) {
      // Checked again: a run may have started while an earlier removal was in flight.
      if (this.inUse(r.tag)) continue;
      try {
        await this.opts.remover?.removeImage(r.tag);
        this.records.delete(r.tag);
        gone.push({ ...r });
        this.log.info(
          { agent: r.agent, tag: r.tag, sizeBytes: r.sizeBytes },
          'evicted agent image (least recently used, over budget)',
        );
      } catch (err) {
        this.log.warn({ tag: r.tag, err: (err as Error).message }, 'could not evict agent image');
      }
    }
    if (gone.length) this.save();
    return gone;
  }

  /** Coalescing atomic writer: at most one write in flight, and the latest state always lands. */
  private save(): void {
    this.dirty = true;
    if (this.writing) return;
    this.writing = (async () => {
      try {
        while (this.dirty) {
          this.dirty = false;
          await this.writeNow();
        }
      } catch (err) {
        // The records stay in memory and the next change writes them all again.
        this.log.error(
          { file: this.file, err: (err as Error).message, fix: fileProblemHint(err) ?? undefined },
          'cannot write the image registry',
        );
      } finally {
        this.writing = null;
      }
    })();
  }

  private async writeNow(): Promise<void> {
    const body = JSON.stringify({ v: 1, images: [...this.records.values()] }, null, 2);
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
