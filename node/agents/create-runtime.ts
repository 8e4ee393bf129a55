/**
 * The one place the container engine is chosen: Docker, at config capabilities.docker_socket.
 * A Kubernetes/K3s runtime would be picked here (by a config key) and nowhere else.
 */
import type { Logger } from '../log.js';
import { DockerRuntime } from './docker/runtime.js';
import type { AgentRuntime } from './runtime.js';

export interface RuntimeOptions {
  /** config capabilities: the engine's socket */
  capabilities: { docker_socket: string };
  /** config agents.platform: the platform agents run as here; "" = the engine's own */
  platform?: string;
  /** bridge network for agents with network = "egress" (default "helix-egress") */
  egressNetwork?: string;
  log?: Logger;
}

/** The container runtime and image store agents run on, from this node's config. */
export function createRuntime(opts: RuntimeOptions): AgentRuntime {
  return new DockerRuntime({
    socketPath: opts.capabilities.docker_socket,
    platform: opts.platform || undefined,
    egressNetwork: opts.egressNetwork,
    log: opts.log,
  });
}
