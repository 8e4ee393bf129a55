import type { Command } from 'commander';

/** Commands of the agents and voice modules register here as they land. */
export function registerExtraCommands(_program: Command): void {}
