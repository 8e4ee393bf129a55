/**
 * Network namespaces for multi-host tests: one hub namespace holding a Linux bridge, and one
 * namespace per node joined to the bridge by a veth pair, with an address in 100.64.0.0/10 (the
 * CGNAT range Tailscale hands out). Needs root and iproute2.
 *
 * Names: namespaces `hxt<run>-<n>` and `hxt<run>-hub`; links `hxt<run>n<n>` (node end),
 * `hxt<run>h<n>` (hub end), `hxt<run>br` (bridge); all links live inside the namespaces, so deleting
 * the namespaces removes them. A run writes an owner file (/run/hxt/<run>.owner: pid and start
 * time) before creating anything; `sweepStale()` removes `hxt*` namespaces whose owner is gone.
 *
 * Cleanup runs from `cleanup()` (tests call it in afterAll) and again, synchronously, on process
 * exit, SIGINT, SIGTERM and SIGHUP, so a failing or interrupted test leaves nothing behind.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processStartTime } from '../support/proc.js';

export const NETNS_PREFIX = 'hxt';
export const MAX_NODES = 10;
/** Each `ip` invocation is bounded; they take milliseconds when the kernel is healthy. */
const IP_TIMEOUT_MS = 10_000;
const OWNER_DIR = '/run/hxt';
const NAMESPACE_PATTERN = /^hxt([a-z0-9]+)-(hub|\d+)$/;
const NETPROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'netprobe.mjs');

export const IP_BIN =
  ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

export interface NetnsLabOptions {
  /** 1..10 */
  nodes: number;
  /** first three octets inside 100.64.0.0/10; node n gets `<subnet>.<n + 1>`. Default "100.64.50". */
  subnet?: string;
  /** prefix length on the node links; default 10 (the whole CGNAT range is on-link) */
  prefixLength?: 10 | 16 | 24;
  /** lowercase letters and digits, at most 8; default derived from the pid */
  runId?: string;
}

