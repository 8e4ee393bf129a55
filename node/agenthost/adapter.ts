/** node/agents' AgentRunner (warm pool + cold runs) as this module's AgentExecutor. */
import type { AgentRunner } from '../agents/index.js';
import type { AgentExecutor } from './types.js';

export function runnerExecutor(runner: Pick<AgentRunner, 'agent' | 'list' | 'run'>): AgentExecutor {
  return {
    agent: (name) => runner.agent(name),
    agentNames: () => runner.list().map((a) => a.manifest.name),
    run: (request, opts) => runner.run(request, opts),
  };
}
