/**
 * Starting the agents on a node with a container engine (Docker), in the background: leftover
 * containers removed, warm agents' images built or fetched (progress in the log), warm pools filled, the image
 * registry reconciled with the engine.
 */
import type { AgentRunner, ImageEngine, ImageRuntime, Registry } from '../agents/index.js';
import type { LoadedAgent } from '../agentspec/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * With Docker: the runner removes containers a crashed node left, builds or fetches the warm
 * agents' images and fills their pools; the registry forgets images the engine no longer has and
 * learns the agents' images it has. Without Docker this node runs nothing and places runs on peers.
 */
export async function warmUp(
  runner: AgentRunner,
  images: ImageRuntime,
  registry: Registry,
  agents: ReadonlyMap<string, LoadedAgent>,
  tagOf: (a: LoadedAgent) => Promise<string>,
  log: Logger,
): Promise<void> {
  try {
    await images.check(AbortSignal.timeout(5000));
  } catch (err) {
    log.info(
      { err: describeError(err) },
      'no Docker engine: this node runs no agents itself and places them on peers',
    );
    return;
  }
  try {
    await runner.start();
    const present = new Set(await images.agentImageTags());
    registry.reconcile(present);
    const platform = await images.platform(AbortSignal.timeout(5000));
    for (const agent of agents.values()) {
      const tag = await tagOf(agent);
      if (present.has(tag)) await recordHeld(images, registry, agent, tag, platform);
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
  images: ImageRuntime,
  registry: Registry,
  agent: LoadedAgent,
  tag: string,
  platform: string,
): Promise<void> {
  if (registry.get(tag)) return;
  const found = await images.inspectImage(tag);
  if (found)
    await registry.record({
      agent: agent.manifest.name,
      hash: agent.hash,
      platform,
      tag,
      sizeBytes: found.sizeBytes,
    });
}

/** The engine's `has`, with "Docker is not running" said as such rather than as a socket error. */
export function explainedEngine(images: ImageRuntime): ImageEngine {
  return {
    has: async (tag, signal) => {
      try {
        return await images.has(tag, signal);
      } catch (err) {
        signal?.throwIfAborted();
        await images.check(AbortSignal.timeout(3000));
        throw err;
      }
    },
    imagePlatform: (tag, signal) => images.imagePlatform(tag, signal),
    save: (tag, signal) => images.save(tag, signal),
    load: (archive, signal) => images.load(archive, signal),
  };
}
