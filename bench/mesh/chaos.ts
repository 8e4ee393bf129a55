/**
 * Chaos soak on real daemons in network namespaces: node restarts and partitions in a mesh with
 * the default membership timings (suspect 3 s, dead 10 s), watching every node's view all along.
 * Not a test and not in CI (minutes long, needs root): it prints figures and exits 1 when a peer
 * stayed deaf longer than --deaf-limit-s.
 *
 *   npx tsx bench/mesh/chaos.ts                        # 5 nodes, 30 restarts, 10 partitions
 *   npx tsx bench/mesh/chaos.ts --restarts 6 --partitions 2 --subnet 100.64.106
 *
 * Deaf: node A runs and is connected, node B runs and is connected, and A does not see B alive.
 * A pair's deaf spell starts at the later of "both healthy" (both up since their last restart
 * and both links up since their last partition) and "A last saw B alive"; it ends when A sees B
 * alive. The nodes' own nats-server version is printed: the soak exists to show that interest
 * survives the route reloads of restarts and partitions without re-asserting it.
 *
 * Restarts alternate between a clean stop (SIGTERM: the node says bye) and a power cut (SIGKILL
 * of every process in the namespace, nats-server included). Partitions take a node's link down
 * for --short-partition-s (it goes suspect) or --long-partition-s (it goes dead), alternately.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { MeshHarness, type StatusView } from '../../test/harness/index.js';

interface Spell {
  observer: number;
  target: number;
  ms: number;
  during: string;
}

interface EventResult {
  what: string;
  /** from the end of the fault (start again, link up) until the node sees every peer alive */
  itSeesMs: number;
  /** ... until every peer sees it alive */
  seenMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Each node's nats-server: its routes (peer server name, address, pooled connections). */
