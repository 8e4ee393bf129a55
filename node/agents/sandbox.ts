/**
 * The sandbox every agent container gets (DESIGN.md §6), as an engine-neutral SandboxSpec.
 * Pure: the same manifest always gives the same policy, and tests read it as a table.
 */
import type { AgentManifest } from '../agentspec/index.js';
import { AGENT_USER } from './recipe.js';
import type { SandboxSpec } from './runtime.js';

export interface SandboxOptions {
  image: string;
  /** container name; must start with "helix-" */
  name: string;
  labels?: Record<string, string>;
  /** the runtime kills the container after this long */
  timeoutMs?: number;
}

export const MIB = 1024 * 1024;
/** Open files per agent process: enough for an agent's stdio and a few sockets through the host. */
export const NOFILE = 256;

export function sandboxFor(manifest: AgentManifest, opts: SandboxOptions): SandboxSpec {
  return {
    name: opts.name,
    image: opts.image,
    user: AGENT_USER,
    labels: { 'helix.agent': manifest.name, ...opts.labels },
    memoryBytes: manifest.memory_mb * MIB,
    cpus: manifest.cpus,
    pids: manifest.pids,
    openFiles: NOFILE,
    network: manifest.network,
    readOnlyRoot: true,
    dropAllCapabilities: true,
    noNewPrivileges: true,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  };
}
