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

/** What every command has: the state dir (the running node's control socket lives there) and output. */
export interface CliContext {
  o: Output;
  globals: GlobalOptions;
  stateDir: string;
  /** the helix.toml that applies, if any */
  configPath: string | null;
}

/** A command that reads the configuration itself (join, doctor, invite, models). */
export interface ConfiguredContext extends CliContext, LoadedConfig {}

function output(globals: GlobalOptions): Output {
  return createOutput({
    json: globals.json ?? false,
    color: globals.color === false ? false : undefined,
  });
}

/**
 * State dir + output for a command that talks to the running node. The file is found and read but
 * not validated (the node validated it when it started), so zod never loads: `status` and `run`
 * start in about half the time. Loaded when a command runs, not for `--help`.
 */
export async function cliContext(cmd: Command): Promise<CliContext> {
  const globals = cmd.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
  const { locateConfig } = await import('../config/locate.js');
  const { configPath, stateDir } = locateConfig({
    configPath: globals.config,
    stateDir: globals.stateDir,
  });
  return { o: output(globals), globals, stateDir, configPath };
}

/**
 * The validated configuration + state dir + output, for a command that uses the configuration.
 * The config module (its schema is zod's) loads here, when such a command runs.
 */
export async function configuredContext(
  cmd: Command,
  overrides: Record<string, unknown> = {},
): Promise<ConfiguredContext> {
  const globals = cmd.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
  const { loadConfig } = await import('../config/index.js');
  const loaded = loadConfig({
    configPath: globals.config,
    stateDir: globals.stateDir,
    overrides: { 'log.level': globals.logLevel, ...overrides },
  });
  return { ...loaded, o: output(globals), globals };
}

/** A command that shows one control route: the answer as JSON with --json, else `render`ed. */
export function showAction<T>(route: string, render: (ctx: CliContext, answer: T) => string) {
  return async (_opts: unknown, cmd: Command): Promise<void> => {
    const ctx = await cliContext(cmd);
    const answer = await controlCall<T>(ctx.stateDir, route);
    ctx.o.print(answer, () => render(ctx, answer));
  };
}
