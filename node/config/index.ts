export {
  ConfigSchema,
  configSchemas,
  type Config,
  type ConfigInput,
  type JitSetting,
} from './schema.js';
export { loadConfig, parseConfig, type LoadOptions, type LoadedConfig } from './load.js';
export { defaultStateDir, locateConfig, type LocatedConfig } from './locate.js';
export { SILERO_MODEL_FILE, vadModelPath } from './models.js';
