/**
 * The registry mirror's content (docs/registry.md): where a manifest or blob asked of this node
 * comes from. Images this node offers (held and shareable, the agents registry's rule) are
 * converted from its engine's `docker save` into cached OCI blobs; anything else is fetched from
 * a peer that offers the agent, over the mesh's authenticated gRPC channel (ImageBlobs), with its
 * sha256 checked before it enters the cache. Concurrent requests for one blob share one
 * transfer; a peer that fails mid-blob is replaced by the next holder, which resumes at the
 * byte reached. A blob whose bytes do not hash to its digest is never cached nor served.
 */
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { sameImageHash } from '../placement/index.js';
import { peerTarget, serverStream, targetKey, unaryCall, type RpcClients } from '../rpc/index.js';
import type { ImageHeld, PeerView } from '../types.js';
import { convertDockerSave } from './convert.js';
import {
  MEDIA_TYPE,
  imageIndex,
  isDigest,
  parseManifest,
  platformName,
  type Descriptor,
  type Platform,
} from './oci.js';
import { BlobStore, DigestMismatchError } from './store.js';

/** The engine's images, as the mirror reads them. */
export interface MirrorEngine {
  has(tag: string, signal?: AbortSignal): Promise<boolean>;
  /** `docker save` of one image: a tar stream. */
  save(tag: string, signal?: AbortSignal): Promise<NodeJS.ReadableStream>;
}

export interface RegistryMirrorOptions {
  /** the cache directory (the daemon's: `<state dir>/registry`) */
  dir: string;
  /** this node's engine; null when it has none (the mirror then only relays peers' content) */
  engine: MirrorEngine | null;
  /** the images this node advertises; only shareable ones are served */
  images: () => readonly ImageHeld[];
  /** the engine's tag of an image this node holds */
  tagOf: (image: ImageHeld) => string;
  /** the live view of the mesh (this node included, marked self) */
  view: () => readonly PeerView[];
  clients: RpcClients;
  /** bound on one peer call (default 60 s) */
  peerTimeoutMs?: number;
  /** refuse blobs larger than this from peers (default 256 MiB) */
  maxBlobBytes?: number;
  /** peers tried for one blob before giving up (default 3) */
  maxPeers?: number;
  log?: Logger;
}

/** A manifest or index the mirror can serve. */
export interface ServedManifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

export interface ServedBlob {
  digest: string;
  size: number;
}

/** The registry API's "not here" for a manifest or blob, with why (for the error body). */
export class MirrorNotFoundError extends Error {
  constructor(
    readonly code: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN',
    message: string,
  ) {
    super(message);
    this.name = 'MirrorNotFoundError';
  }
}

/** What the mirror did, for tests, benchmarks and `status`. */
export interface MirrorStats {
  /** images converted from this node's engine */
  conversions: number;
  /** blob transfers started from peers (one per blob however many asked at once) */
  peerTransfers: number;
  /** peer transfers that failed and moved on to another holder */
  peerFailovers: number;
  /** blobs refused because their bytes did not hash to their digest */
  digestMismatches: number;
}

interface ImageEntry {
  agent: string;
  hash: string;
  index: ServedManifest;
  /** every digest the index reaches: manifests, configs, layers */
  blobs: Set<string>;
}

/** How long content fetched from peers stays cached without an image of this node using it. */
const TRANSIT_TTL_MS = 10 * 60_000;

export class RegistryMirror {
  readonly store: BlobStore;
  readonly stats: MirrorStats = {
    conversions: 0,
    peerTransfers: 0,
    peerFailovers: 0,
    digestMismatches: 0,
  };
  /** agent:hash16 -> what this node's engine gave for it */
  private readonly local = new Map<string, ImageEntry>();
  private readonly converting = new Map<string, Promise<ImageEntry>>();
  /** digest -> the agent it was fetched for and when (peers' content passing through) */
  private readonly transit = new Map<string, { agent: string; at: number }>();
  private readonly fetching = new Map<string, Promise<ServedBlob>>();
  private readonly log: Logger;

  constructor(private readonly opts: RegistryMirrorOptions) {
    this.store = new BlobStore(opts.dir);
    this.log = (opts.log ?? silentLogger).child({ component: 'registry' });
  }

  async open(): Promise<void> {
    await this.store.open();
    await this.prune();
  }

  // --- what this node offers ---------------------------------------------------------------

