/**
 * A node on Pi-class hardware (issue 12, point 4), measured on real daemons in network namespaces.
 * Not a test: it prints figures next to their goals and the values measured before, and asserts
 * nothing. Needs root, iproute2, nats-server and a built dist/ (`npm run build`).
 *
 *   npx tsx bench/node/start.ts [--runs 5] [--idle-s 10] [--subnet 100.64.110] [--json]
 *
 * --subnet X.Y.Z: the first of the three /24s the namespaces use (X.Y.Z, X.Y.Z+1, X.Y.Z+2).
 *
 * - start: from `helix-node join` (a fresh state dir: a new device) until the control socket
 *   answers `status`: first at all ("starting", with the parts up so far; exit 75), then in full,
 *   unconstrained and with the node's whole process tree (nats-server too) in a
 *   CPU cgroup limited to 25 % of one core (cgroup v2 cpu.max "25000 100000"; on a v1 hierarchy
 *   the same quota through cpu.cfs_quota_us / cpu.cfs_period_us), about a Raspberry Pi 4. The
 *   baseline is `node -e 0` in the same cgroup, so the ratio column survives a loaded machine.
 * - converge: three nodes, the last two started together; from the last start (the harness's
 *   spawn marker) until every node has logged each other node `-> alive` (the membership's own
 *   state-change lines with their pino timestamps, not polling).
 * - idle memory: VmRSS of the daemon, and of its nats-server, after --idle-s seconds idle; without
 *   Docker or a mic (the harness's default), then with the Docker engine (warm pool 0, so the
 *   figure is the daemon's own, not its containers'); each as `node` runs it by default and with
 *   the V8 flags the systemd unit gives the daemon (node/cli/service.ts daemonNodeFlags: a node
 *   without Docker or a mic is capped at V8's interpreter there too); then that node without the
 *   command line's cap, with node.jit = "full", and after a restart. Node's own floor is printed
 *   beside them: `node -e "setInterval(() => {}, 1e6)"`.
 * - module load times: each heavy package imported alone in a fresh process, and daemon.js whole.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DAEMON_NODE_FLAGS, daemonNodeFlags } from '../../node/cli/service.js';
import { controlCall, RemoteError } from '../../node/control/index.js';
import { MeshHarness, REPO_ROOT, helixNodeCommand } from '../../test/harness/index.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'idle-s': { type: 'string', default: '10' },
    subnet: { type: 'string', default: '100.64.110' },
    json: { type: 'boolean', default: false },
  },
});
const subnetMatch = /^(\d+\.\d+)\.(\d+)$/.exec(values.subnet);
if (!subnetMatch || Number(subnetMatch[2]) > 253) {
  console.error(
    `--subnet wants the first three octets of a /24, e.g. 100.64.110; got ${values.subnet}`,
  );
  process.exit(64);
}
/** the k-th of the bench's three /24s */
const subnet = (k: number) => `${subnetMatch[1]}.${Number(subnetMatch[2]) + k}`;
const runs = Number(values.runs);
const idleMs = Number(values['idle-s']) * 1000;

