/**
 * Shared pieces of the mesh tests on the real daemon (`helix-node join` in network namespaces):
 * membership timings, the route and listener checks, the transition lines of a node's log.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { MeshHarness, type MeshHarnessOptions, type StatusView } from '../harness/index.js';

/** Fast membership timings for tests about the state machine (silence, not timing, is tested). */
export const FAST_MEMBERSHIP = {
  heartbeat_ms: 250,
  suspect_after_ms: 1000,
  dead_after_ms: 3000,
};

/** The defaults (DESIGN.md §3): suspect after 3 s, dead after 10 s. */
export const DEFAULT_DEAD_AFTER_MS = 10_000;

/**
 * Slack on top of dead_after for "dead within dead_after + margin": a status poll, the membership
 * tick and a loaded two-core machine. Detection itself is measured and printed, not asserted tight.
 */
export const DEAD_MARGIN_MS = 8_000;

/** Whether this machine can run the mesh tests: root (namespaces), `ip`, `ss` and nats-server. */
export const meshAvailable: boolean = (() => {
  if (process.getuid?.() !== 0) return false;
  const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { timeout: 5000 }).status === 0;
  return has('nats-server', ['--version']) && has('ss', ['-V']) && has('ip', ['-V']);
})();

/**
 * Why this machine cannot run a test that needs root and these programs, or null. Each entry is
 * [program, args that make it print and exit]; a program not on PATH is the reason.
 */
export function missingFor(
  bins: ReadonlyArray<readonly [string, readonly string[]]>,
): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, dockerd)';
  for (const [bin, args] of bins) {
    const res = spawnSync(bin, args, { stdio: 'ignore', timeout: 10_000 });
    if ((res.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      return `needs ${bin} on PATH`;
  }
  return null;
}

/** What the tests of a node hosting agents with a broker need: namespaces, dockerd, Go, mosquitto. */
export const AGENT_HOST_BINS = [
  ['ip', ['-V']],
  ['nats-server', ['--version']],
  ['dockerd', ['--version']],
  ['go', ['version']],
  ['mosquitto', ['-h']],
] as const;

/**
 * A harness for real daemons: views through the control socket (what `status --json` prints,
 * without a process start per poll), info-level logs (transitions are logged at info).
 */
export function daemonMesh(opts: MeshHarnessOptions): MeshHarness {
  return new MeshHarness({ statusVia: 'control', logLevel: 'info', ...opts });
}

/** Start node 0 (it creates the mesh), wait for it, then start the others at once. */
export async function startMesh(
  mesh: MeshHarness,
  nodes: number[],
  { timeoutMs }: { timeoutMs: number },
): Promise<{ lastStart: number }> {
  const [first, ...rest] = nodes;
  if (first === undefined) throw new Error('startMesh needs at least one node');
  mesh.startNode(first);
  await mesh.waitForStatus(first, { timeoutMs, intervalMs: 200 });
  for (const i of rest) mesh.startNode(i);
  return { lastStart: performance.now() };
}

/** The remote addresses (host only) of a view's NATS routes. */
export function routeHosts(view: StatusView): string[] {
  const bus = (view as { bus?: { routes?: { address: string }[] } }).bus;
  return (bus?.routes ?? []).map((r) => r.address.replace(/:\d+$/, ''));
}

/**
 * What each node sees, for a failure message: "node1: node0 dead, node2 alive; routes 100.64.x.1"
 * per view, and a node whose view could not be read says so.
 */
export function meshPicture(
  mesh: MeshHarness,
  views: ReadonlyMap<number, StatusView | null>,
  nodes: readonly number[],
): string {
  return nodes
    .map((i) => {
      const v = views.get(i);
      const name = mesh.info(i).name;
      if (!v) return `${name}: no view`;
      const states = nodes
        .filter((o) => o !== i)
        .map((o) => `${mesh.info(o).name} ${mesh.stateIn(v, o)}`);
      return `${name}: ${states.join(', ')}; routes ${routeHosts(v).join(' ') || 'none'}`;
    })
    .join(' | ');
}

/**
 * Node i's log lines since `fromChar` about routes, member proofs and peer states, as short text
 * (the last `max`), for a failure message.
 */
export function meshLogExcerpt(mesh: MeshHarness, i: number, fromChar: number, max = 8): string {
  const lines = logEntries(mesh, i, fromChar)
    .filter((e) => /route|member|interest|dial|alive|dead|suspect/i.test(String(e.msg)) || e.to)
    .map((e) => {
      const { msg, time, hosts, from, to, name, routes, err } = e;
      const extra = { hosts, from, to, name, routes, err };
      const detail = Object.entries(extra)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => `${k}=${JSON.stringify(x)}`)
        .join(' ');
      const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '?';
      return `${at} ${String(msg)}${detail ? ` ${detail}` : ''}`;
    });
  return lines.slice(-max).join('; ') || 'nothing';
}

/** One TCP listener from `ss -ltnpH`: local address and the process names holding it. */
export interface Listener {
  local: string;
  host: string;
  port: number;
  processes: string[];
}

/** Parse `ss -ltnpH` (or -lunpH) output: `State Recv-Q Send-Q Local Peer Process`. */
export function parseSs(text: string): Listener[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const cols = line.split(/\s+/);
      const local = cols[3] ?? '';
      const m = /^(.*):(\d+|\*)$/.exec(local);
      const host = (m?.[1] ?? local).replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
      const processes = [...line.matchAll(/\("([^"]+)"/g)].map((x) => x[1]!);
      return { local, host, port: Number(m?.[2] ?? NaN), processes };
    });
}

/** Hosts that mean "every interface". */
export const WILDCARD_HOSTS = new Set(['0.0.0.0', '*', '::', '::0']);

/** Node i's pino log lines (JSON) appended since `fromChar`. */
export function logEntries(mesh: MeshHarness, i: number, fromChar = 0): Record<string, unknown>[] {
  const text = readFileSync(mesh.info(i).logPath, 'utf8').slice(fromChar);
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut by a concurrent write
    }
  }
  return out;
}

/** The membership transitions node i logged about `name` since `fromChar`, e.g. ["alive->left"]. */
export function transitionsAbout(
  mesh: MeshHarness,
  i: number,
  name: string,
  fromChar = 0,
): string[] {
  return logEntries(mesh, i, fromChar)
    .filter((e) => e.name === name && typeof e.from === 'string' && typeof e.to === 'string')
    .map((e) => `${String(e.from)}->${String(e.to)}`);
}

/** Wall-clock ms (the daemon's log `time`) of node i's last "node is up", or null. */
export function upAt(mesh: MeshHarness, i: number): number | null {
  const up = logEntries(mesh, i).filter((e) => e.msg === 'node is up');
  const t = up.at(-1)?.time;
  return typeof t === 'number' ? t : null;
}

/** Current length of node i's log, to read what comes after. */
export function logMark(mesh: MeshHarness, i: number): number {
  return mesh.log(i).length;
}

/** Seconds with two decimals, for the printed timings. */
export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