  private offered(agent: string, hash?: string): ImageHeld[] {
    return this.opts
      .images()
      .filter(
        (i) =>
          i.shareable && i.agent === agent && (hash === undefined || sameImageHash(i.hash, hash)),
      );
  }

  /** The index of an agent version this node offers, converted from its engine; null if none. */
  async localIndex(
    agent: string,
    hash: string,
    signal?: AbortSignal,
  ): Promise<ServedManifest | null> {
    const held = this.offered(agent, hash);
    if (held.length === 0 || !this.opts.engine) return null;
    const key = `${agent}:${hash.slice(0, 16)}`;
    const cached = this.local.get(key);
    if (cached && (await this.complete(cached))) return cached.index;
    let pending = this.converting.get(key);
    if (!pending) {
      pending = this.convert(agent, hash, held, signal).finally(() => this.converting.delete(key));
      this.converting.set(key, pending);
    }
    const entry = await pending;
    return entry.index;
  }

  private async complete(entry: ImageEntry): Promise<boolean> {
    for (const d of entry.blobs) if ((await this.store.size(d)) === null) return false;
    return true;
  }

  private async convert(
    agent: string,
    hash: string,
    held: ImageHeld[],
    signal?: AbortSignal,
  ): Promise<ImageEntry> {
    const engine = this.opts.engine!;
    const manifests: Array<Descriptor & { platform: Platform }> = [];
    const blobs = new Set<string>();
    for (const image of held) {
      const tag = this.opts.tagOf(image);
      if (!(await engine.has(tag, signal)))
        throw new MirrorNotFoundError(
          'MANIFEST_UNKNOWN',
          `${tag} is advertised but no longer in this node's engine`,
        );
      const converted = await convertDockerSave(await engine.save(tag, signal), this.store);
      if (
        manifests.some(
          (m) => platformName(m.platform) === platformName(converted.manifest.platform),
        )
      )
        continue;
      manifests.push(converted.manifest);
      for (const d of [converted.manifest, converted.config, ...converted.layers])
        blobs.add(d.digest);
    }
    const bytes = imageIndex(manifests, { 'helix.agent': agent, 'helix.hash': hash.slice(0, 16) });
    const digest = await this.store.putBytes(bytes);
    blobs.add(digest);
    const entry: ImageEntry = {
      agent,
      hash,
      index: { mediaType: MEDIA_TYPE.index, digest, bytes },
      blobs,
    };
    this.local.set(`${agent}:${hash.slice(0, 16)}`, entry);
    this.stats.conversions++;
    this.log.debug(
      { agent, hash, digest, platforms: manifests.map((m) => platformName(m.platform)) },
      'image converted to OCI blobs',
    );
    return entry;
  }

  /** True when `digest` belongs to an image of `agent` this node offers (converting if need be). */
  private async offersBlob(agent: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const find = () =>
      [...this.local.values()].some(
        (e) => e.agent === agent && e.blobs.has(digest) && this.stillOffered(e),
      );
    // Not converted yet (after a restart), or its cache files are gone: convert, then look again.
    if (!find() || (await this.store.size(digest)) === null) await this.reconvert(agent, signal);
    return find() && (await this.store.size(digest)) !== null;
  }

  private stillOffered(e: ImageEntry): boolean {
    return this.offered(e.agent, e.hash).length > 0;
  }

  private async reconvert(agent: string, signal?: AbortSignal): Promise<void> {
    const hashes = new Set(this.offered(agent).map((i) => i.hash));
    for (const hash of hashes) {
      await this.localIndex(agent, hash, signal).catch((err: unknown) =>
        this.log.warn(
          { agent, hash, err: describeError(err) },
          'converting an offered image failed',
        ),
      );
    }
  }

  /** Serving side for peers: the index of an agent version this node offers. */
  resolveLocal(agent: string, hash: string, signal?: AbortSignal): Promise<ServedManifest | null> {
    return this.localIndex(agent, hash, signal);
  }

  /** Serving side for peers: a blob this node offers (never fetched from another peer). */
  async localBlob(agent: string, digest: string, signal?: AbortSignal): Promise<ServedBlob | null> {
    if (!(await this.offersBlob(agent, digest, signal))) return null;
    const size = await this.store.size(digest);
    return size === null ? null : { digest, size };
  }

  // --- what the engine asks (the HTTP API) -------------------------------------------------

