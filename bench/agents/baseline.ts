/**
 * Bare baselines for the agent paths, measured on the echo agent's image with the agent
 * sandbox, without HelixOS in between:
 *  - warm baseline: one task line in, the result line out, over the stdin/stdout of a running
 *    container (raw dockerode attach; no protocol parsing, no runner, no pool);
 *  - cold baseline: `docker run --rm -i` of the same image with the same sandbox flags, one task
 *    on stdin, until the container has exited.
 * The warm/cold path benchmarks call these in the same run and print ratios against them.
 *
 *   npx tsx bench/agents/baseline.ts [--runs 500] [--cold-runs 50] [--json]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import {
  AGENT_USER,
  buildImage,
  DockerRuntime,
  DockerDemuxer,
  formatSize,
  loadAgents,
  sandboxRunFlags,
  sandboxSpec,
} from '../../node/agents/index.js';
import {
  encodeHostMessage,
  type AgentManifest,
  type TaskMessage,
} from '../../node/agentspec/index.js';

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

/** Percentiles (nearest rank) of samples in ms. */
export function percentiles(samples: number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  return {
    n: s.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
  };
}

export function echoTask(i: number): TaskMessage {
  return {
    v: 1,
    type: 'task',
    id: `bench-${i}`,
    intent: 'echo',
    args: { text: `ping ${i}` },
    context: { node: 'bench', host: 'bench', trace_id: `bench-${i}`, deadline_ms: 0, config: {} },
  };
}

/**
 * Round trips to one running, sandboxed container of `image`: write a task line, read until its
 * result line. Returns per-run milliseconds.
 */
export async function measureBareRoundTrip(
  docker: Docker,
  image: string,
  manifest: AgentManifest,
  opts: { runs: number; warmup?: number; name?: string },
): Promise<number[]> {
  const name = opts.name ?? `helix-bench-bare-${process.pid}`;
  const container = await docker.createContainer(
    sandboxSpec(manifest, { image, name, egressNetwork: 'none' }),
  );
  try {
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as NodeJS.ReadWriteStream;
    let buffered = '';
    let waiting: { marker: string; resolve: () => void } | null = null;
    const demux = new DockerDemuxer(
      (out) => {
        buffered += out.toString();
        if (waiting && buffered.includes(waiting.marker)) {
          const w = waiting;
          waiting = null;
          buffered = '';
          w.resolve();
        }
      },
      () => undefined,
    );
    stream.on('data', (chunk: Buffer) => demux.push(chunk));
    const until = (marker: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no "${marker}" from the container in 10 s`)),
          10_000,
        );
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        if (buffered.includes(marker)) {
          buffered = '';
          done();
        } else {
          waiting = { marker, resolve: done };
        }
      });
    await container.start();
    await until('"type":"ready"');
    const samples: number[] = [];
    const warmup = opts.warmup ?? 20;
    for (let i = 0; i < warmup + opts.runs; i++) {
      const task = echoTask(i);
      const marker = `"id":"${task.id}","text"`;
      const t0 = process.hrtime.bigint();
      const reply = until(marker);
      stream.write(encodeHostMessage(task));
      await reply;
      if (i >= warmup) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    stream.end();
    return samples;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** `docker run --rm -i` with the sandbox flags, one task on stdin, until exit. Per-run ms. */
export async function measureBareDockerRun(
  image: string,
  manifest: AgentManifest,
  opts: { runs: number; docker?: string },
): Promise<number[]> {
  const samples: number[] = [];
  const flags = sandboxRunFlags(manifest, 'none');
  for (let i = 0; i < opts.runs; i++) {
    const task = echoTask(i);
    const t0 = process.hrtime.bigint();
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        opts.docker ?? 'docker',
        ['run', '--rm', '-i', '--name', `helix-bench-run-${process.pid}-${i}`, ...flags, image],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
          timeout: 30_000,
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0
          ? resolve(stdout)
          : reject(new Error(`docker run exited ${code}: ${stderr.trim()}`)),
      );
      child.stdin.end(encodeHostMessage(task));
    });
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (!out.includes(`"id":"${task.id}"`))
      throw new Error(`docker run gave no result for ${task.id}: ${out}`);
  }
  return samples;
}

async function dockerVersion(docker: Docker): Promise<string> {
  const v = await docker.version();
  return `${v.Version} (API ${v.ApiVersion})`;
}

function fmt(p: Percentiles): string {
  const ms = (x: number): string => (x < 10 ? x.toFixed(3) : x.toFixed(1));
  return `n=${p.n}  p50 ${ms(p.p50)} ms  p90 ${ms(p.p90)} ms  p99 ${ms(p.p99)} ms  (min ${ms(p.min)}, max ${ms(p.max)})`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '500' },
      'cold-runs': { type: 'string', default: '50' },
      socket: { type: 'string', default: '/var/run/docker.sock' },
      json: { type: 'boolean', default: false },
    },
  });
  const docker = new Docker({ socketPath: values.socket });
  await new DockerRuntime({ docker }).check();
  const agentsDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../agents');
  const echo = (await loadAgents([agentsDir])).find((a) => a.manifest.name === 'echo');
  if (!echo) throw new Error(`no echo agent in ${agentsDir}`);
  const built = await buildImage(echo, { runtime: new DockerRuntime({ docker }) });

  const warm = percentiles(
    await measureBareRoundTrip(docker, built.tag, echo.manifest, { runs: Number(values.runs) }),
  );
  const cold = percentiles(
    await measureBareDockerRun(built.tag, echo.manifest, { runs: Number(values['cold-runs']) }),
  );

  const report = {
    image: built.tag,
    imageBytes: built.sizeBytes,
    engine: await dockerVersion(docker),
    user: AGENT_USER,
    bareRoundTripMs: warm,
    bareDockerRunMs: cold,
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(
    `bare baselines: ${built.tag} (${formatSize(built.sizeBytes)}), Docker ${report.engine}, sandboxed as ${AGENT_USER}`,
  );
  console.log(`  stdin/stdout round trip, running container  ${fmt(warm)}`);
  console.log(`  docker run --rm -i, same sandbox flags      ${fmt(cold)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
