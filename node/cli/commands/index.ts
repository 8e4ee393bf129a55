import type { Command } from 'commander';
import { registerAgentCommands } from './agents.js';
import { registerVoiceCommands } from './voice.js';

/** Commands of the agents and voice modules. */
export function registerExtraCommands(program: Command): void {
  registerAgentCommands(program);
  registerVoiceCommands(program);
}
