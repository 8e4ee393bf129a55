import type { Command } from 'commander';
import type { LoadedConfig } from '../config/index.js';
import { controlCall } from '../control/index.js';
import { createOutput, type Output } from './output.js';

/** The options every command takes (set on the program in main.ts). */
export interface GlobalOptions {
  stateDir?: string;
  config?: string;
  json?: boolean;
  color?: boolean;
  logLevel?: string;
}

export interface CliContext extends LoadedConfig {
  o: Output;
  globals: GlobalOptions;
}

/**
 * Config + state dir + output for a command, from the global flags. The config module (its schema
 * is zod's) loads here, when a command runs, not for `--help`.
 */
export async function cliContext(
  cmd: Command,
  overrides: Record<string, unknown> = {},
): Promise<CliContext> {
  const globals = cmd.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
  const { loadConfig } = await import('../config/index.js');
  const loaded = loadConfig({
    configPath: globals.config,
    stateDir: globals.stateDir,
    overrides: { 'log.level': globals.logLevel, ...overrides },
  });
  const o = createOutput({
    json: globals.json ?? false,
    color: globals.color === false ? false : undefined,
  });
  return { ...loaded, o, globals };
}

/** A command that shows one control route: the answer as JSON with --json, else `render`ed. */
export function showAction<T>(route: string, render: (ctx: CliContext, answer: T) => string) {
  return async (_opts: unknown, cmd: Command): Promise<void> => {
    const ctx = await cliContext(cmd);
    const answer = await controlCall<T>(ctx.stateDir, route);
    ctx.o.print(answer, () => render(ctx, answer));
  };
}
