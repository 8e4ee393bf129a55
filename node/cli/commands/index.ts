import type { Command } from 'commander';
import { registerAgentCommands } from './agents.js';
import { registerSettingsCommands } from './settings.js';
import { registerVoiceCommands } from './voice.js';

/** Commands of the agents, voice and settings modules. */
export function registerExtraCommands(program: Command): void {
  registerAgentCommands(program);
  registerVoiceCommands(program);
  registerSettingsCommands(program);
}
