/**
 * MeshHarness: N HelixOS nodes, each in its own network namespace with a 100.64.x address, its
 * own state dir and helix.toml, and (on a tailnet) a stand-in `tailscale` first on its PATH that
 * lists the other nodes. Tests start, kill, pause and partition nodes and read each node's view
 * through `helix-node status --json` run inside that node's namespace.
 *
 *   const mesh = new MeshHarness({ nodes: 3 });
 *   await mesh.start();
 *   for (let i = 0; i < 3; i++) mesh.startNode(i);
 *   await mesh.waitForConvergence({ timeoutMs: 20_000 });
 *   mesh.kill(1, 'SIGKILL');
 *   await mesh.waitForState([0, 2], 1, 'dead', { timeoutMs: 20_000 });
 *   await mesh.cleanup();
 */
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { stringify as stringifyToml } from 'smol-toml';
import { ConfigSchema } from '../../node/config/index.js';
import { parseStatus, type PeerState, type StatusView } from './status-view.js';
import {
  mapLimit,
  NodeExitedError,
  waitFor,
  type Truthy,
  type WaitOptions as AnyWait,
} from '../support/wait.js';

/** Harness waits always say how long they may take, and poll every 200 ms unless told otherwise. */
type WaitOptions = AnyWait & { timeoutMs: number };
const POLL = { intervalMs: 200 };
import { killGroup, MAX_NODES, NetnsLab, type ExecOptions, type RunResult } from './netns.js';
import {
  DEFAULT_USER,
  FAKE_TAILSCALE,
  nodeKeyFor,
  type BackendState,
  type FakeTailnetNode,
  type FakeTailnetWorld,
  type TailnetUser,
} from './tailnet.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

type Tree = Record<string, unknown>;

/** Per-node choices; everything optional. */
export interface MeshNodeSpec {
  /** default `node<i>` */
  name?: string;
  /** tailnet owner; default DEFAULT_USER (all nodes the same user) */
  user?: TailnetUser;
  /** ACL tags, e.g. ["tag:helix"]; a tagged node belongs to "tagged-devices" in tailscale's eyes */
  tags?: string[];
  /** how the other nodes' tailscale lists this node; default true */
  online?: boolean;
  /** this node's own tailscale backend state; default "Running" */
  backendState?: BackendState;
  /** whether this node is on the tailnet (fake tailscale on its PATH, listed by the others); default MeshHarnessOptions.tailnet */
  tailnet?: boolean;
  /** merged (deeply) into this node's helix.toml, after MeshHarnessOptions.config */
  config?: Tree;
  /** write node.name into helix.toml (default true); false: the node picks its default name */
  configName?: boolean;
  /** extra environment for this node's processes */
  env?: Record<string, string>;
}

/** Everything the harness knows about one node. */
export interface MeshNodeInfo {
  index: number;
  name: string;
  address: string;
  namespace: string;
  /** the node's temp dir: state/, helix.toml, tailscale.json, daemon.log */
  dir: string;
  stateDir: string;
  configPath: string;
  /** the fake tailscale's world file for this node */
  worldPath: string;
  logPath: string;
  /** one JSON line per fake `tailscale` call this node made */
  tailscaleCallsPath: string;
  onTailnet: boolean;
  /** the environment its processes run with */
  env: NodeJS.ProcessEnv;
}

/** How to start a node and how to run its CLI; argv[0] is the program. `all` lists every node. */
export interface MeshCommand {
  start(node: MeshNodeInfo, extraArgs: string[], all: readonly MeshNodeInfo[]): string[];
  cli(node: MeshNodeInfo, args: string[]): string[];
}

/**
 * How to run the CLI, as bin/helix-node.js does: the bundle `dist/bundle/helix-node.js`
 * (scripts/bundle.mjs), else the compiled `dist/node/cli/entry.js`, whichever is at least as new as
 * every source file (CI builds both in `npm ci`; a node then starts in about half the time), else
 * the sources through tsx. HXT_FROM_SOURCE=1 forces the sources; `bundle: false` skips the bundle
 * (a test that reads which modules a command loads needs tsc's one file per module).
 */