export interface LabNode {
  index: number;
  namespace: string;
  address: string;
  /** the veth end inside the node namespace */
  link: string;
  /** the veth end attached to the bridge in the hub namespace */
  hubLink: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ExecOptions {
  /** full environment of the child; default process.env */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdio?: StdioOptions;
}

function ipSync(args: string[], input?: string): void {
  const res = spawnSync(IP_BIN, args, { input, encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  if (res.error) throw new Error(`ip ${args.join(' ')} failed: ${res.error.message}`);
  if (res.status !== 0) {
    throw new Error(
      `ip ${args.join(' ')} exited ${res.status}: ${res.stderr.trim()}${input ? `\ninput:\n${input}` : ''}`,
    );
  }
}

function ipOutput(args: string[]): string {
  const res = spawnSync(IP_BIN, args, { encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  return res.status === 0 ? res.stdout : '';
}

/** Names of every network namespace that starts with `hxt`. */
export function listHxtNamespaces(): string[] {
  return ipOutput(['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(NETNS_PREFIX));
}

function pidsIn(namespace: string): number[] {
  return ipOutput(['netns', 'pids', namespace])
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function ownerFile(runId: string): string {
  return path.join(OWNER_DIR, `${runId}.owner`);
}

function ownerAlive(runId: string): boolean {
  try {
    const [pid, start] = readFileSync(ownerFile(runId), 'utf8').trim().split(' ');
    return !!pid && processStartTime(Number(pid)) === start;
  } catch {
    return false;
  }
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function deleteNamespaces(names: string[]): void {
  if (names.length === 0) return;
  // -force: carry on past a namespace that is already gone.
  spawnSync(IP_BIN, ['-force', '-batch', '-'], {
    input: names.map((n) => `netns delete ${n}\n`).join(''),
    encoding: 'utf8',
    timeout: IP_TIMEOUT_MS,
  });
}

/**
 * Remove `hxt*` namespaces left by runs whose process is gone (a crash, a SIGKILLed test worker),
 * killing whatever still runs inside them, and those runs' temp dirs. Namespaces of live runs are left alone, so two
 * harnesses can run side by side. Returns the names removed.
 */
export function sweepStale(): string[] {
  const stale = listHxtNamespaces().filter((name) => {
    const run = NAMESPACE_PATTERN.exec(name)?.[1];
    return !run || !ownerAlive(run);
  });
  for (const name of stale) killAll(pidsIn(name));
  deleteNamespaces(stale);
  if (existsSync(OWNER_DIR)) {
    for (const file of readdirSync(OWNER_DIR)) {
      const run = file.replace(/\.owner$/, '');
      if (ownerAlive(run)) continue;
      // A crashed run also left its temp dir (MeshHarness names it hxt-<run>-*); a run that
      // cleaned up removed its owner file first, so a temp dir it chose to keep stays.
      for (const dir of readdirSync(os.tmpdir())) {
        if (dir.startsWith(`hxt-${run}-`))
          rmSync(path.join(os.tmpdir(), dir), { recursive: true, force: true });
      }
      rmSync(path.join(OWNER_DIR, file), { force: true });
    }
  }
  return stale;
}

const liveLabs = new Set<NetnsLab>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

function cleanupAllSync(): void {
  for (const lab of [...liveLabs]) lab.cleanupSync();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAllSync();
  process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
}

function trackLab(lab: NetnsLab): void {
  if (liveLabs.size === 0) {
    process.on('exit', cleanupAllSync);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  liveLabs.add(lab);
}

function untrackLab(lab: NetnsLab): void {
  if (!liveLabs.delete(lab) || liveLabs.size > 0) return;
  process.off('exit', cleanupAllSync);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** A hub bridge and N node namespaces. Create with `NetnsLab.create`. */
/** Labs this process has made (their run ids' suffix). */
let labsMade = 0;

export class NetnsLab {
  readonly runId: string;
  readonly hubNamespace: string;
  readonly bridge: string;
  readonly nodes: readonly LabNode[];
  private readonly children = new Set<ChildProcess>();
  private readonly paths = new Set<string>();
  private cleaned = false;

  private constructor(runId: string, nodes: LabNode[]) {
    this.runId = runId;
    this.hubNamespace = `${NETNS_PREFIX}${runId}-hub`;
    this.bridge = `${NETNS_PREFIX}${runId}br`;
    this.nodes = nodes;
  }

  /** Sweep stale runs, then build the hub and node namespaces. Needs root. */
  static create(opts: NetnsLabOptions): NetnsLab {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) {
      throw new RangeError(`nodes must be an integer from 1 to ${MAX_NODES}; got ${opts.nodes}`);
    }
    if (process.getuid?.() !== 0) {
      throw new Error('network namespaces need root: run the mesh tests as root (or under sudo)');
    }
    const subnet = opts.subnet ?? '100.64.50';
    const octets = subnet.split('.').map(Number);
    if (
      octets.length !== 3 ||
      octets[0] !== 100 ||
      octets[1]! < 64 ||
      octets[1]! > 127 ||
      !(octets[2]! >= 0 && octets[2]! <= 255)
    ) {
      throw new RangeError(
        `subnet must be three octets inside 100.64.0.0/10, e.g. "100.64.50"; got "${subnet}"`,
      );
    }
    // pid + a counter of this process's labs: unique among live runs (a random suffix collided
    // often enough with the many labs one test file makes); a dead run's ids are swept below.
    const runId =
      opts.runId ?? process.pid.toString(36) + (labsMade++ % 1296).toString(36).padStart(2, '0');
    if (!/^[a-z0-9]{1,8}$/.test(runId))
      throw new RangeError(`runId must be 1-8 lowercase letters or digits; got "${runId}"`);
    const prefixLength = opts.prefixLength ?? 10;

    sweepStale();
    mkdirSync(OWNER_DIR, { recursive: true });
    writeFileSync(ownerFile(runId), `${process.pid} ${processStartTime(process.pid)}\n`);

    const nodes: LabNode[] = Array.from({ length: opts.nodes }, (_, i) => ({
      index: i,
      namespace: `${NETNS_PREFIX}${runId}-${i}`,
      address: `${subnet}.${i + 1}`,
      link: `${NETNS_PREFIX}${runId}n${i}`,
      hubLink: `${NETNS_PREFIX}${runId}h${i}`,
    }));
    const lab = new NetnsLab(runId, nodes);
    trackLab(lab);
    try {
      const namespaces = [lab.hubNamespace, ...nodes.map((n) => n.namespace)];
      ipSync(['-batch', '-'], namespaces.map((n) => `netns add ${n}\n`).join(''));
      const hub = [
        `link set lo up`,
        `link add ${lab.bridge} type bridge`,
        `link set ${lab.bridge} up`,
      ];
      for (const n of nodes) {
        hub.push(
          `link add ${n.hubLink} type veth peer name ${n.link} netns ${n.namespace}`,
          `link set ${n.hubLink} master ${lab.bridge}`,
          `link set ${n.hubLink} up`,
        );
      }
      ipSync(['-n', lab.hubNamespace, '-batch', '-'], hub.join('\n') + '\n');
      for (const n of nodes) {
        const cmds = [
          `link set lo up`,
          `addr add ${n.address}/${prefixLength} dev ${n.link}`,
          `link set ${n.link} up`,
        ];
        ipSync(['-n', n.namespace, '-batch', '-'], cmds.join('\n') + '\n');
      }
    } catch (err) {
      lab.cleanupSync();
      throw err;
    }
    return lab;
  }

  node(i: number): LabNode {
    const n = this.nodes[i];
    if (!n) throw new RangeError(`no node ${i}; this lab has nodes 0..${this.nodes.length - 1}`);
    return n;
  }

  /** Cut node i off the network: its link goes down, as when a laptop's Wi-Fi drops. */
  partition(i: number): void {
    const n = this.node(i);
    ipSync(['-n', n.namespace, 'link', 'set', n.link, 'down']);
  }

  /** Undo `partition(i)`. */
  heal(i: number): void {
    const n = this.node(i);
    ipSync(['-n', n.namespace, 'link', 'set', n.link, 'up']);
  }

  /** Whether node i's link is up (not partitioned). */
  isLinkUp(i: number): boolean {
    const n = this.node(i);
    return /<[^>]*\bUP\b[^>]*>/.test(ipOutput(['-n', n.namespace, '-o', 'link', 'show', n.link]));
  }

  /**
   * Spawn `cmd args` inside node i's namespace (through `ip netns exec`, which execs, so the child's
   * pid is the command's own). The child leads its own process group; the lab kills it at cleanup.
   */
  exec(i: number, cmd: string, args: string[] = [], opts: ExecOptions = {}): ChildProcess {
    if (this.cleaned) throw new Error('this NetnsLab was cleaned up; create a new one');
    const n = this.node(i);
    const child = spawn(IP_BIN, ['netns', 'exec', n.namespace, cmd, ...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    // A spawn failure (ENOENT) is reported through 'exit'/'error'; keep it from crashing the test process.
    child.on('error', () => this.children.delete(child));
    return child;
  }

  /** Run a command in node i's namespace to completion; killed (SIGKILL) after timeoutMs. */
  run(
    i: number,
    cmd: string,
    args: string[] = [],
    opts: ExecOptions & { timeoutMs?: number; input?: string } = {},
  ): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? 15_000;
    return new Promise((resolve) => {
      const child = this.exec(i, cmd, args, {
        ...opts,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child, 'SIGKILL');
      }, timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        resolve({ code: null, signal: null, stdout, stderr: stderr + err.message, timedOut });
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, timedOut });
      });
    });
  }

  /**
   * Whether `address` answers from node i's namespace: a TCP connection to an unused port is
   * refused by a reachable host and times out (or has no route) otherwise — ping without ICMP.
   */
  async reach(
    i: number,
    address: string,
    { timeoutMs = 1500, port = 9 }: { timeoutMs?: number; port?: number } = {},
  ): Promise<boolean> {
    const res = await this.run(
      i,
      process.execPath,
      [NETPROBE, 'reach', address, String(port), String(timeoutMs)],
      {
        timeoutMs: timeoutMs + 10_000,
      },
    );
    return res.code === 0;
  }

  /** GET a URL from inside node i's namespace (e.g. a loopback-only monitoring endpoint). */
  async httpGet(
    i: number,
    url: string,
    { timeoutMs = 2000 }: { timeoutMs?: number } = {},
  ): Promise<string> {
    const res = await this.run(i, process.execPath, [NETPROBE, 'get', url, String(timeoutMs)], {
      timeoutMs: timeoutMs + 10_000,
    });
    if (res.code !== 0)
      throw new Error(
        `GET ${url} in ${this.node(i).namespace} failed: ${res.stderr.trim() || res.stdout.trim()}`,
      );
    return res.stdout;
  }

  /** Every pid running in node i's namespace (the daemon, its nats-server, helpers). */
  pids(i: number): number[] {
    return pidsIn(this.node(i).namespace);
  }

  /** Pids of the processes this lab spawned that have not exited yet. */
  livePids(): number[] {
    return [...this.children].map((c) => c.pid).filter((p): p is number => typeof p === 'number');
  }

  /** Remove this file or directory at cleanup too (also on exit or a signal); `keep` undoes it. */
  removeOnCleanup(p: string, keep = false): void {
    if (keep) this.paths.delete(p);
    else this.paths.add(p);
  }

  /** Kill everything in node i's namespace with SIGKILL: a power cut for that machine. */
  killAllIn(i: number): void {
    killAll(this.pids(i));
  }

  /**
   * Kill every process this lab started and everything still inside its namespaces, then delete
   * the namespaces (and with them every link). Waits up to timeoutMs for the children to be reaped.
   */
  async cleanup({ timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<void> {
    const exited = [...this.children].map(
      (c) =>
        new Promise<void>((resolve) =>
          c.exitCode !== null || c.signalCode !== null
            ? resolve()
            : c.once('exit', () => resolve()),
        ),
    );
    this.cleanupSync();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(exited),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** The synchronous part of cleanup, safe to call from an 'exit' handler; idempotent. */
  cleanupSync(): void {
    for (const child of this.children) killGroup(child, 'SIGKILL');
    const namespaces = [this.hubNamespace, ...this.nodes.map((n) => n.namespace)];
    for (const ns of namespaces) killAll(pidsIn(ns));
    deleteNamespaces(namespaces);
    for (const p of this.paths) rmSync(p, { recursive: true, force: true });
    rmSync(ownerFile(this.runId), { force: true });
    this.cleaned = true;
    untrackLab(this);
  }
}

/** Signal a child's whole process group (it was spawned detached), falling back to the child alone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