if (!existsSync(path.join(REPO_ROOT, 'dist', 'node', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(69);
}

// --- a CPU limit for a process tree --------------------------------------------------------------

interface CpuLimit {
  /** the file a process writes its pid to, to enter the cgroup */
  procs: string;
  describe: string;
  remove(): void;
}

/** A cgroup holding its members to quota/period of one CPU (cgroup v2 where it has the cpu controller, else v1). */
function cpuLimit(name: string, quotaUs: number, periodUs: number): CpuLimit {
  const v2Root = '/sys/fs/cgroup';
  const v2Controllers = path.join(v2Root, 'cgroup.controllers');
  if (
    existsSync(v2Controllers) &&
    readFileSync(v2Controllers, 'utf8').split(/\s+/).includes('cpu')
  ) {
    writeFileSync(path.join(v2Root, 'cgroup.subtree_control'), '+cpu');
    const dir = path.join(v2Root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
    return {
      procs: path.join(dir, 'cgroup.procs'),
      describe: `cgroup v2 cpu.max "${quotaUs} ${periodUs}"`,
      remove: () => rmdirSync(dir),
    };
  }
  const v1 = path.join(v2Root, 'cpu');
  if (!existsSync(path.join(v1, 'cpu.cfs_quota_us')))
    throw new Error(
      'no cgroup cpu controller (v2 cpu.max or v1 cpu.cfs_quota_us) to limit the CPU',
    );
  const dir = path.join(v1, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(periodUs));
  writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
  return {
    procs: path.join(dir, 'cgroup.procs'),
    describe: `cgroup v1 cpu.cfs_quota_us ${quotaUs} / cpu.cfs_period_us ${periodUs} (= v2 cpu.max "${quotaUs} ${periodUs}")`,
    remove: () => rmdirSync(dir),
  };
}

/** argv run inside the cgroup (on the host, not in a namespace): the shell enters it, then becomes the command. */
function inCgroup(limit: CpuLimit | null, argv: string[]): string[] {
  if (!limit) return argv;
  return ['sh', '-c', `echo $$ > ${limit.procs} && exec "$@"`, 'sh', ...argv];
}

// --- figures -------------------------------------------------------------------------------------

function p50(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

async function spawnMs(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}`);
  return performance.now() - t0;
}

/**
 * ms from now until the node's control socket answers status: `firstMs` when it first answers at
 * all (a node still starting says so, exit 75), `readyMs` when it answers in full.
 */
async function untilStatus(
  stateDir: string,
  deadlineMs = 60_000,
): Promise<{ firstMs: number; readyMs: number }> {
  const t0 = performance.now();
  let firstMs: number | null = null;
  for (;;) {
    try {
      await controlCall(stateDir, '/v1/status', { timeoutMs: 500 });
      const readyMs = performance.now() - t0;
      return { firstMs: firstMs ?? readyMs, readyMs };
    } catch (err) {
      if (firstMs === null && err instanceof RemoteError && err.name === 'NodeStartingError')
        firstMs = performance.now() - t0;
      if (performance.now() - t0 > deadlineMs)
        throw new Error(`no status answer within ${deadlineMs} ms: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function rssKb(pid: number, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** The daemon's nats-server: a child process of the daemon named nats-server. */
function natsChild(pid: number): number | null {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  for (const c of children.split(/\s+/).filter(Boolean).map(Number)) {
    const comm = readFileSync(`/proc/${c}/comm`, 'utf8').trim();
    if (comm === 'nats-server') return c;
  }
  return null;
}

interface StartFigures {
  limit: string;
  /** join until status answers at all ("starting") */
  firstMs: number[];
  /** join until status answers in full (every part up) */
  startMs: number[];
  baselineMs: number[];
}

async function measureStart(limit: CpuLimit | null): Promise<StartFigures> {
  const mesh = new MeshHarness({
    nodes: 1,
    subnet: subnet(0),
    statusVia: 'control',
    logLevel: 'info',
  });
  await mesh.start();
  const startMs: number[] = [];
  const firstMs: number[] = [];
  const baselineMs: number[] = [];
  try {
    const info = mesh.info(0);
    for (let i = 0; i < runs; i++) {
      rmSync(info.stateDir, { recursive: true, force: true });
      baselineMs.push(await spawnMs(inCgroup(limit, [process.execPath, '-e', '0'])));
      const t0 = performance.now();
      // `ip netns exec` remounts /sys, so the node cannot enter the cgroup itself: it is moved in
      // as soon as it is spawned (its children, nats-server included, are born inside).
      const pid = mesh.startNode(0);
      if (limit) writeFileSync(limit.procs, String(pid));
      const spawned = performance.now() - t0;
      const answered = await untilStatus(info.stateDir);
      firstMs.push(spawned + answered.firstMs);
      startMs.push(spawned + answered.readyMs);
      await mesh.stopNode(0);
    }
  } finally {
    await mesh.cleanup();
  }
  return { limit: limit?.describe ?? 'none', firstMs, startMs, baselineMs };
}

interface ConvergeFigures {
  convergeMs: number[];
}

/** Epoch ms of the harness's spawn marker for the last start in a node's log. */
function lastStartAt(log: string): number {
  const marks = [...log.matchAll(/^--- (\S+) start: /gm)];
  return Date.parse(marks[marks.length - 1]![1]!);
}

/** Epoch ms at which this log last saw each of `peers` become alive (from its own log lines). */
function aliveAt(log: string, peers: string[]): number | null {
  let latest = 0;
  for (const peer of peers) {
    let at: number | null = null;
    for (const line of log.split('\n')) {
      if (!line.startsWith('{')) continue;
      let rec: { time?: number; name?: string; to?: string };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        continue;
      }
      if (rec.name === peer && rec.to === 'alive' && typeof rec.time === 'number') at = rec.time;
    }
    if (at === null) return null;
    latest = Math.max(latest, at);
  }
  return latest;
}

async function measureConverge(): Promise<ConvergeFigures> {
  const convergeMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const mesh = new MeshHarness({
      nodes: 3,
      subnet: subnet(1),
      statusVia: 'control',
      logLevel: 'info',
    });
    await mesh.start();
    try {
      mesh.startNode(0);
      await mesh.waitForStatus(0, { timeoutMs: 30_000 });
      mesh.startNode(1);
      mesh.startNode(2);
      await mesh.waitForConvergence({ timeoutMs: 30_000 });
      const names = [0, 1, 2].map((i) => mesh.info(i).name);
      const lastStart = Math.max(...[1, 2].map((i) => lastStartAt(mesh.log(i))));
      const seen = [0, 1, 2].map((i) =>
        aliveAt(
          mesh.log(i),
          names.filter((_, j) => j !== i),
        ),
      );
      if (seen.some((s) => s === null)) throw new Error('a node never logged a peer alive');
      convergeMs.push(Math.max(...(seen as number[])) - lastStart);
    } finally {
      await mesh.cleanup();
    }
  }
  return { convergeMs };
}

interface IdleFigures {
  docker: boolean;
  /** node.jit: "auto" leaves V8's optimising compiler out on a node without Docker or a mic */
  jit: 'auto' | 'full';
  /** measured after a restart (the node's second start: no certificate to make) */
  restart: boolean;
  /** V8 flags the daemon ran with (on node's command line) */
  flags: readonly string[];
  daemonMb: number;
  /** of daemonMb, the process's own (anonymous) pages; the rest is file-backed: the node binary
   * and libraries, shared with every other node process and dropped by the kernel under pressure */
  daemonAnonMb: number;
  natsMb: number | null;
}

async function measureIdle(
  docker: boolean,
  flags: readonly string[],
  { jit = 'auto', restart = false }: { jit?: 'auto' | 'full'; restart?: boolean } = {},
): Promise<IdleFigures> {
  const mesh = new MeshHarness({
    nodes: 1,
    subnet: subnet(2),
    statusVia: 'control',
    logLevel: 'info',
    config: {
      node: { jit },
      ...(docker
        ? {
            capabilities: { docker_socket: '/var/run/docker.sock' },
            agents: { warm_pool_size: 0 },
          }
        : {}),
    },
    // on node's command line, as the systemd unit has them (--single-threaded is not allowed in
    // NODE_OPTIONS)
    command: {
      ...helixNodeCommand,
      start: (n, extra, all) => {
        const [program, ...rest] = helixNodeCommand.start(n, extra, all);
        return [program!, ...flags, ...rest];
      },
    },
  });
  await mesh.start();
  try {
    let pid = mesh.startNode(0);
    await untilStatus(mesh.info(0).stateDir);
    if (restart) {
      await mesh.stopNode(0);
      pid = mesh.startNode(0);
      await untilStatus(mesh.info(0).stateDir);
    }
    await new Promise((r) => setTimeout(r, idleMs));
    const nats = natsChild(pid);
    return {
      docker,
      jit,
      restart,
      flags,
      daemonMb: rssKb(pid) / 1024,
      daemonAnonMb: rssKb(pid, 'RssAnon') / 1024,
      natsMb: nats === null ? null : rssKb(nats) / 1024,
    };
  } finally {
    await mesh.cleanup();
  }
}

/** VmRSS of a Node process that only waits: the floor under any daemon figure. */
async function nodeFloorMb(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  const mb = rssKb(child.pid!) / 1024;
  child.kill();
  await once(child, 'exit');
  return mb;
}

const PACKAGES = [
  'zod',
  '@grpc/grpc-js',
  '@nats-io/transport-node',
  'pino',
  '@bufbuild/protobuf',
  'ws',
  'multicast-dns',
  'smol-toml',
  'commander',
  'dockerode',
  'mqtt',
  'smart-whisper',
];

/** ms to import `specifiers` one after the other in a fresh process. */
async function importMs(specifiers: string[]): Promise<number> {
  const imports = specifiers.map((s) => `await import(${JSON.stringify(s)});`).join(' ');
  const script = `const t = performance.now(); ${imports} process.stdout.write(String(performance.now() - t));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`import ${specifiers.join(', ')} failed`);
  return Number(out);
}

async function measureModules(): Promise<Array<{ module: string; ms: number }>> {
  const dist = (m: string) => pathToFileURL(path.join(REPO_ROOT, 'dist', 'node', m)).href;
  // what the control socket waits for, then what the daemon loads once it answers (loadParts)
  const daemon = [dist('daemon.js')];
  const parts = [
    ...daemon,
    ...[
      ...['discovery', 'capabilities', 'bus', 'membership', 'rpc', 'join'],
      ...['agenthost', 'stt', 'pipeline', 'control/routes', 'settings'],
    ].map((m) => dist(`${m}/index.js`)),
  ];
  const out = [];
  for (const [module, specifiers] of [
    ...PACKAGES.map((m) => [m, [m]] as const),
    ['dist/node/daemon.js (until "starting")', daemon] as const,
    ['daemon.js and its parts (all of it)', parts] as const,
  ]) {
    const samples = [];
    for (let i = 0; i < 3; i++) samples.push(await importMs([...specifiers]));
    out.push({ module, ms: p50(samples) });
  }
  return out;
}

/** f52cae4's idle RSS for a row (2026-12-04, means of three runs), for the "before" column */
function f52cae4Mb(i: IdleFigures): number {
  if (i.docker) return 77.2;
  if (i.restart) return 60.8;
  if (i.jit === 'full') return 70.3;
  return i.flags.includes('--max-opt=0') ? 64.3 : 65.8;
}

// --- run -----------------------------------------------------------------------------------------

const pi = cpuLimit(`helix-bench-pi-${process.pid}`, 25_000, 100_000);
try {
  const free = await measureStart(null);
  const slow = await measureStart(pi);
  const converge = await measureConverge();
  const idle: IdleFigures[] = [];
  // as `node` runs the daemon by default, and as the unit `service install` writes for the node
  // runs it (a node without Docker or a mic: capped at V8's interpreter on the command line)
  for (const docker of [false, true])
    for (const flags of [[], daemonNodeFlags(!docker)]) idle.push(await measureIdle(docker, flags));
  // without the command line's cap (the daemon caps itself once running), keeping V8's
  // optimising compiler, and after a restart
  idle.push(await measureIdle(false, DAEMON_NODE_FLAGS));
  idle.push(await measureIdle(false, DAEMON_NODE_FLAGS, { jit: 'full' }));
  idle.push(await measureIdle(false, daemonNodeFlags(true), { restart: true }));
  const floorMb = await nodeFloorMb();
  const modules = await measureModules();

  if (values.json) {
    console.log(
      JSON.stringify({ runs, start: [free, slow], converge, idle, floorMb, modules }, null, 2),
    );
  } else {
    const row = (what: string, value: string, goal: string, before: string) =>
      console.log(`${what.padEnd(56)}${value.padStart(14)}  ${goal.padEnd(12)}${before}`);
    console.log(`Pi-class start-up, ${runs} runs each; limit: ${pi.describe}`);
    // before: the issue's figures, then 006c25d's on this machine (2026-12-03, 6 jobs on 2 cores;
    // the ratios to `node -e 0` are what compares across loads), then 84c5bfc's (the bundle, quiet),
    // then f52cae4's (interpreter-only tier; idle rows: means of three runs)
    row('figure', 'now (p50)', 'goal', 'before: issue 12 · 006c25d · 84c5bfc · f52cae4');
    for (const [f, goal, before, beforeFull] of [
      [
        free,
        '≤ 500 ms',
        '1.08 s · 1834 ms x8.0 · 208 ms x3.3 · 291 ms',
        '— · 4163 ms x18.1 · 691 ms x10.9 · —',
      ],
      [
        slow,
        '≤ 2000 ms',
        '4.98 s · 3672 ms x10.1 · 987 ms x3.5 · 1304 ms',
        '— · 9239 ms x25.3 · 3399 ms x11.9 · 3979 ms x10.6',
      ],
    ] as const) {
      const base = p50(f.baselineMs);
      const where = f === free ? 'unconstrained' : '25 % of a core';
      const first = p50(f.firstMs);
      const ms = p50(f.startMs);
      row(
        `join → status answers "starting" (${where})`,
        `${first.toFixed(0)} ms x${(first / base).toFixed(1)}`,
        goal,
        before,
      );
      row(
        `join → status answers in full (${where})`,
        `${ms.toFixed(0)} ms x${(ms / base).toFixed(1)}`,
        '',
        beforeFull,
      );
      console.log(
        `${''.padEnd(6)}runs ${f.startMs.map((x) => x.toFixed(0)).join(', ')} ms; node -e 0 here ${base.toFixed(0)} ms`,
      );
    }
    row(
      'three nodes converge after the last start',
      `${p50(converge.convergeMs).toFixed(0)} ms`,
      '≤ 2000 ms',
      '2.6–4.1 s · 8065 ms · 1167 ms · 1444 ms',
    );
    console.log(
      `${''.padEnd(6)}runs ${converge.convergeMs.map((x) => x.toFixed(0)).join(', ')} ms`,
    );
    for (const i of idle) {
      row(
        `idle RSS, ${i.docker ? 'with Docker' : 'no Docker, no mic'}${i.flags.length > 0 ? `, ${i.flags.join(' ')}` : ''}${i.jit === 'full' ? ', node.jit = "full"' : ''}${i.restart ? ', after a restart' : ''}`,
        `${i.daemonMb.toFixed(1)} MB`,
        i.docker ? '≤ 90 MB' : '≤ 60 MB',
        i.flags.length > 0
          ? `— · ${i.docker ? 84 : 77} MB · ${i.docker ? 76 : i.restart ? 66.6 : 69} MB · ${f52cae4Mb(i)} MB`
          : `90 MB · ${i.docker ? 124 : 134} MB`,
      );
      console.log(
        `${''.padEnd(6)}of which its own (anonymous) pages ${i.daemonAnonMb.toFixed(0)} MB, file-backed (node binary, libraries) ${(i.daemonMb - i.daemonAnonMb).toFixed(0)} MB`,
      );
      console.log(
        `${''.padEnd(6)}its nats-server: ${i.natsMb === null ? 'not found' : `${i.natsMb.toFixed(0)} MB`} (before: 13 MB · 15 MB)`,
      );
    }
    console.log(
      `${''.padEnd(6)}node's own floor here (node -e "setInterval(() => {}, 1e6)"): ${floorMb.toFixed(0)} MB`,
    );
    console.log('\nmodule load times (each alone in a fresh process, p50 of 3):');
    for (const m of modules)
      console.log(`  ${m.module.padEnd(40)}${`${m.ms.toFixed(0)} ms`.padStart(8)}`);
    console.log(
      'before: issue 12: daemon.js 538 ms, dockerode 197 ms, mqtt 161 ms; 006c25d here: daemon.js 1585 ms, and alone @libp2p/peer-id 385 ms, ws 220 ms, zod 237 ms',
    );
  }
} finally {
  pi.remove();
}
