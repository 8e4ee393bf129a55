/**
 * A Docker container's usage against its limits, read from its cgroup files on this host: a few
 * small reads (well under a millisecond), where the engine's stats endpoint takes a full second
 * per answer (Docker 20.10, even "one-shot"), too slow to ask after every warm task. cgroup v2
 * (unified) and v1, with the cgroupfs or the systemd driver. Null when the files are not here:
 * an engine on another host, or this process in a cgroup namespace of its own.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerUsage } from '../runtime.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';
export const PROC_ROOT = '/proc';
/** Processes whose open files are counted, at most (a fork bomb's are caught by pids anyway). */
const MAX_PROCS_COUNTED = 32;

/** The container's cgroup folders for `controller` (v1) or for all (v2, controller ignored). */
function candidates(root: string, v2: boolean, controller: string, id: string): string[] {
  const base = v2 ? root : path.join(root, controller);
  return [path.join(base, 'docker', id), path.join(base, 'system.slice', `docker-${id}.scope`)];
}

async function firstDir(dirs: string[]): Promise<string | null> {
  for (const d of dirs) {
    try {
      if ((await stat(d)).isDirectory()) return d;
    } catch {
      // not this layout
    }
  }
  return null;
}

async function read(dir: string | null, file: string): Promise<string | null> {
  if (!dir) return null;
  try {
    return (await readFile(path.join(dir, file), 'utf8')).trim();
  } catch {
    return null;
  }
}

/** A number, or null for "max", a missing file or nonsense. */
function num(text: string | null): number | null {
  if (text === null || !/^\d+$/.test(text)) return null;
  return Number(text);
}

/** The value of `key` in a "key value" per line file (pids.events, memory.events, memory.stat). */
function field(text: string | null, key: string): number | null {
  if (text === null) return null;
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key) return num(v ?? null);
  }
  return null;
}

/** Where a container's cgroup files are: found once per container, then read after each task. */
export interface CgroupDirs {
  v2: boolean;
  pids: string | null;
  memory: string | null;
}

export async function findCgroupDirs(id: string, root = CGROUP_ROOT): Promise<CgroupDirs | null> {
  const v2 = (await read(root, 'cgroup.controllers')) !== null;
  const pids = await firstDir(candidates(root, v2, 'pids', id));
  const memory = v2 ? pids : await firstDir(candidates(root, v2, 'memory', id));
  return pids || memory ? { v2, pids, memory } : null;
}

/**
 * The most files any of the container's processes holds open, from /proc/<pid>/fd (the pids in
 * its cgroup.procs): null when they cannot be read (this process is not root, or not in the
 * engine's pid namespace).
 */
async function mostOpenFiles(dir: string | null, procRoot: string): Promise<number | null> {
  const procs = await read(dir, 'cgroup.procs');
  if (procs === null) return null;
  const pids = procs
    .split('\n')
    .filter((p) => /^\d+$/.test(p))
    .slice(0, MAX_PROCS_COUNTED);
  let most: number | null = null;
  for (const pid of pids) {
    try {
      const n = (await readdir(path.join(procRoot, pid, 'fd'))).length;
      most = Math.max(most ?? 0, n);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return most;
}

export async function readCgroupUsage(
  id: string,
  root = CGROUP_ROOT,
  found?: CgroupDirs | null,
  procRoot = PROC_ROOT,
): Promise<ContainerUsage | null> {
  const dirs = found ?? (await findCgroupDirs(id, root));
  if (!dirs) return null;
  const { v2 } = dirs;
  const [current, max, events, memUsage, memLimit, memEvents, openFiles] = await Promise.all([
    read(dirs.pids, 'pids.current'),
    read(dirs.pids, 'pids.max'),
    read(dirs.pids, 'pids.events'),
    read(dirs.memory, v2 ? 'memory.current' : 'memory.usage_in_bytes'),
    read(dirs.memory, v2 ? 'memory.max' : 'memory.limit_in_bytes'),
    read(dirs.memory, v2 ? 'memory.events' : 'memory.oom_control'),
    mostOpenFiles(dirs.pids, procRoot),
  ]);
  const usage = num(memUsage);
  const limit = num(memLimit);
  // The file cache it can drop counts only when the total comes near the limit.
  const cache =
    usage !== null && limit !== null && usage >= limit * 0.5
      ? (field(
          await read(dirs.memory, 'memory.stat'),
          v2 ? 'inactive_file' : 'total_inactive_file',
        ) ?? 0)
      : 0;
  return {
    pids: num(current),
    pidsLimit: num(max),
    pidsLimitHits: field(events, 'max'),
    memoryBytes: usage === null ? null : Math.max(0, usage - cache),
    memoryLimitBytes: limit,
    oomKills: field(memEvents, 'oom_kill'),
    openFiles,
  };
}
