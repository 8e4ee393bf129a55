/**
 * Cold path: a sandboxed one-shot container per task through AgentRunner (create, attach, start,
 * task, result, remove — what AgentHost.Run does for a cold agent), against a bare
 * `docker run --rm -i` of the same image with the same sandbox flags, measured in the same run and
 * interleaved so background load hits both alike. The echo image is run as a cold agent (its
 * manifest with tier = "cold"), so both sides do the same work inside the container.
 *
 *   npx tsx bench/agenthost/cold.ts [--runs 30] [--json]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AgentRunner, DockerRuntime, buildImage, loadAgents } from '../../node/agents/index.js';
import type { RunEvent } from '../../node/agentspec/index.js';
import { ensureDockerEngine, removeContainers, removeImages } from '../../test/support/docker.js';
import { measureBareDockerRun, percentiles } from '../agents/baseline.js';

const PREFIX = 'helix-bench-cold-';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, json: { type: 'boolean', default: false } },
});
const runs = Number(values.runs);

async function main(): Promise<void> {
  const docker = await ensureDockerEngine();
  const [echoWarm] = (await loadAgents([path.resolve('agents')])).filter(
    (a) => a.manifest.name === 'echo',
  );
  if (!echoWarm) throw new Error('agents/echo not found; run from the repository root');
  const echo = { ...echoWarm, manifest: { ...echoWarm.manifest, tier: 'cold' as const } };
  const { tag } = await buildImage(echo, {
    runtime: new DockerRuntime({ docker }),
    imagePrefix: PREFIX,
  });
  const runner = new AgentRunner({
    runtime: new DockerRuntime({ docker }),
    agents: [echo],
    host: 'bench',
    imagePrefix: PREFIX,
    containerPrefix: PREFIX,
    warmPoolSize: 0,
  });
  await runner.start();
  const cold: number[] = [];
  const bare: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      bare.push(...(await measureBareDockerRun(tag, echo.manifest, { runs: 1 })));
      const t0 = process.hrtime.bigint();
      let last: RunEvent | undefined;
      for await (const e of runner.run({ agent: 'echo', intent: 'echo', args: { text: 'ping' } }))
        last = e;
      if (last?.type !== 'result') throw new Error(`cold run failed: ${JSON.stringify(last)}`);
      cold.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    await runner.stop();
    await removeContainers(docker, PREFIX);
    await removeImages(docker, PREFIX);
  }
  const b = percentiles(bare);
  const c = percentiles(cold);
  const report = {
    runs,
    bareDockerRun: b,
    coldRun: c,
    ratioP50: c.p50 / b.p50,
    ratioP90: c.p90 / b.p90,
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const row = (name: string, p: typeof b) =>
    `${name.padEnd(34)} p50 ${p.p50.toFixed(0).padStart(5)} ms   p90 ${p.p90.toFixed(0).padStart(5)} ms   max ${p.max.toFixed(0).padStart(5)} ms`;
  console.log(`cold path, ${runs} runs each (interleaved)`);
  console.log(row('bare docker run (same sandbox)', b));
  console.log(row('AgentRunner cold run', c));
  console.log(
    `ratio cold/bare: p50 ×${report.ratioP50.toFixed(2)}, p90 ×${report.ratioP90.toFixed(2)}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
