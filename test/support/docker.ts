/**
 * A real Docker engine for tests. `ensureDockerEngine()` uses the engine on /var/run/docker.sock,
 * starting `dockerd` in the background when none answers (and leaving it running for the rest of
 * the suite, as a CI machine would). `startDockerd()` runs a private engine with its own data
 * root, exec root, pidfile and socket (two mesh nodes on one machine, each with its own images).
 * Tests name every container and image repository they create "helix-test-…" and remove them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { removeEgressFirewall } from '../../node/agents/docker/egress-firewall.js';
import { processStartTime } from './proc.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
export const TEST_PREFIX = 'helix-test-';
const DOCKERD_LOG = '/tmp/helix-test-dockerd.log';
/** dockerd's default pidfile, and the one of the containerd it starts and supervises. */
const DOCKERD_PIDFILE = '/var/run/docker.pid';
const CONTAINERD_PIDFILE = '/var/run/docker/containerd/containerd.pid';
/** Held (a directory, with its owner inside) by the test worker that is starting dockerd. */
const START_LOCK = path.join(os.tmpdir(), 'helix-test-dockerd.lock');

/** The engine on `socketPath`, started with `dockerd` if nothing answers there. */
export async function ensureDockerEngine(
  opts: { socketPath?: string; timeoutMs?: number } = {},
): Promise<Docker> {
  const socketPath = opts.socketPath ?? DEFAULT_DOCKER_SOCKET;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const docker = new Docker({ socketPath });
  if (await answers(docker)) return docker;

  // Test runs side by side (two `npm test`, or parallel workers): one starts the engine while
  // the others wait on the lock, then find it answering.
  return withLock(START_LOCK, timeoutMs + 30_000, async () => {
    if (await answers(docker)) return docker;
    // A dockerd that was killed (-9, or with the session that started it) leaves its pidfile.
    // dockerd refuses to start while the pid in it exists, whatever that process now is: pids
    // are reused (pid_max is 32768 here), and a CI run once failed every Docker test because a
    // long-lived process of its own had been given the dead engine's pid.
    const engine = pidfileHolder(DOCKERD_PIDFILE, 'dockerd');
    if (engine.kind === 'live') {
      // A real dockerd: it may still be starting. Wait for it; never start a second one.
      await waitForPing(docker, null, timeoutMs, DOCKERD_LOG, engine.describe);
      return docker;
    }
    // Likewise containerd's: dockerd would take a live stranger there for its containerd, wait
    // for it to answer, and end by killing it.
    const containerd = pidfileHolder(CONTAINERD_PIDFILE, 'containerd');
    for (const [file, holder] of [
      [DOCKERD_PIDFILE, engine],
      [CONTAINERD_PIDFILE, containerd],
    ] as const) {
      if (holder.kind !== 'stale') continue;
      rmSync(file, { force: true });
      appendFileSync(DOCKERD_LOG, `helix tests: removed stale ${file} (${holder.why})\n`);
    }

    const logFd = openSync(DOCKERD_LOG, 'a');
    const child = spawn('dockerd', ['-H', `unix://${socketPath}`], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    child.unref();
    // Another test run may have started one at the same moment: ours then exits (pidfile
    // found) and we wait for theirs.
    await waitForPing(
      docker,
      child,
      timeoutMs,
      DOCKERD_LOG,
      '',
      () => pidfileHolder(DOCKERD_PIDFILE, 'dockerd').kind === 'live',
    );
    return docker;
  });
}

export type PidfileHolder =
  | { kind: 'none' }
  | { kind: 'stale'; why: string }
  | { kind: 'live'; pid: number; describe: string };

/**
 * Who the pid in `file` names: nobody (no file), a stale entry (no such process, a zombie, or a
 * process that is not `comm`), or a live `comm` process (with its state, for error messages).
 */
export function pidfileHolder(file: string, comm: string): PidfileHolder {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { kind: 'none' };
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { kind: 'stale', why: `no pid in ${file}` };
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return { kind: 'stale', why: `pid ${pid} is not running` };
  }
  // "pid (comm) state …": comm may hold spaces and parentheses; the state follows the last ")".
  const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
  if (name !== comm) return { kind: 'stale', why: `pid ${pid} is now "${name}", not ${comm}` };
  if (state === 'Z' || state === 'X') return { kind: 'stale', why: `${comm} ${pid} is a zombie` };
  return {
    kind: 'live',
    pid,
    describe: `${comm} ${pid} (state ${state}, from ${file}) does not answer: stop it (kill ${pid}) and run the tests again`,
  };
}

/**
 * Runs `fn` holding a lock shared by every process on this machine: a directory made with
 * mkdir, holding its owner's pid and start time, taken over when that owner is gone.
 */
