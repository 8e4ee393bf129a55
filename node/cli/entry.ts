#!/usr/bin/env node
/**
 * The CLI's entry as shipped: the bundle's `helix-node.js` and bin/helix-node.js's import. It
 * loads almost nothing before it decides one thing: `join` runs the daemon, whose start-up is hot
 * enough for V8's optimising compiler, which a node without voice, speech-to-text or Docker leaves
 * out (node/v8-tier.ts). Until the daemon knows which node it is, tier-up waits; it must start
 * waiting before the CLI's own modules load, since the module loader's path functions reach
 * TurboFan while they do. Another command with "join" among its words waits too, for its short
 * life. Then the CLI (node/cli/main.ts) loads and runs.
 */
import { holdTierUp } from '../v8-tier.js';

if (process.argv.slice(2).includes('join')) holdTierUp();

const cli = await import('./main.js');
export const { main, exitWhenDrained } = cli;

if (cli.isScript(import.meta.url)) await cli.runAsEntry();
