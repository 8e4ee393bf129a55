/**
 * The `mesh.status` host call's answer, from the live view (pure). Roles are what a node can do;
 * running counts come from this node's runner for itself and from busy warm containers for
 * peers (adverts carry no per-agent cold runs, only the total in their load).
 */
import type { MeshStatus } from '../agentspec/index.js';
import type { PeerView, WarmPoolEntry } from '../types.js';
import { compareNames } from '../order.js';

export interface SelfRuns {
  name: string;
  /** runs per agent on this node now (AgentRunner.running()) */
  running: Array<{ agent: string; count: number }>;
  /** this node's warm pool now (fresher than its own last advert) */
  warmPool: WarmPoolEntry[];
}

export function meshStatus(view: readonly PeerView[], self: SelfRuns): MeshStatus {
  const nodes = view.map((p) => {
    const warmPool = p.self ? self.warmPool : p.warmPool;
    return {
      name: p.name,
      state: p.state,
      roles: roles(p),
      running: p.self ? self.running : busyAgents(warmPool),
      warm: mergeByAgent(warmPool),
    };
  });
  if (!view.some((p) => p.self)) {
    nodes.push({
      name: self.name,
      state: 'alive',
      roles: [],
      running: self.running,
      warm: mergeByAgent(self.warmPool),
    });
  }
  nodes.sort((a, b) => compareNames(a.name, b.name));
  return { self: self.name, nodes };
}

export function roles(p: PeerView): string[] {
  const c = p.capabilities;
  const out: string[] = [];
  if (c.mic) out.push('mic');
  if (c.tts.length > 0) out.push('speaker');
  if (c.gpu.length > 0) out.push('gpu');
  if (c.docker) out.push('docker');
  if (c.stt) out.push('stt');
  if (c.ollama) out.push('ollama');
  return out;
}

function mergeByAgent(
  pool: readonly WarmPoolEntry[],
): Array<{ agent: string; idle: number; busy: number }> {
  const by = new Map<string, { agent: string; idle: number; busy: number }>();
  for (const e of pool) {
    const cur = by.get(e.agent) ?? { agent: e.agent, idle: 0, busy: 0 };
    cur.idle += e.idle;
    cur.busy += e.busy;
    by.set(e.agent, cur);
  }
  return [...by.values()].sort((a, b) => compareNames(a.agent, b.agent));
}

function busyAgents(pool: readonly WarmPoolEntry[]): Array<{ agent: string; count: number }> {
  return mergeByAgent(pool)
    .filter((e) => e.busy > 0)
    .map((e) => ({ agent: e.agent, count: e.busy }));
}
