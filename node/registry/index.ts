/**
 * registry: every node's read-only OCI registry mirror of the mesh's agent images (Spegel's model
 * for K3s; docs/registry.md). The engine pulls agent images from it on loopback by digest; it
 * serves what this node's engine holds and fetches the rest from peers (ImageBlobs over the
 * mesh's authenticated gRPC), checking every digest.
 */
export {
  RegistryMirror,
  MirrorNotFoundError,
  type RegistryMirrorOptions,
  type MirrorEngine,
  type MirrorStats,
  type ServedBlob,
  type ServedManifest,
} from './mirror.js';
export { MirrorHttpServer, type MirrorHttpOptions } from './http.js';
export { imageBlobsService, DEFAULT_BLOB_CHUNK_BYTES, type ImageBlobsOptions } from './service.js';
export {
  pullThroughMirror,
  dockerEnginePull,
  type EnginePull,
  type PulledImage,
  type PullThroughMirrorOptions,
} from './pull.js';
export { convertDockerSave, type ConvertedImage } from './convert.js';
export { BlobStore, BlobWriter, DigestMismatchError } from './store.js';
export {
  MEDIA_TYPE,
  REPOSITORY_PREFIX,
  enginePlatform,
  errorBody,
  imageIndex,
  imageManifest,
  parseApiPath,
  parseManifest,
  parseRange,
  platformName,
  type Descriptor,
  type Platform,
  type RegistryErrorCode,
} from './oci.js';