async function routeReport(mesh: MeshHarness): Promise<string[]> {
  const lines: string[] = [];
  for (const node of mesh.nodes) {
    try {
      const routez = JSON.parse(
        await mesh.netns.httpGet(node.index, 'http://127.0.0.1:8222/routez?subs=1', {
          timeoutMs: 2000,
        }),
      ) as {
        routes?: {
          remote_name?: string;
          ip: string;
          did_solicit?: boolean;
          subscriptions_list?: string[];
        }[];
      };
      const routes = (routez.routes ?? []).map(
        (r) =>
          `${r.remote_name ?? '?'}@${r.ip}${r.did_solicit ? ' (dialled)' : ''} ${r.subscriptions_list?.length ?? 0} subs`,
      );
      lines.push(`${node.name}: ${routes.join('; ') || 'no routes'}`);
    } catch (err) {
      lines.push(`${node.name}: monitoring did not answer (${(err as Error).message})`);
    }
  }
  return lines;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '5' },
      restarts: { type: 'string', default: '30' },
      partitions: { type: 'string', default: '10' },
      subnet: { type: 'string', default: '100.64.106' },
      'short-partition-s': { type: 'string', default: '5' },
      'long-partition-s': { type: 'string', default: '13' },
      'deaf-limit-s': { type: 'string', default: '10' },
      'recover-timeout-s': { type: 'string', default: '40' },
      'log-level': { type: 'string', default: 'info' },
    },
  });
  const n = Number(values.nodes);
  const restarts = Number(values.restarts);
  const partitions = Number(values.partitions);
  const deafLimitMs = Number(values['deaf-limit-s']) * 1000;
  const recoverTimeoutMs = Number(values['recover-timeout-s']) * 1000;
  if (!(n >= 3 && restarts >= 0 && partitions >= 0)) {
    throw new Error('--nodes must be 3 or more; --restarts and --partitions 0 or more');
  }
  const natsVersion = execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
  console.log(
    `chaos soak: ${n} nodes, ${restarts} restarts, ${partitions} partitions; ${natsVersion}`,
  );

  const mesh = new MeshHarness({
    nodes: n,
    subnet: values.subnet,
    statusVia: 'control',
    logLevel: values['log-level'],
  });
  await mesh.start();
  const all = Array.from({ length: n }, (_, i) => i);
  /** since when node i is up (answers status) and connected; null while it is down or cut off */
  const healthySince: (number | null)[] = all.map(() => null);
  const lastAlive = new Map<string, number>();
  const openSpell = new Map<string, number>();
  const spells: Spell[] = [];
  const events: EventResult[] = [];
  let current = 'start';
  let monitoring = true;
  let latest = new Map<number, StatusView | null>();

  const key = (o: number, t: number) => `${o}>${t}`;
  const monitor = (async () => {
    while (monitoring) {
      const now = performance.now();
      latest = await mesh.views(
        all.filter((i) => mesh.isRunning(i)),
        { timeoutMs: 2000 },
      );
      for (const o of all) {
        const view = latest.get(o);
        for (const t of all) {
          if (o === t) continue;
          const k = key(o, t);
          const both = healthySince[o] !== null && healthySince[t] !== null;
          const alive = view ? mesh.stateIn(view, t) === 'alive' : false;
          if (alive) lastAlive.set(k, now);
          const since = openSpell.get(k);
          // a spell ends when A hears B again, or when a fault starts for either of them
          if (since !== undefined && (alive || !both)) {
            spells.push({ observer: o, target: t, ms: now - since, during: current });
            openSpell.delete(k);
          }
          if (!both || alive || !view) continue;
          const from = Math.max(healthySince[o]!, healthySince[t]!, lastAlive.get(k) ?? -Infinity);
          if (!openSpell.has(k)) openSpell.set(k, from);
        }
      }
      await sleep(250);
    }
  })();

  /** Waits until node i sees every other running node alive, and every one of them sees i. */
  const recovery = async (i: number, from: number): Promise<EventResult> => {
    let itSeesMs = NaN;
    let seenMs = NaN;
    const deadline = performance.now() + recoverTimeoutMs;
    while (performance.now() < deadline && (Number.isNaN(itSeesMs) || Number.isNaN(seenMs))) {
      const views = await mesh.views(all, { timeoutMs: 2000 });
      const now = performance.now();
      const others = all.filter((o) => o !== i);
      const mine = views.get(i);
      if (Number.isNaN(itSeesMs) && mine && others.every((o) => mesh.stateIn(mine, o) === 'alive'))
        itSeesMs = now - from;
      if (
        Number.isNaN(seenMs) &&
        others.every((o) => {
          const v = views.get(o);
          return v && mesh.stateIn(v, i) === 'alive';
        })
      )
        seenMs = now - from;
      await sleep(100);
    }
    if (Number.isNaN(itSeesMs) || Number.isNaN(seenMs)) {
      console.log(`${current}: not recovered; what each nats-server routes to:`);
      for (const line of await routeReport(mesh)) console.log(`  ${line}`);
    }
    return { what: current, itSeesMs, seenMs };
  };

  try {
    mesh.startNode(0);
    await mesh.waitForStatus(0, { timeoutMs: 30_000, intervalMs: 200 });
    for (const i of all.slice(1)) mesh.startNode(i);
    await mesh.waitForConvergence({ timeoutMs: 60_000, intervalMs: 200 });
    const t0 = performance.now();
    all.forEach((i) => (healthySince[i] = t0));
    console.log(`mesh of ${n} converged; chaos begins`);

    const plan: ('restart' | 'partition')[] = [];
    const rounds = Math.max(restarts, partitions);
    let r = 0;
    let p = 0;
    for (let k = 0; k < rounds * 2 && (r < restarts || p < partitions); k++) {
      // spread the partitions among the restarts
      if (p < partitions && (r >= restarts || (r + 1) * partitions > (p + 1) * restarts)) {
        plan.push('partition');
        p++;
      } else if (r < restarts) {
        plan.push('restart');
        r++;
      }
    }

    let restartNo = 0;
    let partitionNo = 0;
    for (const kind of plan) {
      // node 0 stays up (it holds the first view of the mesh); the others take turns, restarts
      // and partitions each on their own rotation, so every address is cut off in turn
      const i = 1 + ((kind === 'restart' ? restartNo : partitionNo) % (n - 1));
      const name = mesh.info(i).name;
      if (kind === 'restart') {
        restartNo++;
        const clean = restartNo % 2 === 1;
        current = `restart ${restartNo} of ${name} (${clean ? 'SIGTERM' : 'power cut'})`;
        healthySince[i] = null;
        if (clean) await mesh.stopNode(i, { timeoutMs: 8000 });
        else {
          mesh.kill(i, 'SIGKILL', 'namespace');
          await mesh.exited(i, { timeoutMs: 5000 });
          mesh.netns.killAllIn(i);
        }
        await sleep(500 + (restartNo % 3) * 500);
        const started = performance.now();
        mesh.startNode(i);
        await mesh.waitForStatus(i, { timeoutMs: 30_000, intervalMs: 100 });
        healthySince[i] = performance.now();
        const res = await recovery(i, started);
        events.push(res);
        console.log(
          `${current}: sees all ${secs(res.itSeesMs)}, seen by all ${secs(res.seenMs)} after its start`,
        );
      } else {
        partitionNo++;
        const long = partitionNo % 2 === 0;
        const holdS = Number(values[long ? 'long-partition-s' : 'short-partition-s']);
        current = `partition ${partitionNo} of ${name} (${holdS} s)`;
        healthySince[i] = null;
        mesh.partition(i);
        await sleep(holdS * 1000);
        const healed = performance.now();
        mesh.heal(i);
        healthySince[i] = healed;
        const res = await recovery(i, healed);
        events.push(res);
        console.log(
          `${current}: after the link came back it sees all ${secs(res.itSeesMs)}, seen by all ${secs(res.seenMs)}`,
        );
      }
      current = `after ${kind} of ${name}`;
      await sleep(1000);
    }
  } finally {
    monitoring = false;
    await monitor.catch(() => undefined);
  }
  // spells still open at the end count up to now
  const end = performance.now();
  for (const [k, since] of openSpell) {
    const [o, t] = k.split('>').map(Number);
    spells.push({ observer: o!, target: t!, ms: end - since, during: `${current} (still open)` });
  }

  const unrecovered = events.filter((e) => Number.isNaN(e.itSeesMs) || Number.isNaN(e.seenMs));
  const long = spells.filter((s) => s.ms > deafLimitMs);
  const restartEv = events.filter((e) => e.what.startsWith('restart'));
  const partEv = events.filter((e) => e.what.startsWith('partition'));
  const summary = (label: string, xs: number[]) =>
    `${label}: p50 ${secs(percentile(xs, 50))}, p90 ${secs(percentile(xs, 90))}, max ${secs(Math.max(...xs))}`;
  console.log('--- results');
  console.log(
    `${events.length} events (${restartEv.length} restarts, ${partEv.length} partitions), ${unrecovered.length} not recovered within ${secs(recoverTimeoutMs)}`,
  );
  if (restartEv.length) {
    console.log(
      summary(
        'restart: it sees all',
        restartEv.map((e) => e.itSeesMs),
      ),
    );
    console.log(
      summary(
        'restart: seen by all',
        restartEv.map((e) => e.seenMs),
      ),
    );
  }
  if (partEv.length) {
    console.log(
      summary(
        'partition healed: it sees all',
        partEv.map((e) => e.itSeesMs),
      ),
    );
    console.log(
      summary(
        'partition healed: seen by all',
        partEv.map((e) => e.seenMs),
      ),
    );
  }
  const spellMs = spells.map((s) => s.ms);
  console.log(
    `deaf spells between healthy nodes: ${spells.length}` +
      (spells.length ? `; ${summary('length', spellMs)}` : ''),
  );
  for (const s of [...spells].sort((a, b) => b.ms - a.ms).slice(0, 5)) {
    console.log(
      `  ${mesh.info(s.observer).name} did not hear ${mesh.info(s.target).name} for ${secs(s.ms)} (${s.during})`,
    );
  }
  console.log(
    long.length === 0 && unrecovered.length === 0
      ? `PASS: no peer deaf for more than ${secs(deafLimitMs)}`
      : `FAIL: ${long.length} deaf spells over ${secs(deafLimitMs)}, ${unrecovered.length} events not recovered`,
  );
  const keep = long.length > 0 || unrecovered.length > 0;
  if (keep) console.log(`logs kept in ${mesh.nodes.map((x) => x.logPath).join(' ')}`);
  await mesh.cleanup({ keepTemp: keep });
  if (keep) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
