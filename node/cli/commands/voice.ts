/**
 * Voice commands, thin over the running daemon's control routes (node/control/routes/voice.ts) and,
 * for model files, over node/models directly (they need no daemon):
 *   helix-node say TEXT… [--speak]
 *   helix-node transcribe FILE.wav [--on NODE] [--json]
 *   helix-node listen --once [--timeout SECONDS] [--file X.wav]
 *   helix-node trace ID | --last
 *   helix-node models list | check [NAME] | pull NAME [--force] | pull --router [MODEL] [--on NODE]
 * Progress goes to stderr, the reply or transcript to stdout; --json prints the daemon's NDJSON
 * lines (or one JSON object). A command that failed at some stage exits with status 1.
 */
import path from 'node:path';
import type { Command } from 'commander';
import {
  controlCall,
  controlStream,
  type CommandStreamLine,
  type StatusReport,
} from '../../control/index.js';
import { UsageError } from '../../errors.js';
// Only the model registry (a table, no I/O library) loads with the command definitions; the
// store, downloads and capability probes load when a command runs (issue 12: a quick CLI).
import { findModel, humanBytes, knownNames, modelsDir } from '../../models/registry.js';
import type { ModelPullProgress } from '../../models/index.js';
import type { PipelineEvent, Trace } from '../../pipeline/index.js';
import {
  cliContext,
  configuredContext,
  type CliContext,
  type ConfiguredContext,
} from '../context.js';
import { describeArgs, paint, safeText, table, type Output } from '../output.js';

export function registerVoiceCommands(program: Command): void {
  program
    .command('say')
    .argument('<text...>', 'what you would have said, e.g. "turn on the kitchen lights"')
    .description('run a command from text: the same pipeline as speech, from routing on')
    .option('--speak', 'also speak the reply on this node')
    .action(async (words: string[], opts: { speak?: boolean }, cmd: Command) => {
      const ctx = await cliContext(cmd);
      await streamCommand(ctx, '/v1/say', { text: words.join(' '), speak: opts.speak === true });
    });

  program
    .command('transcribe')
    .argument('<file>', 'a WAV file (any common rate and channel count)')
    .description('transcribe a WAV file on this node, or on the nearest (or named) STT node')
    .option('--on <node>', 'transcribe on this node (name or id)')
    .action(async (file: string, opts: { on?: string }, cmd: Command) => {
      const ctx = await cliContext(cmd);
      await streamCommand(ctx, '/v1/transcribe', {
        path: path.resolve(file),
        ...(opts.on ? { on: opts.on } : {}),
      });
    });

  program
    .command('listen')
    .description('take one command from the mic of this node')
    .option('--once', 'one utterance, then exit')
    .option('--timeout <seconds>', 'give up when nobody speaks for this long', '30')
    .option(
      '--file <wav>',
      'take the utterance from a WAV file instead of the mic (through the VAD, paced like speech)',
    )
    .action(async (opts: { once?: boolean; timeout: string; file?: string }, cmd: Command) => {
      if (!opts.once) {
        throw new UsageError(
          'listening all the time is what `helix-node join` does with voice.enabled = true; use `helix-node listen --once` for one command',
        );
      }
      const seconds = Number(opts.timeout);
      if (!Number.isFinite(seconds) || seconds < 1 || seconds > 600)
        throw new UsageError(`--timeout ${opts.timeout}: give 1 to 600 seconds`);
      const ctx = await cliContext(cmd);
      if (!ctx.o.json)
        ctx.o.err(opts.file ? `listening to ${opts.file}…` : 'listening… (speak now)');
      await streamCommand(ctx, '/v1/listen', {
        timeoutMs: Math.round(seconds * 1000),
        ...(opts.file ? { file: path.resolve(opts.file) } : {}),
      });
    });

  program
    .command('trace')
    .argument('[id]', 'a trace id (or its first few characters), as `say` and `listen` print it')
    .option('--last', 'the newest trace on this node')
    .description('every hop of one command: node, stage, start, duration')
    .action(async (id: string | undefined, opts: { last?: boolean }, cmd: Command) => {
      if (!id && !opts.last) throw new UsageError('give a trace id, or --last');
      const ctx = await cliContext(cmd);
      const query = id ? `?id=${encodeURIComponent(id)}` : '?last=1';
      const trace = await controlCall<Trace>(ctx.stateDir, `/v1/trace${query}`);
      ctx.o.print(trace, () => renderTrace(ctx.o, trace));
    });

  registerModelCommands(program);
}

