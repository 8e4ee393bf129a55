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
export {
  meshCa,
  storedMeshCa,
  createNodeCsr,
  issueNodeCertificate,
  installNodeCertificate,
  ensureNodeTls,
  throwawayCertificate,
  tlsFiles,
  MESH_TLS_SERVER_NAME,
  type MeshTls,
} from './tls.js';
