/**
 * The sandbox every agent container gets (DESIGN.md §6), as a Docker create-container body.
 * Pure: the same manifest always gives the same policy, and tests read it as a table.
 */
import type { ContainerCreateOptions } from 'dockerode';
import type { AgentManifest } from '../agentspec/index.js';
import { AGENT_USER } from './recipe.js';

export interface SandboxOptions {
  image: string;
  /** container name; must start with "helix-" */
  name: string;
  /** the bridge network agents with network = "egress" join */
  egressNetwork: string;
  labels?: Record<string, string>;
}

export const MIB = 1024 * 1024;
/** Open files per agent process: enough for an agent's stdio and a few sockets through the host. */
const NOFILE = 256;

export function sandboxSpec(manifest: AgentManifest, opts: SandboxOptions): ContainerCreateOptions {
  return {
    name: opts.name,
    Image: opts.image,
    User: AGENT_USER,
    // stdin stays open while the host is attached and closes when it detaches, so a container
    // whose host went away reads EOF, exits and (AutoRemove) disappears.
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    Labels: { 'helix.agent': manifest.name, ...opts.labels },
    HostConfig: {
      AutoRemove: true,
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      Memory: manifest.memory_mb * MIB,
      // No swap: the memory limit is the limit.
      MemorySwap: manifest.memory_mb * MIB,
      NanoCpus: Math.round(manifest.cpus * 1e9),
      PidsLimit: manifest.pids,
      Ulimits: [{ Name: 'nofile', Soft: NOFILE, Hard: NOFILE }],
      NetworkMode: manifest.network === 'egress' ? opts.egressNetwork : 'none',
      IpcMode: 'private',
      // Output travels over the attach stream; nothing is written to the engine's log files.
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}

/** `docker run` flags with the same sandbox (the cold-path baseline in bench/agents). */
export function sandboxRunFlags(manifest: AgentManifest, egressNetwork: string): string[] {
  return [
    '--user',
    AGENT_USER,
    '--read-only',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--memory',
    `${manifest.memory_mb}m`,
    '--memory-swap',
    `${manifest.memory_mb}m`,
    '--cpus',
    String(manifest.cpus),
    '--pids-limit',
    String(manifest.pids),
    '--ulimit',
    `nofile=${NOFILE}:${NOFILE}`,
    '--network',
    manifest.network === 'egress' ? egressNetwork : 'none',
    '--ipc',
    'private',
    '--log-driver',
    'none',
  ];
}
