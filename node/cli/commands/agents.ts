/**
 * Agent commands, thin over the running daemon's control routes (node/control/routes/agents.ts over node/agenthost):
 *   helix-node agents list | build [NAME] | inspect NAME | rm NAME
 *   helix-node run AGENT INTENT [--arg k=v …] [--on NODE] [--json]
 * Progress goes to stderr, results to stdout; --json prints the daemon's objects (NDJSON events
 * for build and run). A failed run exits with a sysexits code for its error.
 */
import type { Command } from 'commander';
import type { RemoteRunEvent } from '../../agenthost/index.js';
import type {
  AgentDetail,
  AgentList,
  AgentSummary,
  BuildEvent,
  RemoveResult,
} from '../../agenthost/index.js';
import { controlCall, controlEvents } from '../../control/index.js';
import { HelixError, UsageError } from '../../errors.js';
import { BUILDABLE_PLATFORMS, parsePlatform } from '../../platform.js';
import { cliContext, showAction, type CliContext } from '../context.js';
import { describeData, paint, safeText, table } from '../output.js';

/** A run that ended with an error event; exitCode follows sysexits. */
export class RunFailedError extends HelixError {
  override readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Run error codes (node/agents RunErrorCode and node/agenthost's own) -> exit status. */
export const RUN_EXIT_CODES: Record<string, number> = {
  unknown_agent: 64,
  unknown_intent: 64,
  invalid_args: 64,
  no_host: 69,
  host_lost: 69,
  unavailable: 69,
  image_missing: 69,
  build_failed: 70,
  refused: 69,
  timeout: 75,
  agent_error: 70,
  protocol: 70,
  crashed: 70,
  oom: 70,
  internal: 70,
  cancelled: 130,
};

export function registerAgentCommands(program: Command): void {
  const agents = program
    .command('agents')
    .description('the agents this node knows and their images');

  agents
    .command('list')
    .description(
      'every agent: tier, intents, image (hash, size, held here), warm containers, and the platforms each node holds it for',
    )
    .action(showAction<AgentList>('/v1/agents', renderList));

  agents
    .command('build')
    .argument('[name]', 'one agent (default: all)')
    .option(
      '--platform <platform>',
      `build for this platform (${BUILDABLE_PLATFORMS.join(', ')}; default: this node's own); Go cross-compiles`,
    )
    .description(
      "build agents' images (static Go binary in a FROM scratch image); unchanged ones are skipped",
    )
    .action(async (name: string | undefined, opts: { platform?: string }, cmd: Command) => {
      const ctx = await cliContext(cmd);
      let platform: string | undefined;
      try {
        platform = opts.platform === undefined ? undefined : parsePlatform(opts.platform);
      } catch (err) {
        throw new UsageError(`--platform: ${(err as Error).message}`);
      }
      let failed = 0;
      for await (const ev of controlEvents<BuildEvent>(ctx.stateDir, '/v1/agents/build', {
        method: 'POST',
        body: { ...(name ? { name } : {}), ...(platform ? { platform } : {}) },
      })) {
        if (ev.type === 'failed') failed++;
        if (ctx.o.json) ctx.o.out(JSON.stringify(ev));
        else printBuildEvent(ctx, ev);
      }
      if (failed > 0) process.exitCode = 70;
    });

  agents
    .command('inspect')
    .argument('<name>', 'the agent')
    .description("one agent's manifest, sandbox, image and record")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const detail = await controlCall<AgentDetail>(
        ctx.stateDir,
        `/v1/agents/inspect?name=${encodeURIComponent(name)}`,
      );
      ctx.o.print(detail, () => renderDetail(ctx, detail));
    });