function registerModelCommands(program: Command): void {
  const models = program
    .command('models')
    .description('speech models (Whisper, Silero VAD) and the router LLM');

  models
    .command('list')
    .description('models this node has, and the ones it can pull')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await configuredContext(cmd);
      const { listModels } = await import('../../models/index.js');
      const entries = await listModels(storeOptions(ctx));
      const router = await routerModelStatus(ctx);
      if (ctx.o.json)
        return ctx.o.printJson({ dir: modelsDir(ctx.stateDir), models: entries, router });
      ctx.o.out(
        table(
          ['MODEL', 'KIND', 'SIZE', 'STATE', 'ABOUT'],
          entries.map((e) => [
            e.inUse ? `${e.name} *` : e.name,
            e.kind,
            e.size,
            e.installed ? paint(ctx.o, 'green', 'installed') : paint(ctx.o, 'dim', 'available'),
            e.description,
          ]),
        ),
      );
      ctx.o.err(`\n* in use (stt.model / voice.vad_model). Directory: ${modelsDir(ctx.stateDir)}`);
      ctx.o.out('');
      ctx.o.out(renderRouterStatus(ctx, router));
    });

  models
    .command('check')
    .argument('[name]', 'one model (default: every installed one)')
    .description('verify installed model files against their published checksums')
    .action(async (name: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = await configuredContext(cmd);
      const only = name ? (findModel(name)?.name ?? name) : undefined;
      const { checkModels } = await import('../../models/index.js');
      const results = await checkModels({ ...storeOptions(ctx), only });
      const router = name ? null : await routerModelStatus(ctx);
      if (router?.nodes) {
        const holders = router.nodes.filter((n) => n.has);
        results.push({
          name: `router ${router.model}`,
          path: '(Ollama)',
          ok: holders.length > 0,
          detail:
            holders.length > 0
              ? `on ${holders.map((n) => `${n.node}${n.loaded ? ' (loaded)' : ''}`).join(', ')}`
              : router.nodes.length > 0
                ? `no node with Ollama has it (${router.nodes.map((n) => n.node).join(', ')})`
                : 'no node in the mesh runs Ollama',
          ...(holders.length > 0
            ? {}
            : {
                fix:
                  router.nodes.length > 0
                    ? 'run `helix-node models pull --router`'
                    : 'install Ollama on a GPU machine (https://ollama.com/download), then `helix-node models pull --router`',
              }),
        });
      }
      if (ctx.o.json) ctx.o.printJson({ checks: results });
      else if (results.length === 0)
        ctx.o.out(name ? `${name} is not installed` : 'no model files installed');
      else {
        for (const r of results) {
          ctx.o.out(
            `${r.ok ? paint(ctx.o, 'green', 'OK  ') : paint(ctx.o, 'red', 'BAD ')} ${r.name}: ${r.detail}`,
          );
          if (!r.ok && r.fix) ctx.o.out(`     fix: ${r.fix}`);
        }
      }
      if (results.some((r) => !r.ok) || (name && results.length === 0)) process.exitCode = 65;
    });

  models
    .command('pull')
    .argument(
      '[name]',
      `a model: ${knownNames()}; with --router, an Ollama model (default router.model)`,
    )
    .option('--force', 'download again even when a verified copy is installed')
    .option('--mirror <url>', 'download from a mirror laid out like huggingface.co')
    .option('--router', 'pull the router LLM with Ollama on the node that routes (the GPU peer)')
    .option('--on <node>', 'with --router: pull on this node instead')
    .description(
      'download a model with progress and checksum verification (or have Ollama pull the router LLM)',
    )
    .action(
      async (
        name: string | undefined,
        opts: { force?: boolean; router?: boolean; on?: string; mirror?: string },
        cmd: Command,
      ) => {
        const ctx = await cliContext(cmd);
        if (opts.router) {
          await streamCommand(ctx, '/v1/models/pull-router', {
            ...(name ? { model: name } : {}),
            ...(opts.on ? { on: opts.on } : {}),
          });
          return;
        }
        if (!name) throw new UsageError(`name a model to pull: ${knownNames()} (or --router)`);
        const spec = findModel(name);
        const { pullModel, UnknownModelError } = await import('../../models/index.js');
        if (!spec) throw new UnknownModelError(name, knownNames());
        const progress = progressPrinter(ctx.o);
        const pulled = await pullModel(spec, {
          dir: modelsDir(ctx.stateDir),
          force: opts.force,
          baseUrl: opts.mirror,
          onProgress: progress.update,
        });
        progress.done();
        if (ctx.o.json) return ctx.o.printJson(pulled);
        ctx.o.out(
          pulled.alreadyPresent
            ? `${spec.name} is already installed and verified: ${pulled.path}`
            : `${spec.name}: ${pulled.path} (${humanBytes(pulled.bytes)}, sha256 verified)`,
        );
        if (spec.kind === 'whisper')
          ctx.o.err(
            `to use it: set stt.model = "${pulled.path}" in helix.toml and restart helix-node`,
          );
      },
    );
}

