/** The agents module's public face. */
export * from './manifest.js';
export * from './protocol.js';
export * from './types.js';
export * from './errors.js';
export { loadAgents, loadAgent, parseManifest, MANIFEST_FILE } from './loader.js';
export { buildImage, inspectImage, checkDocker, formatSize, IMAGE_SIZE_LIMIT_BYTES } from './images.js';
export type { BuildOptions, BuiltImage } from './images.js';
export { imageTag, DEFAULT_IMAGE_PREFIX } from './recipe.js';
