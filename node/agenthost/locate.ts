/** Where the agents that ship with HelixOS live: the repository's agents/ folder. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The agents/ folder next to the package.json above this file: node/agenthost/ when run from
 * source (tsx), dist/node/agenthost/ when compiled. Null when it cannot be found (an odd install).
 */
export function shippedAgentsDir(from: string = fileURLToPath(import.meta.url)): string | null {
  let dir = path.dirname(from);
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'agents'))) {
      return path.join(dir, 'agents');
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** The shipped agents first, then config agents.dirs (relative ones from `cwd`), without repeats. */
export function agentDirs(configured: readonly string[], cwd = process.cwd()): string[] {
  const out: string[] = [];
  const shipped = shippedAgentsDir();
  for (const dir of [
    ...(shipped ? [shipped] : []),
    ...configured.map((d) => path.resolve(cwd, d)),
  ]) {
    if (!out.includes(dir)) out.push(dir);
  }
  return out;
}
