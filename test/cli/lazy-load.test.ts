/**
 * The CLI loads only what its command needs (issue 12, "The CLI is quick"): `--help` and `status`
 * load commander, the command definitions and the control client, never a daemon module. The real
 * CLI (dist when it is built and fresh, else the sources through tsx: test/harness/mesh.ts
 * cliEntry) runs with test/support/load-recorder.mjs, which writes down every module it loads;
 * `status` asks a stand-in daemon on a temporary state dir. No timings here: bench/cli/start.ts.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEntry, runsBundle } from '../harness/mesh.js';
import { startControlStandIn, type StandIn } from '../support/control-stand-in.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const recorder = path.join(repoRoot, 'test', 'support', 'load-recorder.mjs');
const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-lazy-'));
const stateDir = path.join(dir, 'state');
/** Packages only the daemon needs; none may load for a command that asks the control socket. */
const HEAVY = ['dockerode', 'mqtt', '@grpc/grpc-js', '@nats-io', 'smart-whisper', 'multicast-dns'];
let standIn: StandIn;

beforeAll(async () => {
  (await import('node:fs')).mkdirSync(stateDir);
  standIn = await startControlStandIn(stateDir);
});
afterAll(async () => {
  await standIn?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The bundle's chunks (file URLs, as the recorder writes them) and the sources each holds. */
const chunkSources = new Map<string, string[]>();
const bundleMeta = path.join(repoRoot, 'dist', 'bundle', 'meta.json');
const bundleBuilt = runsBundle(repoRoot);
if (bundleBuilt && existsSync(bundleMeta)) {
  const meta = JSON.parse(readFileSync(bundleMeta, 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  for (const [out, { inputs }] of Object.entries(meta.outputs))
    chunkSources.set(
      pathToFileURL(path.join(repoRoot, out)).href,
      Object.keys(inputs).map((i) => `/${i}`),
    );
}

/** Runs the CLI (asynchronously: the stand-in answers from this process) and lists what it loaded. */
async function loaded(args: string[], name: string, bundle = false) {
  const log = path.join(dir, `${name}.log`);
  const [program, ...rest] = cliEntry(repoRoot, { bundle });
  const child = spawn(program!, ['--import', recorder, ...rest, ...args], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1', HX_LOAD_LOG: log, HELIX_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  const files = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(4));
  // a bundle chunk counts as every source esbuild put in it (dist/bundle/meta.json)
  const sources = files.flatMap((f) => chunkSources.get(f) ?? [f]);
  const heavy = HEAVY.filter((pkg) => sources.some((f) => f.includes(`/node_modules/${pkg}/`)));
  return { code, stdout, stderr, files, sources, heavy };
}

describe('what the CLI loads', () => {
  it('--help prints every command and loads no daemon module, not even the config schema', async () => {
    const r = await loaded(['--help'], 'help');
    expect(r.code, r.stderr).toBe(0);
    for (const c of ['join', 'status', 'run', 'agents', 'say', 'models', 'settings', 'rooms'])
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    // the recorder saw the CLI itself load
    expect(r.files.some((f) => /\/cli\/main\.(js|ts)$/.test(f))).toBe(true);
    expect(r.heavy).toEqual([]);
    expect(r.files.filter((f) => f.includes('/node_modules/zod/'))).toEqual([]);
    expect(
      r.files.filter((f) => /\/node\/(daemon|agents|agenthost|pipeline|stt)\b/.test(f)),
    ).toEqual([]);
  });

  it('a subcommand help (models pull --help) names the models without loading the store', async () => {
    const r = await loaded(['models', 'pull', '--help'], 'models-help');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('large-v3');
    expect(r.heavy).toEqual([]);
  });

  it('status asks the control socket and loads no daemon module', async () => {
    const calls = standIn.calls.length;
    const r = await loaded(['status'], 'status');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('standin');
    expect(standIn.calls.slice(calls)).toEqual(['/v1/status']);
    expect(r.heavy).toEqual([]);
    expect(
      r.files.filter((f) => /\/node\/(daemon|agents|agenthost|pipeline|stt)\b/.test(f)),
    ).toEqual([]);
  });

  it('run echo echo streams the stand-in run and loads no daemon module', async () => {
    const r = await loaded(['run', 'echo', 'echo'], 'run');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('echo');
    expect(r.heavy).toEqual([]);
  });
});

/**
 * The same through the minified bundle bin/helix-node.js runs (scripts/bundle.mjs): esbuild splits
 * it at every dynamic import, and a command must still load no chunk holding the daemon's code.
 */
describe.skipIf(!bundleBuilt)('what the bundled CLI loads', () => {
  const daemonSource = /\/dist\/node\/(daemon|agents|agenthost|pipeline|stt)\b/;

  it('--help loads no chunk with daemon code, a heavy package or zod', async () => {
    const r = await loaded(['--help'], 'bundle-help', true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}join\b/m);
    // the recorder saw bundle chunks, and each is mapped to its sources
    expect(r.files.filter((f) => chunkSources.has(f)).length).toBeGreaterThan(0);
    expect(r.sources.some((f) => /\/dist\/node\/cli\/main\.js$/.test(f))).toBe(true);
    expect(r.heavy).toEqual([]);
    expect(r.sources.filter((f) => f.includes('/node_modules/zod/'))).toEqual([]);
    expect(r.sources.filter((f) => daemonSource.test(f))).toEqual([]);
  });

  it('status and run echo echo load no chunk with daemon code or a heavy package', async () => {
    for (const [args, expected] of [
      [['status'], 'standin'],
      [['run', 'echo', 'echo'], 'echo'],
    ] as const) {
      const r = await loaded([...args], `bundle-${args[0]}`, true);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(expected);
      expect(r.heavy).toEqual([]);
      expect(r.sources.filter((f) => daemonSource.test(f))).toEqual([]);
    }
  });
});
