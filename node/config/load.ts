/**
 * helix.toml + environment variables + command-line flags -> one validated Config.
 * Precedence (lowest first): schema defaults, the TOML file, HELIX_<SECTION>_<KEY> variables,
 * flags. A bad key or value fails with the key, the value and what is allowed.
 */
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { ConfigSchema, configSchemas, type Config } from './schema.js';
import { defaultStateDir, getPath, locateConfig, type LoadOptions, type Tree } from './locate.js';

export type { LoadOptions } from './locate.js';

export interface LoadedConfig {
  config: Config;
  /** the file that was read, if any */
  configPath: string | null;
  stateDir: string;
}

/** The config's sections (a call: the schemas are built for a parse and dropped after it). */
const sections = () => Object.keys(ConfigSchema.shape);

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const { configPath, tree } = locateConfig(opts);
  mergeEnv(tree, env);
  for (const [key, value] of Object.entries(opts.overrides ?? {})) {
    if (value !== undefined) setDotted(tree, key, value);
  }
  const config = parseConfig(tree, configPath ?? 'defaults');
  // Located again from the validated value, which the flags' overrides may have set.
  const cwd = opts.cwd ?? process.cwd();
  let stateDir = opts.stateDir ?? defaultStateDir(env);
  if (!opts.stateDir && !env.HELIX_STATE_DIR && config.node.state_dir) {
    stateDir = path.resolve(configPath ? path.dirname(configPath) : cwd, config.node.state_dir);
  }
  return { config, configPath, stateDir: path.resolve(cwd, stateDir) };
}

/** Validate an already-parsed tree (used by loadConfig and by tests). */
export function parseConfig(tree: unknown, source = 'config'): Config {
  try {
    const result = ConfigSchema.safeParse(tree);
    if (result.success) return result.data;
    throw toConfigError(result.error, tree, source);
  } finally {
    // built for this parse; kept, they would hold 0.8 MB of an idle node's heap
    configSchemas.release();
  }
}

function mergeEnv(tree: Tree, env: NodeJS.ProcessEnv): void {
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('HELIX_') || raw === undefined) continue;
    if (name === 'HELIX_CONFIG' || name === 'HELIX_STATE_DIR') continue;
    const rest = name.slice('HELIX_'.length).toLowerCase();
    const known = sections();
    const section = known.find((s) => rest.startsWith(`${s}_`));
    if (!section) {
      throw new ConfigError(
        name,
        raw,
        `unknown variable; use HELIX_<SECTION>_<KEY> with a section of ${known.join(', ')}`,
      );
    }
    setDotted(tree, `${section}.${rest.slice(section.length + 1)}`, parseEnvValue(raw));
  }
}

/** Environment values are TOML literals when they parse as one (numbers, booleans, arrays), else strings. */
function parseEnvValue(raw: string): unknown {
  try {
    return (parseToml(`v = ${raw}`) as Tree).v;
  } catch {
    return raw;
  }
}

function setDotted(tree: Tree, key: string, value: unknown): void {
  const parts = key.split('.');
  let node: Tree = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

function toConfigError(error: z.ZodError, tree: unknown, source: string): ConfigError {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const parent = issue.path.map(String);
    const bad = issue.keys[0]!;
    const key = [...parent, bad].join('.');
    const sectionShape = parent.length === 0 ? sections() : Object.keys(getShape(parent[0]!));
    return new ConfigError(
      key,
      getPath(tree, [...issue.path, bad]),
      `unknown key in ${source}; allowed: ${sectionShape.join(', ')}`,
    );
  }
  const key = issue.path.map(String).join('.') || '(root)';
  return new ConfigError(key, getPath(tree, issue.path), issue.message);
}

function getShape(section: string): Record<string, unknown> {
  const schema = (ConfigSchema.shape as Record<string, unknown>)[section] as
    | {
        shape?: Record<string, unknown>;
        def?: {
          innerType?: {
            shape?: Record<string, unknown>;
            def?: { schema?: { shape?: Record<string, unknown> } };
          };
        };
      }
    | undefined;
  return (
    schema?.shape ??
    schema?.def?.innerType?.shape ??
    schema?.def?.innerType?.def?.schema?.shape ??
    {}
  );
}