interface RouterModelStatus {
  model: string;
  /** null when no daemon runs here (the mesh view comes from it) */
  nodes: Array<{ node: string; url: string; has: boolean; loaded: boolean }> | null;
}

/** Which nodes' Ollama hold router.model, from the running daemon's view of the mesh. */
async function routerModelStatus(ctx: ConfiguredContext): Promise<RouterModelStatus> {
  const model = ctx.config.router.model;
  try {
    const status = await controlCall<StatusReport>(ctx.stateDir, '/v1/status', { timeoutMs: 3000 });
    const { hasOllamaModel } = await import('../../capabilities/index.js');
    const nodes = status.nodes
      .filter((n) => n.capabilities.ollama !== null && n.state !== 'dead' && n.state !== 'left')
      .map((n) => ({
        node: n.name,
        url: n.capabilities.ollama!.url,
        has: hasOllamaModel(n.capabilities.ollama!.models, model),
        loaded: hasOllamaModel(n.capabilities.ollama!.loaded, model),
      }));
    return { model, nodes };
  } catch {
    return { model, nodes: null };
  }
}

function renderRouterStatus(ctx: CliContext, r: RouterModelStatus): string {
  if (r.nodes === null)
    return `router LLM ${r.model}: start helix-node (\`helix-node join\`) to see which nodes have it`;
  if (r.nodes.length === 0)
    return `router LLM ${r.model}: no node in the mesh runs Ollama (install it on a GPU machine)`;
  return [
    `router LLM ${r.model}:`,
    table(
      ['NODE', 'OLLAMA', 'STATE'],
      r.nodes.map((n) => [
        n.node,
        n.url,
        n.has
          ? paint(ctx.o, 'green', n.loaded ? 'installed, loaded' : 'installed')
          : paint(ctx.o, 'dim', 'not pulled (helix-node models pull --router)'),
      ]),
    ),
  ].join('\n');
}

function storeOptions(ctx: ConfiguredContext) {
  const dir = modelsDir(ctx.stateDir);
  return {
    dir,
    inUse: [
      ctx.config.stt.model,
      ctx.config.voice.vad_model || path.join(dir, 'ggml-silero-v6.2.0.bin'),
    ],
  };
}

/** Runs a command route and prints its events (stderr) and result (stdout). */
async function streamCommand(ctx: CliContext, route: string, body: unknown): Promise<void> {
  let result: Extract<CommandStreamLine, { type: 'result' }> | undefined;
  for await (const line of controlStream<CommandStreamLine>(ctx.stateDir, route, {
    method: 'POST',
    body,
  })) {
    if (ctx.o.json) ctx.o.out(JSON.stringify(line));
    else if (line.type === 'event') printEvent(ctx.o, line.event);
    if (line.type === 'result') result = line;
  }
  if (!result) throw new UsageError(`the daemon ended ${route} without a result; see its log`);
  if (!ctx.o.json) {
    ctx.o.out(safeText(result.reply));
    if (result.traceId)
      ctx.o.err(
        paint(ctx.o, 'dim', `trace ${result.traceId}  (helix-node trace ${result.traceId})`),
      );
  }
  if (!result.ok) process.exitCode = 1;
}

