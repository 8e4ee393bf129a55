/**
 * Mesh-wide settings: signed, clocked, merged the same on every node (docs/settings.md).
 * The daemon builds a SettingsService after the bus and before the agent and voice services,
 * seeds it from helix.toml's [lights.rooms] (seed.ts), and stops it before the bus.
 */
export { SettingsService, type SettingsServiceOptions } from './service.js';
export {
  SettingsStore,
  SETTINGS_FILE,
  type SettingsChange,
  type SettingsChangeListener,
  type SettingsStoreOptions,
} from './store.js';
export {
  SettingsReplicator,
  DELTA_SUBJECT,
  DIGEST_SUBJECT,
  SETTINGS_SUBJECT_PREFIX,
  stateSubject,
  type ReplicationStats,
  type SettingsReplicatorOptions,
} from './replicator.js';
export {
  SettingsCodec,
  DROP_REASONS,
  DEFAULT_MAX_MESSAGE_BYTES,
  SETTINGS_PROTOCOL_VERSION,
  stateDigest,
  type DropReason,
  type SettingsMessage,
} from './codec.js';
export { HybridClock, compareHlc, formatHlc, type Hlc } from './clock.js';
export {
  applyEntries,
  compareEntries,
  mergeStates,
  type JsonValue,
  type SettingEntry,
  type SettingsState,
} from './merge.js';
export {
  SETTINGS,
  REDACTED,
  isSecretKey,
  isInternalKey,
  meshSettings,
  publicView,
  specFor,
  validateSetting,
  valueAllowed,
  type MeshSettings,
  type PublicSetting,
  type SettingSpec,
} from './schema.js';
export {
  InvalidSettingError,
  NodeNameTakenError,
  UnknownNodeError,
  UnknownSettingError,
} from './errors.js';
export {
  NODE_NAME,
  assignNodeNames,
  nodeIdOfNameKey,
  nodeNameKey,
  suffixedName,
  type NameAssignment,
  type NameClaim,
} from './names.js';
export {
  NodeNames,
  type KnownNode,
  type NodeNamesOptions,
  type NodeRenamed,
} from './node-names.js';
export { seedRoomsFromConfig, ROOM_PREFIX } from './seed.js';
export {
  overlayMeshSettings,
  affectsVocabulary,
  houseOf,
  VOCABULARY_KEY_PREFIXES,
} from './overlay.js';
export { MeshHome, homeSources, type LocalMqttConfig, type MeshHomeOptions } from './mesh-home.js';
