/**
 * Mesh convergence and failure detection, measured on real daemons in network namespaces.
 * Not a test: it prints numbers and asserts nothing. Needs root, nats-server and the daemon.
 *
 *   npx tsx bench/mesh/converge.ts                      # 3 and 8 nodes, 5 runs each
 *   npx tsx bench/mesh/converge.ts --nodes 3 --runs 5
 *   npx tsx bench/mesh/converge.ts --nodes 3,8 --status cli --crash namespace --json
 *   npx tsx bench/mesh/converge.ts --command toy       # dry run on toy nodes, no daemon needed
 *
 * Per run, on a fresh mesh: start node 0 and wait until it answers status (it creates the mesh),
 * then start every other node at once.
 *   converge: from the last node's start until every node sees every other node alive;
 *   suspect / dead: from kill -9 of the last node until every other node sees it suspect (or dead) /
 *   dead.
 * Baseline: the same namespaces running bare nats-server with one seed route; time from the last
 * start until every server has a route to every other (what the bus alone costs).
 * Views are read through the daemon's control socket (the endpoint `status --json` prints), polled
 * every 100 ms; `--status cli` runs `helix-node status --json` instead, which on a small machine
 * adds a second or more of process start-up per poll.
 */
import { parseArgs } from 'node:util';
import {
  helixNodeCommand,
  MeshHarness,
  natsServerCommand,
  toyNodeCommand,
  waitFor,
  type MeshCommand,
  type SignalScope,
} from '../../test/harness/index.js';

interface RunResult {
  nodes: number;
  convergeMs: number;
  /** from the last start until every started node answers status (its daemon is up) */
  readyMs: number;
  suspectMs: number | null;
  deadMs: number;
}

/** A run that did not finish: the reason, and where its logs were kept. */
interface RunFailure {
  nodes: number;
  failed: string;
  logsIn: string;
}

const POLL_MS = 100;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

function summary(values: number[]): { median: number; p90: number; max: number; n: number } {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, p90: percentile(s, 90), max: s[s.length - 1] ?? NaN, n: s.length };
}

function fmt(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '-';
}

async function oneRun(
  nodes: number,
  opts: {
    statusVia: 'cli' | 'control';
    crash: SignalScope;
    timeoutMs: number;
    command: MeshCommand;
  },
): Promise<RunResult | RunFailure> {
  const mesh = new MeshHarness({
    nodes,
    statusVia: opts.statusVia,
    logLevel: 'info',
    command: opts.command,
  });
  await mesh.start();
  let failed: RunFailure | null = null;
  try {
    mesh.startNode(0);
    await mesh.waitForStatus(0, { timeoutMs: opts.timeoutMs, intervalMs: POLL_MS });
    for (let i = 1; i < nodes; i++) mesh.startNode(i);
    const t0 = performance.now();
    // Process start-up (module loading) dominates on a small, busy machine: time it separately.
    const ready = Promise.all(
      Array.from({ length: nodes - 1 }, (_, k) =>
        mesh
          .waitForStatus(k + 1, { timeoutMs: opts.timeoutMs, intervalMs: POLL_MS })
          .then(() => performance.now() - t0),
      ),
    );
    await mesh.waitForConvergence({ timeoutMs: opts.timeoutMs, intervalMs: POLL_MS });
    const convergeMs = performance.now() - t0;
    const readyMs = Math.max(...(await ready));

    const victim = nodes - 1;
    const observers = mesh.runningNodes().filter((i) => i !== victim);
    const t1 = performance.now();
    mesh.kill(victim, 'SIGKILL', opts.crash);
    let suspectMs: number | null = null;
    await waitFor(
      async () => {
        for (const i of observers) mesh.requireRunning(i);
        const views = await mesh.views(observers);
        const states = [...views.values()].map((v) => (v ? mesh.stateIn(v, victim) : 'absent'));
        if (suspectMs === null && states.every((s) => s === 'suspect' || s === 'dead'))
          suspectMs = performance.now() - t1;
        return states.every((s) => s === 'dead');
      },
      {
        timeoutMs: opts.timeoutMs,
        intervalMs: POLL_MS,
        what: `nodes ${observers.join(',')} to see node${victim} dead`,
      },
    );
    const deadMs = performance.now() - t1;
    return { nodes, convergeMs, readyMs, suspectMs, deadMs };
  } catch (err) {
    failed = {
      nodes,
      failed: (err as Error).message,
      logsIn: mesh.info(0).dir.replace(/\/node0$/, ''),
    };
    return failed;
  } finally {
    await mesh.cleanup({ keepTemp: failed !== null });
  }
}

