/** removal: `helix-node remove NODE`, the revocation list and mesh key rotation (docs/security.md). */
export {
  RemovalService,
  keyFingerprint,
  type ApplyRotation,
  type KnownNode,
  type MemberOutcome,
  type RemoveResult,
  type RemovalServiceOptions,
} from './service.js';
export {
  checkChain,
  checkRotation,
  secretFingerprint,
  signRotation,
  signedByNode,
  rotationBytes,
  type RotationBody,
  type RotationCheck,
  type SignedRotation,
} from './record.js';
export {
  checkRekeyRequest,
  makeRekeyRequest,
  openRekeyAnswer,
  sealRekeyAnswer,
  rekeyBytes,
  REKEY_MAX_SKEW_MS,
} from './rekey.js';
export {
  readRotations,
  writeRotations,
  currentEpoch,
  revokedIds,
  rotationsFile,
  type RotationState,
} from './store.js';
