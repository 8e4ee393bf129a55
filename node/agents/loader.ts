/**
 * Finds agents on disk: every folder with an agent.toml under the given directories (a folder
 * without one, such as agents/sdk/, is not an agent). Each agent gets a content hash over its
 * files, the agent SDK and the image recipe; that hash tags its image.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ManifestError,
  MANIFEST_FILE,
  parseManifest,
  type LoadedAgent,
} from '../agentspec/index.js';
import { AGENT_SDK_FILE, AGENT_SDK_PATH, GO_BUILD_FLAGS, RECIPE_VERSION } from './recipe.js';

/** An agent folder is sources and a manifest; anything near this is a mistake (a binary, a dataset). */
const MAX_SOURCE_BYTES = 4 * 1024 * 1024;
const MAX_SOURCE_FILES = 256;

export interface LoadAgentsOptions {
  /** true (default): any broken agent fails the whole load. false: broken ones are skipped and reported. */
  strict?: boolean;
  onProblem?: (problem: ManifestError) => void;
}

/** Reads every `<dir>/<name>/agent.toml`; folder name and manifest name must agree; names are unique. */
export async function loadAgents(
  dirs: string[],
  opts: LoadAgentsOptions = {},
): Promise<LoadedAgent[]> {
  const strict = opts.strict ?? true;
  const problems: ManifestError[] = [];
  const byName = new Map<string, LoadedAgent>();
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = (await readdir(dir, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch (err) {
      problems.push(
        new ManifestError(
          `agent directory ${dir} cannot be read; create it or remove it from agents.dirs in helix.toml`,
          { cause: err },
        ),
      );
      continue;
    }
    for (const name of entries.sort()) {
      const agentDir = path.join(dir, name);
      if (!(await exists(path.join(agentDir, MANIFEST_FILE)))) continue;
      try {
        const agent = await loadAgent(agentDir);
        const other = byName.get(agent.manifest.name);
        if (other) {
          throw new ManifestError(
            `agent "${agent.manifest.name}" is defined twice: ${other.dir} and ${agentDir}; rename or remove one`,
          );
        }
        byName.set(agent.manifest.name, agent);
      } catch (err) {
        problems.push(
          err instanceof ManifestError
            ? err
            : new ManifestError(`agent in ${agentDir} cannot be loaded`, { cause: err }),
        );
      }
    }
  }
  for (const p of problems) opts.onProblem?.(p);
  if (strict && problems.length > 0) {
    if (problems.length === 1) throw problems[0];
    throw new ManifestError(
      `${problems.length} agents cannot be loaded:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`,
    );
  }
  return [...byName.values()];
}

/** Loads one agent folder. */
export async function loadAgent(agentDir: string): Promise<LoadedAgent> {
  const manifestPath = path.join(agentDir, MANIFEST_FILE);
  const manifest = parseManifest(await readFile(manifestPath, 'utf8'), manifestPath);
  const folder = path.basename(agentDir);
  if (manifest.name !== folder) {
    throw new ManifestError(
      `${manifestPath}: name = "${manifest.name}" but the folder is "${folder}"; make them the same`,
    );
  }
  const { hash } = await snapshotSources(agentDir);
  return { manifest, dir: agentDir, hash };
}

/**
 * The agent's files (relative path -> content) plus the agent SDK (as helix.go), and their hash,
 * read once, so that an image is always built from exactly the bytes its tag names. The SDK is
 * part of every agent's hash: changing it rebuilds every agent.
 */
export async function snapshotSources(
  agentDir: string,
  sdkPath: string = agentSdkPath(),
): Promise<{ files: Map<string, Buffer>; hash: string }> {
  const names = await listSources(agentDir);
  if (!names.some((f) => f.endsWith('.go') && !f.includes('/'))) {
    throw new ManifestError(
      `${agentDir} has no .go file; an agent is a main.go (Go standard library) next to its agent.toml`,
    );
  }
  if (names.includes(AGENT_SDK_FILE)) {
    throw new ManifestError(
      `${agentDir} has its own ${AGENT_SDK_FILE}, the name the agent SDK (${AGENT_SDK_PATH}) is built in under; rename that file`,
    );
  }
  let sdk: Buffer;
  try {
    sdk = await readFile(sdkPath);
  } catch (err) {
    throw new ManifestError(
      `the agent SDK ${sdkPath} cannot be read; every agent is built with it (reinstall HelixOS or restore ${AGENT_SDK_PATH})`,
      { cause: err },
    );
  }
  const files = new Map<string, Buffer>();
  const h = createHash('sha256');
  h.update(`${RECIPE_VERSION}\n${GO_BUILD_FLAGS.join(' ')}\n`);
  h.update(`sdk\0${sdk.length}\0`);
  h.update(sdk);
  for (const rel of names) {
    const content = await readFile(path.join(agentDir, rel));
    files.set(rel, content);
    h.update(`${rel}\0${content.length}\0`);
    h.update(content);
  }
  files.set(AGENT_SDK_FILE, sdk);
  return { files, hash: h.digest('hex') };
}

/**
 * The repository's agents/sdk/helix.go, found next to the package.json above this file (source
 * or compiled). Agents in any directory (agents.dirs, tests) are built with this one file.
 */
export function agentSdkPath(from: string = fileURLToPath(import.meta.url)): string {
  let dir = path.dirname(from);
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, AGENT_SDK_PATH);
    if (existsSync(path.join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // Not found: snapshotSources names this path in its error.
  return path.resolve(path.dirname(from), '..', '..', AGENT_SDK_PATH);
}

/** Relative paths (with "/") of the regular files an agent is made of; dotfiles and links are ignored. */
async function listSources(root: string): Promise<string[]> {
  const out: string[] = [];
  let total = 0;
  async function walk(rel: string): Promise<void> {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(relPath);
      else if (entry.isFile()) {
        total += (await lstat(path.join(root, relPath))).size;
        out.push(relPath);
        if (total > MAX_SOURCE_BYTES || out.length > MAX_SOURCE_FILES) {
          throw new ManifestError(
            `${root} holds more than ${MAX_SOURCE_FILES} files or ${MAX_SOURCE_BYTES >> 20} MiB; an agent folder holds only its sources and agent.toml`,
          );
        }
      }
    }
  }
  await walk('');
  return out.sort();
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}
