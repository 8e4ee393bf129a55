/**
 * Agents on a mesh of real daemons: each Docker node gets a private dockerd (its own data root,
 * exec root, pidfile and socket, started in the root namespace; the node reaches it through the
 * socket's path from inside its network namespace), a node without Docker points
 * capabilities.docker_socket at a path that does not exist. `helix-node run --json` is read as
 * the NDJSON stream of RemoteRunEvents it prints.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { RemoteRunEvent } from '../../node/agenthost/index.js';
import type { PeerView } from '../../node/types.js';
import {
  FatalWaitError,
  helixNodeCommand,
  MeshHarness,
  REPO_ROOT,
  waitFor,
  type MeshNodeSpec,
} from '../harness/index.js';
import { removeContainers, startDockerd, type PrivateDockerd } from '../support/docker.js';

/** The test agents (sleep-again, sleep-once), loaded by every node besides the shipped ones. */
export const TEST_AGENTS_DIR = path.join(REPO_ROOT, 'test/mesh-agents/agents');

/** Root (namespaces), `ip`, nats-server, dockerd and Go: what these tests need. */
export const agentMeshAvailable: boolean = (() => {
  if (process.getuid?.() !== 0) return false;
  const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { timeout: 5000 }).status === 0;
  return (
    has('ip', ['-V']) &&
    has('nats-server', ['--version']) &&
    has('dockerd', ['--version']) &&
    has('go', ['version'])
  );
})();

export interface AgentNodeSpec {
  name: string;
  /** a private dockerd for this node (default false: no Docker engine at all) */
  docker?: boolean;
  /** false: agents.go points at a file that does not exist, so this node cannot build images */
  go?: boolean;
  /**
   * agents.platform: the platform this node runs agents as, for an engine that runs it under
   * emulation (test/support/emulation.ts), e.g. "linux/arm64" for a Raspberry Pi stand-in
   */
  platform?: string;
  /** more of this node's helix.toml (merged deeply, after the above) */
  config?: NonNullable<MeshNodeSpec['config']>;
}

export interface AgentMesh {
  mesh: MeshHarness;
  /** the private engine of a Docker node */
  engine(name: string): PrivateDockerd;
  /** a node's index in the harness */
  index(name: string): number;
}

/**
 * A mesh of `nodes` (started, converged) for a describe block: engines and harness in beforeAll,
 * every node's log tail printed when a test fails, and in afterAll the nodes stopped, the
 * engines' containers removed and the engines stopped with their data roots deleted.
 */