export function cliEntry(root = REPO_ROOT, opts: { bundle?: boolean } = {}): string[] {
  if (process.env.HXT_FROM_SOURCE !== '1') {
    const newest = newestSource(path.join(root, 'node'));
    const built = [
      ...(opts.bundle === false ? [] : [path.join(root, 'dist', 'bundle', 'helix-node.js')]),
      path.join(root, 'dist', 'node', 'cli', 'entry.js'),
    ];
    for (const file of built) {
      if (existsSync(file) && newest <= statSync(file).mtimeMs) return [process.execPath, file];
    }
  }
  return [process.execPath, '--import', 'tsx', 'node/cli/entry.ts'];
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** Whether cliEntry runs the bundle (built, and newer than every source file). */
export function runsBundle(root = REPO_ROOT): boolean {
  return cliEntry(root).some((a) => a.includes(`${path.sep}dist${path.sep}bundle${path.sep}`));
}

/**
 * `helix-node join …` and `helix-node <args>`, run from the repository root; `bundle: false`
 * runs tsc's modules even where the bundle is built (cliEntry).
 */
export function helixNodeCommandWith(opts: { bundle?: boolean } = {}): MeshCommand {
  return {
    start: (n, extra) => [
      ...cliEntry(REPO_ROOT, opts),
      'join',
      '--state-dir',
      n.stateDir,
      '--config',
      n.configPath,
      ...extra,
    ],
    cli: (n, args) => [
      ...cliEntry(REPO_ROOT, opts),
      ...args,
      '--state-dir',
      n.stateDir,
      '--config',
      n.configPath,
    ],
  };
}

export const helixNodeCommand: MeshCommand = helixNodeCommandWith();

export interface MeshHarnessOptions {
  /** 1..10 */
  nodes: number;
  /** nodes share a tailnet (fake tailscale on PATH); default true */
  tailnet?: boolean;
  /** three octets inside 100.64.0.0/10; node i gets `<subnet>.<i+1>`; default "100.64.50" */
  subnet?: string;
  /** per node: an array (index i) or a function of i */
  node?: MeshNodeSpec[] | ((i: number) => MeshNodeSpec);
  /** merged into every node's helix.toml (snake_case keys as in the file) */
  config?: Tree;
  /** list every other node in discovery.static_peers; default false */
  staticPeers?: boolean;
  /** default helixNodeCommand */
  command?: MeshCommand;
  /** working directory of node processes; default the repository root */
  cwd?: string;
  /** log.level in helix.toml; default "debug" */
  logLevel?: string;
  tailnetName?: string;
  magicDNSSuffix?: string;
  /** how `status()` asks: run the CLI in the namespace (default) or call the control socket directly (cheap; for benchmarks) */
  statusVia?: 'cli' | 'control';
  /** keep the temp dir after cleanup (also env HXT_KEEP=1) */
  keepTemp?: boolean;
}

/** kill/pause target: the node's own process, or every process in its namespace (a whole machine). */
export type SignalScope = 'process' | 'namespace';

interface RunningNode {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  startedAt: number;
}

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over))
    out[k] = isTree(v) && isTree(out[k]) ? deepMerge(out[k] as Tree, v) : v;
  return out;
}

/** A socket path that never exists: the node probes no Docker engine and hosts no agents. */
export const NO_DOCKER_SOCKET = '/nonexistent/helix-harness-no-docker.sock';

export class MeshHarness {
  readonly opts: MeshHarnessOptions;
  private lab: NetnsLab | null = null;
  private root = '';
  private infos: MeshNodeInfo[] = [];
  private specs: MeshNodeSpec[] = [];
  private logs: WriteStream[] = [];
  /** Every child started, running or not, so cleanup can detach their pipes from the logs. */
  private spawned: ChildProcess[] = [];
  private readonly running = new Map<number, RunningNode>();
  private readonly lastExit = new Map<
    number,
    { code: number | null; signal: NodeJS.Signals | null }
  >();
  private readonly command: MeshCommand;

