export {
  loadOrCreateIdentity,
  readIdentity,
  readStoredName,
  hostNodeName,
  readMesh,
  writeMesh,
  createMesh,
  shortId,
  type NodeIdentity,
  type MeshMembership,
} from './identity.js';
export { deriveKey, natsCredentials, type SecretPurpose } from './derive.js';
export { writeFileAtomic, readFileOrNull, ensureDir } from './files.js';