/** Bare nats-server, one seed route to node 0: time until every server routes to every other. */
async function baselineRun(nodes: number, timeoutMs: number): Promise<number> {
  const mesh = new MeshHarness({ nodes, command: natsServerCommand({ seedOnly: true }) });
  await mesh.start();
  try {
    for (let i = 0; i < nodes; i++) mesh.startNode(i);
    const t0 = performance.now();
    await waitFor(
      async () => {
        const counts = await Promise.all(
          mesh.nodes.map(async (n) => {
            const body = await mesh.netns.httpGet(n.index, 'http://127.0.0.1:8222/routez', {
              timeoutMs: 1000,
            });
            return (JSON.parse(body) as { num_routes: number }).num_routes;
          }),
        );
        return counts.every((c) => c >= nodes - 1);
      },
      { timeoutMs, intervalMs: POLL_MS, what: 'a full nats route mesh' },
    );
    return performance.now() - t0;
  } finally {
    await mesh.cleanup();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '3,8' },
      runs: { type: 'string', default: '5' },
      status: { type: 'string', default: 'control' },
      crash: { type: 'string', default: 'process' },
      command: { type: 'string', default: 'helix' },
      'timeout-s': { type: 'string', default: '60' },
      baseline: { type: 'boolean', default: true },
      'no-baseline': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const sizes = values.nodes.split(',').map((s) => Number(s.trim()));
  const runs = Number(values.runs);
  if (
    sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 10) ||
    !Number.isInteger(runs) ||
    runs < 1
  ) {
    throw new Error(
      'usage: converge.ts [--nodes 3,8] [--runs 5] [--status control|cli] [--crash process|namespace] [--no-baseline] [--json]',
    );
  }
  // --command toy dry-runs the benchmark on toy-node.mjs (no daemon needed; views via its CLI)
  const toy = values.command === 'toy';
  const command = toy ? toyNodeCommand() : helixNodeCommand;
  const statusVia = toy || values.status === 'cli' ? 'cli' : 'control';
  const crash: SignalScope = values.crash === 'namespace' ? 'namespace' : 'process';
  const timeoutMs = Number(values['timeout-s']) * 1000;
  const baseline = values.baseline && !values['no-baseline'];

  const report: Record<string, unknown>[] = [];
  console.log(
    `mesh convergence (${toy ? 'toy nodes' : 'helix-node'}): nodes ${sizes.join(', ')}; ${runs} runs each; views via ${statusVia}; crash = kill -9 of the ${crash === 'process' ? 'daemon' : 'whole namespace'}`,
  );
  for (const n of sizes) {
    const results: RunResult[] = [];
    const failures: RunFailure[] = [];
    for (let r = 0; r < runs; r++) {
      const res = await oneRun(n, { statusVia, crash, timeoutMs, command });
      if ('failed' in res) {
        failures.push(res);
        console.log(`  ${n} nodes, run ${r + 1}: FAILED: ${res.failed} (logs in ${res.logsIn})`);
        continue;
      }
      results.push(res);
      console.log(
        `  ${n} nodes, run ${r + 1}: up ${fmt(res.readyMs)}, converge ${fmt(res.convergeMs)} (${fmt(res.convergeMs - res.readyMs)} after up), suspect ${fmt(res.suspectMs ?? NaN)}, dead ${fmt(res.deadMs)}`,
      );
    }
    const base: number[] = [];
    if (baseline) for (let r = 0; r < runs; r++) base.push(await baselineRun(n, timeoutMs));
    const conv = summary(results.map((r) => r.convergeMs));
    const up = summary(results.map((r) => r.readyMs));
    const afterUp = summary(results.map((r) => r.convergeMs - r.readyMs));
    const susp = summary(results.flatMap((r) => (r.suspectMs === null ? [] : [r.suspectMs])));
    const dead = summary(results.map((r) => r.deadMs));
    const natsRoutes = baseline ? summary(base) : null;
    const title = `${n} nodes (${results.length} of ${runs} runs completed)`;
    console.log(`${title}\n                              median      p90      max`);
    console.log(
      `  converge (all alive)      ${fmt(conv.median).padStart(8)} ${fmt(conv.p90).padStart(8)} ${fmt(conv.max).padStart(8)}`,
    );
    console.log(
      `  last daemon up            ${fmt(up.median).padStart(8)} ${fmt(up.p90).padStart(8)} ${fmt(up.max).padStart(8)}`,
    );
    console.log(
      `  converge after last up    ${fmt(afterUp.median).padStart(8)} ${fmt(afterUp.p90).padStart(8)} ${fmt(afterUp.max).padStart(8)}`,
    );
    console.log(
      `  suspect after kill -9     ${fmt(susp.median).padStart(8)} ${fmt(susp.p90).padStart(8)} ${fmt(susp.max).padStart(8)}`,
    );
    console.log(
      `  dead after kill -9        ${fmt(dead.median).padStart(8)} ${fmt(dead.p90).padStart(8)} ${fmt(dead.max).padStart(8)}`,
    );
    if (natsRoutes) {
      console.log(
        `  baseline: nats routes     ${fmt(natsRoutes.median).padStart(8)} ${fmt(natsRoutes.p90).padStart(8)} ${fmt(natsRoutes.max).padStart(8)}`,
      );
      console.log(
        `  converge / nats baseline  ${(conv.median / natsRoutes.median).toFixed(1)}x (medians)`,
      );
    }
    if (failures.length) {
      console.log(
        `  ${failures.length} of ${runs} runs failed; their timings are not in the figures above`,
      );
    }
    report.push({
      command: toy ? 'toy' : 'helix',
      nodes: n,
      runs,
      failures: failures.map((f) => f.failed),
      statusVia,
      crash,
      convergeMs: conv,
      readyMs: up,
      convergeAfterUpMs: afterUp,
      suspectMs: susp,
      deadMs: dead,
      natsRoutesMs: natsRoutes,
    });
  }
  if (values.json)
    console.log(
      JSON.stringify({ bench: 'mesh/converge', at: new Date().toISOString(), results: report }),
    );
  if (report.some((r) => (r.failures as string[]).length > 0)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
