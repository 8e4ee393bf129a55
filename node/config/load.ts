/**
 * helix.toml + environment variables + command-line flags -> one validated Config.
 * Precedence (lowest first): schema defaults, the TOML file, HELIX_<SECTION>_<KEY> variables,
 * flags. A bad key or value fails with the key, the value and what is allowed.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { ConfigSchema, type Config } from './schema.js';

export interface LoadOptions {
  /** explicit --config path; must exist */
  configPath?: string;
  /** explicit --state-dir */
  stateDir?: string;
  /** dotted-key overrides from flags, e.g. { 'mesh.rpc_port': 7701 } */
  overrides?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** the file that was read, if any */
  configPath: string | null;
  stateDir: string;
}

type Tree = Record<string, unknown>;

const SECTIONS = Object.keys(ConfigSchema.shape);

/** Default per-user state dir: $HELIX_STATE_DIR, $XDG_STATE_HOME/helix, ~/.local/state/helix; root: /var/lib/helix. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HELIX_STATE_DIR) return env.HELIX_STATE_DIR;
  if (process.getuid?.() === 0 && !env.XDG_STATE_HOME) return '/var/lib/helix';
  const base = env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'helix');
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicitPath = opts.configPath ?? env.HELIX_CONFIG;
  let stateDir = opts.stateDir ?? defaultStateDir(env);

  let configPath: string | null = null;
  if (explicitPath) {
    configPath = path.resolve(cwd, explicitPath);
    if (!existsSync(configPath)) {
      throw new ConfigError(
        '--config',
        explicitPath,
        'the file does not exist; pass an existing helix.toml',
      );
    }
  } else {
    for (const candidate of [path.join(cwd, 'helix.toml'), path.join(stateDir, 'helix.toml')]) {
      if (existsSync(candidate)) {
        configPath = candidate;
        break;
      }
    }
  }

  const tree: Tree = configPath ? readToml(configPath) : {};
  mergeEnv(tree, env);
  for (const [key, value] of Object.entries(opts.overrides ?? {})) {
    if (value !== undefined) setDotted(tree, key, value);
  }
  const config = parseConfig(tree, configPath ?? 'defaults');
  // node.state_dir in the file applies only when no flag or variable chose one.
  if (!opts.stateDir && !env.HELIX_STATE_DIR && config.node.state_dir) {
    stateDir = path.resolve(configPath ? path.dirname(configPath) : cwd, config.node.state_dir);
  }
  return { config, configPath, stateDir: path.resolve(cwd, stateDir) };
}

/** Validate an already-parsed tree (used by loadConfig and by tests). */
export function parseConfig(tree: unknown, source = 'config'): Config {
  const result = ConfigSchema.safeParse(tree);
  if (result.success) return result.data;
  throw toConfigError(result.error, tree, source);
}

function readToml(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', file, 'the file cannot be read; check its permissions', {
      cause: err,
    });
  }
  try {
    return parseToml(text) as Tree;
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : '';
    throw new ConfigError(
      file,
      '(file)',
      `not valid TOML${where}: ${(err as Error).message.split('\n')[0]}`,
      {
        cause: err,
      },
    );
  }
}

function mergeEnv(tree: Tree, env: NodeJS.ProcessEnv): void {
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('HELIX_') || raw === undefined) continue;
    if (name === 'HELIX_CONFIG' || name === 'HELIX_STATE_DIR') continue;
    const rest = name.slice('HELIX_'.length).toLowerCase();
    const section = SECTIONS.find((s) => rest.startsWith(`${s}_`));
    if (!section) {
      throw new ConfigError(
        name,
        raw,
        `unknown variable; use HELIX_<SECTION>_<KEY> with a section of ${SECTIONS.join(', ')}`,
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

function getPath(tree: unknown, keys: readonly PropertyKey[]): unknown {
  let node: unknown = tree;
  for (const k of keys) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[k];
  }
  return node;
}

function toConfigError(error: z.ZodError, tree: unknown, source: string): ConfigError {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const parent = issue.path.map(String);
    const bad = issue.keys[0]!;
    const key = [...parent, bad].join('.');
    const sectionShape = parent.length === 0 ? SECTIONS : Object.keys(getShape(parent[0]!));
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