async function withLock<T>(dir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const owner = path.join(dir, 'owner');
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(owner, `${process.pid} ${processStartTime(process.pid)}`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = '';
    try {
      holder = readFileSync(owner, 'utf8');
    } catch {
      // made, owner not written yet (or just removed): look again
    }
    const [pid, start] = holder.trim().split(' ');
    if (holder && processStartTime(Number(pid)) !== start) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`${dir} is still held by pid ${pid ?? '?'} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PrivateDockerd {
  docker: Docker;
  socketPath: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A dockerd of its own under `dir` (data root, exec root, pidfile, socket), beside any other.
 * No default bridge and no iptables rules, so it does not fight the shared engine over docker0
 * (`iptables: true`, with `netns`, gives it its own NAT and forwarding rules in that namespace).
 *
 * With `netns` it runs in that network namespace (the socket is a file, so the daemon and this
 * process reach it from anywhere). There its bridge networks (the agents' egress network) are
 * checked for overlap against that namespace's routes only: in the host namespace, where other
 * engines and test runs hold most of Docker's default address pools, creating one failed under
 * load ("could not find an available, non-overlapping IPv4 address pool"). nsenter enters the
 * network namespace alone and execs dockerd: `ip netns exec` also remounts /sys, hiding the cgroup
 * mounts dockerd needs ("Devices cgroup isn't mounted").
 */
export async function startDockerd(
  dir: string,
  opts: { timeoutMs?: number; extraArgs?: string[]; netns?: string; iptables?: boolean } = {},
): Promise<PrivateDockerd> {
  await mkdir(dir, { recursive: true });
  const socketPath = path.join(dir, 'docker.sock');
  const logPath = path.join(dir, 'dockerd.log');
  const logFd = openSync(logPath, 'a');
  const [cmd, ...prefix] = opts.netns
    ? ['nsenter', `--net=/run/netns/${opts.netns}`, 'dockerd']
    : ['dockerd'];
  const child = spawn(
    cmd!,
    [
      ...prefix,
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'dockerd.pid'),
      '-H',
      `unix://${socketPath}`,
      '--bridge',
      'none',
      `--iptables=${opts.iptables === true}`,
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const docker = new Docker({ socketPath });
  try {
    await waitForPing(docker, child, opts.timeoutMs ?? 60_000, logPath);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    docker,
    socketPath,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null) {
        // Networks an engine made (agents' egress bridges) outlive it as br-* links in the
        // namespace and use up Docker's address pools run after run: remove them first.
        await removeEngineNetworks(
          docker,
          opts.netns ? ['nsenter', `--net=/run/netns/${opts.netns}`] : [],
        );
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      // Image layers are overlay mounts under the data root; a stopped dockerd unmounts them.
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Removes the containers whose name starts with `prefix` (force: running ones too). */
export async function removeContainers(docker: Docker, prefix = TEST_PREFIX): Promise<void> {
  const all = await docker.listContainers({ all: true });
  await Promise.all(
    all
      .filter((c) => c.Names.some((n) => n.replace(/^\//, '').startsWith(prefix)))
      .map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
  );
}

/** Removes the images whose repository starts with `prefix`. */
export async function removeImages(docker: Docker, prefix = TEST_PREFIX): Promise<void> {
  const images = await docker.listImages();
  for (const image of images) {
    for (const tag of image.RepoTags ?? []) {
      if (tag.startsWith(prefix)) {
        await docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => undefined);
      }
    }
  }
}

/**
 * Removes the networks whose name starts with `prefix`, and the egress firewall rules the agents'
 * runtime installed for them (in this process's network namespace, or `firewallPrefix`'s).
 */
export async function removeNetworks(
  docker: Docker,
  prefix = TEST_PREFIX,
  firewallPrefix: string[] = [],
): Promise<void> {
  const networks = await docker.listNetworks();
  for (const n of networks.filter((n) => n.Name.startsWith(prefix))) {
    await removeFirewallOf(n, firewallPrefix);
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  }
}

async function removeFirewallOf(
  n: { Id: string; Labels?: Record<string, string>; Options?: Record<string, string> },
  firewallPrefix: string[],
): Promise<void> {
  if (n.Labels?.['helix.role'] !== 'agent-egress') return;
  const bridge = n.Options?.['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`;
  await removeEgressFirewall(bridge, { prefix: firewallPrefix }).catch(() => undefined);
}

/** Every user-defined network of an engine (its containers must be gone or stopping). */
async function removeEngineNetworks(docker: Docker, firewallPrefix: string[]): Promise<void> {
  const networks = await docker.listNetworks().catch(() => []);
  for (const n of networks.filter((n) => !['bridge', 'host', 'none'].includes(n.Name))) {
    await removeFirewallOf(n, firewallPrefix);
    for (const id of Object.keys(n.Containers ?? {})) {
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
    }
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  }
}

async function answers(docker: Docker): Promise<boolean> {
  try {
    await (docker as unknown as { ping(o: { abortSignal: AbortSignal }): Promise<unknown> }).ping({
      abortSignal: AbortSignal.timeout(2000),
    });
    return true;
  } catch {
    return false;
  }
}

async function waitForPing(
  docker: Docker,
  child: ChildProcess | null,
  timeoutMs: number,
  logPath: string,
  why = '',
  /** whether an engine may still come up once `child` has exited (default: no) */
  another: () => boolean = () => false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await answers(docker)) return;
    if (child && child.exitCode !== null && !another()) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const exited = child && child.exitCode !== null ? ` (dockerd exited with ${child.exitCode})` : '';
  throw new Error(
    `no Docker engine answered${child && child.exitCode !== null ? '' : ` within ${timeoutMs} ms`}${exited}${why ? `: ${why}` : ''}; dockerd log:\n${tail(logPath)}`,
  );
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}