type AnyEvent =
  PipelineEvent | { type: 'pull'; status: string; completedBytes?: number; totalBytes?: number };

function printEvent(o: Output, e: AnyEvent): void {
  switch (e.type) {
    case 'hop': {
      const mark = e.hop.ok ? paint(o, 'green', 'ok ') : paint(o, 'red', 'err');
      o.err(
        `  ${mark} ${e.hop.stage.padEnd(6)} ${e.hop.node.padEnd(12)} ${formatMs(e.hop.durationMs).padStart(8)}  ${paint(o, 'dim', safeText(e.hop.detail ?? ''))}`,
      );
      break;
    }
    case 'transcript':
      o.err(`  heard: "${safeText(e.text)}" (on ${safeText(e.node)})`);
      break;
    case 'intent':
      o.err(`  intent: ${intentText(e.intent)} (${e.intent.via})`);
      break;
    case 'progress':
      o.err(`  … ${safeText(e.message)}`);
      break;
    case 'pull':
      o.err(
        `  ${e.status}${e.totalBytes ? ` ${percent(e.completedBytes ?? 0, e.totalBytes)}` : ''}`,
      );
      break;
    case 'partial':
      break;
  }
}

/** "lights.on room=kitchen": the intent and its arguments as a person writes them. */
function intentText(i: { agent: string; intent: string; args?: Record<string, unknown> }): string {
  const args = describeArgs(i.args);
  return `${safeText(i.agent)}.${safeText(i.intent)}${args ? ` ${safeText(args)}` : ''}`;
}

/** A trace as a table: every hop with node, stage, start and duration. */
export function renderTrace(o: Pick<Output, 'color'>, t: Trace): string {
  const head = `trace ${t.traceId}  owner ${t.owner}  ${t.source}  ${t.startedAt}  ${t.ok ? paint(o, 'green', 'ok') : paint(o, 'red', `failed at ${t.failedStage ?? '?'}`)}  ${formatMs(t.totalMs)}`;
  const what = [
    t.transcript !== undefined ? `heard:  "${safeText(t.transcript)}"` : null,
    t.intent
      ? `intent: ${intentText(t.intent)} (${t.intent.via}, confidence ${t.intent.confidence.toFixed(2)})`
      : null,
    `reply:  ${safeText(t.reply)}`,
    t.heardBy && t.heardBy.length > 1
      ? `mics:   ${t.heardBy
          .map(
            (h) =>
              `${safeText(h.node)}${h.room ? ` (${safeText(h.room)})` : ''} ${h.levelDbfs.toFixed(1)} dBFS, SNR ${h.snrDb.toFixed(1)} dB${h.won ? ' — acted' : ''}`,
          )
          .join('; ')}`
      : null,
  ].filter((l): l is string => l !== null);
  const rows = t.hops.map((h) => [
    h.stage,
    h.node,
    formatMs(h.startMs),
    formatMs(h.durationMs),
    h.ok ? 'ok' : paint(o, 'red', 'failed'),
    safeText(h.detail ?? ''),
  ]);
  return [
    head,
    ...what,
    '',
    table(['STAGE', 'NODE', 'START', 'DURATION', '', 'DETAIL'], rows),
  ].join('\n');
}

function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

function percent(done: number, total: number): string {
  return `${Math.floor((done * 100) / Math.max(1, total))}% of ${humanBytes(total)}`;
}

/** One updating line on a terminal, a line per 10 % otherwise. */
function progressPrinter(o: Output): { update: (p: ModelPullProgress) => void; done: () => void } {
  const tty = process.stderr.isTTY === true && !o.json;
  let lastTenth = -1;
  let shown = false;
  return {
    update(p) {
      if (o.json) return;
      const text = p.totalBytes
        ? `${p.model}: ${percent(p.receivedBytes, p.totalBytes)}`
        : `${p.model}: ${humanBytes(p.receivedBytes)}`;
      if (tty) {
        process.stderr.write(`\r${text}   `);
        shown = true;
        return;
      }
      const tenth = p.totalBytes ? Math.floor((p.receivedBytes * 10) / p.totalBytes) : -1;
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        o.err(text);
      }
    },
    done() {
      if (shown) process.stderr.write('\n');
    },
  };
}
