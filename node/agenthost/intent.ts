/**
 * The one way this node runs an intent anywhere in the mesh, for `helix-node run` (the control
 * route) and for the voice pipeline alike: the request was checked where it entered (checkRun at
 * the control route; the router's schema for a spoken command) and is checked once more by the
 * host that runs it (AgentHost.Run). runIntent only looks the agent up for its manifest and image
 * hash and places the run with runAnywhere (which moves it once if its host is lost and it is
 * idempotent).
 */
import { randomUUID } from 'node:crypto';
import { validateTaskArgs, type AgentManifest, type LoadedAgent } from '../agentspec/index.js';
import type { Logger } from '../log.js';
import type { RpcClients } from '../rpc/index.js';
import type { PeerView } from '../types.js';
import { unknownAgentMessage } from './catalog.js';
import type { RunIntentRequest } from './catalog-types.js';
import { runAnywhere } from './run.js';
import type { RemoteRunEvent } from './types.js';

export type RunCheck =
  | { ok: true; agent: LoadedAgent; args: Record<string, unknown> }
  | { ok: false; code: 'unknown_agent' | 'unknown_intent' | 'invalid_args'; message: string };

/**
 * The entry check of `helix-node run`: the request against this node's manifests, so a typo
 * fails here with what there is. Arguments are checked for names, types and fixed choices only:
 * tables from helix.toml (rooms) are the host's to check, as its config decides.
 */
export function checkRun(
  agents: ReadonlyMap<string, LoadedAgent>,
  req: RunIntentRequest,
): RunCheck {
  const agent = agents.get(req.agent);
  if (!agent)
    return {
      ok: false,
      code: 'unknown_agent',
      message: unknownAgentMessage(req.agent, agents.keys()),
    };
  const m = agent.manifest;
  const intent = m.intents.find((i) => i.name === req.intent);
  if (!intent) {
    return {
      ok: false,
      code: 'unknown_intent',
      message: `agent ${m.name} has no intent ${JSON.stringify(req.intent)}; it serves: ${m.intents.map((i) => i.name).join(', ')}`,
    };
  }
  const checked = validateTaskArgs(intent, req.args ?? {}, {});
  if (!checked.ok) {
    return {
      ok: false,
      code: 'invalid_args',
      message: `${m.name}.${intent.name}: ${checked.problems.join('; ')}`,
    };
  }
  return { ok: true, agent, args: checked.args };
}

export interface RunIntentDeps {
  /** the installed agent of that name: its manifest and the content hash of its image */
  agent: (name: string) => { manifest: AgentManifest; hash?: string } | undefined;
  view: () => readonly PeerView[];
  clients: RpcClients;
  selfId: string;
  log?: Logger;
}

/** Every stream ends with exactly one `result` or `error`. */
export async function* runIntent(
  d: RunIntentDeps,
  req: RunIntentRequest,
  opts: { signal?: AbortSignal } = {},
): AsyncGenerator<RemoteRunEvent> {
  const agent = d.agent(req.agent);
  if (!agent) {
    yield {
      type: 'error',
      code: 'refused',
      message: `no agent named ${req.agent} is installed on this node; add it to agents/ (or agents.dirs) and restart helix-node`,
      retryable: false,
    };
    return;
  }
  yield* runAnywhere({
    view: d.view,
    clients: d.clients,
    manifest: agent.manifest,
    intent: req.intent,
    args: req.args ?? {},
    traceId: req.traceId ?? randomUUID(),
    imageHash: agent.hash,
    onNode: req.onNode,
    callerNode: d.selfId,
    signal: opts.signal,
    log: d.log,
  });
}
