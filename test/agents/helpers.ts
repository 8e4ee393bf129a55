/** Shared setup of the agents tests: real Docker, real images, events collected from runs. */
import path from 'node:path';
import type Docker from 'dockerode';
import { buildImage, DockerRuntime, loadAgents } from '../../node/agents/index.js';
import type { LoadedAgent, RunEvent } from '../../node/agentspec/index.js';
export { collect } from '../support/wait.js';

/** Every image and container these tests create starts with these (and is removed after). */
export const IMAGE_PREFIX = 'helix-test-agent-';
export const CONTAINER_PREFIX = 'helix-test-ag-';
export const EGRESS_NETWORK = 'helix-test-ag-egress';

export const SHIPPED_DIR = path.resolve('agents');
export const BREAKERS_DIR = path.resolve('test/agents/breakers');

/** Loads the named agents (shipped and breakers) and builds their images (under `imagePrefix`). */
export async function buildAgents(
  docker: Docker,
  names: string[],
  imagePrefix = IMAGE_PREFIX,
): Promise<LoadedAgent[]> {
  const all = await loadAgents([SHIPPED_DIR, BREAKERS_DIR]);
  const picked = names.map((n) => {
    const a = all.find((x) => x.manifest.name === n);
    if (!a) throw new Error(`no agent ${n}`);
    return a;
  });
  for (const a of picked)
    await buildImage(a, { runtime: new DockerRuntime({ docker }), imagePrefix });
  return picked;
}

/** The run's last event, which must be its only result or error. */
export function outcome(events: RunEvent[]): RunEvent {
  const terminal = events.filter((e) => e.type === 'result' || e.type === 'error');
  if (terminal.length !== 1 || events[events.length - 1] !== terminal[0]) {
    throw new Error(`expected exactly one terminal event, last: ${JSON.stringify(events)}`);
  }
  return terminal[0] as RunEvent;
}

/** Names of running containers with the prefix. */
export async function liveContainers(docker: Docker, prefix = CONTAINER_PREFIX): Promise<string[]> {
  const list = await docker.listContainers({ all: true });
  return list
    .flatMap((c) => c.Names.map((n) => n.replace(/^\//, '')))
    .filter((n) => n.startsWith(prefix));
}
