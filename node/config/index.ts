export { ConfigSchema, type Config, type ConfigInput } from './schema.js';
export {
  loadConfig,
  parseConfig,
  defaultStateDir,
  type LoadOptions,
  type LoadedConfig,
} from './load.js';
export { SILERO_MODEL_FILE, vadModelPath } from './models.js';
