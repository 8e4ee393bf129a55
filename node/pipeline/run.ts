/** The pipeline's run stage over agenthost's runAnywhere: intent -> manifest -> placed run. */
import type { AgentManifest } from '../agentspec/index.js';
import { runAnywhere, type RemoteRunEvent } from '../agenthost/index.js';
import type { Logger } from '../log.js';
import type { RpcClients } from '../rpc/index.js';
import type { PeerView } from '../types.js';
import type { RunIntent } from './pipeline.js';

export interface RunIntentDeps {
  selfId: string;
  view: () => readonly PeerView[];
  clients: RpcClients;
  /** the installed agent of that name: its manifest and the content hash of its image */
  agent: (name: string) => { manifest: AgentManifest; hash?: string } | undefined;
  logger?: Logger;
}

export function createRunIntent(deps: RunIntentDeps): RunIntent {
  return (intent, opts) => {
    const agent = deps.agent(intent.agent);
    if (!agent) return refused(intent.agent);
    return runAnywhere({
      view: deps.view,
      clients: deps.clients,
      manifest: agent.manifest,
      intent: intent.intent,
      args: intent.args,
      traceId: opts.traceId,
      imageHash: agent.hash,
      callerNode: deps.selfId,
      signal: opts.signal,
      log: deps.logger,
    });
  };
}

async function* refused(agent: string): AsyncGenerator<RemoteRunEvent> {
  yield {
    type: 'error',
    code: 'refused',
    message: `no agent named ${agent} is installed on this node; add it to agents/ (or agents.dirs) and restart helix-node`,
    retryable: false,
  };
}
