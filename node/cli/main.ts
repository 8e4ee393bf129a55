#!/usr/bin/env node
/**
 * helix-node: thin commands over the modules (tailscale's cmd/tailscale/cli habit).
 * Exit codes follow sysexits: 64 usage, 65 bad data, 69 unavailable, 74 I/O, 77 no permission, 78 config.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { describeError, HelixError } from '../errors.js';
import { VERSION } from '../version.js';
import { createOutput, safeText } from './output.js';
import type { GlobalOptions } from './context.js';
import { registerMeshCommands } from './commands/mesh.js';
import { registerExtraCommands } from './commands/index.js';
import { exitWhenDrained } from './exit.js';

export { exitWhenDrained } from './exit.js';

export function buildProgram(): Command {
  const program = new Command('helix-node')
    .description(
      'HelixOS node: one daemon per device; together they make a private voice-and-agent mesh',
    )
    .version(VERSION, '-V, --version')
    .option(
      '--state-dir <dir>',
      'where this node keeps its key, mesh membership and caches (env HELIX_STATE_DIR)',
    )
    .option('--config <file>', "helix.toml to read (default: ./helix.toml, else the state dir's)")
    .option('--json', 'machine-readable output')
    .option('--no-color', 'no colours (also NO_COLOR=1)')
    .addOption(
      new Option('--log-level <level>', 'log level').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerMeshCommands(program);
  registerExtraCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0
      return err.exitCode === 0 ? 0 : 64;
    }
    const o = createOutput({ json: program.opts<GlobalOptions>().json ?? false });
    // One compact line, so a consumer reading NDJSON events (run --json) can parse it too.
    if (o.json)
      o.out(
        JSON.stringify({
          error: { name: err instanceof Error ? err.name : 'Error', message: describeError(err) },
        }),
      );
    // An error may carry an agent's or a peer's words (a failed run's message).
    else o.err(`helix-node: ${safeText(describeError(err))}`);
    return err instanceof HelixError ? err.exitCode : 1;
  }
}

/** Runs the CLI on this process's arguments and exits when its output has drained. */
export function runAsEntry(): Promise<void> {
  return main(process.argv).then(
    (code) => exitWhenDrained(code),
    (err: unknown) => {
      process.stderr.write(`helix-node: ${safeText(describeError(err))}\n`);
      return exitWhenDrained(1);
    },
  );
}

/** Whether the module at `url` is the script node was started with. */
export function isScript(url: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(url) === path.resolve(process.argv[1]);
}

// run directly (tsc's build, or the sources through tsx) rather than through node/cli/entry.ts
if (isScript(import.meta.url)) void runAsEntry();