  /**
   * A manifest by tag (the agent's content hash: this node's index, else a holder's) or by
   * digest (any manifest or index reachable from an image of the agent, here or on a peer).
   * `want`: prefer a holder whose index lists this platform (by tag only).
   */
  async manifest(
    agent: string,
    reference: string,
    opts: { signal?: AbortSignal; want?: Platform } = {},
  ): Promise<ServedManifest> {
    if (!isDigest(reference)) return this.resolveTag(agent, reference, opts);
    const local = await this.localBlob(agent, reference, opts.signal);
    if (local) return this.readManifest(reference, 'this node');
    const blob = await this.blob(agent, reference, { ...opts, manifest: true });
    return this.readManifest(blob.digest, 'a peer');
  }

  private async readManifest(digest: string, from: string): Promise<ServedManifest> {
    const bytes = await this.store.read(digest);
    try {
      return { mediaType: parseManifest(bytes).mediaType, digest, bytes };
    } catch {
      throw new MirrorNotFoundError(
        'MANIFEST_UNKNOWN',
        `${digest} (from ${from}) is a blob, not an image manifest or index`,
      );
    }
  }

  private async resolveTag(
    agent: string,
    hash: string,
    opts: { signal?: AbortSignal; want?: Platform },
  ): Promise<ServedManifest> {
    const here = await this.localIndex(agent, hash, opts.signal).catch((err: unknown) => {
      this.log.warn({ agent, hash, err: describeError(err) }, 'converting an offered image failed');
      return null;
    });
    if (here && (!opts.want || listsPlatform(here, opts.want))) return here;
    const failures: string[] = [];
    let fallback: ServedManifest | null = here;
    for (const peer of this.holders(agent, hash)) {
      try {
        const client = this.opts.clients.imageBlobs(peerTarget(peer));
        const desc = await unaryCall(
          client.resolve.bind(client),
          { agent, hash },
          { timeoutMs: this.timeoutMs, signal: opts.signal, target: targetKey(peerTarget(peer)) },
        );
        if (!isDigest(desc.digest)) throw new Error(`it answered a bad digest ${desc.digest}`);
        await this.fetchBlob(agent, desc.digest, [peer], opts.signal);
        const index = await this.readManifest(desc.digest, peer.name);
        if (!opts.want || listsPlatform(index, opts.want)) return index;
        fallback ??= index;
        failures.push(`${peer.name} holds no ${platformName(opts.want)} build`);
      } catch (err) {
        failures.push(`${peer.name}: ${describeError(err)}`);
      }
    }
    if (fallback) return fallback;
    throw new MirrorNotFoundError(
      'MANIFEST_UNKNOWN',
      `no node offers ${agent} ${hash}${failures.length ? ` (${failures.join('; ')})` : ': no alive node has run that version successfully'}`,
    );
  }

  /** A blob in the cache, fetched from a peer when this node does not offer it. */
  async blob(
    agent: string,
    digest: string,
    opts: { signal?: AbortSignal; manifest?: boolean } = {},
  ): Promise<ServedBlob> {
    const local = await this.localBlob(agent, digest, opts.signal);
    if (local) return local;
    const size = await this.store.size(digest);
    if (size !== null && this.transit.get(digest)?.agent === agent) return { digest, size };
    const holders = this.holders(agent);
    if (holders.length === 0)
      throw new MirrorNotFoundError(
        opts.manifest ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN',
        `${digest} is not offered by this node, and no alive peer offers an image of ${agent}`,
      );
    return this.fetchBlob(agent, digest, holders, opts.signal, opts.manifest);
  }

  /** Alive peers offering `agent` (that version, when given), nearest and least loaded first. */
  private holders(agent: string, hash?: string): PeerView[] {
    return this.opts
      .view()
      .filter(
        (p) =>
          !p.self &&
          p.state === 'alive' &&
          p.images.some(
            (i) =>
              i.agent === agent &&
              i.shareable &&
              (hash === undefined || sameImageHash(i.hash, hash)),
          ),
      )
      .sort(
        (a, b) =>
          (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity) ||
          a.load.loadPerCore - b.load.loadPerCore ||
          (a.id < b.id ? -1 : 1),
      )
      .slice(0, this.opts.maxPeers ?? 3);
  }

  private get timeoutMs(): number {
    return this.opts.peerTimeoutMs ?? 60_000;
  }