  constructor(opts: MeshHarnessOptions) {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) {
      throw new RangeError(`nodes must be an integer from 1 to ${MAX_NODES}; got ${opts.nodes}`);
    }
    this.opts = opts;
    this.command = opts.command ?? helixNodeCommand;
  }

  get size(): number {
    return this.opts.nodes;
  }

  /** The namespaces (the harness keeps them for partition/heal and ad-hoc commands). */
  get netns(): NetnsLab {
    if (!this.lab) throw new Error('MeshHarness.start() has not run');
    return this.lab;
  }

  /** Create namespaces, temp dir, per-node state dir, helix.toml, world file and PATH. Starts no process. */
  async start(): Promise<void> {
    if (this.lab) throw new Error('MeshHarness.start() ran already');
    const n = this.opts.nodes;
    const specOf = this.opts.node;
    this.specs = Array.from({ length: n }, (_, i) =>
      typeof specOf === 'function' ? specOf(i) : (specOf?.[i] ?? {}),
    );
    const names = this.specs.map((s, i) => s.name ?? `node${i}`);
    if (new Set(names).size !== names.length)
      throw new Error(`node names must be unique; got ${names.join(', ')}`);

    this.lab = NetnsLab.create({ nodes: n, subnet: this.opts.subnet });
    try {
      this.root = mkdtempSync(path.join(os.tmpdir(), `hxt-${this.lab.runId}-`));
      this.lab.removeOnCleanup(this.root);
      const binDir = path.join(this.root, 'bin');
      mkdirSync(binDir);
      symlinkSync(FAKE_TAILSCALE, path.join(binDir, 'tailscale'));
      const inherited = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('HELIX_')),
      );

      this.infos = this.specs.map((spec, i) => {
        const labNode = this.lab!.node(i);
        const dir = path.join(this.root, `node${i}`);
        const onTailnet = spec.tailnet ?? this.opts.tailnet ?? true;
        const info: MeshNodeInfo = {
          index: i,
          name: names[i]!,
          address: labNode.address,
          namespace: labNode.namespace,
          dir,
          stateDir: path.join(dir, 'state'),
          configPath: path.join(dir, 'helix.toml'),
          worldPath: path.join(dir, 'tailscale.json'),
          logPath: path.join(dir, 'daemon.log'),
          tailscaleCallsPath: path.join(dir, 'tailscale-calls.log'),
          onTailnet,
          env: {},
        };
        info.env = {
          ...inherited,
          PATH: onTailnet ? `${binDir}:${process.env.PATH ?? ''}` : (process.env.PATH ?? ''),
          HXT_FAKE_TAILSCALE: info.worldPath,
          HXT_FAKE_TAILSCALE_LOG: info.tailscaleCallsPath,
          NO_COLOR: '1',
          ...spec.env,
        };
        mkdirSync(info.stateDir, { recursive: true, mode: 0o700 });
        return info;
      });
      for (const info of this.infos) {
        writeFileSync(info.configPath, this.renderConfig(info.index));
        this.writeWorld(info.index);
        this.logs.push(createWriteStream(info.logPath, { flags: 'a' }));
      }
    } catch (err) {
      await this.cleanup();
      throw err;
    }
  }

  info(i: number): MeshNodeInfo {
    const info = this.infos[i];
    if (!info)
      throw new RangeError(
        `no node ${i}; the mesh has nodes 0..${this.infos.length - 1} (did start() run?)`,
      );
    return info;
  }

  get nodes(): readonly MeshNodeInfo[] {
    return this.infos;
  }

  /** The helix.toml tree for node i: harness defaults, then options.config, then the node's config. */
  configTree(i: number): Tree {
    const info = this.info(i);
    const base: Tree = {
      node: { name: info.name, state_dir: info.stateDir },
      mesh: { address: info.address },
      // Keep discovery to the mechanism under test: tailscale on a tailnet, mDNS off it.
      discovery: {
        mdns: !info.onTailnet,
        static_peers: this.opts.staticPeers
          ? this.infos.filter((o) => o.index !== i).map((o) => o.address)
          : [],
      },
      log: { level: this.opts.logLevel ?? 'debug' },
      // No Docker unless a test gives a node an engine (capabilities.docker_socket): mesh tests
      // must not fill the shared engine with every node's warm pools.
      capabilities: { docker_socket: NO_DOCKER_SOCKET },
    };
    const tree = deepMerge(deepMerge(base, this.opts.config ?? {}), this.specs[i]?.config ?? {});
    if (this.specs[i]?.configName === false) delete (tree.node as Tree).name;
    return tree;
  }

  private renderConfig(i: number): string {
    const tree = this.configTree(i);
    const parsed = ConfigSchema.safeParse(tree);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ');
      throw new Error(
        `helix.toml for node ${i} is invalid (${issues}); fix MeshHarnessOptions.config or node[${i}].config`,
      );
    }
    return `# written by test/harness/mesh.ts for ${this.info(i).name}\n${stringifyToml(tree)}\n`;
  }

  private tailnetEntry(i: number): FakeTailnetNode {
    const info = this.info(i);
    const spec = this.specs[i] ?? {};
    const user = spec.user ?? DEFAULT_USER;
    return {
      name: info.name,
      ip: info.address,
      userId: user.id,
      loginName: user.loginName,
      displayName: user.displayName,
      tags: spec.tags,
      online: spec.online ?? true,
      nodeKey: nodeKeyFor(this.netns.runId, info.name),
    };
  }

  /** Node i's world: itself plus every other node on the tailnet. */
  world(i: number): FakeTailnetWorld {
    return {
      tailnetName: this.opts.tailnetName ?? (this.specs[i]?.user ?? DEFAULT_USER).loginName,
      magicDNSSuffix: this.opts.magicDNSSuffix ?? 'tailnet-hxt.ts.net',
      self: { ...this.tailnetEntry(i), backendState: this.specs[i]?.backendState ?? 'Running' },
      peers: this.infos
        .filter((o) => o.index !== i && o.onTailnet)
        .map((o) => this.tailnetEntry(o.index)),
    };
  }

  private writeWorld(i: number): void {
    const info = this.info(i);
    // Write then rename, so a concurrent `tailscale status` never reads half a file.
    const tmp = `${info.worldPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.world(i), null, 2));
    renameSync(tmp, info.worldPath);
  }

  /**
   * Change how the tailnet sees node i (online, tags, user, its own backend state) and rewrite every
   * world file; the fake tailscale reads them on each call, so the change is live.
   */
  setTailnet(
    i: number,
    patch: Pick<MeshNodeSpec, 'online' | 'tags' | 'user' | 'backendState'>,
  ): void {
    this.specs[i] = { ...this.specs[i], ...patch };
    for (const info of this.infos) this.writeWorld(info.index);
  }

  /** Spawn node i's daemon in its namespace; stdout and stderr go to its log file. Returns the pid. */
  startNode(i: number, extraArgs: string[] = []): number {
    const info = this.info(i);
    if (this.running.has(i))
      throw new Error(`node ${i} (${info.name}) is already running; stop or kill it first`);
    const [cmd, ...args] = this.command.start(info, extraArgs, this.infos);
    if (!cmd) throw new Error('MeshCommand.start returned an empty argv');
    const log = this.logs[i]!;
    log.write(`--- ${new Date().toISOString()} start: ${[cmd, ...args].join(' ')}\n`);
    const child = this.netns.exec(i, cmd, args, { env: info.env, cwd: this.opts.cwd ?? REPO_ROOT });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.spawned.push(child);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve) => {
        child.once('error', (err) => {
          log.write(`--- spawn failed: ${err.message}\n`);
          this.running.delete(i);
          resolve({ code: null, signal: null });
        });
        child.once('exit', (code, signal) => {
          log.write(`--- ${new Date().toISOString()} exit: code=${code} signal=${signal}\n`);
          this.lastExit.set(i, { code, signal });
          if (this.running.get(i)?.child === child) this.running.delete(i);
          resolve({ code, signal });
        });
      },
    );
    this.running.set(i, { child, exited, startedAt: Date.now() });
    return child.pid ?? -1;
  }

  isRunning(i: number): boolean {
    return this.running.has(i);
  }

  pid(i: number): number | undefined {
    return this.running.get(i)?.child.pid;
  }

  /** Indices of nodes whose process is running. */
  runningNodes(): number[] {
    return [...this.running.keys()].sort((a, b) => a - b);
  }

  /** Resolves when node i's current process exits (immediately if none runs). */
  async exited(
    i: number,
    { timeoutMs }: { timeoutMs: number },
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'timeout'> {
    const r = this.running.get(i);
    if (!r) return { code: null, signal: null };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
    );
    const result = await Promise.race([r.exited, timeout]);
    clearTimeout(timer);
    return result;
  }

  /**
   * Send a signal to node i. scope "process" (default): the daemon process only, like `kill -9 <pid>`;
   * "namespace": every process in the node's namespace (its nats-server too), like a power cut.
   */
  kill(i: number, signal: NodeJS.Signals = 'SIGKILL', scope: SignalScope = 'process'): void {
    const info = this.info(i);
    if (scope === 'namespace') {
      for (const pid of this.netns.pids(i)) {
        try {
          process.kill(pid, signal);
        } catch {
          // raced with its exit
        }
      }
      return;
    }
    const r = this.running.get(i);
    if (!r?.child.pid) throw new Error(`node ${i} (${info.name}) is not running`);
    this.logs[i]!.write(`--- ${new Date().toISOString()} harness sends ${signal}\n`);
    process.kill(r.child.pid, signal);
  }

  /** SIGSTOP: by default every process in the namespace (a laptop lid closing); "process" for the daemon alone. */
  pause(i: number, scope: SignalScope = 'namespace'): void {
    this.kill(i, 'SIGSTOP', scope);
  }

  /** SIGCONT, the same scope as pause. */
  resume(i: number, scope: SignalScope = 'namespace'): void {
    this.kill(i, 'SIGCONT', scope);
  }

  /**
   * Stop node i cleanly: SIGTERM, wait up to timeoutMs, then SIGKILL its process group. Processes
   * still left in its namespace afterwards (an orphaned nats-server) are reported and killed, so
   * a restart finds its ports free.
   */
  async stopNode(
    i: number,
    { timeoutMs = 8000 }: { timeoutMs?: number } = {},
  ): Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    forced: boolean;
    leftovers: number[];
  }> {
    const r = this.running.get(i);
    let result: { code: number | null; signal: NodeJS.Signals | null } = {
      code: null,
      signal: null,
    };
    let forced = false;
    if (r) {
      // A paused node cannot handle SIGTERM; wake it first.
      this.resume(i, 'namespace');
      this.kill(i, 'SIGTERM');
      const first = await this.exited(i, { timeoutMs });
      if (first === 'timeout') {
        forced = true;
        killGroup(r.child, 'SIGKILL');
        result = await r.exited;
      } else {
        result = first;
      }
    }
    const leftovers = this.netns.pids(i);
    this.netns.killAllIn(i);
    return { ...result, forced, leftovers };
  }

  /** Stop every running node (in parallel). */
  async stopAll(opts: { timeoutMs?: number } = {}): Promise<void> {
    await Promise.all(this.runningNodes().map((i) => this.stopNode(i, opts)));
  }

  partition(i: number): void {
    this.logs[i]?.write(`--- ${new Date().toISOString()} harness: partition (link down)\n`);
    this.netns.partition(i);
  }

  heal(i: number): void {
    this.logs[i]?.write(`--- ${new Date().toISOString()} harness: heal (link up)\n`);
    this.netns.heal(i);
  }

  /** Spawn any command in node i's namespace with the node's environment (not tracked as the node). */
  exec(i: number, cmd: string, args: string[] = [], opts: ExecOptions = {}): ChildProcess {
    return this.netns.exec(i, cmd, args, {
      cwd: this.opts.cwd ?? REPO_ROOT,
      ...opts,
      env: { ...this.info(i).env, ...opts.env },
    });
  }

  /** Run a command to completion in node i's namespace with the node's environment. */
  run(
    i: number,
    cmd: string,
    args: string[] = [],
    opts: ExecOptions & { timeoutMs?: number; input?: string } = {},
  ): Promise<RunResult> {
    return this.netns.run(i, cmd, args, {
      cwd: this.opts.cwd ?? REPO_ROOT,
      ...opts,
      env: { ...this.info(i).env, ...opts.env },
    });
  }

  /** Run the node CLI (`helix-node <args> --state-dir … --config …`) in node i's namespace. */
  cli(
    i: number,
    args: string[],
    opts: { timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<RunResult> {
    const [cmd, ...rest] = this.command.cli(this.info(i), args);
    if (!cmd) throw new Error('MeshCommand.cli returned an empty argv');
    return this.run(i, cmd, rest, { timeoutMs: opts.timeoutMs ?? 20_000, env: opts.env });
  }

  /** Node i's view of the mesh, from `status --json` (or the control socket with statusVia "control"). */
  async status(
    i: number,
    { timeoutMs = 20_000 }: { timeoutMs?: number } = {},
  ): Promise<StatusView> {
    if (this.opts.statusVia === 'control') return this.statusViaControl(i, timeoutMs);
    const res = await this.cli(i, ['status', '--json'], { timeoutMs });
    if (res.code !== 0) {
      throw new Error(
        `status of node ${i} (${this.info(i).name}) failed (exit ${res.code ?? res.signal}${res.timedOut ? ', timed out' : ''}): ${(res.stderr || res.stdout).trim().slice(0, 500)}`,
      );
    }
    return parseStatus(res.stdout, i);
  }

  private async statusViaControl(i: number, timeoutMs: number): Promise<StatusView> {
    // Resolved at run time: the control module belongs to the daemon and may not exist yet.
    const specifier = path.join(REPO_ROOT, 'node/control/index.ts');
    const mod = (await import(specifier)) as {
      controlCall: (
        stateDir: string,
        pathname: string,
        opts?: { timeoutMs?: number },
      ) => Promise<unknown>;
    };
    const report = await mod.controlCall(this.info(i).stateDir, '/v1/status', { timeoutMs });
    return parseStatus(JSON.stringify(report), i);
  }

  /** status(i), or null when the node does not answer. */
  async tryStatus(i: number, opts: { timeoutMs?: number } = {}): Promise<StatusView | null> {
    try {
      return await this.status(i, opts);
    } catch {
      return null;
    }
  }

  /** Views of several nodes (default: every running node), at most 2 status commands at a time. */
  async views(
    indices: number[] = this.runningNodes(),
    opts: { timeoutMs?: number } = {},
  ): Promise<Map<number, StatusView | null>> {
    const limit = this.opts.statusVia === 'control' ? indices.length : 2;
    const results = await mapLimit(indices, Math.max(1, limit), (i) => this.tryStatus(i, opts));
    return new Map(indices.map((i, k) => [i, results[k] ?? null]));
  }

  /** The state node `target` has in a view, or "absent". */
  stateIn(view: StatusView, target: number): PeerState | 'absent' {
    return view.nodes.find((n) => n.name === this.info(target).name)?.state ?? 'absent';
  }

  /** Throw a NodeExitedError (ending any wait) unless node i's process is running. */
  requireRunning(i: number): void {
    if (this.running.has(i)) return;
    const info = this.info(i);
    const exit = this.lastExit.get(i);
    const tail = this.log(i).trimEnd().split('\n').slice(-8).join('\n');
    throw new NodeExitedError(
      exit
        ? `node ${i} (${info.name}) exited (code ${exit.code}, signal ${exit.signal}); last log lines:\n${tail}`
        : `node ${i} (${info.name}) was never started`,
    );
  }

  /** Wait until node i answers status; fails at once if its process exits. */
  async waitForStatus(i: number, opts: Omit<WaitOptions, 'what'>): Promise<StatusView> {
    return waitFor(
      () => {
        this.requireRunning(i);
        return this.tryStatus(i, { timeoutMs: Math.min(20_000, opts.timeoutMs) });
      },
      { ...POLL, ...opts, what: `node ${i} (${this.info(i).name}) to answer status` },
    );
  }

  /** Poll until `probe` returns something truthy. */
  waitFor<T>(probe: () => Promise<T> | T, opts: WaitOptions): Promise<Truthy<T>> {
    return waitFor(probe, { ...POLL, ...opts });
  }

  /** Wait until every node in `observers` sees `target` in `state` ("absent": not listed at all). */
  async waitForState(
    observers: number[],
    target: number,
    state: PeerState | 'absent',
    opts: Omit<WaitOptions, 'what'>,
  ): Promise<Map<number, StatusView>> {
    return waitFor(
      () =>
        this.viewsWhere(observers, (i, v) => {
          const seen = this.stateIn(v, target);
          return seen === state
            ? null
            : `${this.info(i).name} sees ${this.info(target).name} ${seen}`;
        }),
      {
        ...POLL,
        ...opts,
        what: `nodes ${observers.join(',')} to see ${this.info(target).name} ${state}`,
      },
    );
  }

  /** Wait until each node in `members` (default: every running node) sees every other member alive. */
  async waitForConvergence(
    opts: Omit<WaitOptions, 'what'> & { members?: number[] },
  ): Promise<Map<number, StatusView>> {
    const members = opts.members ?? this.runningNodes();
    return waitFor(
      () =>
        this.viewsWhere(members, (i, v) => {
          const off = members.filter((o) => o !== i && this.stateIn(v, o) !== 'alive');
          const names = off.map((o) => `${this.info(o).name} ${this.stateIn(v, o)}`);
          return off.length ? `${this.info(i).name} sees ${names.join(', ')}` : null;
        }),
      { ...POLL, ...opts, what: `nodes ${members.join(',')} to see each other alive` },
    );
  }

  /**
   * One poll for the waits: the views of `nodes` if `mismatch` finds nothing wrong in any, else
   * throws (and the wait retries) with what is wrong, so a timeout says who missed whom.
   */
  private async viewsWhere(
    nodes: number[],
    mismatch: (i: number, view: StatusView) => string | null,
  ): Promise<Map<number, StatusView>> {
    for (const i of nodes) this.requireRunning(i);
    const limit = this.opts.statusVia === 'control' ? nodes.length : 2;
    const results = await mapLimit(nodes, Math.max(1, limit), (i) =>
      this.status(i).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
    );
    const problems: string[] = [];
    const views = new Map<number, StatusView>();
    nodes.forEach((i, k) => {
      const r = results[k]!;
      if (r instanceof Error) problems.push(r.message);
      else {
        views.set(i, r);
        const m = mismatch(i, r);
        if (m) problems.push(m);
      }
    });
    if (problems.length) throw new Error(problems.join('; '));
    return views;
  }

  /** Node i's log (daemon stdout and stderr, with harness markers). */
  log(i: number): string {
    try {
      return readFileSync(this.info(i).logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** Print the last lines of every node's log to stderr (call when a test fails). */
  printLogs({ tailLines = 80 }: { tailLines?: number } = {}): void {
    for (const info of this.infos) {
      const lines = this.log(info.index).trimEnd().split('\n');
      const shown = lines.slice(-tailLines).join('\n');
      process.stderr.write(
        `\n===== ${info.name} (${info.namespace}, ${info.address}) ${info.logPath} — last ${Math.min(tailLines, lines.length)} of ${lines.length} lines =====\n${shown}\n`,
      );
    }
  }

  /**
   * Stop every node, remove every namespace and process, close the logs and delete the temp dir
   * (kept with keepTemp, here or in the options, or HXT_KEEP=1). Safe to call twice and after a
   * failed start().
   */
  async cleanup({
    stopTimeoutMs = 3000,
    keepTemp = this.opts.keepTemp || process.env.HXT_KEEP === '1',
  }: { stopTimeoutMs?: number; keepTemp?: boolean } = {}): Promise<void> {
    if (this.lab) {
      await Promise.all(
        this.runningNodes().map(async (i) => {
          const r = this.running.get(i)!;
          this.resume(i, 'namespace');
          killGroup(r.child, 'SIGTERM');
          if ((await this.exited(i, { timeoutMs: stopTimeoutMs })) === 'timeout')
            killGroup(r.child, 'SIGKILL');
        }),
      );
      // The lab removes the temp dir with the namespaces (also on exit or a signal) unless kept.
      this.lab.removeOnCleanup(this.root, keepTemp);
      await this.lab.cleanup();
    }
    // A child's pipes can still deliver output after its exit (or from a grandchild holding
    // them): detach every pipe before the logs end, or the late bytes are a write after end.
    for (const child of this.spawned.splice(0)) {
      for (const out of [child.stdout, child.stderr]) {
        out?.unpipe();
        out?.destroy();
      }
    }
    await Promise.all(this.logs.map((s) => new Promise<void>((resolve) => s.end(resolve))));
    this.logs = [];
    if (this.root && !keepTemp) rmSync(this.root, { recursive: true, force: true });
  }
}
