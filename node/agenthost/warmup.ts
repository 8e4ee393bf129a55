/**
 * Starting the agents on a node with Docker, in the background: leftover containers removed,
 * warm agents' images built or fetched (progress in the log), warm pools filled, the image
 * registry reconciled with the engine.
 */
import type Docker from 'dockerode';
import { checkDocker, inspectImage, type AgentRunner, type Registry } from '../agents/index.js';
import type { LoadedAgent } from '../agentspec/index.js';
import type { ImageEngine } from './types.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * With Docker: the runner removes containers a crashed node left, builds or fetches the warm
 * agents' images and fills their pools; the registry forgets images the engine no longer has and
 * learns the agents' images it has. Without Docker this node runs nothing and places runs on peers.
 */
export async function warmUp(
  runner: AgentRunner,
  docker: Docker,
  registry: Registry,
  agents: ReadonlyMap<string, LoadedAgent>,
  tagOf: (a: LoadedAgent) => string,
  log: Logger,
): Promise<void> {
  try {
    await checkDocker(docker, AbortSignal.timeout(5000));
  } catch (err) {
    log.info(
      { err: describeError(err) },
      'no Docker engine: this node runs no agents itself and places them on peers',
    );
    return;
  }
  try {
    await runner.start();
    const images = await docker.listImages({ filters: { label: ['helix.agent'] } });
    const present = new Set(images.flatMap((i) => i.RepoTags ?? []));
    registry.reconcile(present);
    for (const agent of agents.values()) {
      const tag = tagOf(agent);
      if (present.has(tag)) await recordHeld(docker, registry, agent, tag);
    }
    log.info({ warm: runner.poolState().map((e) => `${e.agent}: ${e.idle} idle`) }, 'agents ready');
  } catch (err) {
    log.warn(
      { err: describeError(err) },
      'starting the agents failed; runs will start them on demand',
    );
  }
}

/** Record the agent's image in the registry if the engine holds it and the registry does not know it. */
export async function recordHeld(
  docker: Docker,
  registry: Registry,
  agent: LoadedAgent,
  tag: string,
): Promise<void> {
  if (registry.get(tag)) return;
  const found = await inspectImage(docker, tag);
  if (found)
    await registry.record({
      agent: agent.manifest.name,
      hash: agent.hash,
      tag,
      sizeBytes: found.sizeBytes,
    });
}

/** The engine's `has`, with "Docker is not running" said as such rather than as a socket error. */
export function explainedEngine(engine: ImageEngine, docker: Docker): ImageEngine {
  return {
    ...engine,
    has: async (tag, signal) => {
      try {
        return await engine.has(tag, signal);
      } catch (err) {
        signal?.throwIfAborted();
        await checkDocker(docker, AbortSignal.timeout(3000));
        throw err;
      }
    },
  };
}