export function useAgentMesh(
  opts: { subnet: string; nodes: AgentNodeSpec[]; startTimeoutMs?: number },
  hooks: { setup?: (m: AgentMesh) => Promise<void> } = {},
): () => AgentMesh {
  let mesh: MeshHarness | null = null;
  const engines = new Map<string, PrivateDockerd>();
  const unhook: Array<() => void> = [];
  let handle: AgentMesh | null = null;

  beforeAll(async () => {
    const dockerNodes = opts.nodes.filter((n) => n.docker);
    const started = await Promise.all(
      dockerNodes.map((n) =>
        startDockerd(mkdtempSync(path.join(os.tmpdir(), `hxt-agents-dockerd-${n.name}-`)), {
          // dockerd waits this long for a container to stop on SIGTERM (default 15 s); agents
          // run as PID 1 and ignore SIGTERM.
          extraArgs: ['--shutdown-timeout', '1'],
        }),
      ),
    );
    dockerNodes.forEach((n, k) => {
      const engine = started[k]!;
      engines.set(n.name, engine);
      // Should the test process die before afterAll, no dockerd is left behind.
      const onExit = () => {
        try {
          process.kill(engine.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      };
      process.once('exit', onExit);
      unhook.push(() => process.off('exit', onExit));
    });
    const noDocker = path.join(os.tmpdir(), 'hxt-agents-no-docker', 'docker.sock');
    mesh = new MeshHarness({
      nodes: opts.nodes.length,
      subnet: opts.subnet,
      statusVia: 'control',
      logLevel: 'info',
      config: {
        agents: { dirs: [TEST_AGENTS_DIR], warm_pool_size: 0 },
        // A loaded two-core machine answers `docker version` slowly; a timed-out probe would
        // report the node as having no Docker.
        capabilities: { probe_timeout_ms: 10_000 },
      },
      node: opts.nodes.map((n): MeshNodeSpec => ({
        name: n.name,
        config: {
          capabilities: {
            docker_socket: engines.get(n.name)?.socketPath ?? noDocker,
          },
          agents: {
            ...(n.go === false ? { go: '/nonexistent/hxt-no-go/go' } : {}),
            ...(n.platform ? { platform: n.platform } : {}),
          },
          ...n.config,
        },
      })),
    });
    await mesh.start();
    handle = {
      mesh,
      engine: (name) => {
        const e = engines.get(name);
        if (!e) throw new Error(`${name} has no private Docker engine`);
        return e;
      },
      index: (name) => {
        const i = mesh!.nodes.findIndex((n) => n.name === name);
        if (i < 0) throw new Error(`no node ${name}`);
        return i;
      },
    };
    const timeoutMs = opts.startTimeoutMs ?? 45_000;
    // The first node creates the mesh; the others join it.
    mesh.startNode(0);
    await mesh.waitForStatus(0, { timeoutMs, intervalMs: 200 });
    for (let i = 1; i < mesh.size; i++) mesh.startNode(i);
    await mesh.waitForConvergence({ timeoutMs, intervalMs: 250 });
    // Every node sees the Docker nodes' engines (capabilities are probed at start).
    await waitForView(mesh, 0, (view) =>
      dockerNodes.every((n) => view.find((p) => p.name === n.name)?.capabilities.docker)
        ? true
        : `Docker nodes without an engine in node0's view: ${dockerNodes
            .filter((n) => !view.find((p) => p.name === n.name)?.capabilities.docker)
            .map((n) => n.name)
            .join(', ')}`,
    );
    await hooks.setup?.(handle);
  }, 110_000);

  afterEach((ctx) => {
    if (mesh && ctx.task.result?.state === 'fail') mesh.printLogs({ tailLines: 60 });
  });

  afterAll(async () => {
    await mesh?.cleanup();
    await Promise.all(
      [...engines.values()].map(async (engine) => {
        // Force-remove first: a stop waits for each container, and agents ignore SIGTERM.
        await removeContainers(engine.docker, '').catch(() => undefined);
        await engine.stop();
      }),
    );
    for (const off of unhook.splice(0)) off();
  }, 60_000);

  return () => {
    if (!handle)
      throw new Error('the agent mesh is not started (useAgentMesh registers beforeAll)');
    return handle;
  };
}

/** Node i's view of the mesh (what `status --json` prints), as PeerViews. */
export async function viewOf(mesh: MeshHarness, i: number): Promise<PeerView[]> {
  return (await mesh.status(i)).nodes as unknown as PeerView[];
}

/**
 * Polls node i's view until `check` returns true; a string says what is still wrong (it ends up
 * in the timeout's message).
 */
export async function waitForView(
  mesh: MeshHarness,
  i: number,
  check: (view: PeerView[]) => true | string,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<PeerView[]> {
  return waitFor(
    async () => {
      const view = await viewOf(mesh, i);
      const ok = check(view);
      if (ok !== true) throw new Error(ok);
      return view;
    },
    { timeoutMs, intervalMs: 300, what: `${mesh.info(i).name}'s view` },
  );
}

/**
 * The NDJSON lines `run --json` printed, as events. Lines that are not one JSON object each are
 * left out: the CLI's own failure (cancelled, no daemon) follows as an indented JSON document.
 */
export function parseEvents(stdout: string): RemoteRunEvent[] {
  const out: RemoteRunEvent[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{') || !line.endsWith('}')) continue;
    try {
      out.push(JSON.parse(line) as RemoteRunEvent);
    } catch {
      // not an event line
    }
  }
  return out;
}

/** The `{"error": {name, message}}` document the CLI prints with --json when it fails itself. */
export function cliError(stdout: string): { name: string; message: string } | undefined {
  // The CLI prints a failure under --json as one {"error": …} line after any NDJSON events.
  for (const line of stdout.trim().split('\n').reverse()) {
    try {
      const error = (JSON.parse(line) as { error?: { name: string; message: string } }).error;
      if (error) return error;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

export interface RunOutcome {
  code: number | null;
  events: RemoteRunEvent[];
  stdout: string;
  stderr: string;
  /** the result or error the run ended with */
  final: Extract<RemoteRunEvent, { type: 'result' | 'error' }> | undefined;
  /** the nodes it was placed on, in order */
  placedOn: string[];
}

function outcome(
  code: number | null,
  stdout: string,
  stderr: string,
  events: RemoteRunEvent[],
): RunOutcome {
  const final = events.findLast(
    (e): e is Extract<RemoteRunEvent, { type: 'result' | 'error' }> =>
      e.type === 'result' || e.type === 'error',
  );
  const placedOn = events.flatMap((e) => (e.type === 'placed' ? [e.node] : []));
  return { code, events, stdout, stderr, final, placedOn };
}

/** `helix-node run AGENT INTENT [--arg k=v …] [extra…] --json` on node i, to the end. */
export async function runAgent(
  mesh: MeshHarness,
  i: number,
  agent: string,
  intent: string,
  { args = {}, extra = [], timeoutMs = 60_000 }: RunArgs & { timeoutMs?: number } = {},
): Promise<RunOutcome> {
  const res = await mesh.cli(i, ['run', agent, intent, ...argFlags(args), ...extra, '--json'], {
    timeoutMs,
  });
  if (res.timedOut)
    throw new Error(`run ${agent} ${intent} on ${mesh.info(i).name} timed out:\n${res.stderr}`);
  return outcome(res.code, res.stdout, res.stderr, parseEvents(res.stdout));
}

export interface RunArgs {
  args?: Record<string, string | number>;
  /** more CLI flags, e.g. ["--on", "nodeB"] */
  extra?: string[];
}

function argFlags(args: Record<string, string | number>): string[] {
  return Object.entries(args).flatMap(([k, v]) => ['--arg', `${k}=${v}`]);
}

/** A `run --json` still going: its events as they arrive. */
export class LiveRun {
  readonly events: RemoteRunEvent[] = [];
  private stdout = '';
  private stderr = '';
  private readonly child: ChildProcess;
  private readonly ended: Promise<RunOutcome>;

  constructor(mesh: MeshHarness, i: number, agent: string, intent: string, run: RunArgs = {}) {
    const [cmd, ...rest] = (mesh.opts.command ?? helixNodeCommand).cli(mesh.info(i), [
      'run',
      agent,
      intent,
      ...argFlags(run.args ?? {}),
      ...(run.extra ?? []),
      '--json',
    ]);
    this.child = mesh.exec(i, cmd!, rest);
    let partial = '';
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      this.events.push(...parseEvents(lines.join('\n')));
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.ended = new Promise((resolve) => {
      this.child.once('close', (code) => {
        this.events.push(...parseEvents(partial));
        partial = '';
        resolve(outcome(code, this.stdout, this.stderr, this.events));
      });
    });
  }

  /** Waits until an event matches (or the run ends without one: then it fails with its output). */
  async until(
    match: (e: RemoteRunEvent) => boolean,
    { timeoutMs = 60_000, what = 'the event' }: { timeoutMs?: number; what?: string } = {},
  ): Promise<RemoteRunEvent> {
    let over = false;
    void this.ended.then(() => (over = true));
    return waitFor(
      () => {
        const found = this.events.find(match);
        if (found) return found;
        if (over)
          throw new FatalWaitError(
            `the run ended without ${what}; events: ${JSON.stringify(this.events)}; stderr: ${this.stderr.slice(-500)}`,
          );
        return null;
      },
      { timeoutMs, intervalMs: 100, what },
    );
  }

  /** Resolves when the CLI exits; bounded: after timeoutMs it is killed and this rejects. */
  async done({ timeoutMs = 60_000 }: { timeoutMs?: number } = {}): Promise<RunOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL');
        reject(
          new Error(
            `the run did not end within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}`,
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.ended, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGINT is Ctrl-C: the CLI cancels the run, and the host stops its container. */
  kill(signal: NodeJS.Signals = 'SIGINT'): void {
    if (this.child.exitCode === null && this.child.pid) {
      try {
        process.kill(this.child.pid, signal);
      } catch {
        // raced with its exit
      }
    }
  }
}

/** A node's running agents as `viewer` sees them in its view. */
export function runningAgentsOf(view: readonly PeerView[], name: string): number | undefined {
  return view.find((p) => p.name === name)?.load.runningAgents;
}

/**
 * `helix-node agents build AGENT` on each node (nodes in parallel), then waits until node
 * `viewer` sees every one of them hold every image, so placement weighs load alone.
 */
export async function buildOn(
  m: AgentMesh,
  nodes: string[],
  agents: string[],
  { viewer = 0, timeoutMs = 90_000 }: { viewer?: number; timeoutMs?: number } = {},
): Promise<void> {
  await Promise.all(
    nodes.map(async (name) => {
      for (const agent of agents) {
        const res = await m.mesh.cli(m.index(name), ['agents', 'build', agent], { timeoutMs });
        if (res.code !== 0)
          throw new Error(`agents build ${agent} on ${name} exited ${res.code}: ${res.stderr}`);
      }
    }),
  );
  await waitForView(m.mesh, viewer, (view) => {
    const missing = nodes.flatMap((name) =>
      agents
        .filter((a) => !view.find((p) => p.name === name)?.images.some((i) => i.agent === a))
        .map((a) => `${name} lacks ${a}`),
    );
    return missing.length ? missing.join(', ') : true;
  });
}
