/**
 * Settings convergence on real nats-servers clustered on loopback (one process per server, ports
 * from the OS); the settings nodes run in this process, each with its own NATS client and state
 * dir. Not a test: it prints figures and asserts nothing. Needs nats-server on PATH.
 *
 *   npx tsx bench/settings/converge.ts                 # 3 and 8 nodes, 20 writes each
 *   npx tsx bench/settings/converge.ts --nodes 3 --writes 50 --digest-ms 1000
 *
 * write: from set() on node 0 until the last node's store holds the write (its change event).
 * heal:  node 1's server is killed, node 0 writes, the server comes back; from the restart until
 *        every node holds the same state (delta lost: only the digest exchange can repair it).
 * join:  a node started after 100 writes; from its start() until it holds all of them.
 * Baseline: one raw NATS publish from node 0's server to a subscriber on the last server (what
 * the bus alone costs for the fast path).
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  SettingsMesh,
  converged,
  waitFor,
  type SettingsNode,
} from '../../test/settings/support/mesh.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3,8' },
    writes: { type: 'string', default: '20' },
    'digest-ms': { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
  },
});
const sizes = values.nodes.split(',').map(Number);
const writes = Number(values.writes);
const digestIntervalMs = Number(values['digest-ms']);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const fmt = (xs: number[]) =>
  `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

/** ms from `act` until every node in `nodes` has seen `key` change. */
async function timeToAll(nodes: SettingsNode[], key: string, act: () => void): Promise<number> {
  const seen = new Set<string>();
  let last = 0;
  const offs = nodes.map((n) =>
    n.service.store.onChange((c) => {
      if (c.keys.includes(key) && !seen.has(n.id)) {
        seen.add(n.id);
        last = performance.now();
      }
    }),
  );
  const t0 = performance.now();
  act();
  await waitFor(`${key} on every node`, () => seen.size === nodes.length, 10_000);
  for (const off of offs) off();
  return last - t0;
}

async function bench(count: number) {
  const mesh = new SettingsMesh({ digestIntervalMs });
  try {
    const servers = await mesh.cluster(count);
    const nodes: SettingsNode[] = [];
    for (const [i, s] of servers.entries()) nodes.push(await mesh.node(`node-${i}`, s));
    // settle: every node has heard every other's digest
    nodes[0]!.service.store.set('lights.backend', 'zigbee2mqtt');
    await waitFor(
      'first write everywhere',
      () => nodes.every((n) => n.service.store.get('lights.backend')),
      10_000,
    );

    // baseline: a raw publish across the cluster to the last server
    const enc = new TextEncoder();
    const raw: number[] = [];
    const lastBus = nodes.at(-1)!.bus;
    let arrived: (() => void) | null = null;
    const sub = lastBus.subscribe('bench.raw', () => arrived?.());
    await lastBus.flush();
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < writes; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        arrived = resolve;
        nodes[0]!.bus.publish('bench.raw', enc.encode(String(i)));
      });
      raw.push(performance.now() - t0);
    }
    sub.unsubscribe();

    const write: number[] = [];
    const save: number[] = [];
    for (let i = 0; i < writes; i++) {
      const others = nodes.slice(1);
      write.push(
        await timeToAll(others, `rooms.room-${i}`, () => {
          const t0 = performance.now();
          nodes[0]!.service.store.set(`rooms.room-${i}`, { lights: [`light_${i}`] });
          save.push(performance.now() - t0);
        }),
      );
    }

    const heal: number[] = [];
    for (let i = 0; i < 3; i++) {
      const victim = servers[1]!;
      await victim.kill();
      nodes[0]!.service.store.set('lights.preferred', i % 2 ? 'zigbee2mqtt' : 'home_assistant');
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      await victim.restart([servers[0]!.clusterPort]);
      await waitFor('heal', () => converged(mesh.nodes), 20_000);
      heal.push(performance.now() - t0);
    }

    for (let i = 0; i < 100; i++) nodes[0]!.service.store.set(`rooms.bulk-${i}`, { lights: [] });
    await waitFor('bulk everywhere', () => converged(mesh.nodes), 20_000);
    const t0 = performance.now();
    const late = await mesh.node('node-late', servers.at(-1)!);
    await waitFor('late node', () => converged(mesh.nodes), 20_000);
    const join = performance.now() - t0;
    const total = late.service.store.entries().length;

    const result = { nodes: count, digestIntervalMs, raw, save, write, heal, join, keys: total };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`\n${count} nodes (digest every ${digestIntervalMs} ms)`);
      console.log(`  raw NATS publish, first to last server: ${fmt(raw)}`);
      console.log(`  write on node 0 -> last node holds it: ${fmt(write)}  (goal <= 2000 ms)`);
      console.log(`  of which set() on node 0 (validate + fsync'd save): ${fmt(save)}`);
      console.log(`  ratio write/raw (p50): ${(pct(write, 50) / pct(raw, 50)).toFixed(1)}x`);
      console.log(
        `  heal after a lost delta (server restart -> one state): ${heal.map((h) => h.toFixed(0)).join(', ')} ms`,
      );
      console.log(`  late node receives ${total} keys: ${join.toFixed(0)} ms from its start`);
    }
  } finally {
    await mesh.cleanup();
  }
}

for (const n of sizes) await bench(n);
