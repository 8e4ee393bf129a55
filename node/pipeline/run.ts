/** The pipeline's run stage: an intent handed to agenthost's runIntent (the same one `helix-node run` uses). */
import { runIntent, type RunIntentDeps } from '../agenthost/index.js';
import type { RunIntent } from './pipeline.js';

export type { RunIntentDeps };

export function createRunIntent(deps: RunIntentDeps): RunIntent {
  return (intent, opts) =>
    runIntent(
      deps,
      { agent: intent.agent, intent: intent.intent, args: intent.args, traceId: opts.traceId },
      { signal: opts.signal },
    );
}
