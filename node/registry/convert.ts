/**
 * `docker save` output -> OCI blobs in the cache: the image config as it is (its sha256 is the
 * image id), each layer as the uncompressed tar the engine exports (its sha256 is the layer's
 * diff id), and an OCI image manifest over them. Nothing is compressed, so the same image gives
 * the same digests on every call and on every node: the engine rebuilds each exported layer
 * byte for byte (tar-split), and the diff ids in the config are checked against the bytes.
 * Reads both `docker save` layouts: the legacy one (`<id>.json`, `<layer>/layer.tar`) and the
 * OCI layout of Docker 25+ (`blobs/sha256/<hex>`); both carry `manifest.json`.
 */
import type { BlobStore, BlobWriter } from './store.js';
import {
  MEDIA_TYPE,
  configPlatform,
  imageManifest,
  type Descriptor,
  type Platform,
} from './oci.js';

export interface ConvertedImage {
  manifest: Descriptor & { platform: Platform };
  config: Descriptor;
  layers: Descriptor[];
}

interface SavedEntry {
  digest: string;
  size: number;
}

const SMALL_JSON_BYTES = 1 << 20;

/** Reads a `docker save` tar of one image into `store`; returns its manifest's descriptor. */
export async function convertDockerSave(
  archive: NodeJS.ReadableStream,
  store: BlobStore,
): Promise<ConvertedImage> {
  const entries = new Map<string, SavedEntry>();
  const texts = new Map<string, Buffer>();
  const pending: BlobWriter[] = [];
  // loaded by the first conversion, not at import (issue 12: a node's start-up on a Pi)
  const { default: tar } = await import('tar-stream');
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '');
      if (header.type !== 'file') {
        stream.on('end', next);
        stream.resume();
        return;
      }
      const writer = store.writer();
      pending.push(writer);
      const small: Buffer[] = [];
      let bytes = 0;
      let chain = Promise.resolve();
      stream.on('data', (data: unknown) => {
        const chunk = data as Buffer;
        bytes += chunk.length;
        if (bytes <= SMALL_JSON_BYTES) small.push(chunk);
        stream.pause();
        chain = chain.then(() => writer.write(chunk)).finally(() => stream.resume());
      });
      stream.on('end', () => {
        chain
          .then(() => writer.commit())
          .then((digest) => {
            entries.set(name, { digest, size: bytes });
            if (bytes <= SMALL_JSON_BYTES) texts.set(name, Buffer.concat(small));
            next();
          })
          .catch(reject);
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  archive.on('error', (err: Error) => extract.destroy(err));
  archive.pipe(extract);
  try {
    await done;
  } finally {
    await Promise.all(pending.map((w) => w.discard()));
  }

  const manifestJson = texts.get('manifest.json');
  if (!manifestJson) throw new Error('the archive has no manifest.json: not a docker save archive');
  const saved = JSON.parse(manifestJson.toString('utf8')) as Array<{
    Config?: string;
    Layers?: string[];
  }>;
  if (!Array.isArray(saved) || saved.length !== 1)
    throw new Error(`the archive holds ${saved.length} images, not one`);
  const { Config, Layers } = saved[0]!;
  const configEntry = Config === undefined ? undefined : entries.get(Config);
  const configBytes = Config === undefined ? undefined : texts.get(Config);
  if (!configEntry || !configBytes)
    throw new Error(`the archive's manifest.json names a config (${Config}) it does not hold`);
  const config = JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
  const diffIds = config.rootfs?.diff_ids ?? [];
  const layers: Descriptor[] = (Layers ?? []).map((file, i) => {
    const entry = entries.get(file);
    if (!entry)
      throw new Error(`the archive's manifest.json names a layer (${file}) it does not hold`);
    if (diffIds[i] !== entry.digest)
      throw new Error(
        `layer ${i} (${file}) hashes to ${entry.digest} but the config's diff id is ${diffIds[i]}: the engine exported a compressed or altered layer`,
      );
    return { mediaType: MEDIA_TYPE.layer, digest: entry.digest, size: entry.size };
  });
  if (layers.length !== diffIds.length)
    throw new Error(`the config lists ${diffIds.length} layers but the archive ${layers.length}`);
  const configDesc: Descriptor = {
    mediaType: MEDIA_TYPE.config,
    digest: configEntry.digest,
    size: configEntry.size,
  };
  const manifestBytes = imageManifest(configDesc, layers);
  const manifestDigest = await store.putBytes(manifestBytes);
  return {
    manifest: {
      mediaType: MEDIA_TYPE.manifest,
      digest: manifestDigest,
      size: manifestBytes.length,
      platform: configPlatform(config),
    },
    config: configDesc,
    layers,
  };
}
