/** A SandboxSpec as Docker sees it: a create-container body, or `docker run` flags (bench baseline). */
import type { ContainerCreateOptions } from 'dockerode';
import type { AgentManifest } from '../../agentspec/index.js';
import type { SandboxSpec } from '../runtime.js';
import { sandboxFor, type SandboxOptions } from '../sandbox.js';

export function dockerCreateOptions(
  spec: SandboxSpec,
  egressNetwork: string,
): ContainerCreateOptions {
  return {
    name: spec.name,
    Image: spec.image,
    User: spec.user,
    // stdin stays open while the host is attached and closes when it detaches, so a container
    // whose host went away reads EOF, exits and (AutoRemove) disappears.
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    Labels: spec.labels,
    HostConfig: {
      AutoRemove: true,
      ReadonlyRootfs: spec.readOnlyRoot,
      CapDrop: spec.dropAllCapabilities ? ['ALL'] : [],
      SecurityOpt: spec.noNewPrivileges ? ['no-new-privileges'] : [],
      Privileged: false,
      Memory: spec.memoryBytes,
      // No swap: the memory limit is the limit.
      MemorySwap: spec.memoryBytes,
      NanoCpus: Math.round(spec.cpus * 1e9),
      PidsLimit: spec.pids,
      Ulimits: [{ Name: 'nofile', Soft: spec.openFiles, Hard: spec.openFiles }],
      NetworkMode: spec.network === 'egress' ? egressNetwork : 'none',
      IpcMode: 'private',
      // Output travels over the attach stream; nothing is written to the engine's log files.
      LogConfig: { Type: 'none', Config: {} },
    },
  };
}

/** The Docker create body for a manifest's sandbox (tests read it as a table; bench/agents uses it). */
export function sandboxSpec(
  manifest: AgentManifest,
  opts: SandboxOptions & { egressNetwork: string },
): ContainerCreateOptions {
  return dockerCreateOptions(sandboxFor(manifest, opts), opts.egressNetwork);
}

/** `docker run` flags with the same sandbox (the cold-path baseline in bench/agents). */
export function sandboxRunFlags(manifest: AgentManifest, egressNetwork: string): string[] {
  const spec = sandboxFor(manifest, { image: '', name: '' });
  return [
    '--user',
    spec.user,
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
    String(spec.cpus),
    '--pids-limit',
    String(spec.pids),
    '--ulimit',
    `nofile=${spec.openFiles}:${spec.openFiles}`,
    '--network',
    spec.network === 'egress' ? egressNetwork : 'none',
    '--ipc',
    'private',
    '--log-driver',
    'none',
  ];
}