  /** One transfer per digest, whoever asks meanwhile. */
  private fetchBlob(
    agent: string,
    digest: string,
    holders: PeerView[],
    signal?: AbortSignal,
    manifest = false,
  ): Promise<ServedBlob> {
    let pending = this.fetching.get(digest);
    if (!pending) {
      // Not tied to the first asker's signal: another pull may still want the blob.
      pending = this.transfer(agent, digest, holders, manifest).finally(() =>
        this.fetching.delete(digest),
      );
      this.fetching.set(digest, pending);
    }
    if (!signal) return pending;
    return Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
    ]);
  }

  private async transfer(
    agent: string,
    digest: string,
    holders: PeerView[],
    manifest: boolean,
  ): Promise<ServedBlob> {
    const have = await this.store.size(digest);
    if (have !== null) {
      this.transit.set(digest, { agent, at: Date.now() });
      return { digest, size: have };
    }
    this.stats.peerTransfers++;
    const max = this.opts.maxBlobBytes ?? 256 * 1024 * 1024;
    const writer = this.store.writer();
    const failures: string[] = [];
    try {
      for (const [i, peer] of holders.entries()) {
        if (i > 0) this.stats.peerFailovers++;
        const target = peerTarget(peer);
        let size: number | undefined;
        try {
          const client = this.opts.clients.imageBlobs(target);
          const chunks = serverStream(
            client.fetchBlob.bind(client),
            { agent, digest, offset: writer.received },
            { timeoutMs: this.timeoutMs, target: targetKey(target) },
          );
          for await (const chunk of chunks) {
            if (chunk.descriptor) {
              if (chunk.descriptor.digest !== digest)
                throw new Error(`it offered ${chunk.descriptor.digest} instead`);
              size = chunk.descriptor.sizeBytes;
              if (size > max)
                throw new Error(`it is ${size} bytes, over this node's limit of ${max}`);
            } else if (size === undefined) {
              throw new Error('the first chunk carries no descriptor');
            }
            await writer.write(chunk.data);
            if (writer.received > size)
              throw new Error(`it sent more than the ${size} bytes it announced`);
          }
          if (size === undefined) throw new Error('it sent nothing');
          if (writer.received !== size)
            throw new Error(`the stream ended after ${writer.received} of ${size} bytes`);
          await writer.commit(digest);
          this.transit.set(digest, { agent, at: Date.now() });
          this.log.debug({ agent, digest, size, from: peer.name }, 'blob fetched from a peer');
          return { digest, size };
        } catch (err) {
          if (err instanceof DigestMismatchError) {
            this.stats.digestMismatches++;
            await writer.reset();
            this.log.warn(
              { agent, digest, from: peer.name, got: err.actual },
              'refused a corrupt blob from a peer',
            );
            failures.push(`${peer.name} sent bytes that hash to ${err.actual}`);
          } else {
            this.log.info(
              { agent, digest, from: peer.name, at: writer.received, err: describeError(err) },
              'blob transfer from a peer failed; trying the next holder',
            );
            failures.push(`${peer.name}: ${describeError(err)}`);
          }
        }
      }
    } finally {
      await writer.discard();
    }
    throw new MirrorNotFoundError(
      manifest ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN',
      `${digest} could not be fetched from any peer offering ${agent}: ${failures.join('; ')}`,
    );
  }

  /**
   * Drops cached blobs no offered image reaches and no recent transfer brought (the agents
   * registry removes least recently used images past its budget; their blobs go here).
   */
  async prune(): Promise<number> {
    // A conversion writes blobs before it records them.
    if (this.converting.size > 0) return 0;
    const now = Date.now();
    for (const [key, e] of this.local) if (!this.stillOffered(e)) this.local.delete(key);
    for (const [d, t] of this.transit) if (now - t.at > TRANSIT_TTL_MS) this.transit.delete(d);
    const keep = new Set<string>([...this.transit.keys()]);
    for (const e of this.local.values()) for (const d of e.blobs) keep.add(d);
    let removed = 0;
    for (const d of await this.store.list()) {
      if (keep.has(d) || this.fetching.has(d)) continue;
      await this.store.remove(d);
      removed++;
    }
    return removed;
  }
}

function listsPlatform(index: ServedManifest, want: Platform): boolean {
  if (index.mediaType !== MEDIA_TYPE.index) return false;
  return parseManifest(index.bytes).children.some(
    (m) => m.platform && platformName(m.platform) === platformName(want),
  );
}