  agents
    .command('rm')
    .argument('<name>', 'the agent')
    .description(
      "remove the agent's images from this node (it is built or fetched again when needed)",
    )
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const result = await controlCall<RemoveResult>(ctx.stateDir, '/v1/agents/rm', {
        method: 'POST',
        body: { name },
        timeoutMs: 60_000,
      });
      if (ctx.o.json) ctx.o.printJson(result);
      else if (result.removed.length === 0) ctx.o.out(`no image of ${name} on this node`);
      else {
        for (const r of result.removed) ctx.o.out(`removed ${r.tag} (${formatSize(r.sizeBytes)})`);
        ctx.o.err(`freed ${formatSize(result.freedBytes)}`);
      }
    });

  program
    .command('run')
    .argument('<agent>', 'the agent, e.g. lights')
    .argument('<intent>', 'its intent, e.g. on')
    .description('run an intent anywhere in the mesh and stream its progress and result')
    .option('--arg <key=value>', 'an argument (repeat for more), e.g. --arg room=kitchen', collect)
    .option('--on <node>', 'run it on this node (name or id) instead of the one placement picks')
    .action(
      async (
        agent: string,
        intent: string,
        opts: { arg?: string[]; on?: string },
        cmd: Command,
      ) => {
        const ctx = await cliContext(cmd);
        const args = parseArgs(opts.arg ?? []);
        const abort = new AbortController();
        const onSigint = () => abort.abort();
        process.once('SIGINT', onSigint);
        let final: RemoteRunEvent | null = null;
        try {
          for await (const ev of controlEvents<RemoteRunEvent>(ctx.stateDir, '/v1/run', {
            method: 'POST',
            body: { agent, intent, args, onNode: opts.on },
            signal: abort.signal,
          })) {
            if (ev.type === 'result' || ev.type === 'error') final = ev;
            if (ctx.o.json) ctx.o.out(JSON.stringify(ev));
            else printRunEvent(ctx, ev);
          }
        } catch (err) {
          if (abort.signal.aborted)
            throw new RunFailedError(`${agent}.${intent} was cancelled`, 130);
          throw err;
        } finally {
          process.off('SIGINT', onSigint);
        }
        if (!final)
          throw new RunFailedError(
            `the node ended ${agent}.${intent} without a result; see its log`,
            70,
          );
        if (final.type === 'error') {
          const code = RUN_EXIT_CODES[final.code] ?? 70;
          // --json already printed the error event; the exit status carries the rest.
          if (ctx.o.json) process.exitCode = code;
          else throw new RunFailedError(final.message, code);
        }
      },
    );
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** ["room=kitchen", "level=40"] -> { room: "kitchen", level: "40" } (the host reads the types). */
export function parseArgs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = at > 0 ? pair.slice(0, at).trim() : '';
    if (!key)
      throw new UsageError(
        `--arg ${JSON.stringify(pair)} is not key=value; e.g. --arg room=kitchen`,
      );
    // Own properties only: --arg constructor=… or --arg __proto__=… is a name like any other
    // (the host refuses names the intent does not take), not an inherited property.
    if (Object.hasOwn(out, key))
      throw new UsageError(`--arg ${key} is given twice; give each argument once`);
    Object.defineProperty(out, key, {
      value: pair.slice(at + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

export function formatSize(bytes: number): string {
  if (bytes >= 1000 * 1000) return `${(bytes / 1000 / 1000).toFixed(1)} MB`;
  if (bytes >= 1000) return `${(bytes / 1000).toFixed(0)} kB`;
  return `${bytes} B`;
}

function printRunEvent(ctx: CliContext, ev: RemoteRunEvent): void {
  const { o } = ctx;
  switch (ev.type) {
    case 'placed':
      o.err(
        paint(
          o,
          'dim',
          `${ev.attempt > 1 ? 'placed again' : 'placed'} on ${ev.node}: ${ev.reason}`,
        ),
      );
      break;
    case 'accepted':
      o.err(
        paint(o, 'dim', `${ev.hostName} started it (${ev.warm ? 'warm container' : 'cold run'})`),
      );
      break;
    case 'progress':
      o.err(
        `  ${safeText(ev.message)}${ev.percent !== undefined ? ` (${Math.round(ev.percent)}%)` : ''}`,
      );
      break;
    case 'host_lost':
      o.err(
        paint(
          o,
          'yellow',
          `lost ${safeText(ev.node)}: ${safeText(ev.reason)}${ev.retrying ? '; placing it again' : ''}`,
        ),
      );
      break;
    case 'result':
      // an agent that answers with data only: its fields as lines, not a JSON object
      if (ev.text || describeData(ev.data)) o.out(safeText(ev.text || describeData(ev.data)));
      break;
    case 'error':
      break; // thrown by the caller with its exit status
  }
}

function printBuildEvent(ctx: CliContext, ev: BuildEvent): void {
  const { o } = ctx;
  switch (ev.type) {
    case 'progress':
      o.err(paint(o, 'dim', `[${ev.agent}] ${safeText(ev.message)}`));
      break;
    case 'built':
      o.out(
        `${ev.agent}  ${ev.tag}  ${ev.platform}  ${formatSize(ev.sizeBytes)}  ${ev.built ? 'built' : 'up to date'}`,
      );
      if (ev.overLimit)
        o.err(
          paint(
            o,
            'yellow',
            `warning: ${ev.tag} is over the 10 MB an agent image should stay under`,
          ),
        );
      break;
    case 'failed':
      o.err(paint(o, 'red', `${ev.agent}: ${safeText(ev.message)}`));
      break;
    case 'done':
      o.err(`${ev.built} built, ${ev.upToDate} up to date, ${ev.failed} failed`);
      break;
  }
}

function warmCell(a: AgentSummary): string {
  if (!a.warm) return '-';
  return `${a.warm.idle} idle${a.warm.busy ? `, ${a.warm.busy} busy` : ''}`;
}

/** "laptop: linux/amd64, linux/arm64*; pi: linux/arm64" (* not offered to peers yet). */
function platformsCell(a: AgentSummary): string {
  return (
    a.platforms
      .map(
        (n) =>
          `${n.node}: ${n.images.map((i) => `${i.platform}${i.shareable ? '' : '*'}`).join(', ')}`,
      )
      .join('; ') || '-'
  );
}

function renderList(ctx: CliContext, list: AgentList): string {
  const { o } = ctx;
  const rows = list.agents.map((a) => [
    a.name,
    a.tier,
    a.intents.join(','),
    a.image.tag ?? '-',
    a.image.sizeBytes === null ? '-' : formatSize(a.image.sizeBytes),
    a.image.held ? paint(o, 'green', 'yes') : paint(o, 'dim', 'no'),
    warmCell(a),
    a.heldBy.join(',') || '-',
    platformsCell(a),
  ]);
  const lines = [
    table(
      ['AGENT', 'TIER', 'INTENTS', 'IMAGE', 'SIZE', 'HELD', 'WARM', 'PEERS', 'PLATFORMS HELD'],
      rows,
    ),
  ];
  if (list.platform) lines.push('', `${list.node} runs agents as ${list.platform}`);
  if (list.agents.some((a) => a.platforms.some((n) => n.images.some((i) => !i.shareable))))
    lines.push('* not offered to peers yet: it has not run successfully on that node');
  if (!list.docker) {
    lines.push(
      '',
      `Docker is not running on ${list.node}: it runs no agents itself; runs go to peers with Docker`,
    );
  }
  return lines.join('\n');
}

function renderDetail(ctx: CliContext, d: AgentDetail): string {
  const { o } = ctx;
  const m = d.manifest;
  const img = d.image;
  const record = img.addedAt
    ? `${img.shareable ? 'offered to peers' : 'not offered to peers yet'}; ${img.successes} ok, ${img.failures} failed; last used ${img.lastUsedAt}`
    : 'no record on this node';
  const lines = [
    `${paint(o, 'bold', m.name)} ${m.version}: ${safeText(m.description)}`,
    `  tier       ${m.tier}${m.idempotent ? ' (idempotent)' : ''}`,
    `  sandbox    ${m.memory_mb} MB memory, ${m.cpus} CPUs, ${m.pids} pids, network ${m.network}, timeout ${m.timeout_s} s`,
    `  calls      ${m.calls.join(', ') || 'none'}`,
    `  context    ${m.context.join(', ') || 'none'}`,
    `  folder     ${d.dir}`,
    `  image      ${img.tag ?? '-'} ${img.held ? `held here, ${formatSize(img.sizeBytes ?? 0)}` : 'not held here'}`,
    `  platform   ${img.platform ?? 'unknown (Docker does not answer)'}`,
    `  platforms  ${platformsCell(d)}`,
    `  record     ${record}`,
    `  warm pool  ${d.warm ? warmCell(d) : 'none'}`,
    `  peers      ${d.heldBy.join(', ') || 'none hold it'}`,
    'intents:',
  ];
  for (const intent of m.intents) {
    lines.push(
      `  ${paint(o, 'bold', intent.name)}${intent.description ? `  ${safeText(intent.description)}` : ''}`,
    );
    for (const [name, spec] of Object.entries(intent.args)) {
      const choices = spec.enum
        ? ` one of ${spec.enum.join('|')}`
        : spec.enum_from
          ? ` one of [${spec.enum_from}]`
          : '';
      lines.push(
        `    --arg ${name}=…  ${spec.type}${spec.required ? ', required' : ''}${safeText(choices)}${spec.description ? ` — ${safeText(spec.description)}` : ''}`,
      );
    }
    if (intent.phrases.length)
      lines.push(`    says: ${intent.phrases.map((p) => JSON.stringify(p)).join(', ')}`);
  }
  return lines.join('\n');
}
