/**
 * Repeat a cold mesh start until convergence fails, then print what each node's nats-server says
 * (routez, cluster URLs, subscription count) and keep the failing run's logs. A diagnosis tool for
 * flaky convergence, not a test and not a benchmark.
 *
 *   npx tsx bench/mesh/soak.ts --nodes 3 --runs 10 --timeout-s 20
 */
import { parseArgs } from 'node:util';
import { MeshHarness } from '../../test/harness/index.js';

interface Routez {
  num_routes: number;
  routes: Array<{ ip: string; port: number; remote_id: string; did_solicit: boolean }>;
}

async function natsReport(mesh: MeshHarness, monitorPort: number): Promise<string[]> {
  const lines: string[] = [];
  for (const n of mesh.nodes) {
    try {
      const base = `http://127.0.0.1:${monitorPort}`;
      const routez = JSON.parse(await mesh.netns.httpGet(n.index, `${base}/routez`)) as Routez;
      const varz = JSON.parse(await mesh.netns.httpGet(n.index, `${base}/varz`)) as {
        cluster?: { urls?: string[] };
        server_id: string;
      };
      const subsz = JSON.parse(await mesh.netns.httpGet(n.index, `${base}/subsz`)) as {
        num_subscriptions: number;
      };
      const routes = routez.routes.map(
        (r) => `${r.ip}:${r.port} (${r.remote_id.slice(0, 8)}${r.did_solicit ? ', dialled' : ''})`,
      );
      lines.push(
        `${n.name} nats ${varz.server_id.slice(0, 8)}: ${routez.num_routes} routes [${routes.join(', ')}]; ` +
          `cluster urls ${JSON.stringify(varz.cluster?.urls ?? [])}; ${subsz.num_subscriptions} subscriptions`,
      );
    } catch (err) {
      lines.push(`${n.name}: nats monitoring did not answer (${(err as Error).message})`);
    }
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '3' },
      runs: { type: 'string', default: '10' },
      'timeout-s': { type: 'string', default: '20' },
      'monitor-port': { type: 'string', default: '8222' },
    },
  });
  const nodes = Number(values.nodes);
  const runs = Number(values.runs);
  const timeoutMs = Number(values['timeout-s']) * 1000;
  let failures = 0;
  for (let run = 1; run <= runs; run++) {
    const mesh = new MeshHarness({ nodes, statusVia: 'control', logLevel: 'debug' });
    await mesh.start();
    let keep = false;
    try {
      mesh.startNode(0);
      await mesh.waitForStatus(0, { timeoutMs, intervalMs: 100 });
      for (let i = 1; i < nodes; i++) mesh.startNode(i);
      const t0 = performance.now();
      await mesh.waitForConvergence({ timeoutMs, intervalMs: 100 });
      console.log(`run ${run}: converged in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    } catch (err) {
      failures++;
      keep = true;
      console.log(`run ${run}: FAILED: ${(err as Error).message}`);
      for (const line of await natsReport(mesh, Number(values['monitor-port'])))
        console.log(`  ${line}`);
      console.log(`  logs kept in ${mesh.nodes.map((n) => n.logPath).join(' ')}`);
    } finally {
      await mesh.cleanup({ keepTemp: keep });
    }
  }
  console.log(`${failures} of ${runs} runs failed to converge within ${timeoutMs / 1000} s`);
  if (failures) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
