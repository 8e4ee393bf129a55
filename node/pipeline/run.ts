/**
 * The pipeline's run stage: an intent handed to agenthost's runIntent, the same one
 * `helix-node run` uses (the daemon passes AgentServices.runIntent; tests pass runIntent with
 * their own deps).
 */
import type { IntentRequest } from '../agentspec/index.js';
import { runIntent, type RemoteRunEvent, type RunIntentDeps } from '../agenthost/index.js';
import type { RunIntent } from './pipeline.js';

export type { RunIntentDeps };

/** agenthost's runIntent as a function: AgentServices.runIntent has this shape. */
export type AgentRun = (
  req: IntentRequest & { traceId?: string },
  opts: { signal?: AbortSignal },
) => AsyncIterable<RemoteRunEvent>;

export function pipelineRun(run: AgentRun): RunIntent {
  return (intent, opts) =>
    run(
      { agent: intent.agent, intent: intent.intent, args: intent.args, traceId: opts.traceId },
      { signal: opts.signal },
    );
}

/** The run stage over runIntent with explicit deps (a node's services without the daemon). */
export function createRunIntent(deps: RunIntentDeps): RunIntent {
  return pipelineRun((req, opts) => runIntent(deps, req, opts));
}
