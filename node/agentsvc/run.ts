/**
 * Runs an intent anywhere in the mesh for this node (`helix-node run`, the voice pipeline):
 * checks it against the local manifest first, so a typo fails here with what there is, then
 * places it with runAnywhere (which moves it once if its host is lost and it is idempotent).
 */
import { randomUUID } from 'node:crypto';
import { validateTaskArgs, type LoadedAgent } from '../agentspec/index.js';
import { runAnywhere, type RemoteRunEvent } from '../agenthost/index.js';
import type { Logger } from '../log.js';
import type { RpcClients } from '../rpc/index.js';
import type { PeerView } from '../types.js';
import { unknownAgentMessage } from './catalog.js';
import type { RunIntentRequest } from './types.js';

export type RunCheck =
  | { ok: true; agent: LoadedAgent; args: Record<string, unknown> }
  | { ok: false; code: 'unknown_agent' | 'unknown_intent' | 'invalid_args'; message: string };

/**
 * The request against this node's manifests. Arguments are checked for names, types and fixed
 * choices only: tables from helix.toml (rooms) are the host's to check, as its config decides.
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
  agents: ReadonlyMap<string, LoadedAgent>;
  view: () => readonly PeerView[];
  clients: RpcClients;
  selfId: string;
  log: Logger;
}

/** Every stream ends with exactly one `result` or `error`. */
export async function* runIntent(
  d: RunIntentDeps,
  req: RunIntentRequest,
  opts: { signal?: AbortSignal } = {},
): AsyncGenerator<RemoteRunEvent> {
  const checked = checkRun(d.agents, req);
  if (!checked.ok) {
    yield { type: 'error', code: checked.code, message: checked.message, retryable: false };
    return;
  }
  yield* runAnywhere({
    view: d.view,
    clients: d.clients,
    manifest: checked.agent.manifest,
    intent: req.intent,
    args: checked.args,
    traceId: req.traceId ?? randomUUID(),
    imageHash: checked.agent.hash,
    onNode: req.onNode,
    callerNode: d.selfId,
    signal: opts.signal,
    log: d.log,
  });
}
