/**
 * How fast the CLI starts, as a user runs it: `node bin/helix-node.js …`, which runs the minified
 * bundle dist/bundle/helix-node.js (npm ci builds it through `prepare`; scripts/bundle.mjs). Each command is spawned `--runs`
 * times, interleaved with `node -e 0` as the baseline of the same run, and reported as p50/p90 and
 * as a ratio to the baseline's p50, next to its goal (issue 12: `--help` 120 ms, `status` and a
 * warm `run echo echo` 150 ms, with `node -e 0` at 63 ms).
 *
 * `status` and `run` ask a stand-in daemon on a temporary state dir (test/support/control-stand-in.ts:
 * it answers at once, so the figure is the CLI's own cost); `--state-dir DIR` asks the node running
 * there instead. The daemon's cold import (`import('dist/node/daemon.js')` in a fresh process) is
 * timed too, with the number of modules each command loads (test/support/load-recorder.mjs).
 *
 *   npx tsx bench/cli/start.ts [--runs 20] [--state-dir DIR] [--json]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startControlStandIn } from '../../test/support/control-stand-in.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'helix-node.js');
const DAEMON = path.join(ROOT, 'dist', 'node', 'daemon.js');
const RECORDER = path.join(ROOT, 'test', 'support', 'load-recorder.mjs');

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    'state-dir': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

const compiled = path.join(ROOT, 'dist', 'bundle', 'helix-node.js');
if (!existsSync(compiled) || statSync(compiled).mtimeMs < newestSource(path.join(ROOT, 'node'))) {
  console.error('dist/ is missing or older than node/: run `npm run build` first');
  process.exit(69);
}

interface Stat {
  p50: number;
  p90: number;
  min: number;
}

function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { p50: at(0.5), p90: at(0.9), min: s[0]! };
}

/**
 * Wall time of one spawn until it exits, ms; fails loudly on a non-zero exit. Asynchronous: the
 * stand-in daemon answers from this process's event loop.
 */
async function time(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const t0 = process.hrtime.bigint();
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (code !== 0) throw new Error(`${argv.slice(1).join(' ')} exited ${code}: ${stderr.trim()}`);
  return ms;
}

/** Modules a command loads: ES modules and CommonJS files, and which heavy packages among them. */
const HEAVY = [
  'dockerode',
  'mqtt',
  '@grpc/grpc-js',
  '@nats-io',
  'smart-whisper',
  'multicast-dns',
  'pino',
  'zod',
];
async function modules(args: string[]): Promise<{ count: number; heavy: string[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-bench-load-'));
  const log = path.join(dir, 'loaded.txt');
  try {
    await time([process.execPath, '--import', RECORDER, ...args], { ...env, HX_LOAD_LOG: log });
    const files = new Set(
      (existsSync(log) ? readFileSync(log, 'utf8') : '')
        .split('\n')
        .filter((l) => l && !l.includes(' node:'))
        .map((l) => l.slice(4).replace(/^file:\/\//, '')),
    );
    const heavy = HEAVY.filter((h) => [...files].some((f) => f.includes(`/node_modules/${h}/`)));
    return { count: files.size, heavy };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ownState = values['state-dir'] === undefined;
const stateDir = values['state-dir'] ?? mkdtempSync(path.join(os.tmpdir(), 'helix-bench-cli-'));
const standIn = ownState ? await startControlStandIn(stateDir) : null;
const env = { ...process.env, NO_COLOR: '1' };
const node = process.execPath;

const CASES: Array<{ name: string; argv: string[]; goalMs: number | null }> = [
  { name: 'node -e 0', argv: [node, '-e', '0'], goalMs: null },
  { name: 'helix-node --help', argv: [node, BIN, '--help'], goalMs: 120 },
  { name: 'helix-node status', argv: [node, BIN, 'status', '--state-dir', stateDir], goalMs: 150 },
  {
    name: 'helix-node run echo echo',
    argv: [node, BIN, 'run', 'echo', 'echo', '--state-dir', stateDir],
    goalMs: 150,
  },
  {
    name: 'import daemon.js',
    argv: [node, '--input-type=module', '-e', `await import(${JSON.stringify(DAEMON)})`],
    goalMs: null,
  },
];

try {
  const samples = new Map(CASES.map((c) => [c.name, [] as number[]]));
  for (const c of CASES) await time(c.argv, env); // warm the page cache
  // Interleaved, so load on this machine shifts every figure alike.
  for (let i = 0; i < runs; i++)
    for (const c of CASES) samples.get(c.name)!.push(await time(c.argv, env));
  const base = stat(samples.get('node -e 0')!).p50;
  const report = [];
  for (const c of CASES) {
    const s = stat(samples.get(c.name)!);
    const loaded = await modules(c.argv.slice(1));
    report.push({
      name: c.name,
      ...s,
      ratio: s.p50 / base,
      goalMs: c.goalMs,
      goalRatio: c.goalMs === null ? null : c.goalMs / 63,
      modules: loaded.count,
      heavy: loaded.heavy,
    });
  }
  if (values.json) {
    console.log(JSON.stringify({ runs, standIn: ownState, report }, null, 2));
  } else {
    console.log(
      `CLI start-up, ${runs} runs each, interleaved; ${ownState ? 'status and run ask a stand-in daemon' : `status and run ask the node of ${stateDir}`}`,
    );
    console.log(
      `${'command'.padEnd(26)}${'p50'.padStart(9)}${'p90'.padStart(9)}${'x base'.padStart(8)}  ${'goal'.padEnd(22)}modules  heavy loaded`,
    );
    for (const r of report) {
      const goal = r.goalMs === null ? '' : `${r.goalMs} ms (x${r.goalRatio!.toFixed(2)} of 63)`;
      console.log(
        `${r.name.padEnd(26)}${`${r.p50.toFixed(0)} ms`.padStart(9)}${`${r.p90.toFixed(0)} ms`.padStart(9)}${`x${r.ratio.toFixed(2)}`.padStart(8)}  ${goal.padEnd(22)}${String(r.modules).padStart(7)}  ${r.heavy.join(',') || '-'}`,
      );
    }
    console.log(
      'goals are for a machine where `node -e 0` takes 63 ms: compare the ratio column with the goal ratio when this one is loaded',
    );
  }
} finally {
  await standIn?.close();
  if (ownState) rmSync(stateDir, { recursive: true, force: true });
}
