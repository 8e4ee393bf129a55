/**
 * Which helix.toml applies and which state dir, without validating anything: no zod, so a command
 * that only talks to the running node (`status`, `run`) starts fast. load.ts validates on top.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError, fileKind } from '../errors.js';

export type Tree = Record<string, unknown>;

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

/** Default per-user state dir: $HELIX_STATE_DIR, $XDG_STATE_HOME/helix, ~/.local/state/helix; root: /var/lib/helix. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HELIX_STATE_DIR) return env.HELIX_STATE_DIR;
  if (process.getuid?.() === 0 && !env.XDG_STATE_HOME) return '/var/lib/helix';
  const base = env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'helix');
}

export interface LocatedConfig {
  /** the file that was read, if any */
  configPath: string | null;
  stateDir: string;
  /** the file's tree (not yet validated) */
  tree: Tree;
}

/**
 * Which helix.toml applies and which state dir, without validating the file (no zod): what a
 * command that only talks to the running node needs (`status`, `run`: the control socket lives in
 * the state dir). A `node.state_dir` that is not a string is left to loadConfig's error.
 */
export function locateConfig(opts: LoadOptions = {}): LocatedConfig {
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
  // node.state_dir (file or HELIX_NODE_STATE_DIR) applies only when no flag or HELIX_STATE_DIR chose one.
  const fromFile = env.HELIX_NODE_STATE_DIR ?? getPath(tree, ['node', 'state_dir']);
  if (!opts.stateDir && !env.HELIX_STATE_DIR && typeof fromFile === 'string' && fromFile !== '') {
    stateDir = path.resolve(configPath ? path.dirname(configPath) : cwd, fromFile);
  }
  return { configPath, stateDir: path.resolve(cwd, stateDir), tree };
}

/** helix.toml is a few KB; anything near this is not one (and /dev/zero claims a size of 0). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

function readToml(file: string): Tree {
  let text: string;
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO does not wait for a writer; it is refused below
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new ConfigError('--config', file, 'the file cannot be read; check its permissions', {
      cause: err,
    });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new ConfigError(
        '--config',
        file,
        `this is ${fileKind(st)}, not a regular file; pass a helix.toml file`,
      );
    if (st.size > MAX_CONFIG_BYTES)
      throw new ConfigError(
        '--config',
        file,
        `${st.size} bytes is over the ${MAX_CONFIG_BYTES}-byte limit for helix.toml; pass the right file`,
      );
    text = readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('--config', file, 'the file cannot be read; check its permissions', {
      cause: err,
    });
  } finally {
    closeSync(fd);
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

export function getPath(tree: unknown, keys: readonly PropertyKey[]): unknown {
  let node: unknown = tree;
  for (const k of keys) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[k];
  }
  return node;
}
