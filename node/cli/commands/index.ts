import type { Command } from 'commander';
import { registerAgentCommands } from './agents.js';

/** Commands of the agents and voice modules register here as they land. */
export function registerExtraCommands(program: Command): void {
  registerAgentCommands(program);
}
